/*
 * DESIGN: lib/store through its public interface only, on a real SQLite
 * file in a temporary directory: migrations (fresh and re-open), each
 * table's create/read/update, conflicts mapped to CCM_E_CONFLICT, expiry
 * and revocation of sessions and tokens, rollback leaving nothing, and the
 * audit hash chain (links, recomputation, any field change detected).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "ccm/store.h"
#include "util/util.h"

#include "store-fixture.h"

static int64_t mkuser(struct store *s, const char *email)
{
	struct store_user u;
	struct ccm_error err;

	memset(&u, 0, sizeof(u));
	snprintf(u.email, sizeof(u.email), "%s", email);
	snprintf(u.pw_hash, sizeof(u.pw_hash), "hash");
	u.created_at = 100;
	assert_int_equal(store_user_create(s, &u, &err), CCM_OK);
	return u.id;
}

static int64_t mkaccount(struct store *s, const char *name)
{
	static const uint8_t blob[] = "sealed";
	struct store_account_keys k = {"PEM", blob, sizeof(blob), blob, sizeof(blob)};
	struct store_account a;
	struct ccm_error err;

	memset(&a, 0, sizeof(a));
	snprintf(a.name, sizeof(a.name), "%s", name);
	snprintf(a.accepted_tcb, sizeof(a.accepted_tcb), "UpToDate");
	a.approval_quorum = 1;
	a.created_at = 100;
	assert_int_equal(store_account_create(s, &a, &k, &err), CCM_OK);
	return a.id;
}

static void test_migrations(void **state)
{
	struct fx *f = *state;
	struct ccm_error err;

	assert_int_equal(store_schema_version(f->s), 4);
	mkuser(f->s, "a@b");
	store_close(f->s);
	assert_int_equal(store_open(f->path, &f->s, &err), CCM_OK);
	assert_int_equal(store_schema_version(f->s), 4);
	assert_int_equal(store_user_count(f->s), 1);
}

static void test_users(void **state)
{
	struct fx *f = *state;
	struct store_user u, v;
	struct ccm_error err;
	int64_t id = mkuser(f->s, "a@b");

	assert_int_equal(store_user_get(f->s, id, &u, &err), CCM_OK);
	assert_string_equal(u.email, "a@b");
	memset(&v, 0, sizeof(v));
	snprintf(v.email, sizeof(v.email), "a@b");
	assert_int_equal(store_user_create(f->s, &v, &err), CCM_E_CONFLICT);
	u.disabled = true;
	snprintf(u.name, sizeof(u.name), "Alice");
	assert_int_equal(store_user_update(f->s, &u, &err), CCM_OK);
	assert_int_equal(store_user_by_email(f->s, "a@b", &v, &err), CCM_OK);
	assert_true(v.disabled);
	assert_string_equal(v.name, "Alice");
	assert_int_equal(store_user_get(f->s, 999, &v, &err), CCM_E_NOTFOUND);
	/* A hostile e-mail is data, never SQL. */
	mkuser(f->s, "x'); DROP TABLE users; --");
	assert_int_equal(store_user_count(f->s), 2);
}

static ccm_code count_cb(void *ctx, const struct store_account *a, enum store_role role)
{
	(void)a;
	(*(int *)ctx) += (int)role;
	return CCM_OK;
}

static void test_accounts_members(void **state)
{
	struct fx *f = *state;
	struct store_page pg = {10, 0};
	struct store_account a;
	struct ccm_error err;
	int64_t u = mkuser(f->s, "m@x"), acc = mkaccount(f->s, "one"),
	        acc2 = mkaccount(f->s, "two");
	int sum = 0;
	char *pem;
	uint8_t *key;
	size_t klen;

	assert_int_equal(store_member_set(f->s, acc, u, STORE_ROLE_MANAGER, &err), CCM_OK);
	assert_int_equal(store_member_set(f->s, acc2, u, STORE_ROLE_READER, &err), CCM_OK);
	assert_int_equal(store_member_role(f->s, acc, u), STORE_ROLE_MANAGER);
	assert_int_equal(store_member_count_role(f->s, acc, STORE_ROLE_MANAGER), 1);
	assert_int_equal(store_account_list(f->s, u, &pg, count_cb, &sum, &err), CCM_OK);
	assert_int_equal(sum, STORE_ROLE_MANAGER + STORE_ROLE_READER);
	assert_int_equal(store_member_set(f->s, acc, 12345, STORE_ROLE_READER, &err),
	                 CCM_E_NOTFOUND); /* foreign key */
	assert_int_equal(store_account_get(f->s, acc, &a, &err), CCM_OK);
	snprintf(a.name, sizeof(a.name), "two");
	assert_int_equal(store_account_update(f->s, &a, &err), CCM_E_CONFLICT);
	assert_int_equal(store_account_ca(f->s, acc, &pem, &key, &klen, &err), CCM_OK);
	assert_string_equal(pem, "PEM");
	assert_int_equal(klen, 7);
	free(pem);
	free(key);
	assert_int_equal(store_account_delete(f->s, acc, &err), CCM_OK);
	assert_int_equal(store_member_role(f->s, acc, u), STORE_ROLE_NONE); /* cascade */
	assert_int_equal(store_account_delete(f->s, acc, &err), CCM_E_NOTFOUND);
}

