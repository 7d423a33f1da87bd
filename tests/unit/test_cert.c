/*
 * DESIGN: every profile is issued, then read back with OpenSSL's own
 * parsers (not ours): signature by the CA, key usages, names, and the two
 * ccm extensions decoded from DER. CSR refusals name the weakness.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "ccm/cert.h"
#include "pki/pki.h"

static X509 *ca;
static EVP_PKEY *ca_key;

static char *csr_pem_md(EVP_PKEY *k, const EVP_MD *md)
{
	X509_REQ *r = X509_REQ_new();
	BIO *b = BIO_new(BIO_s_mem());
	char *data, *out;
	long n;

	X509_REQ_set_pubkey(r, k);
	X509_NAME_add_entry_by_txt(X509_REQ_get_subject_name(r), "CN", MBSTRING_ASC,
	                           (const unsigned char *)"req", -1, -1, 0);
	X509_REQ_sign(r, k, md);
	PEM_write_bio_X509_REQ(b, r);
	n = BIO_get_mem_data(b, &data);
	out = strndup(data, (size_t)n);
	BIO_free(b);
	X509_REQ_free(r);
	return out;
}

static char *csr_pem(EVP_PKEY *k)
{
	return csr_pem_md(k, EVP_PKEY_is_a(k, "ED25519") ? NULL : EVP_sha256());
}

/* A parsed CSR for k (the node-certificate tests' starting point). */
static X509_REQ *req_of(EVP_PKEY *k)
{
	char *pem = csr_pem(k);
	struct ccm_error err;
	X509_REQ *r = NULL;
	uint8_t h[32];

	assert_int_equal(ccm_csr_parse(pem, strlen(pem), &r, h, &err), CCM_OK);
	free(pem);
	return r;
}

static int setup(void **state)
{
	struct ccm_error err;

	(void)state;
	return pki_ca_create("test CA", 30, &ca_key, &ca, &err) == CCM_OK ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	X509_free(ca);
	EVP_PKEY_free(ca_key);
	return 0;
}

static void expect_csr_fail(EVP_PKEY *k, const char *want)
{
	struct ccm_error err;
	X509_REQ *r = NULL;
	uint8_t h[32];
	char *pem = csr_pem(k);

	assert_int_not_equal(ccm_csr_parse(pem, strlen(pem), &r, h, &err), CCM_OK);
	if (strstr(err.msg, want) == NULL)
		fail_msg("'%s' lacks '%s'", err.msg, want);
	free(pem);
	EVP_PKEY_free(k);
}

static void test_csr(void **state)
{
	struct ccm_error err;
	X509_REQ *r = NULL;
	uint8_t h[32], want[32];
	unsigned char *der = NULL;
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	char *pem = csr_pem(k);
	int n;

	(void)state;
	assert_int_equal(ccm_csr_parse(pem, strlen(pem), &r, h, &err), CCM_OK);
	n = i2d_PUBKEY(k, &der);
	EVP_Digest(der, (size_t)n, want, NULL, EVP_sha256(), NULL);
	assert_memory_equal(h, want, 32);
	OPENSSL_free(der);
	X509_REQ_free(r);
	/* A changed byte in the body breaks the self-signature. */
	char *p = strstr(pem, "\n") + 30;
	*p = *p == 'A' ? 'B' : 'A';
	assert_int_not_equal(ccm_csr_parse(pem, strlen(pem), &r, h, &err), CCM_OK);
	free(pem);
	EVP_PKEY_free(k);
	expect_csr_fail(EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024),
	                "weak or unsupported key: RSA-1024");
	expect_csr_fail(EVP_PKEY_Q_keygen(NULL, NULL, "EC", "secp521r1"), "EC curve secp521r1");
	expect_csr_fail(EVP_PKEY_Q_keygen(NULL, NULL, "ED25519"), "not supported");
	assert_int_equal(ccm_csr_parse("junk", 4, &r, h, &err), CCM_E_INPUT);
	assert_int_equal(ccm_csr_parse("junk", 20000, &r, h, &err), CCM_E_LIMIT);
}

/* ccm_csr_parse_key accepts what ccm_csr_parse accepts, with the same
 * SPKI hash, and a certificate issued from its request carries the key. */
