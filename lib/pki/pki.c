/*
 * DESIGN: see pki.h. Certificates get 128-bit random serials, SHA-256
 * signatures, subject/authority key identifiers, and validity starting one
 * hour back (clock skew between manager and nodes).
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "pki.h"

ccm_code pki_ec_keygen(EVP_PKEY **out, struct ccm_error *err)
{
	*out = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	if (*out == NULL)
		return ccm_fail(err, CCM_E_CRYPTO, "pki: EC P-256 key generation failed");
	return CCM_OK;
}

static int pki_serial(X509 *x)
{
	uint8_t r[16];
	BIGNUM *bn;
	int ok;

	if (RAND_bytes(r, sizeof(r)) != 1)
		return 0;
	r[0] &= 0x7f;
	bn = BN_bin2bn(r, sizeof(r), NULL);
	ok = bn != NULL && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) != NULL;
	BN_free(bn);
	return ok;
}

static int pki_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ext;
	int ok;

	X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	if (ext == NULL)
		return 0;
	ok = X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	return ok;
}

/* A certificate skeleton: version 3, serial, validity, subject CN, key. */
static X509 *pki_new_cert(const char *cn, int days, EVP_PKEY *key)
{
	X509 *x = X509_new();
	X509_NAME *name;

	if (x == NULL)
		return NULL;
	name = X509_get_subject_name(x);
	if (!X509_set_version(x, 2) || !pki_serial(x) ||
	    !X509_gmtime_adj(X509_getm_notBefore(x), -3600) ||
	    !X509_time_adj_ex(X509_getm_notAfter(x), days, 0, NULL) ||
	    !X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8, (const uint8_t *)"ccm", -1, -1,
	                                0) ||
	    !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const uint8_t *)cn, -1, -1,
	                                0) ||
	    !X509_set_pubkey(x, key)) {
		X509_free(x);
		return NULL;
	}
	return x;
}

ccm_code pki_ca_create(const char *cn, int days, EVP_PKEY **key, X509 **cert, struct ccm_error *err)
{
	X509 *x = NULL;

	*cert = NULL;
	if (pki_ec_keygen(key, err) != CCM_OK)
		return CCM_E_CRYPTO;
	x = pki_new_cert(cn, days, *key);
	if (x == NULL || !X509_set_issuer_name(x, X509_get_subject_name(x)) ||
	    !pki_ext(x, x, NID_basic_constraints, "critical,CA:TRUE") ||
	    !pki_ext(x, x, NID_key_usage, "critical,keyCertSign,cRLSign") ||
	    !pki_ext(x, x, NID_subject_key_identifier, "hash") || !X509_sign(x, *key, EVP_sha256()))
		goto fail;
	*cert = x;
	return CCM_OK;
fail:
	X509_free(x);
	EVP_PKEY_free(*key);
	*key = NULL;
	return ccm_fail(err, CCM_E_CRYPTO, "pki: cannot create the CA certificate for %s", cn);
}

/* "DNS:a,IP:127.0.0.1,..." for the SAN extension; names were checked by
 * the caller to hold no commas. */
static char *pki_san(const char *const *names, size_t n)
{
	size_t cap = 1;
	char *s, *p;

	for (size_t i = 0; i < n; i++)
		cap += strlen(names[i]) + 5;
	s = p = malloc(cap);
	if (s == NULL)
		return NULL;
	*p = '\0';
	for (size_t i = 0; i < n; i++) {
		uint8_t ip[16];
		int isip = inet_pton(AF_INET, names[i], ip) == 1 ||
		           inet_pton(AF_INET6, names[i], ip) == 1;
		int w = snprintf(p, cap - (size_t)(p - s), "%s%s:%s", i ? "," : "",
		                 isip ? "IP" : "DNS", names[i]);
		if (w < 0) {
			free(s);
			return NULL;
		}
		p += w;
	}
	return s;
}

ccm_code pki_server_issue(X509 *ca, EVP_PKEY *ca_key, const char *const *names, size_t n, int days,
                          EVP_PKEY **key, X509 **cert, struct ccm_error *err)
{
	char *san = NULL;
	X509 *x = NULL;

	*cert = NULL;
	if (n == 0)
		return ccm_fail(err, CCM_E_USAGE, "pki: a server certificate needs a name");
	if (pki_ec_keygen(key, err) != CCM_OK)
		return CCM_E_CRYPTO;
	san = pki_san(names, n);
	x = pki_new_cert(names[0], days, *key);
	if (san == NULL || x == NULL || !X509_set_issuer_name(x, X509_get_subject_name(ca)) ||
	    !pki_ext(x, ca, NID_basic_constraints, "critical,CA:FALSE") ||
	    !pki_ext(x, ca, NID_key_usage, "critical,digitalSignature") ||
	    !pki_ext(x, ca, NID_ext_key_usage, "serverAuth") ||
	    !pki_ext(x, ca, NID_subject_alt_name, san) ||
	    !pki_ext(x, ca, NID_authority_key_identifier, "keyid:always") ||
	    !X509_sign(x, ca_key, EVP_sha256()))
		goto fail;
	free(san);
	*cert = x;
	return CCM_OK;
fail:
	free(san);
	X509_free(x);
	EVP_PKEY_free(*key);
	*key = NULL;
	return ccm_fail(err, CCM_E_CRYPTO, "pki: cannot issue the server certificate");
}

ccm_code pki_cert_pem(X509 *cert, char **out, struct ccm_error *err)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *data = NULL;
	long n;

	*out = NULL;
	if (b == NULL || !PEM_write_bio_X509(b, cert))
		goto fail;
	n = BIO_get_mem_data(b, &data);
	if (n <= 0 || (*out = malloc((size_t)n + 1)) == NULL)
		goto fail;
	memcpy(*out, data, (size_t)n);
	(*out)[n] = '\0';
	BIO_free(b);
	return CCM_OK;
fail:
	BIO_free(b);
	return ccm_fail(err, CCM_E_CRYPTO, "pki: cannot encode a certificate as PEM");
}

ccm_code pki_cert_from_pem(const char *pem, size_t len, X509 **out, struct ccm_error *err)
{
	BIO *b = BIO_new_mem_buf(pem, (int)len);

	*out = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
	BIO_free(b);
	if (*out == NULL)
		return ccm_fail(err, CCM_E_INPUT, "pki: not a PEM certificate");
	return CCM_OK;
}

ccm_code pki_key_der(EVP_PKEY *key, uint8_t **out, size_t *len, struct ccm_error *err)
{
	uint8_t *p;
	int n = i2d_PrivateKey(key, NULL);

	*out = NULL;
	if (n <= 0 || (*out = malloc((size_t)n)) == NULL)
		return ccm_fail(err, CCM_E_CRYPTO, "pki: cannot encode a private key");
	p = *out;
	if (i2d_PrivateKey(key, &p) != n) {
		OPENSSL_clear_free(*out, (size_t)n);
		*out = NULL;
		return ccm_fail(err, CCM_E_CRYPTO, "pki: cannot encode a private key");
	}
	*len = (size_t)n;
	return CCM_OK;
}

ccm_code pki_key_from_der(const uint8_t *der, size_t len, EVP_PKEY **out, struct ccm_error *err)
{
	const uint8_t *p = der;

	*out = d2i_AutoPrivateKey(NULL, &p, (long)len);
	if (*out == NULL)
		return ccm_fail(err, CCM_E_INPUT, "pki: not a DER private key");
	return CCM_OK;
}
