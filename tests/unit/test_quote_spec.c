/*
 * DESIGN: regression tests for places where the quote verifier agreed with
 * the vectors at hand but not with the spec (SPEC-NOTES Parts D-H, Intel's
 * QVL): each test names the section it holds the code to. They are apart
 * from test_quote.c, which checks the vectors themselves, so that a
 * divergence found later gets its test here without touching that file.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "ccm/quote.h"
#include "quote/internal.h"
#include "quote/tcblevel.h"
#include "util/util.h"

#define TDX4 "phala-tdx-v4-b0c06f000000"
#define TDX4_AT "2025-07-19T10:00:34Z"

static char vecdir[4096];

static uint8_t *read_vec(const char *vec, const char *file, size_t *len)
{
	char path[8192];
	struct ccm_error err;
	uint8_t *buf = NULL;

	snprintf(path, sizeof(path), "%s/%s/%s", vecdir, vec, file);
	if (util_read_file(path, 4u << 20, &buf, len, &err) != CCM_OK)
		return NULL;
	return buf;
}

/* Parse and verify qb against a vector's collateral at time at. */
static ccm_code verify_with(const char *vec, const uint8_t *qb, size_t len, const char *at,
                            struct ccm_quote_result *r, size_t *trailing)
{
	char path[8192];
	struct ccm_quote *q = NULL;
	struct ccm_quote_collateral *c = NULL;
	struct ccm_quote_verify_opts o = {0};
	struct ccm_error err;
	ccm_code rc;

	assert_int_equal(ccm_quote_parse_time(at, &o.at, &err), CCM_OK);
	rc = ccm_quote_parse(qb, len, &q, &err);
	if (rc != CCM_OK)
		print_error("%s: %s\n", vec, err.msg);
	assert_int_equal(rc, CCM_OK);
	*trailing = q->trailing;
	snprintf(path, sizeof(path), "%s/%s/collateral", vecdir, vec);
	assert_int_equal(ccm_quote_collateral_load(path, &c, &err), CCM_OK);
	rc = ccm_quote_verify(NULL, q, c, &o, r);
	ccm_quote_collateral_free(c);
	ccm_quote_free(q);
	return rc;
}

/* ---- a test PKI: a vector re-signed under a root made here ------------- */

/* Keys and certificates of the re-signed vector: root, PCK CA, PCK leaf
 * (with the original leaf's SGX extension), TCB signer. */
struct pki {
	EVP_PKEY *root_key, *ca_key, *pck_key, *tcb_key;
	X509 *root, *ca, *pck, *tcb;
};

static X509 *pki_cert(const char *cn, EVP_PKEY *key, X509 *issuer, EVP_PKEY *ikey, long serial,
                      X509_EXTENSION *ext)
{
	X509 *x = X509_new();
	X509_NAME *n = X509_NAME_new();

	assert_non_null(x);
	assert_non_null(n);
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), serial);
	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
	X509_set_subject_name(x, n);
	X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : n);
	ASN1_TIME_set(X509_getm_notBefore(x), 1577836800); /* 2020-01-01 */
	ASN1_TIME_set(X509_getm_notAfter(x), 2208988800);  /* 2040-01-01 */
	X509_set_pubkey(x, key);
	if (ext != NULL)
		assert_int_equal(X509_add_ext(x, ext, -1), 1);
	assert_true(X509_sign(x, ikey, EVP_sha256()) > 0);
	X509_NAME_free(n);
	return x;
}

static void pki_new(struct pki *p, X509 *orig_leaf)
{
	ASN1_OBJECT *oid = OBJ_txt2obj("1.2.840.113741.1.13.1", 1);
	X509_EXTENSION *ext = X509_get_ext(orig_leaf, X509_get_ext_by_OBJ(orig_leaf, oid, -1));

	assert_non_null(ext);
	p->root_key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	p->ca_key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	p->pck_key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	p->tcb_key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	p->root = pki_cert("Intel SGX Root CA", p->root_key, NULL, p->root_key, 1, NULL);
	p->ca = pki_cert("Intel SGX PCK Platform CA", p->ca_key, p->root, p->root_key, 2, NULL);
	p->pck = pki_cert("Intel SGX PCK Certificate", p->pck_key, p->ca, p->ca_key, 3, ext);
	p->tcb = pki_cert("Intel SGX TCB Signing", p->tcb_key, p->root, p->root_key, 4, NULL);
	ASN1_OBJECT_free(oid);
}

