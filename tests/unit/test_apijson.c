/*
 * DESIGN: the request-body gates of lib/api: each limit exactly at and one
 * past its bound, brackets inside strings not counted as depth, and every
 * shape failure of apijson_check naming its field. The OpenAPI schema made
 * from a field table is checked to say what the validator enforces.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "api/apijson.h"
#include "util/util.h"

static const struct apijson_field fields[] = {
        {"name", APIJSON_STRING, true, 1, 8, NULL}, {"n", APIJSON_INT, false, 1, 16, NULL},
        {"flag", APIJSON_BOOL, false, 0, 1, NULL},  {"tags", APIJSON_STRINGS, false, 1, 2, NULL},
        {NULL, APIJSON_STRING, false, 0, 0, NULL},
};

static enum apijson_status parse(const char *s)
{
	struct apijson_limits l;
	struct apijson_result r;
	json_t *v = NULL;

	apijson_limits_default(&l);
	if (!apijson_parse(s, strlen(s), &l, &v, &r))
		return r.status;
	json_decref(v);
	return APIJSON_OK;
}

static enum apijson_status check(const char *s, char *msg)
{
	struct apijson_limits l;
	struct apijson_result r;
	json_t *v = NULL;
	bool ok;

	apijson_limits_default(&l);
	assert_true(apijson_parse(s, strlen(s), &l, &v, &r));
	ok = apijson_check(v, fields, &r);
	json_decref(v);
	if (msg)
		snprintf(msg, 256, "%s", r.msg);
	return ok ? APIJSON_OK : r.status;
}

static void test_depth(void **state)
{
	(void)state;
	assert_int_equal(parse("[[[[[[[[1]]]]]]]]"), APIJSON_OK);         /* 8 */
	assert_int_equal(parse("[[[[[[[[[1]]]]]]]]]"), APIJSON_TOO_DEEP); /* 9 */
	assert_int_equal(parse("{\"a\":\"[[[[[[[[[[[[[[[[[[[\"}"), APIJSON_OK);
	assert_int_equal(parse("{\"a\":\"\\\"[[[[[[[[[[[[[[\"}"), APIJSON_OK);
	assert_int_equal(parse("]]]]]]]]]]"), APIJSON_MALFORMED);
}

static void test_sizes(void **state)
{
	char *big = malloc(5000);
	char *items = malloc(4000);
	size_t n = 0;

	(void)state;
	snprintf(big, 5000, "{\"a\":\"%0*d\"}", 4096, 0);
	assert_int_equal(parse(big), APIJSON_OK);
	snprintf(big, 5000, "{\"a\":\"%0*d\"}", 4097, 0);
	assert_int_equal(parse(big), APIJSON_TOO_LONG);
	snprintf(big, 5000, "{\"%0*d\":1}", 4097, 0);
	assert_int_equal(parse(big), APIJSON_TOO_LONG);
	n += (size_t)snprintf(items + n, 4000 - n, "[");
	for (int i = 0; i < 257; i++)
		n += (size_t)snprintf(items + n, 4000 - n, "%s1", i ? "," : "");
	snprintf(items + n, 4000 - n, "]");
	assert_int_equal(parse(items), APIJSON_TOO_LONG);
	free(big);
	free(items);
}

static void test_malformed(void **state)
{
	(void)state;
	assert_int_equal(parse(""), APIJSON_MALFORMED);
	assert_int_equal(parse("{"), APIJSON_MALFORMED);
	assert_int_equal(parse("{\"a\":1,\"a\":2}"), APIJSON_MALFORMED);
	assert_int_equal(parse("{\"a\":\"\\u0000\"}"), APIJSON_MALFORMED);
	assert_int_equal(parse("{\"a\":1} x"), APIJSON_MALFORMED);
}

