/*
 * DESIGN: `ccm cert inspect` and relying parties read ccm's certificate
 * extensions (DICE TcbInfo and tagged evidence) from certificates they
 * were handed, i.e. from anyone. The fuzzer puts its input as the value of
 * one of the two extensions (first byte picks which) in an otherwise
 * empty certificate, so it reaches the decoders without first having to
 * forge a whole valid X.509 structure.
 */
#include <openssl/crypto.h>
#include <openssl/x509.h>

#include "ccm/cert.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static X509 *fuzz_cert_with(const char *oid, const uint8_t *der, size_t len)
{
	X509 *x = X509_new();
	ASN1_OBJECT *obj = OBJ_txt2obj(oid, 1);
	ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();
	X509_EXTENSION *ext = NULL;

	if (x != NULL && obj != NULL && os != NULL && ASN1_OCTET_STRING_set(os, der, (int)len) &&
	    (ext = X509_EXTENSION_create_by_OBJ(NULL, obj, 0, os)) != NULL)
		X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	ASN1_OCTET_STRING_free(os);
	ASN1_OBJECT_free(obj);
	return x;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ccm_cert_identity id;
	struct ccm_error err;
	uint8_t *ev = NULL;
	size_t evlen = 0;
	int64_t tag = 0;
	X509 *x;

	if (size < 1 || size > 65536)
		return 0;
	if (data[0] & 1) {
		x = fuzz_cert_with(CCM_OID_TCG_DICE_TAGGED_EVIDENCE, data + 1, size - 1);
		if (x != NULL && ccm_cert_evidence_get(x, &tag, &ev, &evlen, &err) == CCM_OK)
			OPENSSL_free(ev);
	} else {
		x = fuzz_cert_with(CCM_OID_TCG_DICE_TCB_INFO, data + 1, size - 1);
		if (x != NULL)
			(void)ccm_cert_identity_get(x, &id, &err);
	}
	X509_free(x);
	return 0;
}