static void pki_free(struct pki *p)
{
	EVP_PKEY *k[4] = {p->root_key, p->ca_key, p->pck_key, p->tcb_key};
	X509 *x[4] = {p->root, p->ca, p->pck, p->tcb};

	for (int i = 0; i < 4; i++) {
		EVP_PKEY_free(k[i]);
		X509_free(x[i]);
	}
}

/* ECDSA P-256 / SHA-256 as raw r || s. */
static void pki_sign(EVP_PKEY *key, const void *msg, size_t len, uint8_t out[64])
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	uint8_t der[80];
	const uint8_t *p = der;
	size_t dlen = sizeof(der);
	ECDSA_SIG *sig;

	assert_int_equal(EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key), 1);
	assert_int_equal(EVP_DigestSign(md, der, &dlen, msg, len), 1);
	sig = d2i_ECDSA_SIG(NULL, &p, (long)dlen);
	assert_non_null(sig);
	BN_bn2binpad(ECDSA_SIG_get0_r(sig), out, 32);
	BN_bn2binpad(ECDSA_SIG_get0_s(sig), out + 32, 32);
	ECDSA_SIG_free(sig);
	EVP_MD_CTX_free(md);
}

/* PEM of certificates (NULL-terminated list), malloc'd. */
static uint8_t *pki_pem(size_t *len, X509 *const *x)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *data;
	uint8_t *out;

	for (; *x != NULL; x++)
		assert_int_equal(PEM_write_bio_X509(b, *x), 1);
	*len = (size_t)BIO_get_mem_data(b, &data);
	out = malloc(*len + 1);
	assert_non_null(out);
	memcpy(out, data, *len);
	BIO_free(b);
	return out;
}

/* An empty CRL of issuer, DER, malloc'd. */
static uint8_t *pki_crl(X509 *issuer, EVP_PKEY *key, size_t *len)
{
	X509_CRL *crl = X509_CRL_new();
	ASN1_TIME *t = ASN1_TIME_new();
	uint8_t *der = NULL;
	int n;

	X509_CRL_set_version(crl, 1);
	X509_CRL_set_issuer_name(crl, X509_get_subject_name(issuer));
	ASN1_TIME_set(t, 1577836800);
	X509_CRL_set1_lastUpdate(crl, t);
	ASN1_TIME_set(t, 2208988800);
	X509_CRL_set1_nextUpdate(crl, t);
	assert_true(X509_CRL_sign(crl, key, EVP_sha256()) > 0);
	n = i2d_X509_CRL(crl, &der);
	assert_true(n > 0);
	*len = (size_t)n;
	ASN1_TIME_free(t);
	X509_CRL_free(crl);
	return der;
}

/* A PCS body {"<key>":<raw>,"signature":"<hex>"} signed by the TCB key. */
static uint8_t *pki_json(EVP_PKEY *key, const char *name, const char *raw, size_t rawlen,
                         size_t *len)
{
	uint8_t sig[64];
	char hex[129];
	size_t cap = rawlen + strlen(name) + 200;
	char *out = malloc(cap);

	assert_non_null(out);
	pki_sign(key, raw, rawlen, sig);
	util_hex(sig, 64, hex);
	*len = (size_t)snprintf(out, cap, "{\"%s\":%.*s,\"signature\":\"%s\"}", name, (int)rawlen,
	                        raw, hex);
	return (uint8_t *)out;
}

/* The quote with its QE report re-signed by the new PCK key and the new
 * chain as type-5 certification data (all enclosing sizes fixed). */
static uint8_t *pki_quote(const struct pki *p, const uint8_t *qb, size_t len, size_t *outlen)
{
	struct ccm_quote *q = NULL;
	struct ccm_error err;
	X509 *chain[4] = {p->pck, p->ca, p->root, NULL};
	size_t plen, coff, nlen;
	uint8_t *pem = pki_pem(&plen, chain), *b;

	assert_int_equal(ccm_quote_parse(qb, len, &q, &err), CCM_OK);
	coff = (size_t)(q->cert_data - q->raw);
	nlen = coff + plen;
	b = malloc(nlen);
	assert_non_null(b);
	memcpy(b, qb, coff);
	memcpy(b + coff, pem, plen);
	pki_sign(p->pck_key, q->qe_report_raw, 384, b + (q->qe_report_sig - q->raw));
	util_put_le32(b + coff - 4, (uint32_t)plen);
	util_put_le32(b + q->signed_len, (uint32_t)(nlen - q->signed_len - 4));
	if (q->version > 3) /* the type-6 payload size */
		util_put_le32(b + q->signed_len + 4 + 128 + 2,
		              (uint32_t)(nlen - (q->signed_len + 4 + 128 + 6)));
	ccm_quote_free(q);
	free(pem);
	*outlen = nlen;
	return b;
}