static void test_check(void **state)
{
	char msg[256];

	(void)state;
	assert_int_equal(check("{\"name\":\"abc\",\"n\":3,\"flag\":true,\"tags\":[\"x\"]}", NULL),
	                 APIJSON_OK);
	assert_int_equal(check("[1]", msg), APIJSON_NOT_OBJECT);
	assert_int_equal(check("{}", msg), APIJSON_MISSING);
	assert_string_equal(msg, "missing field 'name'");
	assert_int_equal(check("{\"name\":\"a\",\"zz\":1}", msg), APIJSON_UNKNOWN);
	assert_string_equal(msg, "unknown field 'zz'");
	assert_int_equal(check("{\"name\":1}", msg), APIJSON_WRONG_TYPE);
	assert_string_equal(msg, "field 'name' must be a string");
	assert_int_equal(check("{\"name\":\"123456789\"}", msg), APIJSON_OUT_OF_RANGE);
	assert_int_equal(check("{\"name\":\"\"}", msg), APIJSON_OUT_OF_RANGE);
	assert_int_equal(check("{\"name\":\"a\",\"n\":17}", msg), APIJSON_OUT_OF_RANGE);
	assert_int_equal(check("{\"name\":\"a\",\"n\":true}", msg), APIJSON_WRONG_TYPE);
	assert_int_equal(check("{\"name\":\"a\",\"flag\":0}", msg), APIJSON_WRONG_TYPE);
	assert_int_equal(check("{\"name\":\"a\",\"tags\":[]}", msg), APIJSON_OUT_OF_RANGE);
	assert_int_equal(check("{\"name\":\"a\",\"tags\":[1]}", msg), APIJSON_WRONG_TYPE);
	assert_int_equal(check("{\"name\":\"a\",\"tags\":[\"\"]}", msg), APIJSON_WRONG_TYPE);
	assert_string_equal(apijson_status_code(APIJSON_UNKNOWN), "unknown_field");
}

static void test_schema(void **state)
{
	json_t *s = apijson_schema(fields);

	(void)state;
	assert_string_equal(json_string_value(json_object_get(s, "type")), "object");
	assert_true(json_is_false(json_object_get(s, "additionalProperties")));
	assert_int_equal(json_array_size(json_object_get(s, "required")), 1);
	assert_int_equal(
	        json_integer_value(json_object_get(
	                json_object_get(json_object_get(s, "properties"), "name"), "maxLength")),
	        8);
	json_decref(s);
}

/* The capped reply buffer the CLI and the agent hand to libcurl. */
static void test_capbuf(void **state)
{
	struct util_capbuf b = {.max = 8};
	char data[] = "0123456789";

	(void)state;
	assert_int_equal(util_capbuf_write(data, 1, 5, &b), 5);
	assert_int_equal(util_capbuf_write(data + 5, 1, 3, &b), 3);
	assert_string_equal(b.p, "01234567");
	assert_false(b.over);
	/* One byte past the cap: refused whole, flagged, contents kept. */
	assert_int_equal(util_capbuf_write(data, 1, 1, &b), 0);
	assert_true(b.over);
	assert_int_equal(b.n, 8);
	assert_string_equal(b.p, "01234567");
	free(b.p);
	/* A size * nmemb that alone exceeds the cap. */
	b = (struct util_capbuf){.max = 4};
	assert_int_equal(util_capbuf_write(data, 2, 3, &b), 0);
	assert_true(b.over);
	assert_null(b.p);
}

/* The string cap follows the longest string field; other types and
 * shorter strings leave the default. */
static void test_limits_fit(void **state)
{
	static const struct apijson_field csr[] = {
	        {"csr", APIJSON_STRING, true, 64, 16384, NULL},
	        {"names", APIJSON_STRINGS, false, 0, 99999, NULL},
	        {NULL, APIJSON_STRING, false, 0, 0, NULL},
	};
	struct apijson_limits l;

	(void)state;
	apijson_limits_default(&l);
	apijson_limits_fit(&l, fields);
	assert_int_equal(l.max_string, 4096);
	apijson_limits_fit(&l, csr);
	assert_int_equal(l.max_string, 16384);
	apijson_limits_fit(&l, NULL);
	assert_int_equal(l.max_string, 16384);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_depth),      cmocka_unit_test(test_sizes),
	        cmocka_unit_test(test_malformed),  cmocka_unit_test(test_check),
	        cmocka_unit_test(test_schema),     cmocka_unit_test(test_capbuf),
	        cmocka_unit_test(test_limits_fit),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