static void test_sessions_tokens(void **state)
{
	struct fx *f = *state;
	uint8_t h1[32] = {1}, h2[32] = {2};
	struct store_session s;
	struct store_token t, g;
	struct ccm_error err;
	int64_t u = mkuser(f->s, "t@x"), acc = mkaccount(f->s, "tok");

	assert_int_equal(store_session_create(f->s, h1, u, 200, &err), CCM_OK);
	assert_int_equal(store_session_find(f->s, h1, 199, &s, &err), CCM_OK);
	assert_int_equal(s.user_id, u);
	assert_int_equal(store_session_find(f->s, h1, 200, &s, &err), CCM_E_AUTH); /* expired */
	assert_int_equal(store_session_revoke(f->s, h1, &err), CCM_OK);
	assert_int_equal(store_session_find(f->s, h1, 100, &s, &err), CCM_E_AUTH);
	{
		int64_t n = 0;
		assert_int_equal(store_session_purge(f->s, 150, &n, &err), CCM_OK);
		assert_int_equal(n, 0); /* not expired before 150, revoked only now */
		assert_int_equal(store_session_purge(f->s, 201, &n, &err), CCM_OK);
		assert_int_equal(n, 1);
	}

	memset(&t, 0, sizeof(t));
	snprintf(t.name, sizeof(t.name), "ci");
	t.user_id = u;
	t.account_id = acc;
	t.role = STORE_ROLE_WRITER;
	t.created_at = 100;
	t.expires_at = 300;
	assert_int_equal(store_token_create(f->s, &t, h2, &err), CCM_OK);
	assert_int_equal(store_token_find(f->s, h2, 299, &g, &err), CCM_OK);
	assert_int_equal(g.role, STORE_ROLE_WRITER);
	assert_int_equal(store_token_find(f->s, h2, 300, &g, &err), CCM_E_AUTH);
	assert_int_equal(store_token_create(f->s, &t, h1, &err), CCM_E_CONFLICT); /* same name */
	assert_int_equal(store_token_revoke(f->s, acc + 1, t.id, &err), CCM_E_NOTFOUND);
	assert_int_equal(store_token_revoke(f->s, acc, t.id, &err), CCM_OK);
	assert_int_equal(store_token_find(f->s, h2, 100, &g, &err), CCM_E_AUTH);
}

static void test_rollback(void **state)
{
	struct fx *f = *state;
	struct ccm_error err;

	assert_int_equal(store_begin(f->s, &err), CCM_OK);
	assert_int_equal(store_begin(f->s, &err), CCM_E_INTERNAL);
	mkuser(f->s, "gone@x");
	store_rollback(f->s);
	assert_int_equal(store_user_count(f->s), 0);
}

/* A batch item undone leaves the items around it (and reuses the mark). */
static void test_savepoint(void **state)
{
	struct fx *f = *state;
	struct ccm_error err;

	assert_int_equal(store_savepoint(f->s, &err), CCM_E_INTERNAL); /* outside a tx */
	assert_int_equal(store_begin(f->s, &err), CCM_OK);
	for (int i = 0; i < 3; i++) {
		char email[32];
		snprintf(email, sizeof(email), "item%d@x", i);
		assert_int_equal(store_savepoint(f->s, &err), CCM_OK);
		mkuser(f->s, email);
		if (i == 1)
			assert_int_equal(store_savepoint_rollback(f->s, &err), CCM_OK);
		else
			assert_int_equal(store_savepoint_release(f->s, &err), CCM_OK);
	}
	assert_int_equal(store_commit(f->s, &err), CCM_OK);
	assert_int_equal(store_user_count(f->s), 2);
}

static ccm_code audit_cb(void *ctx, const struct store_audit *e)
{
	struct store_audit *out = ctx;

	out[e->seq - 1] = *e;
	return CCM_OK;
}

