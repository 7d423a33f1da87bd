/*
 * DESIGN: the CSR check of the attest-and-issue hot path without OpenSSL
 * 3.0's key decoder. d2i_X509_REQ decodes the public key as it parses, and
 * in 3.0 that builds a decoder chain per call (~0.1 ms, most of a CSR
 * check, paid in the agent and again in ccmd). Here the request is parsed
 * with an ASN.1 template that mirrors X509_REQ's but keeps the
 * SubjectPublicKeyInfo as algorithm and bits, the key is built with
 * EVP_PKEY_fromdata, and the self-signature is checked with
 * EVP_DigestVerify over the CertificationRequestInfo exactly as received
 * (what X509_REQ_verify does). Only the common case takes this path: a
 * named P-256 or P-384 key as an uncompressed point, signed with
 * ecdsa-with-SHA256/384/512, nothing trailing. Anything else, including
 * every failure, goes through ccm_csr_parse, so refusals (and their
 * messages) are the ones it gives. ccm_csr_key_hash is the same path
 * without building the key and checking the signature, for the node agent:
 * it only needs the key's hash, and the manager it forwards the CSR to
 * does both.
 */
#include <pthread.h>
#include <string.h>

#include <openssl/asn1t.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "ccm/cert.h"

typedef struct {
	X509_ALGOR *algor;
	ASN1_BIT_STRING *public_key;
} CSR_KEY_SPKI;

typedef struct {
	ASN1_ENCODING enc; /* the encoding as received: what was signed */
	ASN1_INTEGER *version;
	X509_NAME *subject;
	CSR_KEY_SPKI *spki;
	STACK_OF(X509_ATTRIBUTE) * attributes;
} CSR_KEY_INFO;

typedef struct {
	CSR_KEY_INFO *info;
	X509_ALGOR *sig_alg;
	ASN1_BIT_STRING *signature;
} CSR_KEY_REQ;

static const ASN1_ITEM *CSR_KEY_SPKI_it(void);
static const ASN1_ITEM *CSR_KEY_REQ_it(void);

/* Digest of an ecdsa-with-SHA2 signature algorithm without parameters. */
static const char *csr_key_md(const X509_ALGOR *alg)
{
	const ASN1_OBJECT *oid = NULL;
	const void *pval = NULL;
	int ptype = 0;

	X509_ALGOR_get0(&oid, &ptype, &pval, alg);
	if (ptype != V_ASN1_UNDEF)
		return NULL;
	switch (OBJ_obj2nid(oid)) {
	case NID_ecdsa_with_SHA256:
		return "SHA256";
	case NID_ecdsa_with_SHA384:
		return "SHA384";
	case NID_ecdsa_with_SHA512:
		return "SHA512";
	default:
		return NULL;
	}
}

/* A named P-256/P-384 key as an uncompressed point; its group name. */
static const char *csr_key_group(const CSR_KEY_SPKI *k)
{
	const ASN1_OBJECT *oid = NULL;
	const void *pval = NULL;
	const unsigned char *pt = ASN1_STRING_get0_data(k->public_key);
	int ptype = 0, len = ASN1_STRING_length(k->public_key), want;
	const char *group;

	X509_ALGOR_get0(&oid, &ptype, &pval, k->algor);
	if (OBJ_obj2nid(oid) != NID_X9_62_id_ecPublicKey || ptype != V_ASN1_OBJECT)
		return NULL;
	switch (OBJ_obj2nid(pval)) {
	case NID_X9_62_prime256v1:
		group = "prime256v1", want = 65;
		break;
	case NID_secp384r1:
		group = "secp384r1", want = 97;
		break;
	default:
		return NULL;
	}
	if (len != want || pt[0] != 0x04 || (k->public_key->flags & 0x07) != 0)
		return NULL;
	return group;
}

/* Domain parameters of each accepted curve, built once: importing a point
 * onto a copy of them costs a third of EVP_PKEY_fromdata by group name,
 * which builds the curve anew each time (and its Montgomery constants on
 * first use, inside the signature check). */
static EVP_PKEY *csr_key_params[2]; /* prime256v1, secp384r1 */
static pthread_once_t csr_key_once = PTHREAD_ONCE_INIT;

