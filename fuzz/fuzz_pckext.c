/*
 * DESIGN: the PCK SGX extension is hand-parsed DER (lib/quote/pckext.c);
 * fuzz it alone so every length and tag path is reached quickly. An
 * accepted extension must have the fields the verifier reads in range.
 */
#include <stdlib.h>

#include "quote/internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pckext e;
	struct ccm_error err;

	if (pckext_parse(data, size, &e, &err) == CCM_OK && e.sgx_type > 2)
		abort();
	return 0;
}
