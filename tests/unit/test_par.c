/*
 * DESIGN: ccmd's fork-join pool (src/ccmd/par.c) must run every index
 * exactly once per call and let go of the caller's job before returning:
 * many short calls back to back are where a helper still inside an old
 * job would run an index of the next one.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "../../src/ccmd/par.h"

struct count {
	atomic_int hits[512];
};

static void count_one(void *arg, size_t i)
{
	struct count *c = arg;

	atomic_fetch_add(&c->hits[i], 1);
}

static void run_rounds(struct par *p)
{
	static struct count c;

	for (int round = 0; round < 2000; round++) {
		size_t n = (size_t)(round % 70); /* 0, 1 and batch sizes */
		for (size_t i = 0; i < n; i++)
			atomic_store(&c.hits[i], 0);
		par_for(p, n, count_one, &c);
		for (size_t i = 0; i < n; i++)
			assert_int_equal(atomic_load(&c.hits[i]), 1);
	}
}

static void test_par_threads(void **state)
{
	(void)state;
	for (int t = 0; t <= 3; t++) {
		struct par *p = par_new(t);
		assert_non_null(p);
		run_rounds(p);
		par_free(p);
	}
	run_rounds(NULL); /* no pool: inline */
	assert_true(par_default_threads() >= 0 && par_default_threads() <= 7);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_par_threads),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
