/*
 * DESIGN: the simulated quote (format in include/ccm/attest.h). Everything a
 * verifier needs is inside or in the node certificate it is checked
 * against; the parse step refuses any deviation (magic, version, flags,
 * lengths) before a signature is looked at, so the verifier never runs
 * crypto on garbage.
 */
#include <string.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "ccm/attest.h"
#include "util/util.h"

static const uint8_t MAGIC[16] = "CCM SIMULATED";

bool ccm_simquote_is(const uint8_t *buf, size_t len)
{
	return len >= 16 && memcmp(buf, MAGIC, 16) == 0;
}

static ccm_code cert_sha256(X509 *cert, uint8_t out[32], struct ccm_error *err)
{
	unsigned char *der = NULL;
	int n = i2d_X509(cert, &der);

	if (n <= 0)
		return ccm_fail(err, CCM_E_CRYPTO,
		                "simulated quote: cannot encode the node certificate");
	EVP_Digest(der, (size_t)n, out, NULL, EVP_sha256(), NULL);
	OPENSSL_free(der);
	return CCM_OK;
}

ccm_code ccm_simquote_sign(const uint8_t report[CCM_REPORT_BODY_SIZE], X509 *node_cert,
                           EVP_PKEY *node_key, int64_t now, uint8_t *out, size_t *len,
                           struct ccm_error *err)
{
	EVP_MD_CTX *md = NULL;
	size_t siglen = 80;
	ccm_code rc;

	memset(out, 0, CCM_SIMQ_SIZE_MAX);
	memcpy(out, MAGIC, 16);
	util_put_le32(out + 16, 1);
	util_put_le32(out + 20, CCM_SIMQ_FLAG_SIMULATED);
	util_put_le64(out + 24, (uint64_t)now);
	if ((rc = cert_sha256(node_cert, out + 32, err)) != CCM_OK)
		return rc;
	memcpy(out + 64, report, CCM_REPORT_BODY_SIZE);
	md = EVP_MD_CTX_new();
	if (md == NULL ||
	    EVP_DigestSignInit_ex(md, NULL, "SHA256", NULL, NULL, node_key, NULL) <= 0 ||
	    EVP_DigestSign(md, out + CCM_SIMQ_SIGNED_SIZE, &siglen, out, CCM_SIMQ_COVERED) <= 0 ||
	    siglen > 80) {
		EVP_MD_CTX_free(md);
		return ccm_fail(err, CCM_E_CRYPTO,
		                "simulated quote: signing with the node key failed");
	}
	EVP_MD_CTX_free(md);
	util_put_le16(out + 448, (uint16_t)siglen);
	*len = CCM_SIMQ_SIGNED_SIZE + siglen;
	return CCM_OK;
}

ccm_code ccm_simquote_parse(const uint8_t *buf, size_t len, struct ccm_simquote *out,
                            struct ccm_error *err)
{
	uint16_t siglen;

	if (len < CCM_SIMQ_SIGNED_SIZE)
		return ccm_fail(err, CCM_E_INPUT,
		                "simulated quote: %zu bytes, shorter than its %u-byte header", len,
		                CCM_SIMQ_SIGNED_SIZE);
	if (!ccm_simquote_is(buf, len))
		return ccm_fail(err, CCM_E_INPUT, "simulated quote: bad magic at offset 0");
	memset(out, 0, sizeof(*out));
	out->version = util_le32(buf + 16);
	out->flags = util_le32(buf + 20);
	if (out->version != 1)
		return ccm_fail(err, CCM_E_UNSUPPORTED,
		                "simulated quote: version %u at offset 16 (only 1 is known)",
		                out->version);
	if (out->flags != CCM_SIMQ_FLAG_SIMULATED)
		return ccm_fail(
		        err, CCM_E_INPUT,
		        "simulated quote: flags 0x%x at offset 20 (SIMULATED must be the only "
		        "bit)",
		        out->flags);
	siglen = util_le16(buf + 448);
	if (siglen == 0 || siglen > 80 || len != CCM_SIMQ_SIGNED_SIZE + siglen)
		return ccm_fail(
		        err, CCM_E_INPUT,
		        "simulated quote: signature length %u at offset 448 does not fit the "
		        "%zu bytes",
		        siglen, len);
	out->issued_at = (int64_t)util_le64(buf + 24);
	memcpy(out->node_cert_sha256, buf + 32, 32);
	memcpy(out->report_raw, buf + 64, CCM_REPORT_BODY_SIZE);
	ccm_quote_report_decode(out->report_raw, &out->report);
	return CCM_OK;
}

ccm_code ccm_simquote_verify(const uint8_t *buf, size_t len, X509 *node_cert,
                             struct ccm_simquote *out, struct ccm_error *err)
{
	uint8_t want[32];
	EVP_MD_CTX *md;
	int ok;
	ccm_code rc = ccm_simquote_parse(buf, len, out, err);

	if (rc != CCM_OK || (rc = cert_sha256(node_cert, want, err)) != CCM_OK)
		return rc;
	if (memcmp(want, out->node_cert_sha256, 32) != 0)
		return ccm_fail(err, CCM_E_VERIFY,
		                "simulated quote: signed for another node certificate");
	md = EVP_MD_CTX_new();
	ok = md != NULL &&
	     EVP_DigestVerifyInit_ex(md, NULL, "SHA256", NULL, NULL, X509_get0_pubkey(node_cert),
	                             NULL) > 0 &&
	     EVP_DigestVerify(md, buf + CCM_SIMQ_SIGNED_SIZE, len - CCM_SIMQ_SIGNED_SIZE, buf,
	                      CCM_SIMQ_COVERED) == 1;
	EVP_MD_CTX_free(md);
	if (!ok)
		return ccm_fail(err, CCM_E_VERIFY,
		                "simulated quote: the node signature does not verify");
	return CCM_OK;
}
