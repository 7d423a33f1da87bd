/*
 * A fresh store in a temporary directory per test, shared by the store
 * unit tests (cmocka setup/teardown); WAL and SHM files removed after.
 */
#ifndef CCM_TEST_STORE_FIXTURE_H
#define CCM_TEST_STORE_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "ccm/store.h"

struct fx {
	char dir[256];
	char path[300];
	struct store *s;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct ccm_error err;

	snprintf(f->dir, sizeof(f->dir), "/tmp/ccm-store-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/t.db", f->dir);
	assert_int_equal(store_open(f->path, &f->s, &err), CCM_OK);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char p[400];

	store_close(f->s);
	unlink(f->path);
	snprintf(p, sizeof(p), "%s-wal", f->path);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", f->path);
	unlink(p);
	rmdir(f->dir);
	free(f);
	return 0;
}

#endif
