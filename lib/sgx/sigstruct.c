/*
 * DESIGN: SIGSTRUCT is a fixed 1808-byte layout; one table of offsets is the
 * only place that knows it (fields[] below), shared by build and parse so
 * the two can never disagree. RSA work goes through EVP only: sign with
 * PKCS#1 v1.5 over SHA-256 of the two signed ranges, verify against a public
 * key rebuilt from the modulus field (so a SIGSTRUCT verifies on its own),
 * and compute q1/q2 with BIGNUMs. OpenSSL speaks big-endian, SGX stores
 * little-endian: every crossing reverses bytes, in exactly two helpers.
 */
#include <string.h>
#include <time.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "ccm/sgx.h"
#include "util/util.h"

#define OFF_HEADER 0
#define OFF_VENDOR 16
#define OFF_DATE 20
#define OFF_HEADER2 24
#define OFF_SWDEFINED 40
#define OFF_MODULUS 128
#define OFF_EXPONENT 512
#define OFF_SIGNATURE 516
#define OFF_MISCSELECT 900
#define OFF_MISCMASK 904
#define OFF_CET_ATTR 908
#define OFF_CET_MASK 909
#define OFF_ISVFAMILYID 912
#define OFF_ATTRIBUTES 928
#define OFF_ATTRMASK 944
#define OFF_ENCLAVEHASH 960
#define OFF_ISVEXTPRODID 1008
#define OFF_ISVPRODID 1024
#define OFF_ISVSVN 1026
#define OFF_Q1 1040
#define OFF_Q2 1424

static const uint8_t HEADER[16] = {0x06, 0, 0, 0, 0xe1, 0, 0, 0, 0, 0, 0x01, 0, 0, 0, 0, 0};
static const uint8_t HEADER2[16] = {0x01, 0x01, 0, 0, 0x60, 0, 0, 0, 0x60, 0, 0, 0, 0x01, 0, 0, 0};

/* Reserved ranges that must be zero: [start, end). */
static const size_t reserved[][2] = {{44, 128}, {910, 912}, {992, 1008}, {1028, 1040}};

void ccm_sgx_sigfields_default(struct ccm_sgx_sigfields *f)
{
	memset(f, 0, sizeof(*f));
	f->miscmask = 0xffffffffu;
	util_put_le64(f->attributes, CCM_SGX_FLAG_MODE64BIT);
	util_put_le64(f->attributes + 8, 0x3);
	util_put_le64(f->attributemask, ~(uint64_t)CCM_SGX_FLAG_DEBUG);
	util_put_le64(f->attributemask + 8, ~(uint64_t)0xe4);
}

static void fields_store(const struct ccm_sgx_sigfields *f, uint8_t *s)
{
	memcpy(s + OFF_HEADER, HEADER, 16);
	util_put_le32(s + OFF_VENDOR, f->vendor);
	util_put_le32(s + OFF_DATE, f->date);
	memcpy(s + OFF_HEADER2, HEADER2, 16);
	util_put_le32(s + OFF_SWDEFINED, f->swdefined);
	util_put_le32(s + OFF_MISCSELECT, f->miscselect);
	util_put_le32(s + OFF_MISCMASK, f->miscmask);
	s[OFF_CET_ATTR] = f->cet_attributes;
	s[OFF_CET_MASK] = f->cet_attributes_mask;
	memcpy(s + OFF_ISVFAMILYID, f->isvfamilyid, 16);
	memcpy(s + OFF_ATTRIBUTES, f->attributes, 16);
	memcpy(s + OFF_ATTRMASK, f->attributemask, 16);
	memcpy(s + OFF_ENCLAVEHASH, f->enclavehash, 32);
	memcpy(s + OFF_ISVEXTPRODID, f->isvextprodid, 16);
	util_put_le16(s + OFF_ISVPRODID, f->isvprodid);
	util_put_le16(s + OFF_ISVSVN, f->isvsvn);
}

