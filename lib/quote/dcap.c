/*
 * DESIGN: the thin layer between the verifier and OpenSSL 3. It loads
 * certificates and CRLs in either PEM or DER (collateral comes both ways),
 * pins the production Intel SGX Root CA by the hash of its public key (two
 * issues of the root certificate share one key, so certificate bytes would
 * be the wrong thing to pin), converts the raw r || s signatures of quotes
 * and PCS JSON to DER, and turns every time into seconds since the epoch
 * with our own civil-date arithmetic so that T is one integer compared
 * everywhere. The SHA-256 EVP_MD is fetched once: implicit fetches on
 * every call would cost more than the rest of a cached verification.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "internal.h"
#include "util/util.h"

/* SubjectPublicKeyInfo of the production Intel SGX Root CA (2033 and 2049
 * issues): public key 04 0b a9 c4 c0 ... 09 04 ae 73 94. */
static const uint8_t intel_root_spki[91] = {
        0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01,
        0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
        0x04, 0x0b, 0xa9, 0xc4, 0xc0, 0xc0, 0xc8, 0x61, 0x93, 0xa3, 0xfe, 0x23, 0xd6,
        0xb0, 0x2c, 0xda, 0x10, 0xa8, 0xbb, 0xd4, 0xe8, 0x8e, 0x48, 0xb4, 0x45, 0x85,
        0x61, 0xa3, 0x6e, 0x70, 0x55, 0x25, 0xf5, 0x67, 0x91, 0x8e, 0x2e, 0xdc, 0x88,
        0xe4, 0x0d, 0x86, 0x0b, 0xd0, 0xcc, 0x4e, 0xe2, 0x6a, 0xac, 0xc9, 0x88, 0xe5,
        0x05, 0xa9, 0x53, 0x55, 0x8c, 0x45, 0x3f, 0x6b, 0x09, 0x04, 0xae, 0x73, 0x94};

static pthread_once_t dcap_once = PTHREAD_ONCE_INIT;
static EVP_MD *dcap_md;
static uint8_t dcap_root_hash[32];
static EVP_PKEY *dcap_root_key;

static void dcap_init(void)
{
	const uint8_t *p = intel_root_spki;

	dcap_md = EVP_MD_fetch(NULL, "SHA256", NULL);
	dcap_root_key = d2i_PUBKEY(NULL, &p, sizeof(intel_root_spki));
	EVP_Digest(intel_root_spki, sizeof(intel_root_spki), dcap_root_hash, NULL,
	           dcap_md ? dcap_md : EVP_sha256(), NULL);
}

void dcap_sha256(const uint8_t *msg, size_t len, uint8_t out[32])
{
	pthread_once(&dcap_once, dcap_init);
	EVP_Digest(msg, len, out, NULL, dcap_md ? dcap_md : EVP_sha256(), NULL);
}

const uint8_t *dcap_intel_root_hash(void)
{
	pthread_once(&dcap_once, dcap_init);
	return dcap_root_hash;
}

EVP_PKEY *dcap_intel_root_key(void)
{
	pthread_once(&dcap_once, dcap_init);
	return dcap_root_key;
}

static bool dcap_is_pem(const uint8_t *buf, size_t len)
{
	static const char tag[] = "-----BEGIN";

	for (size_t i = 0; i + sizeof(tag) - 1 <= len; i++)
		if (memcmp(buf + i, tag, sizeof(tag) - 1) == 0)
			return true;
	return false;
}

/* Length without trailing NUL bytes (type-5 chains often end in one). */
static size_t dcap_strip_nul(const uint8_t *buf, size_t len)
{
	while (len > 0 && buf[len - 1] == 0)
		len--;
	return len;
}

static ccm_code dcap_load_pem_certs(const uint8_t *buf, size_t len, STACK_OF(X509) * sk,
                                    const char *what, struct ccm_error *err)
{
	BIO *bio = BIO_new_mem_buf(buf, (int)len);
	X509 *x;
	ccm_code rc = CCM_OK;

	if (bio == NULL)
		return ccm_fail(err, CCM_E_NOMEM, "%s: out of memory", what);
	ERR_set_mark();
	while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
		if (sk_X509_num(sk) >= DCAP_MAX_CERTS || !sk_X509_push(sk, x)) {
			X509_free(x);
			rc = ccm_fail(err, CCM_E_LIMIT, "%s: more than %d certificates", what,
			              DCAP_MAX_CERTS);
			break;
		}
	}
	if (rc == CCM_OK && ERR_GET_REASON(ERR_peek_last_error()) != PEM_R_NO_START_LINE)
		rc = ccm_fail(err, CCM_E_INPUT, "%s: certificate %d: bad PEM or DER", what,
		              sk_X509_num(sk) + 1);
	ERR_pop_to_mark();
	BIO_free(bio);
	return rc;
}