static EVP_PKEY *csr_key_params_new(const char *group)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
	EVP_PKEY *pk = NULL;
	OSSL_PARAM ps[2];

	ps[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, (char *)group, 0);
	ps[1] = OSSL_PARAM_construct_end();
	if (ctx == NULL || EVP_PKEY_fromdata_init(ctx) <= 0 ||
	    EVP_PKEY_fromdata(ctx, &pk, EVP_PKEY_KEY_PARAMETERS, ps) <= 0)
		pk = NULL;
	EVP_PKEY_CTX_free(ctx);
	return pk;
}

static void csr_key_init(void)
{
	csr_key_params[0] = csr_key_params_new("prime256v1");
	csr_key_params[1] = csr_key_params_new("secp384r1");
}

/* The key from its point; setting the point checks it is on the curve
 * (EC_POINT_oct2point), so an off-curve key is refused here. */
static EVP_PKEY *csr_key_pkey(const CSR_KEY_SPKI *k, const char *group)
{
	EVP_PKEY *params, *pk;

	pthread_once(&csr_key_once, csr_key_init);
	params = csr_key_params[strcmp(group, "prime256v1") == 0 ? 0 : 1];
	pk = params ? EVP_PKEY_new() : NULL;
	if (pk == NULL || EVP_PKEY_copy_parameters(pk, params) != 1 ||
	    EVP_PKEY_set1_encoded_public_key(pk, ASN1_STRING_get0_data(k->public_key),
	                                     (size_t)ASN1_STRING_length(k->public_key)) != 1) {
		EVP_PKEY_free(pk);
		return NULL;
	}
	return pk;
}

static bool csr_key_verify(const CSR_KEY_REQ *v, const char *md, EVP_PKEY *pk)
{
	EVP_MD_CTX *m = EVP_MD_CTX_new();
	bool ok = m != NULL && v->info->enc.enc != NULL && v->info->enc.len > 0 &&
	          !v->info->enc.modified && (v->signature->flags & 0x07) == 0 &&
	          EVP_DigestVerifyInit_ex(m, NULL, md, NULL, NULL, pk, NULL) > 0 &&
	          EVP_DigestVerify(m, ASN1_STRING_get0_data(v->signature),
	                           (size_t)ASN1_STRING_length(v->signature), v->info->enc.enc,
	                           (size_t)v->info->enc.len) == 1;

	EVP_MD_CTX_free(m);
	return ok;
}

/* A request holding only the key: algorithm, curve and point, copied. */
static X509_REQ *csr_key_request(const CSR_KEY_SPKI *k)
{
	const ASN1_OBJECT *oid = NULL;
	const void *pval = NULL;
	int ptype = 0, len = ASN1_STRING_length(k->public_key);
	X509_REQ *req = X509_REQ_new();
	ASN1_OBJECT *o, *c;
	unsigned char *bits;

	X509_ALGOR_get0(&oid, &ptype, &pval, k->algor);
	o = OBJ_dup(oid);
	c = OBJ_dup(pval);
	bits = OPENSSL_memdup(ASN1_STRING_get0_data(k->public_key), (size_t)len);
	if (req == NULL || o == NULL || c == NULL || bits == NULL ||
	    !X509_PUBKEY_set0_param(X509_REQ_get_X509_PUBKEY(req), o, V_ASN1_OBJECT, c, bits,
	                            len)) {
		ASN1_OBJECT_free(o);
		ASN1_OBJECT_free(c);
		OPENSSL_free(bits);
		X509_REQ_free(req);
		return NULL;
	}
	return req;
}

static bool csr_key_spki_hash(const CSR_KEY_SPKI *k, uint8_t out[32])
{
	unsigned char *der = NULL;
	int n = ASN1_item_i2d((const ASN1_VALUE *)k, &der, CSR_KEY_SPKI_it());
	bool ok = n > 0 && EVP_Digest(der, (size_t)n, out, NULL, EVP_sha256(), NULL);

	OPENSSL_free(der);
	return ok;
}

/* out NULL: only the hash is wanted (ccm_csr_key_hash). The curve and
 * the point's form are checked; building the key (which checks that the
 * point is on the curve, the costly part) and the self-signature are
 * left to whoever the CSR is forwarded to. */