static void fields_load(const uint8_t *s, struct ccm_sgx_sigfields *f)
{
	f->vendor = util_le32(s + OFF_VENDOR);
	f->date = util_le32(s + OFF_DATE);
	f->swdefined = util_le32(s + OFF_SWDEFINED);
	f->miscselect = util_le32(s + OFF_MISCSELECT);
	f->miscmask = util_le32(s + OFF_MISCMASK);
	f->cet_attributes = s[OFF_CET_ATTR];
	f->cet_attributes_mask = s[OFF_CET_MASK];
	memcpy(f->isvfamilyid, s + OFF_ISVFAMILYID, 16);
	memcpy(f->attributes, s + OFF_ATTRIBUTES, 16);
	memcpy(f->attributemask, s + OFF_ATTRMASK, 16);
	memcpy(f->enclavehash, s + OFF_ENCLAVEHASH, 32);
	memcpy(f->isvextprodid, s + OFF_ISVEXTPRODID, 16);
	f->isvprodid = util_le16(s + OFF_ISVPRODID);
	f->isvsvn = util_le16(s + OFF_ISVSVN);
}

/* SHA-256 over sigstruct[0:128] || sigstruct[900:1028]. */
static ccm_code signed_digest(const uint8_t *s, uint8_t out[32], struct ccm_error *err)
{
	uint8_t msg[256];

	memcpy(msg, s, 128);
	memcpy(msg + 128, s + 900, 128);
	if (!EVP_Digest(msg, sizeof(msg), out, NULL, EVP_sha256(), NULL))
		return ccm_fail(err, CCM_E_CRYPTO, "sigstruct: SHA-256 failed");
	return CCM_OK;
}

ccm_code ccm_sgx_parse_date(const char *s, uint32_t *out, struct ccm_error *err)
{
	static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	unsigned y, m, d;
	uint32_t v = 0;

	if (strlen(s) != 8 || strspn(s, "0123456789") != 8)
		return ccm_fail(err, CCM_E_INPUT, "--date: '%s' is not YYYYMMDD", s);
	for (int i = 0; i < 8; i++)
		v = v << 4 | (uint32_t)(s[i] - '0');
	y = (unsigned)((s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0'));
	m = (unsigned)((s[4] - '0') * 10 + (s[5] - '0'));
	d = (unsigned)((s[6] - '0') * 10 + (s[7] - '0'));
	if (y < 1970 || m < 1 || m > 12 || d < 1 || (int)d > mdays[m - 1] ||
	    (m == 2 && d == 29 && !(y % 4 == 0 && (y % 100 != 0 || y % 400 == 0))))
		return ccm_fail(err, CCM_E_RANGE, "--date: '%s' is not a calendar date", s);
	*out = v;
	return CCM_OK;
}

uint32_t ccm_sgx_date_today(void)
{
	char buf[16];
	struct tm tm;
	time_t now = time(NULL);
	uint32_t v = 0;

	gmtime_r(&now, &tm);
	strftime(buf, sizeof(buf), "%Y%m%d", &tm);
	if (ccm_sgx_parse_date(buf, &v, NULL) != CCM_OK)
		return 0;
	return v;
}

ccm_code ccm_sgx_key_check(EVP_PKEY *key, struct ccm_error *err)
{
	BIGNUM *e = NULL;
	int ok;

	if (EVP_PKEY_get_base_id(key) != EVP_PKEY_RSA)
		return ccm_fail(err, CCM_E_INPUT,
		                "key: not an RSA key (SGX needs RSA-3072, e = 3)");
	if (EVP_PKEY_get_bits(key) != 3072)
		return ccm_fail(err, CCM_E_INPUT, "key: RSA-%d, but SGX needs RSA-3072 with e = 3",
		                EVP_PKEY_get_bits(key));
	if (!EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_E, &e))
		return ccm_fail(err, CCM_E_CRYPTO, "key: cannot read the public exponent");
	ok = BN_is_word(e, 3);
	BN_free(e);
	if (!ok)
		return ccm_fail(err, CCM_E_INPUT,
		                "key: public exponent is not 3 (SGX needs e = 3)");
	return CCM_OK;
}

ccm_code ccm_sgx_keygen(EVP_PKEY **out, struct ccm_error *err)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
	BIGNUM *e = BN_new();
	ccm_code rc = CCM_OK;

	*out = NULL;
	if (ctx == NULL || e == NULL || !BN_set_word(e, 3) || EVP_PKEY_keygen_init(ctx) <= 0 ||
	    EVP_PKEY_CTX_set_rsa_keygen_bits(ctx, 3072) <= 0 ||
	    EVP_PKEY_CTX_set1_rsa_keygen_pubexp(ctx, e) <= 0 || EVP_PKEY_keygen(ctx, out) <= 0)
		rc = ccm_fail(err, CCM_E_CRYPTO, "keygen: RSA-3072 key generation failed");
	BN_free(e);
	EVP_PKEY_CTX_free(ctx);
	return rc;
}

