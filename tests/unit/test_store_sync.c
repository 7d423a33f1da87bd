/*
 * DESIGN: group commit (lib/store/sync.c) through the public interface:
 * commits counted; a sync thread that syncs and checkpoints while the
 * main thread keeps committing leaves every row and an intact audit chain
 * after close and re-open (WAL grown past the checkpoint threshold, so
 * the PASSIVE checkpoint and the writer's WAL restart both happen); and a
 * database without a WAL file is refused rather than silently undurable.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "ccm/store.h"

#define N_COMMITS 6000

#include "store-fixture.h"
#include "util/util.h"

static void append(struct store *s, int i)
{
	struct store_audit e;
	struct ccm_error err;

	memset(&e, 0, sizeof(e));
	e.time_ms = 1000 + i;
	snprintf(e.actor, sizeof(e.actor), "system");
	snprintf(e.action, sizeof(e.action), "test.sync");
	snprintf(e.object, sizeof(e.object), "n:%d", i);
	snprintf(e.result, sizeof(e.result), "ok");
	/* a long reason: more WAL frames per commit */
	memset(e.reason, 'r', 400);
	assert_int_equal(store_begin(s, &err), CCM_OK);
	assert_int_equal(store_audit_append(s, &e, &err), CCM_OK);
	assert_int_equal(store_commit(s, &err), CCM_OK);
}

struct syncer {
	struct store_sync *y;
	atomic_int stop;
	int runs, failures;
};

static void *sync_thread(void *arg)
{
	struct syncer *t = arg;
	struct ccm_error err;

	while (!atomic_load(&t->stop)) {
		if (store_sync_run(t->y, &err) != CCM_OK)
			t->failures++;
		store_sync_checkpoint(t->y);
		t->runs++;
	}
	return NULL;
}

struct chain {
	int64_t n;
	char prev[2 * STORE_DIGEST + 1];
	bool broken;
};

static ccm_code chain_cb(void *ctx, const struct store_audit *e)
{
	struct chain *c = ctx;
	uint8_t h[STORE_DIGEST];
	char hex[2 * STORE_DIGEST + 1];
	struct ccm_error err;

	if (c->n > 0 && strcmp(e->prev_hash, c->prev) != 0)
		c->broken = true;
	if (store_audit_hash(e, h, &err) != CCM_OK)
		c->broken = true;
	util_hex(h, STORE_DIGEST, hex);
	if (strcmp(hex, e->hash) != 0)
		c->broken = true;
	memcpy(c->prev, e->hash, sizeof(c->prev));
	c->n++;
	return CCM_OK;
}

static void test_commit_count(void **state)
{
	struct fx *f = *state;
	uint64_t c0 = store_commit_count(f->s);
	struct ccm_error err;

	append(f->s, 0);
	assert_int_equal(store_commit_count(f->s), c0 + 1);
	assert_int_equal(store_begin(f->s, &err), CCM_OK);
	store_rollback(f->s);
	assert_int_equal(store_commit_count(f->s), c0 + 1);
}

static void test_sync_concurrent(void **state)
{
	struct fx *f = *state;
	struct store_audit_filter flt = {0, NULL, "test.sync", NULL, 0};
	struct syncer t = {0};
	struct chain c = {0};
	struct ccm_error err;
	char wal[400];
	struct stat st;
	pthread_t th;

	assert_int_equal(store_sync_open(f->s, &t.y, &err), CCM_OK);
	assert_int_equal(pthread_create(&th, NULL, sync_thread, &t), 0);
	for (int i = 0; i < N_COMMITS; i++)
		append(f->s, i);
	atomic_store(&t.stop, 1);
	pthread_join(th, NULL);
	/* checkpoints ran and the WAL restarted: it stays near 8000 frames
	 * (twice sync.c's threshold) instead of holding every frame (two or
	 * more per commit, 12000+) */
	snprintf(wal, sizeof(wal), "%s-wal", f->path);
	assert_int_equal(stat(wal, &st), 0);
	assert_true(st.st_size < (off_t)9000 * 4120);
	assert_int_equal(t.failures, 0);
	assert_true(t.runs > 0);
	assert_int_equal(store_sync_run(t.y, &err), CCM_OK);
	store_sync_close(t.y);
	/* plain mode again: a commit after close still works */
	append(f->s, N_COMMITS);
	store_close(f->s);
	f->s = NULL;
	assert_int_equal(store_open(f->path, &f->s, &err), CCM_OK);
	assert_int_equal(store_audit_list(f->s, &flt, NULL, chain_cb, &c, &err), CCM_OK);
	assert_int_equal(c.n, N_COMMITS + 1);
	assert_false(c.broken);
}

static void test_sync_needs_file(void **state)
{
	struct store *m = NULL;
	struct store_sync *y = NULL;
	struct ccm_error err;

	(void)state;
	assert_int_equal(store_open(":memory:", &m, &err), CCM_OK);
	assert_int_not_equal(store_sync_open(m, &y, &err), CCM_OK);
	assert_null(y);
	store_close(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_commit_count, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_sync_concurrent, setup, teardown),
	        cmocka_unit_test(test_sync_needs_file),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
