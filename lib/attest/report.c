/*
 * DESIGN: the SGX report body (Intel sgx_report_body_t, 384 bytes) as the
 * runtime must present it. Building it from a SIGSTRUCT mirrors what EINIT
 * does (SDM: MRSIGNER from the modulus, ISV fields copied), so that a
 * simulated report and a hardware one for the same enclave agree field for
 * field, and the manager's policy compares them the same way.
 */
#include <string.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "ccm/attest.h"
#include "util/util.h"

ccm_code ccm_report_from_sigstruct(const struct ccm_sgx_sigstruct *s, const uint8_t mrenclave[32],
                                   const uint8_t report_data[64], struct ccm_quote_report *out,
                                   struct ccm_error *err)
{
	ccm_code rc;

	memset(out, 0, sizeof(*out));
	if ((rc = ccm_sgx_mrsigner(s->modulus, out->mrsigner, err)) != CCM_OK)
		return rc;
	util_put_le32(out->miscselect, s->f.miscselect);
	memcpy(out->attributes, s->f.attributes, 16);
	out->attributes[0] |= CCM_SGX_FLAG_INIT;
	memcpy(out->mrenclave, mrenclave, 32);
	memcpy(out->isvextprodid, s->f.isvextprodid, 16);
	memcpy(out->isvfamilyid, s->f.isvfamilyid, 16);
	out->isvprodid = s->f.isvprodid;
	out->isvsvn = s->f.isvsvn;
	memcpy(out->reportdata, report_data, 64);
	return CCM_OK;
}

void ccm_report_data_for_spki(const uint8_t *spki, size_t len, const uint8_t *nonce_hash,
                              uint8_t out[64])
{
	memset(out, 0, 64);
	EVP_Digest(spki, len, out, NULL, EVP_sha256(), NULL);
	if (nonce_hash != NULL)
		memcpy(out + 32, nonce_hash, 32);
}

ccm_code ccm_report_data_for_key(EVP_PKEY *key, const uint8_t *nonce_hash, uint8_t out[64],
                                 struct ccm_error *err)
{
	unsigned char *der = NULL;
	int n = i2d_PUBKEY(key, &der);

	if (n <= 0)
		return ccm_fail(err, CCM_E_CRYPTO, "report data: cannot encode the public key");
	ccm_report_data_for_spki(der, (size_t)n, nonce_hash, out);
	OPENSSL_free(der);
	return CCM_OK;
}