ccm_code ccm_sgx_key_load(const char *path, EVP_PKEY **out, struct ccm_error *err)
{
	ccm_code rc = util_key_load(path, out, err);

	if (rc != CCM_OK)
		return rc;
	rc = ccm_sgx_key_check(*out, err);
	if (rc != CCM_OK) {
		ccm_error_prefix(err, "%s", path);
		EVP_PKEY_free(*out);
		*out = NULL;
	}
	return rc;
}

ccm_code ccm_sgx_key_save(EVP_PKEY *key, const char *path, struct ccm_error *err)
{
	return util_key_save(key, path, err);
}

/* Big-endian n-byte value of a BIGNUM into little-endian out. */
static int bn_to_le(const BIGNUM *bn, uint8_t *out, size_t n)
{
	return BN_bn2lebinpad(bn, out, (int)n) == (int)n;
}

ccm_code ccm_sgx_q1q2(const uint8_t sig[CCM_SGX_KEY_BYTES], const uint8_t mod[CCM_SGX_KEY_BYTES],
                      uint8_t q1[CCM_SGX_KEY_BYTES], uint8_t q2[CCM_SGX_KEY_BYTES],
                      struct ccm_error *err)
{
	BN_CTX *ctx = BN_CTX_new();
	BIGNUM *s, *n, *t, *q, *r;
	int ok = 0;

	if (ctx == NULL)
		return ccm_fail(err, CCM_E_NOMEM, "q1/q2: out of memory");
	BN_CTX_start(ctx);
	s = BN_CTX_get(ctx);
	n = BN_CTX_get(ctx);
	t = BN_CTX_get(ctx);
	q = BN_CTX_get(ctx);
	r = BN_CTX_get(ctx);
	if (r != NULL && BN_lebin2bn(sig, CCM_SGX_KEY_BYTES, s) &&
	    BN_lebin2bn(mod, CCM_SGX_KEY_BYTES, n) && !BN_is_zero(n) && BN_sqr(t, s, ctx) &&
	    BN_div(q, r, t, n, ctx) && bn_to_le(q, q1, CCM_SGX_KEY_BYTES) && BN_mul(t, s, r, ctx) &&
	    BN_div(q, NULL, t, n, ctx) && bn_to_le(q, q2, CCM_SGX_KEY_BYTES))
		ok = 1;
	BN_CTX_end(ctx);
	BN_CTX_free(ctx);
	if (!ok)
		return ccm_fail(err, CCM_E_CRYPTO,
		                "q1/q2: computation failed (signature >= modulus?)");
	return CCM_OK;
}

ccm_code ccm_sgx_mrsigner(const uint8_t modulus[CCM_SGX_KEY_BYTES], uint8_t out[CCM_SGX_HASH_SIZE],
                          struct ccm_error *err)
{
	if (!EVP_Digest(modulus, CCM_SGX_KEY_BYTES, out, NULL, EVP_sha256(), NULL))
		return ccm_fail(err, CCM_E_CRYPTO, "mrsigner: SHA-256 failed");
	return CCM_OK;
}

/* Modulus of key as 384 little-endian bytes. */
static ccm_code key_modulus(EVP_PKEY *key, uint8_t out[CCM_SGX_KEY_BYTES], struct ccm_error *err)
{
	BIGNUM *n = NULL;
	int ok = EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_N, &n) &&
	         bn_to_le(n, out, CCM_SGX_KEY_BYTES);

	BN_free(n);
	return ok ? CCM_OK : ccm_fail(err, CCM_E_CRYPTO, "key: cannot read the modulus");
}

