/*
 * DESIGN: the SGXS reader is the first thing that touches an untrusted
 * enclave layout; fuzz parse, measure and the writer round trip together so
 * that any record the reader accepts must also serialise to the same bytes.
 */
#include <stdlib.h>
#include <string.h>

#include "ccm/sgx.h"

struct rt {
	const uint8_t *base;
	size_t pos;
};

static ccm_code roundtrip(void *ctx, const struct ccm_sgxs_record *r, struct ccm_error *err)
{
	struct rt *t = ctx;
	uint8_t out[320];
	size_t n = 0;
	ccm_code rc = ccm_sgxs_write_record(r, out, &n, err);

	if (rc != CCM_OK)
		return rc;
	if (memcmp(out, t->base + t->pos, n) != 0)
		abort(); /* accepted record that does not serialise back */
	t->pos += n;
	return CCM_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ccm_error err;
	struct rt t = {data, 0};
	uint8_t mr[32];

	if (ccm_sgxs_parse(data, size, roundtrip, &t, &err) == CCM_OK && t.pos != size)
		abort();
	(void)ccm_sgxs_measure(data, size, mr, &err);
	return 0;
}