static void csr_key_same(EVP_PKEY *k, const EVP_MD *md, bool fast)
{
	struct ccm_cert_app p = {.account_id = 1, .app_id = 2, .build_id = 3, .days = 1};
	struct ccm_error err;
	X509_REQ *r = NULL, *r2 = NULL;
	X509 *x = NULL, *y;
	uint8_t h[32], h2[32];
	unsigned char *der;
	const unsigned char *q;
	int n;
	char *pem = csr_pem_md(k, md);

	assert_int_equal(ccm_csr_parse(pem, strlen(pem), &r, h, &err), CCM_OK);
	assert_int_equal(ccm_csr_parse_key(pem, strlen(pem), &r2, h2, &err), CCM_OK);
	assert_memory_equal(h, h2, 32);
	memset(h2, 0, sizeof(h2));
	assert_int_equal(ccm_csr_key_hash(pem, strlen(pem), h2, &err), CCM_OK);
	assert_memory_equal(h, h2, 32);
	/* The fast path's request holds only the key, unparsed. */
	assert_true((X509_REQ_get0_pubkey(r2) == NULL) == fast);
	assert_int_equal(ccm_cert_issue_app(ca, ca_key, r2, &p, &x, &err), CCM_OK);
	/* Read back from DER (the issued X509 holds the key unparsed). */
	der = NULL;
	n = i2d_X509(x, &der);
	q = der;
	y = d2i_X509(NULL, &q, n);
	assert_non_null(y);
	assert_int_equal(X509_verify(y, ca_key), 1);
	assert_int_equal(EVP_PKEY_eq(X509_get0_pubkey(y), k), 1);
	OPENSSL_free(der);
	X509_free(y);
	X509_free(x);
	X509_REQ_free(r);
	X509_REQ_free(r2);
	free(pem);
	EVP_PKEY_free(k);
}

/* Both parsers refuse, with the same code and message. */
static void csr_key_refuse(const char *pem, size_t len)
{
	struct ccm_error e1, e2;
	X509_REQ *r = NULL;
	uint8_t h[32];
	ccm_code c1 = ccm_csr_parse(pem, len, &r, h, &e1);
	ccm_code c2 = ccm_csr_parse_key(pem, len, &r, h, &e2);

	assert_int_not_equal(c1, CCM_OK);
	assert_int_equal(c1, c2);
	assert_string_equal(e1.msg, e2.msg);
}

/* ccm_csr_key_hash refuses too (what it refuses is no signature matter). */
static void csr_hash_refuse(const char *pem, size_t len)
{
	struct ccm_error e1, e2;
	X509_REQ *r = NULL;
	uint8_t h[32];
	ccm_code c1 = ccm_csr_parse(pem, len, &r, h, &e1);
	ccm_code c2 = ccm_csr_key_hash(pem, len, h, &e2);

	csr_key_refuse(pem, len);
	assert_int_equal(c1, c2);
	assert_string_equal(e1.msg, e2.msg);
}

static void csr_key_refuse_key(EVP_PKEY *k)
{
	char *pem = csr_pem(k);

	csr_hash_refuse(pem, strlen(pem));
	free(pem);
	EVP_PKEY_free(k);
}

/* Both parsers give the same answer for der as a PEM request. */
static void csr_key_agree(const unsigned char *der, long len)
{
	BIO *b = BIO_new(BIO_s_mem());
	struct ccm_error e1, e2, e3;
	X509_REQ *r1 = NULL, *r2 = NULL;
	uint8_t h1[32], h2[32], h3[32];
	char *pem;
	long n;

	PEM_write_bio(b, PEM_STRING_X509_REQ, "", der, len);
	n = BIO_get_mem_data(b, &pem);
	ccm_code c1 = ccm_csr_parse(pem, (size_t)n, &r1, h1, &e1);
	ccm_code c2 = ccm_csr_parse_key(pem, (size_t)n, &r2, h2, &e2);
	ccm_code c3 = ccm_csr_key_hash(pem, (size_t)n, h3, &e3);
	assert_int_equal(c1, c2);
	if (c1 == CCM_OK)
		assert_memory_equal(h1, h2, 32);
	else
		assert_string_equal(e1.msg, e2.msg);
	/* Without the signature check: all ccm_csr_parse accepts, with the
	 * same hash; a refusal is ccm_csr_parse's own. */
	if (c1 == CCM_OK)
		assert_true(c3 == CCM_OK && memcmp(h1, h3, 32) == 0);
	if (c3 != CCM_OK)
		assert_true(c3 == c1 && strcmp(e1.msg, e3.msg) == 0);
	X509_REQ_free(r1);
	X509_REQ_free(r2);
	BIO_free(b);
}

/* Every byte of a P-256 request flipped three ways, every truncation, and
 * trailing bytes: the fast path never accepts what ccm_csr_parse refuses. */