static ccm_code rsa_sign_digest(EVP_PKEY *key, const uint8_t digest[32],
                                uint8_t sig_le[CCM_SGX_KEY_BYTES], struct ccm_error *err)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, key, NULL);
	size_t siglen = CCM_SGX_KEY_BYTES;
	ccm_code rc = CCM_OK;

	if (ctx == NULL || EVP_PKEY_sign_init(ctx) <= 0 ||
	    EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) <= 0 ||
	    EVP_PKEY_CTX_set_signature_md(ctx, EVP_sha256()) <= 0 ||
	    EVP_PKEY_sign(ctx, sig_le, &siglen, digest, 32) <= 0 || siglen != CCM_SGX_KEY_BYTES)
		rc = ccm_fail(err, CCM_E_CRYPTO, "sign: RSA signature failed");
	EVP_PKEY_CTX_free(ctx);
	if (rc == CCM_OK)
		util_reverse(sig_le, CCM_SGX_KEY_BYTES);
	return rc;
}

ccm_code ccm_sgx_sign(const struct ccm_sgx_sigfields *f, EVP_PKEY *key,
                      uint8_t out[CCM_SGX_SIGSTRUCT_SIZE], struct ccm_error *err)
{
	uint8_t digest[32];
	ccm_code rc;

	if ((rc = ccm_sgx_key_check(key, err)) != CCM_OK)
		return rc;
	memset(out, 0, CCM_SGX_SIGSTRUCT_SIZE);
	fields_store(f, out);
	if ((rc = key_modulus(key, out + OFF_MODULUS, err)) != CCM_OK)
		return rc;
	util_put_le32(out + OFF_EXPONENT, 3);
	if ((rc = signed_digest(out, digest, err)) != CCM_OK ||
	    (rc = rsa_sign_digest(key, digest, out + OFF_SIGNATURE, err)) != CCM_OK)
		return rc;
	return ccm_sgx_q1q2(out + OFF_SIGNATURE, out + OFF_MODULUS, out + OFF_Q1, out + OFF_Q2,
	                    err);
}

ccm_code ccm_sgx_sigstruct_parse(const uint8_t *buf, size_t len, struct ccm_sgx_sigstruct *out,
                                 struct ccm_error *err)
{
	if (len != CCM_SGX_SIGSTRUCT_SIZE)
		return ccm_fail(err, CCM_E_INPUT, "sigstruct: %zu bytes, a SIGSTRUCT is exactly %u",
		                len, CCM_SGX_SIGSTRUCT_SIZE);
	memset(out, 0, sizeof(*out));
	memcpy(out->raw, buf, CCM_SGX_SIGSTRUCT_SIZE);
	fields_load(buf, &out->f);
	memcpy(out->header, buf + OFF_HEADER, 16);
	memcpy(out->header2, buf + OFF_HEADER2, 16);
	memcpy(out->modulus, buf + OFF_MODULUS, CCM_SGX_KEY_BYTES);
	out->exponent = util_le32(buf + OFF_EXPONENT);
	memcpy(out->signature, buf + OFF_SIGNATURE, CCM_SGX_KEY_BYTES);
	memcpy(out->q1, buf + OFF_Q1, CCM_SGX_KEY_BYTES);
	memcpy(out->q2, buf + OFF_Q2, CCM_SGX_KEY_BYTES);
	return CCM_OK;
}

/* Public key (n from the modulus field, e = 3) for verification. */
static EVP_PKEY *pubkey_from_modulus(const uint8_t mod_le[CCM_SGX_KEY_BYTES])
{
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
	BIGNUM *n = BN_lebin2bn(mod_le, CCM_SGX_KEY_BYTES, NULL), *e = BN_new();
	OSSL_PARAM *params = NULL;
	EVP_PKEY *pkey = NULL;

	if (bld && ctx && n && e && BN_set_word(e, 3) &&
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) &&
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e) &&
	    (params = OSSL_PARAM_BLD_to_param(bld)) != NULL && EVP_PKEY_fromdata_init(ctx) > 0)
		EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	EVP_PKEY_CTX_free(ctx);
	BN_free(n);
	BN_free(e);
	return pkey;
}