/* A v3 SGX quote rewritten as version 4 or 5 (SGX report body, body
 * descriptor type 1 for v5, type-6 QE report certification data around a
 * type-5 chain), with a new attestation key, binding and signatures. */
static uint8_t *pki_quote_sgx45(const struct pki *p, const uint8_t *qb, size_t len, int version,
                                size_t *outlen)
{
	struct ccm_quote *q = NULL;
	struct ccm_error err;
	X509 *chain[4] = {p->pck, p->ca, p->root, NULL};
	EVP_PKEY *ak = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	uint8_t pt[65], *pem, *b, *qe, *ad;
	size_t plen, ptlen = sizeof(pt), body = version == 5 ? 54 + 384 : 48 + 384, n6, nlen;

	assert_non_null(ak);
	assert_int_equal(
	        EVP_PKEY_get_octet_string_param(ak, "encoded-pub-key", pt, sizeof(pt), &ptlen), 1);
	assert_int_equal(ccm_quote_parse(qb, len, &q, &err), CCM_OK);
	assert_int_equal(q->version, 3);
	pem = pki_pem(&plen, chain);
	n6 = 384 + 64 + 2 + q->qe_auth_len + 2 + 4 + plen;
	nlen = body + 4 + 64 + 64 + 2 + 4 + n6;
	b = calloc(1, nlen);
	assert_non_null(b);
	memcpy(b, qb, 48);
	util_put_le16(b, (uint16_t)version);
	if (version == 5) {
		util_put_le16(b + 48, 1);
		util_put_le32(b + 50, 384);
	}
	memcpy(b + body - 384, qb + 48, 384);
	util_put_le32(b + body, (uint32_t)(nlen - body - 4));
	memcpy(b + body + 4 + 64, pt + 1, 64);
	util_put_le16(b + body + 132, 6);
	util_put_le32(b + body + 134, (uint32_t)n6);
	qe = b + body + 138;
	memcpy(qe, q->qe_report_raw, 384);
	ad = malloc(64 + (size_t)q->qe_auth_len + 1);
	assert_non_null(ad);
	memcpy(ad, pt + 1, 64);
	memcpy(ad + 64, q->qe_auth, q->qe_auth_len);
	dcap_sha256(ad, 64 + (size_t)q->qe_auth_len, qe + 320); /* QE REPORTDATA[0:32] */
	free(ad);
	pki_sign(p->pck_key, qe, 384, qe + 384);
	util_put_le16(qe + 448, q->qe_auth_len);
	memcpy(qe + 450, q->qe_auth, q->qe_auth_len);
	util_put_le16(qe + 450 + q->qe_auth_len, 5);
	util_put_le32(qe + 452 + q->qe_auth_len, (uint32_t)plen);
	memcpy(qe + 456 + q->qe_auth_len, pem, plen);
	pki_sign(ak, b, body, b + body + 4);
	EVP_PKEY_free(ak);
	ccm_quote_free(q);
	free(pem);
	*outlen = nlen;
	return b;
}

/* 0: keep the vector's quote format; 4 or 5: rewrite a v3 SGX quote. */
static int pki_version;
/* When set, the first pki_from in the TCB info text becomes pki_to (and
 * then pki_from2 becomes pki_to2). */
static const char *pki_from, *pki_to, *pki_from2, *pki_to2;

static char *pki_replace(const char *raw, size_t len, const char *from, const char *to)
{
	char *in = strndup(raw, len), *out, *a;
	size_t cap = len + strlen(to) + 1;

	assert_non_null(in);
	out = malloc(cap);
	assert_non_null(out);
	a = strstr(in, from);
	assert_non_null(a);
	snprintf(out, cap, "%.*s%s%s", (int)(a - in), in, to, a + strlen(from));
	free(in);
	return out;
}

