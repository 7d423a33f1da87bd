/*
 * DESIGN: TCB info and QE identity bodies come from a network service
 * (PCS/PCCS); fuzz their parser and the raw-substring locator that finds
 * the signed bytes. A located substring must lie inside the input and be
 * an object; the same input goes through both parsers.
 */
#include <stdlib.h>

#include "quote/internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tcbinfo t;
	struct qeid q;
	struct ccm_error err;
	const char *raw;
	size_t rawlen;
	uint8_t sig[64];

	if (tcbinfo_parse(data, size, &t, &raw, &rawlen, sig, &err) == CCM_OK) {
		if (raw < (const char *)data || raw + rawlen > (const char *)data + size ||
		    raw[0] != '{' || t.n_levels == 0)
			abort();
		tcbinfo_clear(&t);
	}
	if (tcbinfo_signed(data, size, "enclaveIdentity", &raw, &rawlen, sig, &err) == CCM_OK &&
	    (raw < (const char *)data || raw + rawlen > (const char *)data + size))
		abort();
	if (tcbinfo_parse_qeid(data, size, &q, &raw, &rawlen, sig, &err) == CCM_OK)
		tcbinfo_clear_qeid(&q);
	if (tcbinfo_raw_member((const char *)data, size, "tcbInfo", &raw, &rawlen, &err) ==
	            CCM_OK &&
	    (raw < (const char *)data || raw + rawlen > (const char *)data + size))
		abort();
	return 0;
}