static void test_csr_key_mutations(void **state)
{
	static const unsigned char masks[] = {0x01, 0x80, 0xff};
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
	X509_REQ *r = X509_REQ_new();
	unsigned char *der = NULL, *m;
	int n;

	(void)state;
	X509_REQ_set_pubkey(r, k);
	X509_REQ_sign(r, k, EVP_sha384());
	n = i2d_X509_REQ(r, &der);
	m = malloc((size_t)n + 1);
	for (int i = 0; i < n; i++)
		for (size_t j = 0; j < sizeof(masks); j++) {
			memcpy(m, der, (size_t)n);
			m[i] ^= masks[j];
			csr_key_agree(m, n);
		}
	for (int i = 1; i < n; i++)
		csr_key_agree(der, i);
	memcpy(m, der, (size_t)n);
	m[n] = 0;
	csr_key_agree(m, n + 1);
	csr_key_agree(der, n);
	free(m);
	OPENSSL_free(der);
	X509_REQ_free(r);
	EVP_PKEY_free(k);
}

static void test_csr_key(void **state)
{
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	char *pem = csr_pem(k), *p;
	struct ccm_error err;
	uint8_t h[32];

	(void)state;
	csr_key_same(EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256"), EVP_sha256(), true);
	csr_key_same(EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256"), EVP_sha512(), true);
	csr_key_same(EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384"), EVP_sha384(), true);
	csr_key_same(EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048), EVP_sha256(), false);
	/* A changed byte in the body, then in the signature (end of the PEM). */
	p = strstr(pem, "\n") + 30;
	*p = *p == 'A' ? 'B' : 'A';
	csr_key_refuse(pem, strlen(pem));
	*p = *p == 'A' ? 'B' : 'A';
	p = strstr(pem, "\n-----END") - 8;
	*p = *p == 'A' ? 'B' : 'A';
	csr_key_refuse(pem, strlen(pem));
	/* ccm_csr_key_hash leaves the signature to the manager. */
	assert_int_equal(ccm_csr_key_hash(pem, strlen(pem), h, &err), CCM_OK);
	free(pem);
	EVP_PKEY_free(k);
	csr_key_refuse_key(EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024));
	csr_key_refuse_key(EVP_PKEY_Q_keygen(NULL, NULL, "EC", "secp521r1"));
	csr_key_refuse_key(EVP_PKEY_Q_keygen(NULL, NULL, "ED25519"));
	csr_hash_refuse("junk", 4);
	csr_hash_refuse("junk", 0);
	csr_hash_refuse("junk", 20000);
}

static bool has_eku(X509 *x, int nid)
{
	EXTENDED_KEY_USAGE *eku = X509_get_ext_d2i(x, NID_ext_key_usage, NULL, NULL);
	bool found = false;

	for (int i = 0; eku && i < sk_ASN1_OBJECT_num(eku); i++)
		found |= OBJ_obj2nid(sk_ASN1_OBJECT_value(eku, i)) == nid;
	EXTENDED_KEY_USAGE_free(eku);
	return found;
}

static bool has_san(X509 *x, int type, const char *v)
{
	GENERAL_NAMES *g = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	bool found = false;

	for (int i = 0; g && i < sk_GENERAL_NAME_num(g); i++) {
		GENERAL_NAME *n = sk_GENERAL_NAME_value(g, i);
		int t;
		ASN1_STRING *s = GENERAL_NAME_get0_value(n, &t);
		found |= t == type && strcmp((const char *)ASN1_STRING_get0_data(s), v) == 0;
	}
	GENERAL_NAMES_free(g);
	return found;
}

/* Every extension OID arc fits in 28 bits: Go's crypto/x509 refuses a
 * certificate with any arc above 31 bits, older pyca/cryptography above 28. */
static bool oid_arcs_small(X509 *x)
{
	for (int i = 0; i < X509_get_ext_count(x); i++) {
		char txt[128], *p = txt, *end;
		ASN1_OBJECT *o = X509_EXTENSION_get_object(X509_get_ext(x, i));

		if (OBJ_obj2txt(txt, sizeof(txt), o, 1) <= 0)
			return false;
		for (;;) {
			unsigned long long v = strtoull(p, &end, 10);
			if (end == p || v >= (1ULL << 28))
				return false;
			if (*end != '.')
				break;
			p = end + 1;
		}
	}
	return true;
}

static void test_node(void **state)
{
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	struct ccm_cert_node p = {.account_id = 4, .node_id = 9, .node_name = "n1", .days = 30};
	struct ccm_error err;
	X509_REQ *r = req_of(k);
	X509 *x;

	(void)state;
	assert_int_equal(ccm_cert_issue_node(ca, ca_key, r, &p, &x, &err), CCM_OK);
	assert_int_equal(X509_verify(x, ca_key), 1);
	assert_true(has_eku(x, NID_client_auth));
	assert_false(has_eku(x, NID_server_auth));
	assert_true(has_san(x, GEN_URI, "spiffe://ccm/account/4/node/9"));
	assert_int_equal(X509_check_ca(x), 0);
	p.days = 0;
	X509 *y = NULL;
	assert_int_equal(ccm_cert_issue_node(ca, ca_key, r, &p, &y, &err), CCM_E_RANGE);
	X509_free(x);
	X509_REQ_free(r);
	EVP_PKEY_free(k);
}

/* The certificate carries exactly the CSR's key (lib/cert copies the
 * SubjectPublicKeyInfo as encoded), and ccm_csr_parse's SPKI hash is the
 * one a runtime computes from its own key for the report data. */
static void key_copied(EVP_PKEY *k)
{
	struct ccm_cert_node p = {.account_id = 4, .node_id = 9, .node_name = "n1", .days = 30};
	char *pem = csr_pem(k);
	unsigned char *der = NULL, *spki = NULL;
	const unsigned char *q;
	struct ccm_error err;
	uint8_t h[32], want[32];
	X509_REQ *r;
	X509 *x, *y;
	int n, m;

	assert_int_equal(ccm_csr_parse(pem, strlen(pem), &r, h, &err), CCM_OK);
	assert_int_equal(ccm_cert_issue_node(ca, ca_key, r, &p, &x, &err), CCM_OK);
	n = i2d_X509(x, &der);
	assert_true(n > 0);
	q = der;
	y = d2i_X509(NULL, &q, n);
	assert_non_null(y);
	assert_int_equal(EVP_PKEY_eq(X509_get0_pubkey(y), k), 1);
	assert_int_equal(X509_verify(y, ca_key), 1);
	m = i2d_PUBKEY(k, &spki);
	assert_true(m > 0);
	assert_int_equal(EVP_Digest(spki, (size_t)m, want, NULL, EVP_sha256(), NULL), 1);
	assert_memory_equal(h, want, 32);
	OPENSSL_free(spki);
	OPENSSL_free(der);
	X509_free(y);
	X509_free(x);
	X509_REQ_free(r);
	free(pem);
}

static void test_key_copy(void **state)
{
	EVP_PKEY *ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	EVP_PKEY *ec384 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
	EVP_PKEY *rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);

	(void)state;
	key_copied(ec);
	key_copied(ec384);
	key_copied(rsa);
	EVP_PKEY_free(ec);
	EVP_PKEY_free(ec384);
	EVP_PKEY_free(rsa);
}