static bool signature_verifies(const struct ccm_sgx_sigstruct *s, const uint8_t digest[32])
{
	uint8_t sig_be[CCM_SGX_KEY_BYTES];
	EVP_PKEY *pkey = pubkey_from_modulus(s->modulus);
	EVP_PKEY_CTX *ctx = pkey ? EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL) : NULL;
	bool ok = false;

	memcpy(sig_be, s->signature, sizeof(sig_be));
	util_reverse(sig_be, sizeof(sig_be));
	if (ctx != NULL && EVP_PKEY_verify_init(ctx) > 0 &&
	    EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) > 0 &&
	    EVP_PKEY_CTX_set_signature_md(ctx, EVP_sha256()) > 0)
		ok = EVP_PKEY_verify(ctx, sig_be, sizeof(sig_be), digest, 32) == 1;
	EVP_PKEY_CTX_free(ctx);
	EVP_PKEY_free(pkey);
	return ok;
}

static bool header_ok(const struct ccm_sgx_sigstruct *s, struct ccm_error *err)
{
	if (memcmp(s->header, HEADER, 16) != 0) {
		ccm_fail(err, CCM_E_VERIFY,
		         "sigstruct: HEADER is not the constant the SDM requires");
		return false;
	}
	if (memcmp(s->header2, HEADER2, 16) != 0) {
		ccm_fail(err, CCM_E_VERIFY,
		         "sigstruct: HEADER2 is not the constant the SDM requires");
		return false;
	}
	if (s->f.vendor != 0 && s->f.vendor != 0x8086) {
		ccm_fail(err, CCM_E_VERIFY, "sigstruct: VENDOR 0x%08x is neither 0 nor 0x8086",
		         s->f.vendor);
		return false;
	}
	for (size_t i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++) {
		if (!util_is_zero(s->raw + reserved[i][0], reserved[i][1] - reserved[i][0])) {
			ccm_fail(err, CCM_E_VERIFY,
			         "sigstruct: reserved bytes %zu-%zu are not zero", reserved[i][0],
			         reserved[i][1] - 1);
			return false;
		}
	}
	return true;
}

ccm_code ccm_sgx_sigstruct_check(const struct ccm_sgx_sigstruct *s, struct ccm_sgx_sigcheck *res,
                                 struct ccm_error *err)
{
	struct ccm_error first = {CCM_OK, ""};
	uint8_t digest[32], q1[CCM_SGX_KEY_BYTES], q2[CCM_SGX_KEY_BYTES];
	ccm_code rc;

	memset(res, 0, sizeof(*res));
	if ((rc = ccm_sgx_mrsigner(s->modulus, res->mrsigner, err)) != CCM_OK ||
	    (rc = signed_digest(s->raw, digest, err)) != CCM_OK)
		return rc;
	res->header_ok = header_ok(s, &first);
	res->exponent_ok = s->exponent == 3;
	if (!res->exponent_ok && first.code == CCM_OK)
		ccm_fail(&first, CCM_E_VERIFY, "sigstruct: EXPONENT is %u, SGX requires 3",
		         s->exponent);
	res->signature_ok = res->exponent_ok && signature_verifies(s, digest);
	if (!res->signature_ok && first.code == CCM_OK)
		ccm_fail(&first, CCM_E_VERIFY,
		         "sigstruct: the RSA signature does not verify with its own modulus");
	res->q1q2_ok = ccm_sgx_q1q2(s->signature, s->modulus, q1, q2, NULL) == CCM_OK &&
	               memcmp(q1, s->q1, sizeof(q1)) == 0 && memcmp(q2, s->q2, sizeof(q2)) == 0;
	if (!res->q1q2_ok && first.code == CCM_OK)
		ccm_fail(&first, CCM_E_VERIFY, "sigstruct: Q1/Q2 do not match the signature");
	if (first.code != CCM_OK) {
		if (err != NULL)
			*err = first;
		return first.code;
	}
	return CCM_OK;
}