static void test_audit_chain(void **state)
{
	struct fx *f = *state;
	struct store_audit e, got[3];
	struct store_audit_filter filt = {0};
	struct store_page pg = {10, 0};
	struct ccm_error err;
	uint8_t h[32];
	char hex[65];

	for (int i = 0; i < 3; i++) {
		memset(&e, 0, sizeof(e));
		e.time_ms = 1000 + i;
		e.account_id = i;
		snprintf(e.actor, sizeof(e.actor), "user:1");
		snprintf(e.action, sizeof(e.action), "test.%d", i);
		snprintf(e.result, sizeof(e.result), "ok");
		assert_int_equal(store_audit_append(f->s, &e, &err), CCM_OK);
		assert_int_equal(e.seq, i + 1);
	}
	assert_int_equal(store_audit_list(f->s, &filt, &pg, audit_cb, got, &err), CCM_OK);
	assert_string_equal(got[0].prev_hash,
	                    "0000000000000000000000000000000000000000000000000000000000000000");
	assert_string_equal(got[1].prev_hash, got[0].hash);
	assert_string_equal(got[2].prev_hash, got[1].hash);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(store_audit_hash(&got[i], h, &err), CCM_OK);
		util_hex(h, 32, hex);
		assert_string_equal(hex, got[i].hash);
	}
	/* Any field change, even moving text between fields, changes the hash. */
	e = got[1];
	snprintf(e.action, sizeof(e.action), "test.");
	snprintf(e.object, sizeof(e.object), "1");
	store_audit_hash(&e, h, &err);
	util_hex(h, 32, hex);
	assert_string_not_equal(hex, got[1].hash);
	e = got[1];
	e.account_id = 7;
	store_audit_hash(&e, h, &err);
	util_hex(h, 32, hex);
	assert_string_not_equal(hex, got[1].hash);
	filt.account_id = 2;
	memset(got, 0, sizeof(got));
	assert_int_equal(store_audit_list(f->s, &filt, &pg, audit_cb, got, &err), CCM_OK);
	assert_int_equal(got[2].seq, 3);
	assert_int_equal(got[0].seq, 0);
}

static void test_pki(void **state)
{
	struct fx *f = *state;
	static const uint8_t k[] = {1, 2, 3};
	struct ccm_error err;
	char *pem, *note;
	uint8_t *key;
	size_t len;

	assert_int_equal(store_pki_get(f->s, "server", &pem, &key, &len, &note, &err),
	                 CCM_E_NOTFOUND);
	assert_int_equal(store_pki_put(f->s, "server", "P1", k, 3, "a", &err), CCM_OK);
	assert_int_equal(store_pki_put(f->s, "server", "P2", k, 2, "b", &err), CCM_OK);
	assert_int_equal(store_pki_get(f->s, "server", &pem, &key, &len, &note, &err), CCM_OK);
	assert_string_equal(pem, "P2");
	assert_string_equal(note, "b");
	assert_int_equal(len, 2);
	free(pem);
	free(key);
	free(note);
}

/* The build worker's path: a QUEUED image build filled in once, with its
 * build_whitelist task; MRENCLAVE unique per account; join token uses. */
static void test_builds_tokens(void **state)
{
	struct fx *f = *state;
	struct store_app *a = calloc(1, sizeof(*a));
	struct store_build b, got;
	struct store_task t;
	struct store_join_token jt;
	struct ccm_error err;
	uint8_t hash[STORE_DIGEST] = {1};
	int64_t acc = mkaccount(f->s, "acc"), task = 0;

	assert_non_null(a);
	a->account_id = acc;
	snprintf(a->name, sizeof(a->name), "app");
	a->isvprodid = 1;
	assert_int_equal(store_app_create(f->s, a, &err), CCM_OK);
	memset(&b, 0, sizeof(b));
	b.account_id = acc;
	b.app_id = a->id;
	snprintf(b.source, sizeof(b.source), "image");
	snprintf(b.status, sizeof(b.status), "PENDING");
	snprintf(b.conv_status, sizeof(b.conv_status), "QUEUED");
	snprintf(b.output_image, sizeof(b.output_image), "reg:5000/out:t1");
	assert_int_equal(store_build_create(f->s, &b, &err), CCM_OK);
	assert_int_equal(store_build_progress(f->s, b.id, "PUSHING", "", 5, 10, 2, &err), CCM_OK);
	memset(b.mrenclave, 'a', 64);
	memset(b.mrsigner, 'b', 64);
	assert_int_equal(store_build_converted(f->s, &b, 3, &task, &err), CCM_OK);
	assert_int_equal(store_build_converted(f->s, &b, 4, &task, &err), CCM_E_NOTFOUND);
	/* A finished build takes no more progress from a stray job. */
	assert_int_equal(store_build_progress(f->s, b.id, "PULLING", "", 1, 10, 5, &err),
	                 CCM_E_NOTFOUND);
	assert_int_equal(store_build_get(f->s, acc, b.id, &got, &err), CCM_OK);
	assert_string_equal(got.conv_status, "DONE");
	assert_string_equal(got.output_image, "reg:5000/out:t1");
	assert_int_equal(got.bytes_done, 10);
	assert_int_equal(store_task_get(f->s, acc, task, &t, &err), CCM_OK);
	assert_string_equal(t.type, "build_whitelist");
	assert_int_equal(t.build_id, b.id);
	snprintf(b.source, sizeof(b.source), "sigstruct");
	assert_int_equal(store_build_create(f->s, &b, &err), CCM_E_CONFLICT);
	memset(&jt, 0, sizeof(jt));
	jt.account_id = acc;
	snprintf(jt.name, sizeof(jt.name), "t");
	snprintf(jt.labels, sizeof(jt.labels), "[]");
	jt.uses_total = 1;
	assert_int_equal(store_join_token_create(f->s, &jt, hash, &err), CCM_OK);
	assert_int_equal(store_join_token_use(f->s, jt.id, &err), CCM_OK);
	assert_int_equal(store_join_token_use(f->s, jt.id, &err), CCM_E_NOTFOUND);
	assert_int_equal(store_join_token_find(f->s, hash, &jt, &err), CCM_OK);
	assert_int_equal(jt.uses_left, 0);
	free(a);
}

