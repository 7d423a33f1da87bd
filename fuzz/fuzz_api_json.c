/*
 * DESIGN: libFuzzer target for the request-body gates of ccmd (lib/api):
 * any bytes go through apijson_parse under the default limits, and every
 * parsed document through apijson_check against a field table with each
 * field type, and, as ccmd's /v1/node/issue/batch does, each member of a
 * "requests" array against the issue body's table. Properties checked
 * beyond "no crash": a document accepted by the parser respects the depth
 * limit, and a refusal always carries a message.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "api/apijson.h"

static const struct apijson_field fuzz_fields[] = {
        {"name", APIJSON_STRING, true, 1, 64, NULL},
        {"description", APIJSON_STRING, false, 0, 1024, NULL},
        {"test_only", APIJSON_BOOL, false, 0, 1, NULL},
        {"approval_quorum", APIJSON_INT, false, 1, 16, NULL},
        {"accepted_tcb_statuses", APIJSON_STRINGS, false, 1, 8, NULL},
        {NULL, APIJSON_STRING, false, 0, 0, NULL},
};

static const struct apijson_field fuzz_batch[] = {
        {"requests", APIJSON_ARRAY, true, 1, 64, NULL},
        {NULL, APIJSON_STRING, false, 0, 0, NULL},
};
static const struct apijson_field fuzz_issue[] = {
        {"csr", APIJSON_STRING, true, 1, 16384, NULL},
        {"evidence", APIJSON_OBJECT, true, 2, 2, NULL},
        {"dns_names", APIJSON_STRINGS, false, 0, 64, NULL},
        {NULL, APIJSON_STRING, false, 0, 0, NULL},
};

/* The batch envelope, then every item on its own (a refusal has a message). */
static void fuzz_batch_items(json_t *v)
{
	struct apijson_result r;
	json_t *item;
	size_t i;

	if (!apijson_check(v, fuzz_batch, &r)) {
		if (r.msg[0] == '\0')
			abort();
		return;
	}
	json_array_foreach(json_object_get(v, "requests"), i, item)
	{
		if (!apijson_check(item, fuzz_issue, &r) && r.msg[0] == '\0')
			abort();
	}
}

static size_t fuzz_depth(json_t *v)
{
	size_t best = 0, d, i;
	const char *k;
	json_t *it;

	if (json_is_object(v)) {
		json_object_foreach(v, k, it)
		{
			if ((d = fuzz_depth(it)) > best)
				best = d;
		}
		return best + 1;
	}
	if (json_is_array(v)) {
		json_array_foreach(v, i, it)
		{
			if ((d = fuzz_depth(it)) > best)
				best = d;
		}
		return best + 1;
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct apijson_limits lim;
	struct apijson_result r;
	json_t *v = NULL;

	apijson_limits_default(&lim);
	if (!apijson_parse((const char *)data, size, &lim, &v, &r)) {
		if (r.msg[0] == '\0')
			abort();
		return 0;
	}
	if (fuzz_depth(v) > lim.max_depth)
		abort();
	if (!apijson_check(v, fuzz_fields, &r) && r.msg[0] == '\0')
		abort();
	fuzz_batch_items(v);
	json_decref(v);
	return 0;
}