static void test_app(void **state)
{
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	char *pem = csr_pem(k);
	static const char *const names[] = {"app.example.com", "www.example.com"};
	static const uint8_t quote[] = "CCM SIMULATED quote bytes";
	struct ccm_cert_app p = {.account_id = 4,
	                         .app_id = 5,
	                         .build_id = 6,
	                         .subject = "CN=app.example.com,O=Example,C=DE",
	                         .dns_names = names,
	                         .n_dns_names = 2,
	                         .days = 7,
	                         .evidence = quote,
	                         .evidence_len = sizeof(quote)};
	struct ccm_cert_identity id;
	struct ccm_error err;
	X509_REQ *r;
	X509 *x;
	uint8_t h[32], *ev = NULL;
	size_t evlen = 0;
	int64_t tag = 0;

	(void)state;
	memset(p.identity.mrenclave, 0xaa, 32);
	memset(p.identity.mrsigner, 0xbb, 32);
	p.identity.isvprodid = 1;
	p.identity.isvsvn = 300;
	p.identity.simulated = true;
	assert_int_equal(ccm_csr_parse(pem, strlen(pem), &r, h, &err), CCM_OK);
	assert_int_equal(ccm_cert_issue_app(ca, ca_key, r, &p, &x, &err), CCM_OK);
	assert_int_equal(X509_verify(x, ca_key), 1);
	assert_true(has_eku(x, NID_server_auth));
	assert_true(has_san(x, GEN_DNS, "www.example.com"));
	assert_true(has_san(x, GEN_URI, "spiffe://ccm/account/4/app/5/build/6"));
	assert_int_equal(ccm_cert_identity_get(x, &id, &err), CCM_OK);
	assert_memory_equal(id.mrenclave, p.identity.mrenclave, 32);
	assert_int_equal(id.isvsvn, 300);
	assert_true(id.simulated);
	assert_false(id.debug);
	assert_int_equal(id.isvprodid, 1);
	assert_memory_equal(id.mrsigner, p.identity.mrsigner, 32);
	assert_true(oid_arcs_small(x));
	assert_int_equal(ccm_cert_evidence_get(x, &tag, &ev, &evlen, &err), CCM_OK);
	assert_int_equal(tag, CCM_EVIDENCE_TAG_SIMULATED);
	assert_int_equal(evlen, sizeof(quote));
	assert_memory_equal(ev, quote, evlen);
	OPENSSL_free(ev);
	X509_free(x);
	/* A debug enclave on hardware evidence round-trips too. */
	p.identity.simulated = false;
	p.identity.debug = true;
	p.identity.isvsvn = 65535;
	assert_int_equal(ccm_cert_issue_app(ca, ca_key, r, &p, &x, &err), CCM_OK);
	assert_int_equal(ccm_cert_identity_get(x, &id, &err), CCM_OK);
	assert_true(id.debug);
	assert_false(id.simulated);
	assert_int_equal(id.isvsvn, 65535);
	X509_free(x);
	/* Bad names and subjects are refused. */
	static const char *const bad[] = {"bad_name.example.com"};
	p.dns_names = bad;
	p.n_dns_names = 1;
	assert_int_equal(ccm_cert_issue_app(ca, ca_key, r, &p, &x, &err), CCM_E_INPUT);
	p.n_dns_names = 0;
	p.subject = "CN=a,XX=b";
	assert_int_equal(ccm_cert_issue_app(ca, ca_key, r, &p, &x, &err), CCM_E_INPUT);
	assert_non_null(strstr(err.msg, "XX"));
	p.subject = "CN";
	assert_int_equal(ccm_cert_issue_app(ca, ca_key, r, &p, &x, &err), CCM_E_INPUT);
	X509_REQ_free(r);
	free(pem);
	EVP_PKEY_free(k);
}