static bool csr_key_fast(const char *pem, size_t len, X509_REQ **out, uint8_t spki_sha256[32])
{
	BIO *bio = BIO_new_mem_buf(pem, (int)len);
	unsigned char *der = NULL;
	const unsigned char *p;
	CSR_KEY_REQ *v = NULL;
	EVP_PKEY *pk = NULL;
	const char *md, *group;
	long dlen = 0;
	bool ok = false;

	if (bio == NULL ||
	    PEM_bytes_read_bio(&der, &dlen, NULL, PEM_STRING_X509_REQ, bio, NULL, NULL) != 1)
		goto out;
	p = der;
	v = (CSR_KEY_REQ *)ASN1_item_d2i(NULL, &p, dlen, CSR_KEY_REQ_it());
	if (v == NULL || p != der + dlen || (md = csr_key_md(v->sig_alg)) == NULL ||
	    (group = csr_key_group(v->info->spki)) == NULL ||
	    (out != NULL &&
	     ((pk = csr_key_pkey(v->info->spki, group)) == NULL || !csr_key_verify(v, md, pk))) ||
	    !csr_key_spki_hash(v->info->spki, spki_sha256) ||
	    (out != NULL && (*out = csr_key_request(v->info->spki)) == NULL))
		goto out;
	ok = true;
out:
	EVP_PKEY_free(pk);
	ASN1_item_free((ASN1_VALUE *)v, CSR_KEY_REQ_it());
	OPENSSL_free(der);
	BIO_free(bio);
	return ok;
}

ccm_code ccm_csr_parse_key(const char *pem, size_t len, X509_REQ **out, uint8_t spki_sha256[32],
                           struct ccm_error *err)
{
	bool ok = false;

	if (len > 0 && len <= CCM_CSR_MAX) {
		ERR_set_mark();
		ok = csr_key_fast(pem, len, out, spki_sha256);
		ERR_pop_to_mark();
	}
	return ok ? CCM_OK : ccm_csr_parse(pem, len, out, spki_sha256, err);
}

ccm_code ccm_csr_key_hash(const char *pem, size_t len, uint8_t spki_sha256[32],
                          struct ccm_error *err)
{
	X509_REQ *req = NULL;
	bool ok = false;
	ccm_code rc;

	if (len > 0 && len <= CCM_CSR_MAX) {
		ERR_set_mark();
		ok = csr_key_fast(pem, len, NULL, spki_sha256);
		ERR_pop_to_mark();
	}
	if (ok)
		return CCM_OK;
	rc = ccm_csr_parse(pem, len, &req, spki_sha256, err);
	X509_REQ_free(req);
	return rc;
}

/* The template macros are declarations, not calls: keep clang-format out
 * (to the end of the file). As X509_REQ's (crypto/x509/x_req.c), but the
 * key stays algorithm and bits (X509_PUBKEY's own wire form). */
/* clang-format off */
ASN1_SEQUENCE(CSR_KEY_SPKI) = {
	ASN1_SIMPLE(CSR_KEY_SPKI, algor, X509_ALGOR),
	ASN1_SIMPLE(CSR_KEY_SPKI, public_key, ASN1_BIT_STRING)
} static_ASN1_SEQUENCE_END(CSR_KEY_SPKI)

ASN1_SEQUENCE_enc(CSR_KEY_INFO, enc, 0) = {
	ASN1_SIMPLE(CSR_KEY_INFO, version, ASN1_INTEGER),
	ASN1_SIMPLE(CSR_KEY_INFO, subject, X509_NAME),
	ASN1_SIMPLE(CSR_KEY_INFO, spki, CSR_KEY_SPKI),
	ASN1_IMP_SET_OF_OPT(CSR_KEY_INFO, attributes, X509_ATTRIBUTE, 0)
} static_ASN1_SEQUENCE_END_ref(CSR_KEY_INFO, CSR_KEY_INFO)

ASN1_SEQUENCE(CSR_KEY_REQ) = {
	ASN1_SIMPLE(CSR_KEY_REQ, info, CSR_KEY_INFO),
	ASN1_SIMPLE(CSR_KEY_REQ, sig_alg, X509_ALGOR),
	ASN1_SIMPLE(CSR_KEY_REQ, signature, ASN1_BIT_STRING)
} static_ASN1_SEQUENCE_END(CSR_KEY_REQ)