/* The first "tcbStatus" after the text after, replaced by status. */
static char *pki_subst(const char *raw, size_t len, const char *after, const char *status)
{
	char *in = strndup(raw, len), *out, *a, *st, *end;
	size_t cap = len + strlen(status) + 1;

	assert_non_null(in);
	out = malloc(cap);
	assert_non_null(out);
	a = strstr(in, after);
	assert_non_null(a);
	st = strstr(a, "\"tcbStatus\":\"");
	assert_non_null(st);
	st += strlen("\"tcbStatus\":\"");
	end = strchr(st, '"');
	assert_non_null(end);
	snprintf(out, cap, "%.*s%s%s", (int)(st - in), in, status, end);
	free(in);
	return out;
}

/* Re-sign vector vec under a fresh root, with the status of the TDX_01
 * module's first level set to status (unless NULL), and verify its quote
 * at time at. */
static ccm_code pki_verify(const char *vec, const char *at, const char *status,
                           struct ccm_quote_result *r)
{
	struct pki p;
	struct ccm_quote *q = NULL, *nq = NULL;
	struct ccm_quote_collateral *c = NULL;
	struct ccm_quote_collateral_files f;
	struct ccm_quote_verify_opts o = {0};
	struct ccm_error err;
	STACK_OF(X509) *sk = NULL;
	X509 *leaf = NULL, *tchain[3] = {NULL, NULL, NULL}, *cchain[3] = {NULL, NULL, NULL};
	size_t qlen, tlen, ilen, nlen, l[7];
	uint8_t *qb = read_vec(vec, "quote.dat", &qlen),
	        *tb = read_vec(vec, "collateral/tcb_info.json", &tlen);
	uint8_t *ib = read_vec(vec, "collateral/qe_identity.json", &ilen), *nb, *buf[7];
	const char *raw;
	char *copy;
	size_t rawlen;
	ccm_code rc;

	assert_non_null(qb);
	assert_non_null(tb);
	assert_non_null(ib);
	assert_int_equal(ccm_quote_parse(qb, qlen, &q, &err), CCM_OK);
	assert_int_equal(dcap_load_certs(q->cert_data, q->cert_len, &sk, "test", &err), CCM_OK);
	for (int i = 0; i < sk_X509_num(sk); i++)
		if (dcap_cn_contains(X509_get_subject_name(sk_X509_value(sk, i)),
		                     "SGX PCK Certificate"))
			leaf = sk_X509_value(sk, i);
	pki_new(&p, leaf);
	if (pki_version == 0)
		nb = pki_quote(&p, qb, qlen, &nlen);
	else
		nb = pki_quote_sgx45(&p, qb, qlen, pki_version, &nlen);
	assert_int_equal(ccm_quote_parse(nb, nlen, &nq, &err), CCM_OK);
	if (pki_version != 0) {
		assert_int_equal(nq->version, pki_version);
		assert_int_equal(nq->body_type, CCM_QUOTE_BODY_SGX);
		assert_int_equal(nq->signed_len, pki_version == 5 ? 438 : 432);
		assert_int_equal(nq->trailing, 0);
	}
	tchain[0] = p.tcb, tchain[1] = p.root, cchain[0] = p.ca, cchain[1] = p.root;
	buf[0] = pki_pem(&l[0], cchain);
	buf[1] = pki_crl(p.ca, p.ca_key, &l[1]);
	buf[2] = pki_crl(p.root, p.root_key, &l[2]);
	buf[3] = pki_pem(&l[3], tchain);
	assert_int_equal(tcbinfo_raw_member((const char *)tb, tlen, "tcbInfo", &raw, &rawlen, &err),
	                 CCM_OK);
	copy = pki_from                     ? pki_replace(raw, rawlen, pki_from, pki_to)
	       : status && pki_version == 0 ? pki_subst(raw, rawlen, "\"id\":\"TDX_01\"", status)
	                                    : strndup(raw, rawlen);
	assert_non_null(copy);
	if (pki_from2 != NULL) {
		char *c2 = pki_replace(copy, strlen(copy), pki_from2, pki_to2);
		free(copy);
		copy = c2;
	}
	buf[4] = pki_json(p.tcb_key, "tcbInfo", copy, strlen(copy), &l[4]);
	free(copy);
	assert_int_equal(
	        tcbinfo_raw_member((const char *)ib, ilen, "enclaveIdentity", &raw, &rawlen, &err),
	        CCM_OK);
	buf[5] = pki_json(p.tcb_key, "enclaveIdentity", raw, rawlen, &l[5]);
	tchain[0] = p.root, tchain[1] = NULL;
	buf[6] = pki_pem(&l[6], tchain);
	f = (struct ccm_quote_collateral_files){buf[0], l[0], buf[1], l[1], buf[2], l[2],
	                                        buf[3], l[3], buf[4], l[4], buf[3], l[3],
	                                        buf[5], l[5], buf[6], l[6], NULL,   0};
	rc = ccm_quote_collateral_new(&f, &c, &err);
	if (rc != CCM_OK)
		print_error("%s: %s\n", vec, err.msg);
	assert_int_equal(rc, CCM_OK);
	assert_int_equal(ccm_quote_parse_time(at, &o.at, &err), CCM_OK);
	rc = ccm_quote_verify(NULL, nq, c, &o, r);
	ccm_quote_collateral_free(c);
	for (int i = 0; i < 7; i++)
		if (i == 1 || i == 2)
			OPENSSL_free(buf[i]);
		else
			free(buf[i]);
	sk_X509_pop_free(sk, X509_free);
	pki_free(&p);
	ccm_quote_free(q);
	ccm_quote_free(nq);
	free(nb);
	free(qb);
	free(tb);
	free(ib);
	return rc;
}

