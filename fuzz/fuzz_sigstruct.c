/*
 * DESIGN: SIGSTRUCTs arrive from users (build registration), so the parser
 * and every check (header, exponent, RSA verify, q1/q2) must survive any
 * 1808 bytes; other lengths must be refused without reading past them.
 */
#include "ccm/sgx.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ccm_sgx_sigstruct s;
	struct ccm_sgx_sigcheck k;
	struct ccm_error err;

	if (ccm_sgx_sigstruct_parse(data, size, &s, &err) == CCM_OK)
		(void)ccm_sgx_sigstruct_check(&s, &k, &err);
	return 0;
}
