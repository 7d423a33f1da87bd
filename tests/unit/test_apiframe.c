/*
 * DESIGN: the framed answer of issue batches (lib/api/apiframe): what the
 * writer makes the reader gives back, byte for byte, and every malformed
 * header or body is refused without moving the read position.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "api/apiframe.h"

static void test_round_trip(void **state)
{
	const char *bodies[] = {"{\"certificate\":\"-----BEGIN\\n\"}", "{}",
	                        "{\"error\":{\"code\":\"x\",\"message\":\"y\"}}"};
	struct apiframe in[3] = {{200, 0, 5, 7, NULL}, {599, 0, 0, 0, NULL}, {403, 0, 0, 0, NULL}};
	char buf[512], hdr[APIFRAME_HEADER_MAX];
	size_t k = 0, off = 0;
	struct apiframe f;
	const char *msg;

	(void)state;
	for (int i = 0; i < 3; i++) {
		in[i].len = strlen(bodies[i]);
		size_t h = apiframe_header(&in[i], hdr);
		assert_true(h > 0);
		memcpy(buf + k, hdr, h);
		k += h;
		memcpy(buf + k, bodies[i], in[i].len);
		k += in[i].len;
		buf[k++] = '\n';
	}
	for (int i = 0; i < 3; i++) {
		assert_true(apiframe_next(buf, k, &off, 1024, &f, &msg));
		assert_int_equal(f.status, in[i].status);
		assert_int_equal(f.len, in[i].len);
		assert_int_equal(f.app_id, in[i].app_id);
		assert_int_equal(f.build_id, in[i].build_id);
		assert_memory_equal(f.body, bodies[i], f.len);
	}
	assert_int_equal(off, k);
	/* the largest header fits */
	struct apiframe big = {599, (size_t)UINT32_MAX, INT64_MAX, INT64_MAX, NULL};
	assert_true(apiframe_header(&big, hdr) < APIFRAME_HEADER_MAX);
}

static void refused(const char *s, size_t max, const char *want)
{
	struct apiframe f;
	const char *msg = NULL;
	size_t off = 0;

	assert_false(apiframe_next(s, strlen(s), &off, max, &f, &msg));
	assert_int_equal(off, 0);
	assert_non_null(strstr(msg, want));
}

static void test_malformed(void **state)
{
	(void)state;
	refused("", 64, "header");
	refused("200 2 1 1", 64, "header");                          /* no newline */
	refused("200 2 1\n{}\n", 64, "header");                      /* a field missing */
	refused("200  2 1 1\n{}\n", 64, "header");                   /* two spaces */
	refused("+200 2 1 1\n{}\n", 64, "header");                   /* a sign */
	refused("200 -2 1 1\n{}\n", 64, "header");                   /* a negative length */
	refused("099 2 1 1\n{}\n", 64, "header");                    /* status below 100 */
	refused("600 2 1 1\n{}\n", 64, "header");                    /* status above 599 */
	refused("2000 2 1 1\n{}\n", 64, "header");                   /* four digits */
	refused("200 2 1 x\n{}\n", 64, "header");                    /* not a number */
	refused("200 2 1 1 \n{}\n", 64, "header");                   /* trailing space */
	refused("200 2 1 99999999999999999999\n{}\n", 64, "header"); /* 20 digits */
	refused("200 2 1 9223372036854775808\n{}\n", 64, "header");  /* over INT64_MAX */
	refused("200 99999999999 1 1\n{}\n", 64, "header");          /* 11 digits */
	refused("200 65 1 1\n{}\n", 64, "larger");                   /* over the cap */
	refused("200 5 1 1\n{}\n", 64, "cut short");                 /* past the end */
	refused("200 2 1 1\n{}", 64, "cut short");                   /* no newline after */
	refused("200 2 1 1\n{}x", 64, "cut short");                  /* something else after */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_round_trip),
	        cmocka_unit_test(test_malformed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