/* SPEC-NOTES D.2 / Part I.2: bytes after the signature data are tolerated
 * whatever their value (QVL Quote::parse never looks past the declared
 * signature data length); no signature covers them. They used to be
 * refused unless all zero. */
static void test_trailing_nonzero(void **state)
{
	static const char tdx[] = TDX4, sgx[] = "phala-sgx-v3-00a067110000";
	struct ccm_quote_result *r = malloc(sizeof(*r));
	size_t len, trailing = 0;
	uint8_t *qb = read_vec(tdx, "quote.dat", &len), *big;

	(void)state;
	assert_non_null(r);
	assert_non_null(qb);
	/* the TDX v4 quote ends in 70 zero bytes: make them 0xff */
	memset(qb + len - 70, 0xff, 70);
	assert_int_equal(verify_with(tdx, qb, len, TDX4_AT, r, &trailing), CCM_OK);
	assert_int_equal(trailing, 70);
	assert_true(r->verified);
	assert_string_equal(ccm_tcb_status_name(r->tcb_status), "UpToDate");
	free(qb);
	/* the SGX v3 quote has none: append text */
	qb = read_vec(sgx, "quote.dat", &len);
	assert_non_null(qb);
	big = malloc(len + 5);
	assert_non_null(big);
	memcpy(big, qb, len);
	memcpy(big + len, "junk!", 5);
	assert_int_equal(verify_with(sgx, big, len + 5, "2025-07-19T10:01:17Z", r, &trailing),
	                 CCM_OK);
	assert_int_equal(trailing, 5);
	assert_true(r->verified);
	assert_string_equal(ccm_tcb_status_name(r->tcb_status),
	                    "ConfigurationAndSWHardeningNeeded");
	free(big);
	free(qb);
	free(r);
}

/* QVL TdxModuleCheck.cpp checkTdxModuleTcbStatus: a TDX module level's
 * status must be UpToDate, OutOfDate or Revoked (VALID_MODULE_TCB_STATUSES);
 * any other is STATUS_TCB_UNRECOGNIZED_STATUS, a terminal error. It used to
 * be folded into OutOfDate like a QE level's, a non-terminal result. */