static ccm_code dcap_load_der_certs(const uint8_t *buf, size_t len, STACK_OF(X509) * sk,
                                    const char *what, struct ccm_error *err)
{
	const uint8_t *p = buf, *end = buf + len;

	while (p < end) {
		X509 *x = d2i_X509(NULL, &p, end - p);
		if (x == NULL)
			return ccm_fail(err, CCM_E_INPUT, "%s: certificate %d: bad DER at byte %zu",
			                what, sk_X509_num(sk) + 1, (size_t)(p - buf));
		if (sk_X509_num(sk) >= DCAP_MAX_CERTS || !sk_X509_push(sk, x)) {
			X509_free(x);
			return ccm_fail(err, CCM_E_LIMIT, "%s: more than %d certificates", what,
			                DCAP_MAX_CERTS);
		}
	}
	return CCM_OK;
}

ccm_code dcap_load_certs(const uint8_t *buf, size_t len, STACK_OF(X509) * *out, const char *what,
                         struct ccm_error *err)
{
	STACK_OF(X509) *sk = sk_X509_new_null();
	ccm_code rc;

	*out = NULL;
	if (sk == NULL)
		return ccm_fail(err, CCM_E_NOMEM, "%s: out of memory", what);
	len = dcap_strip_nul(buf, len);
	if (len > CCM_QUOTE_COLLATERAL_MAX) {
		rc = ccm_fail(err, CCM_E_LIMIT, "%s: too large", what);
		goto fail;
	}
	if (dcap_is_pem(buf, len))
		rc = dcap_load_pem_certs(buf, len, sk, what, err);
	else
		rc = dcap_load_der_certs(buf, len, sk, what, err);
	if (rc == CCM_OK && sk_X509_num(sk) == 0)
		rc = ccm_fail(err, CCM_E_INPUT, "%s: no certificate", what);
	if (rc != CCM_OK)
		goto fail;
	*out = sk;
	return CCM_OK;
fail:
	sk_X509_pop_free(sk, X509_free);
	ERR_clear_error();
	return rc;
}

ccm_code dcap_load_crl(const uint8_t *buf, size_t len, X509_CRL **out, const char *what,
                       struct ccm_error *err)
{
	X509_CRL *crl = NULL;

	*out = NULL;
	if (len > CCM_QUOTE_COLLATERAL_MAX)
		return ccm_fail(err, CCM_E_LIMIT, "%s: too large", what);
	if (dcap_is_pem(buf, len)) {
		BIO *bio = BIO_new_mem_buf(buf, (int)len);
		if (bio != NULL)
			crl = PEM_read_bio_X509_CRL(bio, NULL, NULL, NULL);
		BIO_free(bio);
	} else {
		const uint8_t *p = buf;
		crl = d2i_X509_CRL(NULL, &p, (long)len);
		if (crl != NULL && p != buf + len) {
			X509_CRL_free(crl);
			crl = NULL;
		}
	}
	ERR_clear_error();
	if (crl == NULL)
		return ccm_fail(err, CCM_E_INPUT, "%s: not a CRL in PEM or DER", what);
	*out = crl;
	return CCM_OK;
}

ccm_code dcap_key_hash(EVP_PKEY *key, uint8_t out[32])
{
	uint8_t *der = NULL;
	int n = key ? i2d_PUBKEY(key, &der) : -1;

	if (n <= 0)
		return CCM_E_CRYPTO;
	dcap_sha256(der, (size_t)n, out);
	OPENSSL_free(der);
	return CCM_OK;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant). */
