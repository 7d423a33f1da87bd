/*
 * DESIGN: CSRs come from nodes and runtimes, i.e. from the network; the
 * parser (PEM, DER inside, signature, key policy) must refuse anything odd
 * without crashing or leaking.
 */
#include <openssl/x509.h>

#include "ccm/cert.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ccm_error err;
	X509_REQ *req = NULL;
	uint8_t h[32];

	if (ccm_csr_parse((const char *)data, size, &req, h, &err) == CCM_OK)
		X509_REQ_free(req);
	return 0;
}