static void test_module_status(void **state)
{
	struct tcb_level lv[2];
	struct tdx_module_id mod;
	struct tcbinfo t;
	uint8_t svn[16] = {0};

	(void)state;
	memset(lv, 0, sizeof(lv));
	memset(&mod, 0, sizeof(mod));
	memset(&t, 0, sizeof(t));
	snprintf(mod.id, sizeof(mod.id), "TDX_01");
	lv[0].isvsvn = 5, lv[0].status = CCM_TCB_UP_TO_DATE;
	lv[1].isvsvn = 3, lv[1].status = CCM_TCB_OUT_OF_DATE;
	mod.levels = lv;
	mod.n_levels = 2;
	t.tdx = true;
	t.modules = &mod;
	t.n_modules = 1;
	/* module version 0 (TDX 1.0): no identity needed */
	assert_int_equal(tcblevel_module_status(&t, svn), CCM_TCB_UP_TO_DATE);
	/* version 2: no TDX_02 identity */
	svn[1] = 2, svn[0] = 9;
	assert_int_equal(tcblevel_module_status(&t, svn), CCM_TCB_NOT_SUPPORTED);
	/* version 1: by ISVSVN = TEE_TCB_SVN[0] */
	svn[1] = 1;
	assert_int_equal(tcblevel_module_status(&t, svn), CCM_TCB_UP_TO_DATE);
	svn[0] = 4;
	assert_int_equal(tcblevel_module_status(&t, svn), CCM_TCB_OUT_OF_DATE);
	svn[0] = 2;
	assert_int_equal(tcblevel_module_status(&t, svn), CCM_TCB_NOT_SUPPORTED);
	svn[0] = 3;
	lv[1].status = CCM_TCB_REVOKED;
	assert_int_equal(tcblevel_module_status(&t, svn), CCM_TCB_REVOKED);
	/* not a module status: unrecognized (was OutOfDate) */
	lv[1].status = CCM_TCB_CONFIGURATION_NEEDED;
	assert_int_equal(tcblevel_module_status(&t, svn), CCM_TCB_NONE);
	lv[1].status = CCM_TCB_SW_HARDENING_NEEDED;
	assert_int_equal(tcblevel_module_status(&t, svn), CCM_TCB_NONE);
	/* the id matches case-insensitively, as QVL upper-cases it */
	snprintf(mod.id, sizeof(mod.id), "tdx_01");
	lv[1].status = CCM_TCB_OUT_OF_DATE;
	assert_int_equal(tcblevel_module_status(&t, svn), CCM_TCB_OUT_OF_DATE);
}

/* The harness itself: the TDX v4 vector re-signed verifies as the original. */
static void test_resigned_vector(void **state)
{
	struct ccm_quote_result *r = malloc(sizeof(*r));

	(void)state;
	assert_non_null(r);
	assert_int_equal(pki_verify(TDX4, TDX4_AT, NULL, r), CCM_OK);
	assert_true(r->verified);
	assert_string_equal(ccm_tcb_status_name(r->tcb_status), "UpToDate");
	free(r);
}

/* The same rule end to end: the TDX v4 quote has TEE_TCB_SVN 06 01 ..,
 * so module TDX_01 at ISVSVN 6 decides (its level isvsvn 4). */
static void test_module_status_resigned(void **state)
{
	struct ccm_quote_result *r = malloc(sizeof(*r));

	(void)state;
	assert_non_null(r);
	assert_int_equal(pki_verify(TDX4, TDX4_AT, "OutOfDate", r), CCM_OK);
	assert_true(r->verified);
	assert_string_equal(ccm_tcb_status_name(r->tcb_status), "OutOfDate");
	assert_int_equal(pki_verify(TDX4, TDX4_AT, "Revoked", r), CCM_E_VERIFY);
	assert_string_equal(ccm_tcb_status_name(r->tcb_status), "Revoked");
	assert_int_equal(pki_verify(TDX4, TDX4_AT, "ConfigurationNeeded", r), CCM_E_VERIFY);
	assert_false(r->verified);
	assert_string_equal(r->failure, "tcb level");
	assert_non_null(strstr(r->error.msg, "unrecognized"));
	free(r);
}

/* SPEC-NOTES D.3 / G.5 4.1.2.4.16: SGX quotes in version 4 (tee_type 0,
 * SGX report body, signed data quote[0:432]) and version 5 (body type 1,
 * signed data quote[0:54+384]) verify like version 3. No public vector
 * has either, so the v3 vector is rewritten as both. */
static void test_sgx_v4_v5(void **state)
{
	static const char sgx[] = "phala-sgx-v3-00a067110000";
	struct ccm_quote_result *r = malloc(sizeof(*r));

	(void)state;
	assert_non_null(r);
	for (int v = 4; v <= 5; v++) {
		pki_version = v;
		if (pki_verify(sgx, "2025-07-19T10:01:17Z", NULL, r) != CCM_OK)
			print_error("v%d: %s: %s\n", v, r->failure, r->error.msg);
		assert_true(r->verified);
		assert_string_equal(ccm_tcb_status_name(r->tcb_status),
		                    "ConfigurationAndSWHardeningNeeded");
		assert_int_equal(r->n_advisory_ids, 2);
	}
	pki_version = 0;
	free(r);
}

/* SPEC-NOTES Part H / QVL matchTcbLevels: the TDX level is the first level
 * that passes the SGX test and whose TDX components TEE_TCB_SVN reaches,
 * from index 2 when TEE_TCB_SVN[1] > 0; status and advisory IDs are that
 * level's. The TDX v4 quote (TEE_TCB_SVN 06 01 03) meets level 1 unless
 * its component 2 is raised above 3; then level 2 (OutOfDate) applies. */