static int64_t dcap_days(int64_t y, int64_t m, int64_t d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

ccm_code dcap_asn1_time(const ASN1_TIME *t, int64_t *out)
{
	struct tm tm;

	if (t == NULL || !ASN1_TIME_to_tm(t, &tm))
		return CCM_E_INPUT;
	*out = dcap_days(tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday) * 86400 + tm.tm_hour * 3600 +
	       tm.tm_min * 60 + tm.tm_sec;
	return CCM_OK;
}

/* r || s (32 + 32, big-endian) to DER SEQUENCE { INTEGER r, INTEGER s }. */
static size_t dcap_der_int(const uint8_t *v, uint8_t *out)
{
	size_t i = 0, n;

	while (i < 31 && v[i] == 0)
		i++;
	n = 32 - i;
	out[0] = 0x02;
	if (v[i] & 0x80) {
		out[1] = (uint8_t)(n + 1);
		out[2] = 0;
		memcpy(out + 3, v + i, n);
		return n + 3;
	}
	out[1] = (uint8_t)n;
	memcpy(out + 2, v + i, n);
	return n + 2;
}

static size_t dcap_sig_der(const uint8_t sig[64], uint8_t out[72])
{
	size_t n = 2;

	n += dcap_der_int(sig, out + n);
	n += dcap_der_int(sig + 32, out + n);
	out[0] = 0x30;
	out[1] = (uint8_t)(n - 2);
	return n;
}

ccm_code dcap_verify_init(EVP_PKEY *key, EVP_PKEY_CTX **out, struct ccm_error *err)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, key, NULL);

	*out = NULL;
	if (ctx == NULL || EVP_PKEY_verify_init(ctx) <= 0) {
		EVP_PKEY_CTX_free(ctx);
		ERR_clear_error();
		return ccm_fail(err, CCM_E_CRYPTO, "ECDSA: cannot set up verification");
	}
	*out = ctx;
	return CCM_OK;
}

ccm_code dcap_verify_ctx(EVP_PKEY_CTX *ctx, const uint8_t *msg, size_t len, const uint8_t sig[64],
                         bool *ok, struct ccm_error *err)
{
	uint8_t der[72], md[32];
	size_t dlen = dcap_sig_der(sig, der);
	int r;

	*ok = false;
	dcap_sha256(msg, len, md);
	if (ctx == NULL)
		return ccm_fail(err, CCM_E_CRYPTO, "ECDSA: no verification context");
	r = EVP_PKEY_verify(ctx, der, dlen, md, sizeof(md));
	if (r != 1)
		ERR_clear_error();
	*ok = r == 1;
	return CCM_OK;
}

ccm_code dcap_verify_tmpl(EVP_PKEY_CTX *tmpl, const uint8_t *msg, size_t len, const uint8_t sig[64],
                          bool *ok, struct ccm_error *err)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_dup(tmpl);
	ccm_code rc;

	if (ctx == NULL) {
		*ok = false;
		return ccm_fail(err, CCM_E_CRYPTO, "ECDSA: cannot copy a verification context");
	}
	rc = dcap_verify_ctx(ctx, msg, len, sig, ok, err);
	EVP_PKEY_CTX_free(ctx);
	return rc;
}

ccm_code dcap_verify_raw(EVP_PKEY *key, const uint8_t *msg, size_t len, const uint8_t sig[64],
                         bool *ok, struct ccm_error *err)
{
	EVP_PKEY_CTX *ctx;
	ccm_code rc = dcap_verify_init(key, &ctx, err);

	*ok = false;
	if (rc != CCM_OK)
		return rc;
	rc = dcap_verify_ctx(ctx, msg, len, sig, ok, err);
	EVP_PKEY_CTX_free(ctx);
	return rc;
}

ccm_code dcap_p256_key(const uint8_t xy[64], EVP_PKEY **out, struct ccm_error *err)
{
	uint8_t pt[65];
	OSSL_PARAM params[3];
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
	ccm_code rc = CCM_OK;

	*out = NULL;
	pt[0] = 0x04;
	memcpy(pt + 1, xy, 64);
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0);
	params[1] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, pt, sizeof(pt));
	params[2] = OSSL_PARAM_construct_end();
	if (ctx == NULL || EVP_PKEY_fromdata_init(ctx) <= 0 ||
	    EVP_PKEY_fromdata(ctx, out, EVP_PKEY_PUBLIC_KEY, params) <= 0)
		rc = ccm_fail(err, CCM_E_INPUT, "attestation key: not a P-256 point");
	EVP_PKEY_CTX_free(ctx);
	ERR_clear_error();
	return rc;
}

bool dcap_cn_contains(const X509_NAME *name, const char *s)
{
	int idx = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
	const ASN1_STRING *str;
	const uint8_t *d;
	size_t n, sl = strlen(s);

	if (idx < 0)
		return false;
	str = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, idx));
	d = ASN1_STRING_get0_data(str);
	n = (size_t)ASN1_STRING_length(str);
	for (size_t i = 0; i + sl <= n; i++)
		if (memcmp(d + i, s, sl) == 0)
			return true;
	return false;
}

static bool dcap_self_issued(X509 *x)
{
	return X509_NAME_cmp(X509_get_subject_name(x), X509_get_issuer_name(x)) == 0;
}