static ccm_code count_registry(void *ctx, const struct store_registry *r)
{
	(void)r;
	(*(int *)ctx)++;
	return CCM_OK;
}

/* Registry credentials: add, replace in place, lookup with the sealed
 * secret (listings never carry it), per-account isolation, delete, and
 * the rows go with their account. */
static void test_registries(void **state)
{
	static const uint8_t s1[] = "sealed-1", s2[] = "sealed-2";
	struct fx *f = *state;
	struct store_registry r, got;
	struct ccm_error err;
	int64_t acc = mkaccount(f->s, "acc"), other = mkaccount(f->s, "other"), id;
	uint8_t *sealed = NULL;
	size_t slen = 0;
	bool replaced = true;
	int n = 0;

	memset(&r, 0, sizeof(r));
	r.account_id = acc;
	snprintf(r.host, sizeof(r.host), "reg.example:5000");
	snprintf(r.username, sizeof(r.username), "alice");
	snprintf(r.kind, sizeof(r.kind), "password");
	r.created_at = 10;
	assert_int_equal(store_registry_put(f->s, &r, s1, sizeof(s1), &replaced, &err), CCM_OK);
	assert_false(replaced);
	id = r.id;
	assert_true(id > 0);
	/* Replace: same id and created_at, new user, kind, secret, updated_at. */
	snprintf(r.username, sizeof(r.username), "%s", "");
	snprintf(r.kind, sizeof(r.kind), "token");
	r.created_at = 20;
	assert_int_equal(store_registry_put(f->s, &r, s2, sizeof(s2), &replaced, &err), CCM_OK);
	assert_true(replaced);
	assert_int_equal(r.id, id);
	assert_int_equal(r.created_at, 10);
	assert_int_equal(r.updated_at, 20);
	assert_int_equal(
	        store_registry_by_host(f->s, acc, "reg.example:5000", &got, &sealed, &slen, &err),
	        CCM_OK);
	assert_string_equal(got.kind, "token");
	assert_string_equal(got.username, "");
	assert_int_equal(slen, sizeof(s2));
	assert_memory_equal(sealed, s2, sizeof(s2));
	free(sealed);
	/* Another account sees nothing; its own row for the same host is apart. */
	assert_int_equal(
	        store_registry_by_host(f->s, other, "reg.example:5000", &got, &sealed, &slen, &err),
	        CCM_E_NOTFOUND);
	assert_null(sealed);
	assert_int_equal(store_registry_get(f->s, other, id, &got, &err), CCM_E_NOTFOUND);
	assert_int_equal(store_registry_delete(f->s, other, id, &err), CCM_E_NOTFOUND);
	r.account_id = other;
	assert_int_equal(store_registry_put(f->s, &r, s1, sizeof(s1), &replaced, &err), CCM_OK);
	assert_false(replaced);
	assert_int_not_equal(r.id, id);
	assert_int_equal(store_registry_list(f->s, acc, NULL, count_registry, &n, &err), CCM_OK);
	assert_int_equal(n, 1);
	assert_int_equal(store_registry_get(f->s, acc, id, &got, &err), CCM_OK);
	assert_string_equal(got.host, "reg.example:5000");
	assert_int_equal(store_registry_delete(f->s, acc, id, &err), CCM_OK);
	assert_int_equal(store_registry_delete(f->s, acc, id, &err), CCM_E_NOTFOUND);
	/* Deleting the account deletes its credentials. */
	assert_int_equal(store_account_delete(f->s, other, &err), CCM_OK);
	n = 0;
	assert_int_equal(store_registry_list(f->s, other, NULL, count_registry, &n, &err), CCM_OK);
	assert_int_equal(n, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_migrations, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_users, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_accounts_members, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_sessions_tokens, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_rollback, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_savepoint, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_audit_chain, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_pki, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_builds_tokens, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_registries, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