static void test_tdx_level_resigned(void **state)
{
	struct ccm_quote_result *r = malloc(sizeof(*r));

	(void)state;
	assert_non_null(r);
	pki_from = "{\"svn\":2,\"category\":\"OS/VMM\",\"type\":\"TDX Late Microcode Update\"}";
	pki_to = "{\"svn\":9,\"category\":\"OS/VMM\",\"type\":\"TDX Late Microcode Update\"}";
	assert_int_equal(pki_verify(TDX4, TDX4_AT, NULL, r), CCM_OK);
	assert_string_equal(ccm_tcb_status_name(r->tcb_status), "OutOfDate");
	assert_int_equal(r->n_advisory_ids, 14);
	assert_string_equal(r->advisory_ids[0], "INTEL-SA-00106");
	/* component 0 (the module ISVSVN) is not compared when TEE_TCB_SVN[1] > 0 */
	pki_from = "\"tdxtcbcomponents\":[{\"svn\":5,";
	pki_to = "\"tdxtcbcomponents\":[{\"svn\":99,";
	assert_int_equal(pki_verify(TDX4, TDX4_AT, NULL, r), CCM_OK);
	assert_string_equal(ccm_tcb_status_name(r->tcb_status), "UpToDate");
	assert_int_equal(r->n_advisory_ids, 0);
	pki_from = pki_to = NULL;
	free(r);
}

/* A v5 quote with a TD report 1.5 (body type 3, signed data quote[0:702],
 * TEE_TCB_SVN 07 01 03: module TDX_01 at ISVSVN 7). Its vector ends in
 * TCBNotSupported (PCK SGX component 8 is 3, every level needs 5); with
 * the first level lowered to 3 it matches, and the TDX_01 module levels
 * then decide between UpToDate and OutOfDate (SPEC-NOTES D.3, Part H). */
static void test_v5_td15_resigned(void **state)
{
	static const char v5[] = "phala-tdx-v5-90c06f000000-tcb-not-supported";
	static const char at[] = "2026-03-20T10:41:14Z";
	struct ccm_quote_result *r = malloc(sizeof(*r));

	(void)state;
	assert_non_null(r);
	assert_int_equal(pki_verify(v5, at, NULL, r), CCM_E_VERIFY);
	assert_string_equal(ccm_tcb_status_name(r->tcb_status), "TCBNotSupported");
	pki_from = "{\"svn\":5,\"category\":\"OS/VMM\",\"type\":\"SEAMLDR ACM\"}";
	pki_to = "{\"svn\":3,\"category\":\"OS/VMM\",\"type\":\"SEAMLDR ACM\"}";
	if (pki_verify(v5, at, NULL, r) != CCM_OK)
		print_error("%s: %s\n", r->failure, r->error.msg);
	assert_true(r->verified);
	assert_string_equal(ccm_tcb_status_name(r->tcb_status), "UpToDate");
	/* TDX_01's UpToDate level now needs ISVSVN 14: its OutOfDate level (4)
	 * applies. 14 is above TEE_TCB_SVN2[0] (13), so Intel's TD relaunch
	 * check (not implemented, see docs) would not apply either. */
	pki_from2 = "\"tcbLevels\":[{\"tcb\":{\"isvsvn\":6}";
	pki_to2 = "\"tcbLevels\":[{\"tcb\":{\"isvsvn\":14}";
	assert_int_equal(pki_verify(v5, at, NULL, r), CCM_OK);
	assert_string_equal(ccm_tcb_status_name(r->tcb_status), "OutOfDate");
	pki_from = pki_to = pki_from2 = pki_to2 = NULL;
	free(r);
}

int main(void)
{
	const char *v = getenv("CCM_VECTORS");
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_trailing_nonzero),
	        cmocka_unit_test(test_module_status),
	        cmocka_unit_test(test_resigned_vector),
	        cmocka_unit_test(test_module_status_resigned),
	        cmocka_unit_test(test_sgx_v4_v5),
	        cmocka_unit_test(test_tdx_level_resigned),
	        cmocka_unit_test(test_v5_td15_resigned),
	};

	snprintf(vecdir, sizeof(vecdir), "%s/quotes", v ? v : "../shared/vectors");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