static void test_crl(void **state)
{
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	char serial[80];
	struct ccm_cert_node p = {.account_id = 1, .node_id = 2, .node_name = "n", .days = 1};
	struct ccm_crl_entry e;
	struct ccm_error err;
	X509_REVOKED *rev = NULL;
	X509_CRL *crl;
	X509_REQ *r = req_of(k);
	X509 *x;

	(void)state;
	assert_int_equal(ccm_cert_issue_node(ca, ca_key, r, &p, &x, &err), CCM_OK);
	assert_int_equal(ccm_cert_serial_hex(x, serial, sizeof(serial), &err), CCM_OK);
	e.serial_hex = serial;
	e.revoked_at = 1700000000;
	assert_int_equal(ccm_crl_build(ca, ca_key, &e, 1, 0, 7, &crl, &err), CCM_OK);
	assert_int_equal(X509_CRL_verify(crl, ca_key), 1);
	assert_int_equal(X509_CRL_get0_by_serial(crl, &rev, X509_get0_serialNumber(x)), 1);
	X509_CRL_free(crl);
	X509_free(x);
	X509_REQ_free(r);
	EVP_PKEY_free(k);
}

/* Serials: 16 bytes (32 hex digits, top bits 01: positive, full length),
 * time first so that later ones sort after earlier ones, 64 random bits
 * after it so that two in the same microsecond still differ. */
static void test_serial(void **state)
{
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	char prev[80] = "", cur[80];
	struct ccm_cert_node p = {.account_id = 1, .node_id = 2, .node_name = "n", .days = 1};
	struct ccm_error err;
	X509_REQ *r = req_of(k);
	X509 *x;

	(void)state;
	for (int i = 0; i < 50; i++) {
		assert_int_equal(ccm_cert_issue_node(ca, ca_key, r, &p, &x, &err), CCM_OK);
		assert_int_equal(ccm_cert_serial_hex(x, cur, sizeof(cur), &err), CCM_OK);
		assert_int_equal(strlen(cur), 32);
		assert_true(cur[0] >= '4' && cur[0] <= '7');
		assert_true(strcmp(prev, cur) < 0 || strncmp(prev, cur, 16) == 0);
		assert_string_not_equal(prev, cur);
		memcpy(prev, cur, sizeof(cur));
		X509_free(x);
	}
	X509_REQ_free(r);
	EVP_PKEY_free(k);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_csr),      cmocka_unit_test(test_node),
	        cmocka_unit_test(test_key_copy), cmocka_unit_test(test_app),
	        cmocka_unit_test(test_crl),      cmocka_unit_test(test_serial),
	        cmocka_unit_test(test_csr_key),  cmocka_unit_test(test_csr_key_mutations),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
