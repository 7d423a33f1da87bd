/*
 * DESIGN: CSRs come from nodes and runtimes, i.e. from the network; the
 * parser (PEM, DER inside, signature, key policy) must refuse anything odd
 * without crashing or leaking, and ccm_csr_parse_key (the issuance path)
 * must agree with it on every input; ccm_csr_key_hash (the agent's, no
 * signature check) must accept all it accepts, with the same hash, and
 * refuse only with its words.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/x509.h>

#include "ccm/cert.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ccm_error err, err2;
	X509_REQ *req = NULL, *req2 = NULL;
	uint8_t h[32], h2[32];
	ccm_code rc = ccm_csr_parse((const char *)data, size, &req, h, &err);
	ccm_code rc2 = ccm_csr_parse_key((const char *)data, size, &req2, h2, &err2);

	/* The issuance path (no key decoder for EC keys) must accept exactly
	 * what the full parser accepts, with the same SPKI hash. */
	if (rc != rc2 || (rc == CCM_OK && memcmp(h, h2, 32) != 0) ||
	    (rc != CCM_OK && strcmp(err.msg, err2.msg) != 0))
		abort();
	ccm_code rc3 = ccm_csr_key_hash((const char *)data, size, h2, &err2);
	if ((rc == CCM_OK && (rc3 != CCM_OK || memcmp(h, h2, 32) != 0)) ||
	    (rc3 != CCM_OK && (rc3 != rc || strcmp(err.msg, err2.msg) != 0)))
		abort();
	if (rc == CCM_OK)
		X509_REQ_free(req);
	if (rc2 == CCM_OK)
		X509_REQ_free(req2);
	return 0;
}