/* The one certificate of sk other than self issued by parent's subject. */
static X509 *dcap_child(STACK_OF(X509) * sk, X509 *parent, int *count)
{
	X509 *found = NULL;

	*count = 0;
	for (int i = 0; i < sk_X509_num(sk); i++) {
		X509 *x = sk_X509_value(sk, i);
		if (x != parent && !dcap_self_issued(x) &&
		    X509_NAME_cmp(X509_get_issuer_name(x), X509_get_subject_name(parent)) == 0) {
			found = x;
			(*count)++;
		}
	}
	return found;
}

ccm_code dcap_order_chain(STACK_OF(X509) * certs, X509 **out, int n, const char *what,
                          struct ccm_error *err)
{
	int roots = 0, count;

	if (sk_X509_num(certs) != n)
		return ccm_fail(err, CCM_E_VERIFY, "%s: %d certificates, expected %d", what,
		                sk_X509_num(certs), n);
	for (int i = 0; i < n; i++) {
		X509 *x = sk_X509_value(certs, i);
		if (dcap_self_issued(x)) {
			out[0] = x;
			roots++;
		}
	}
	if (roots != 1)
		return ccm_fail(err, CCM_E_VERIFY,
		                "%s: %d self-issued root certificates, expected 1", what, roots);
	for (int i = 1; i < n; i++) {
		out[i] = dcap_child(certs, out[i - 1], &count);
		if (count != 1)
			return ccm_fail(err, CCM_E_VERIFY,
			                "%s: %d certificates issued by certificate %d, expected 1",
			                what, count, i);
	}
	return CCM_OK;
}

/* ---- RFC 3339 time -------------------------------------------------------- */

static bool dcap_digits(const char *s, int n, int *out)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return true;
}

static int dcap_mdays(int y, int m)
{
	static const int md[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

	return m == 2 && leap ? 29 : md[m - 1];
}

static bool dcap_parse_zone(const char *p, int *off)
{
	int hh, mm;

	if ((*p == 'Z' || *p == 'z') && p[1] == '\0') {
		*off = 0;
		return true;
	}
	if ((*p != '+' && *p != '-') || !dcap_digits(p + 1, 2, &hh) || p[3] != ':' ||
	    !dcap_digits(p + 4, 2, &mm) || p[6] != '\0' || hh > 23 || mm > 59)
		return false;
	*off = (hh * 60 + mm) * 60 * (*p == '-' ? -1 : 1);
	return true;
}

ccm_code ccm_quote_parse_time(const char *s, int64_t *out, struct ccm_error *err)
{
	int y, mo, d, h, mi, sec, zone;
	const char *p = s;

	if (strlen(s) < 20 || !dcap_digits(s, 4, &y) || s[4] != '-' ||
	    !dcap_digits(s + 5, 2, &mo) || s[7] != '-' || !dcap_digits(s + 8, 2, &d) ||
	    (s[10] != 'T' && s[10] != 't') || !dcap_digits(s + 11, 2, &h) || s[13] != ':' ||
	    !dcap_digits(s + 14, 2, &mi) || s[16] != ':' || !dcap_digits(s + 17, 2, &sec))
		goto bad;
	if (mo < 1 || mo > 12 || d < 1 || d > dcap_mdays(y, mo) || h > 23 || mi > 59 || sec > 60)
		goto bad;
	p = s + 19;
	if (*p == '.') {
		p++;
		if (*p < '0' || *p > '9')
			goto bad;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	if (!dcap_parse_zone(p, &zone))
		goto bad;
	*out = dcap_days(y, mo, d) * 86400 + h * 3600 + mi * 60 + (sec > 59 ? 59 : sec) - zone;
	return CCM_OK;
bad:
	return ccm_fail(err, CCM_E_INPUT, "'%s' is not an RFC 3339 time (2025-07-19T10:01:17Z)", s);
}

void ccm_quote_format_time(int64_t t, char out[32])
{
	int64_t days = t >= 0 ? t / 86400 : (t - 86399) / 86400;
	int64_t secs = t - days * 86400;
	/* civil from days (H. Hinnant) */
	int64_t z = days + 719468, era = (z >= 0 ? z : z - 146096) / 146097;
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100), mp = (5 * doy + 2) / 153;
	int64_t d = doy - (153 * mp + 2) / 5 + 1, m = mp < 10 ? mp + 3 : mp - 9;
	int64_t y = yoe + era * 400 + (m <= 2);

	if (y < 0 || y > 9999)
		y = y < 0 ? 0 : 9999;
	snprintf(out, 32, "%04u-%02u-%02uT%02u:%02u:%02uZ", (unsigned short)y, (unsigned char)m,
	         (unsigned char)d, (unsigned char)(secs / 3600), (unsigned char)(secs / 60 % 60),
	         (unsigned char)(secs % 60));
}
