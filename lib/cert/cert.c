/*
 * DESIGN: certificate profiles (see include/ccm/cert.h). Everything a
 * certificate says is decided here from validated inputs; nothing is copied
 * from the CSR but its public key, so a requester cannot smuggle names,
 * key usages or extensions into a certificate. Serials are 128 random bits.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "ccm/cert.h"
#include "cert-int.h"
#include "ccm/policy.h"

ccm_code ccm_csr_parse(const char *pem, size_t len, X509_REQ **out, uint8_t spki_sha256[32],
                       struct ccm_error *err)
{
	BIO *bio = NULL;
	X509_REQ *req = NULL;
	unsigned char *der = NULL;
	EVP_PKEY *pk;
	int n, bits;
	ccm_code rc = CCM_OK;

	if (len == 0 || len > CCM_CSR_MAX)
		return ccm_fail(err, CCM_E_LIMIT, "csr: %zu bytes (1-%d allowed)", len,
		                CCM_CSR_MAX);
	bio = BIO_new_mem_buf(pem, (int)len);
	req = bio ? PEM_read_bio_X509_REQ(bio, NULL, NULL, NULL) : NULL;
	if (req == NULL) {
		rc = ccm_fail(err, CCM_E_INPUT, "csr: not a PEM certificate request");
		goto fail;
	}
	pk = X509_REQ_get0_pubkey(req);
	if (pk == NULL || X509_REQ_verify(req, pk) != 1) {
		rc = ccm_fail(err, CCM_E_INPUT, "csr: its self-signature does not verify");
		goto fail;
	}
	bits = EVP_PKEY_get_bits(pk);
	if (EVP_PKEY_is_a(pk, "EC")) {
		char curve[64] = "";
		EVP_PKEY_get_utf8_string_param(pk, "group", curve, sizeof(curve), NULL);
		if (strcmp(curve, "prime256v1") != 0 && strcmp(curve, "secp384r1") != 0) {
			rc = ccm_fail(err, CCM_E_INPUT,
			              "csr: weak or unsupported key: EC curve %s (P-256 or P-384 "
			              "required)",
			              curve[0] ? curve : "unknown");
			goto fail;
		}
	} else if (EVP_PKEY_is_a(pk, "RSA")) {
		if (bits < 2048 || bits > 4096) {
			rc = ccm_fail(err, CCM_E_INPUT,
			              "csr: weak or unsupported key: RSA-%d (2048-4096 required)",
			              bits);
			goto fail;
		}
	} else {
		rc = ccm_fail(err, CCM_E_INPUT, "csr: key type %s not supported (EC or RSA)",
		              EVP_PKEY_get0_type_name(pk) ? EVP_PKEY_get0_type_name(pk) : "?");
		goto fail;
	}
	/* The SubjectPublicKeyInfo as the CSR carries it (and its signature
	 * covers): no re-encoding through OpenSSL 3's encoder, which costs
	 * more than the signature check. */
	n = i2d_X509_PUBKEY(X509_REQ_get_X509_PUBKEY(req), &der);
	if (n <= 0 || !EVP_Digest(der, (size_t)n, spki_sha256, NULL, EVP_sha256(), NULL)) {
		rc = ccm_fail(err, CCM_E_CRYPTO, "csr: cannot hash its public key");
		goto fail;
	}
	*out = req;
	req = NULL;
fail:
	OPENSSL_free(der);
	X509_REQ_free(req);
	BIO_free(bio);
	return rc;
}

static bool subject_attr_ok(const char *k)
{
	static const char *const ok[] = {"CN", "O", "OU", "C", "ST", "L"};

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		if (strcmp(k, ok[i]) == 0)
			return true;
	return false;
}

ccm_code ccm_subject_parse(const char *s, X509_NAME **out, struct ccm_error *err)
{
	char buf[CCM_SUBJECT_MAX + 1];
	X509_NAME *name;
	char *p, *save = NULL;

	if (strlen(s) == 0 || strlen(s) > CCM_SUBJECT_MAX)
		return ccm_fail(err, CCM_E_INPUT, "subject: 1-%d characters", CCM_SUBJECT_MAX);
	snprintf(buf, sizeof(buf), "%s", s);
	name = X509_NAME_new();
	for (p = strtok_r(buf, ",", &save); p != NULL; p = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(p, '=');
		while (*p == ' ')
			p++;
		if (eq == NULL || eq[1] == '\0') {
			X509_NAME_free(name);
			return ccm_fail(err, CCM_E_INPUT, "subject: '%.60s' is not ATTR=value", p);
		}
		*eq = '\0';
		if (!subject_attr_ok(p) ||
		    !X509_NAME_add_entry_by_txt(name, p, MBSTRING_UTF8, (unsigned char *)eq + 1, -1,
		                                -1, 0)) {
			X509_NAME_free(name);
			return ccm_fail(err, CCM_E_INPUT,
			                "subject: attribute '%.20s' or its value is not allowed "
			                "(CN, O, OU, C, ST, L)",
			                p);
		}
	}
	*out = name;
	return CCM_OK;
}

void ccm_cert_uri_app(int64_t account, int64_t app, int64_t build, char *out, size_t n)
{
	snprintf(out, n, "spiffe://ccm/account/%lld/app/%lld/build/%lld", (long long)account,
	         (long long)app, (long long)build);
}

void ccm_cert_uri_node(int64_t account, int64_t node, char *out, size_t n)
{
	snprintf(out, n, "spiffe://ccm/account/%lld/node/%lld", (long long)account,
	         (long long)node);
}

/*
 * The CSR's SubjectPublicKeyInfo into x as it is (algorithm and key bits).
 * X509_set_pubkey would encode the parsed key and decode the result again
 * through OpenSSL 3's encoder and decoder, the dearest step of an
 * issuance after the signature. x's public key is then not parsed; the
 * profile code reads only its bits (subject key identifier).
 */
static bool cert_copy_pubkey(X509 *x, X509_REQ *csr)
{
	const ASN1_OBJECT *oid = NULL;
	const unsigned char *bits = NULL;
	X509_ALGOR *alg = NULL;
	const void *pval = NULL;
	X509_PUBKEY *from = X509_REQ_get_X509_PUBKEY(csr);
	ASN1_OBJECT *oid2 = NULL;
	ASN1_STRING *param = NULL;
	unsigned char *bits2 = NULL;
	int ptype = V_ASN1_UNDEF, nbits = 0;

	if (from == NULL || !X509_PUBKEY_get0_param(NULL, &bits, &nbits, &alg, from) ||
	    nbits <= 0 || alg == NULL)
		return false;
	X509_ALGOR_get0(&oid, &ptype, &pval, alg);
	oid2 = OBJ_dup(oid);
	if (ptype == V_ASN1_OBJECT)
		pval = OBJ_dup(pval);
	else if (ptype == V_ASN1_SEQUENCE || ptype == V_ASN1_OCTET_STRING)
		pval = param = ASN1_STRING_dup(pval);
	else if (ptype != V_ASN1_NULL && ptype != V_ASN1_UNDEF)
		pval = NULL; /* no other parameter form exists for EC or RSA keys */
	bits2 = OPENSSL_memdup(bits, (size_t)nbits);
	if (oid2 == NULL || bits2 == NULL ||
	    (ptype != V_ASN1_NULL && ptype != V_ASN1_UNDEF && pval == NULL) ||
	    !X509_PUBKEY_set0_param(X509_get_X509_PUBKEY(x), oid2, ptype, (void *)pval, bits2,
	                            nbits)) {
		ASN1_OBJECT_free(oid2);
		if (ptype == V_ASN1_OBJECT)
			ASN1_OBJECT_free((ASN1_OBJECT *)pval);
		ASN1_STRING_free(param);
		OPENSSL_free(bits2);
		return false;
	}
	return true;
}

/* A serial number: 8 bytes of the time in microseconds, then 8 random
 * bytes (the 64 bits of CSPRNG output the CA/Browser Forum asks for;
 * unique per account in the store anyway). Time first so that the store's
 * (account, serial) index grows at its end: with 16 random bytes every
 * certificate dirtied a leaf page of its own, most of a batch's WAL
 * frames. Bit 62 set: positive and always 16 bytes (32 hex digits). */
static bool cert_serial(uint8_t serial[16])
{
	struct timespec ts;
	uint64_t us;

	if (clock_gettime(CLOCK_REALTIME, &ts) != 0 || RAND_bytes(serial + 8, 8) != 1)
		return false;
	us = (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
	us = (us & ((1ULL << 62) - 1)) | (1ULL << 62);
	for (int i = 7; i >= 0; i--, us >>= 8)
		serial[i] = (uint8_t)(us & 0xff);
	return true;
}

/* A fresh certificate for csr's key, issued by ca, valid [now, now+days). */
static ccm_code cert_base(X509 *ca, X509_REQ *csr, int64_t now, int days, X509 **out,
                          struct ccm_error *err)
{
	uint8_t serial[16];
	BIGNUM *bn = NULL;
	X509 *x = X509_new();
	time_t t = now ? (time_t)now : time(NULL);
	int ok;

	if (days < 1 || days > 3650) {
		X509_free(x);
		return ccm_fail(err, CCM_E_RANGE, "certificate validity %d days (1-3650)", days);
	}
	ok = x != NULL && cert_serial(serial);
	if (ok)
		bn = BN_bin2bn(serial, sizeof(serial), NULL);
	ok = ok && bn != NULL && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) != NULL &&
	     X509_set_version(x, 2) && X509_set_issuer_name(x, X509_get_subject_name(ca)) &&
	     X509_time_adj_ex(X509_getm_notBefore(x), 0, -300, &t) != NULL &&
	     X509_time_adj_ex(X509_getm_notAfter(x), days, 0, &t) != NULL &&
	     cert_copy_pubkey(x, csr);
	BN_free(bn);
	if (!ok) {
		X509_free(x);
		return ccm_fail(err, CCM_E_CRYPTO, "certificate: cannot set up the fields");
	}
	*out = x;
	return CCM_OK;
}

static bool add_conf(X509 *x, X509 *ca, int nid, const char *value);

/* The extensions every certificate of a profile carries unchanged, built
 * from their config strings once (parsing them cost more than the rest
 * of a certificate but its signature). */
enum cert_const { CC_LEAF, CC_KU_SIG, CC_KU_SIG_ENC, CC_EKU_CLIENT, CC_EKU_BOTH, CC_N };
static const struct {
	int nid;
	const char *value;
} cert_const_conf[CC_N] = {
        {NID_basic_constraints, "critical,CA:FALSE"},
        {NID_key_usage, "critical,digitalSignature"},
        {NID_key_usage, "critical,digitalSignature,keyEncipherment"},
        {NID_ext_key_usage, "clientAuth"},
        {NID_ext_key_usage, "serverAuth,clientAuth"},
};
static X509_EXTENSION *cert_const_ext[CC_N];
static EVP_MD *cert_sha256, *cert_sha1;
static pthread_once_t cert_once = PTHREAD_ONCE_INIT;

static void cert_const_init(void)
{
	for (int i = 0; i < CC_N; i++)
		cert_const_ext[i] = X509V3_EXT_conf_nid(NULL, NULL, cert_const_conf[i].nid,
		                                        cert_const_conf[i].value);
	cert_sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
	cert_sha1 = EVP_MD_fetch(NULL, "SHA1", NULL);
}

static bool add_const(X509 *x, enum cert_const which)
{
	pthread_once(&cert_once, cert_const_init);
	return cert_const_ext[which] != NULL && X509_add_ext(x, cert_const_ext[which], -1);
}

/* subjectKeyIdentifier as "hash" (SHA-1 of the key bits, RFC 5280 4.2.1.2
 * method 1) and authorityKeyIdentifier as "keyid" (the issuer's own),
 * without the config parser. An issuer without a key identifier takes
 * the parser's path, which derives one. */
static bool add_key_ids(X509 *x, X509 *ca)
{
	const ASN1_OCTET_STRING *ca_ski = X509_get0_subject_key_id(ca);
	ASN1_OCTET_STRING *ski = ASN1_OCTET_STRING_new();
	AUTHORITY_KEYID *akid = AUTHORITY_KEYID_new();
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int len = 0;
	bool ok;

	pthread_once(&cert_once, cert_const_init);
	ok = ca_ski != NULL && ski != NULL && akid != NULL && cert_sha1 != NULL &&
	     X509_pubkey_digest(x, cert_sha1, md, &len) &&
	     ASN1_OCTET_STRING_set(ski, md, (int)len) &&
	     (akid->keyid = ASN1_OCTET_STRING_dup(ca_ski)) != NULL &&
	     X509_add1_ext_i2d(x, NID_subject_key_identifier, ski, 0, X509V3_ADD_DEFAULT) == 1 &&
	     X509_add1_ext_i2d(x, NID_authority_key_identifier, akid, 0, X509V3_ADD_DEFAULT) == 1;
	ASN1_OCTET_STRING_free(ski);
	AUTHORITY_KEYID_free(akid);
	if (ca_ski == NULL)
		return add_conf(x, ca, NID_subject_key_identifier, "hash") &&
		       add_conf(x, ca, NID_authority_key_identifier, "keyid");
	return ok;
}

static bool add_conf(X509 *x, X509 *ca, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ext;
	bool ok;

	X509V3_set_ctx(&ctx, ca, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	ok = ext != NULL && X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	return ok;
}

/* subjectAltName from DNS names and one URI, built without string parsing. */
static bool add_san(X509 *x, const char *const *dns, size_t n, const char *uri)
{
	GENERAL_NAMES *gens = GENERAL_NAMES_new();
	bool ok = gens != NULL;

	for (size_t i = 0; ok && i <= n; i++) {
		const char *v = i < n ? dns[i] : uri;
		GENERAL_NAME *g = GENERAL_NAME_new();
		ASN1_IA5STRING *s = ASN1_IA5STRING_new();
		ok = g != NULL && s != NULL && ASN1_STRING_set(s, v, -1);
		if (ok) {
			GENERAL_NAME_set0_value(g, i < n ? GEN_DNS : GEN_URI, s);
			s = NULL;
			ok = sk_GENERAL_NAME_push(gens, g) > 0;
			g = ok ? NULL : g;
		}
		ASN1_IA5STRING_free(s);
		GENERAL_NAME_free(g);
	}
	ok = ok && X509_add1_ext_i2d(x, NID_subject_alt_name, gens, 0, X509V3_ADD_DEFAULT) == 1;
	GENERAL_NAMES_free(gens);
	return ok;
}

static ccm_code cert_sign(X509 *x, EVP_PKEY *ca_key, X509 **out, struct ccm_error *err)
{
	pthread_once(&cert_once, cert_const_init);
	if (cert_sha256 == NULL || X509_sign(x, ca_key, cert_sha256) <= 0) {
		X509_free(x);
		return ccm_fail(err, CCM_E_CRYPTO, "certificate: signing with the CA key failed");
	}
	*out = x;
	return CCM_OK;
}

ccm_code ccm_cert_issue_node(X509 *ca, EVP_PKEY *ca_key, X509_REQ *csr,
                             const struct ccm_cert_node *p, X509 **out, struct ccm_error *err)
{
	char cn[64], org[64], uri[128];
	X509 *x = NULL;
	ccm_code rc = cert_base(ca, csr, p->now, p->days, &x, err);

	if (rc != CCM_OK)
		return rc;
	snprintf(cn, sizeof(cn), "node-%lld", (long long)p->node_id);
	snprintf(org, sizeof(org), "ccm account %lld", (long long)p->account_id);
	ccm_cert_uri_node(p->account_id, p->node_id, uri, sizeof(uri));
	X509_NAME *subj = X509_get_subject_name(x);
	if (!X509_NAME_add_entry_by_txt(subj, "CN", MBSTRING_UTF8, (unsigned char *)cn, -1, -1,
	                                0) ||
	    !X509_NAME_add_entry_by_txt(subj, "O", MBSTRING_UTF8, (unsigned char *)org, -1, -1,
	                                0) ||
	    !add_const(x, CC_LEAF) || !add_const(x, CC_KU_SIG) || !add_const(x, CC_EKU_CLIENT) ||
	    !add_key_ids(x, ca) || !add_san(x, NULL, 0, uri)) {
		X509_free(x);
		return ccm_fail(err, CCM_E_CRYPTO, "node certificate: cannot add its fields");
	}
	return cert_sign(x, ca_key, out, err);
}

/* DER of an extension value built with an ASN.1 template, added to x. */
static bool add_der_ext(X509 *x, const char *oid, const uint8_t *der, int len)
{
	ASN1_OBJECT *obj = OBJ_txt2obj(oid, 1);
	ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();
	X509_EXTENSION *ext = NULL;
	bool ok = obj != NULL && os != NULL && len > 0 && ASN1_OCTET_STRING_set(os, der, len) &&
	          (ext = X509_EXTENSION_create_by_OBJ(NULL, obj, 0, os)) != NULL &&
	          X509_add_ext(x, ext, -1);

	X509_EXTENSION_free(ext);
	ASN1_OCTET_STRING_free(os);
	ASN1_OBJECT_free(obj);
	return ok;
}

/* DER of the exact ccm EnclaveIdentity, carried in TcbInfo's vendorInfo. */
static int identity_der(const struct ccm_cert_identity *id, unsigned char **der)
{
	CCM_ENCLAVE_ID *e = CCM_ENCLAVE_ID_new();
	int len = -1;

	if (e != NULL && ASN1_OCTET_STRING_set(e->mrenclave, id->mrenclave, 32) &&
	    ASN1_OCTET_STRING_set(e->mrsigner, id->mrsigner, 32) &&
	    ASN1_INTEGER_set(e->isvprodid, id->isvprodid) &&
	    ASN1_INTEGER_set(e->isvsvn, id->isvsvn)) {
		e->debug = id->debug ? 0xff : 0;
		e->simulated = id->simulated ? 0xff : 0;
		len = i2d_CCM_ENCLAVE_ID(e, der);
	}
	CCM_ENCLAVE_ID_free(e);
	return len;
}

static bool tcb_fwid(CCM_TCB_INFO *t, const uint8_t digest[32])
{
	CCM_FWID *f = CCM_FWID_new();

	if (f == NULL)
		return false;
	ASN1_OBJECT_free(f->hash_alg);
	f->hash_alg = OBJ_nid2obj(NID_sha256);
	if (!ASN1_OCTET_STRING_set(f->digest, digest, 32) || sk_CCM_FWID_push(t->fwids, f) <= 0) {
		CCM_FWID_free(f);
		return false;
	}
	return true;
}

/* The standard fields say what a generic DICE verifier can check: the two
 * measurements as FWIDs, ISVSVN as svn, debug, and "not secure" whenever
 * the evidence is simulated or the enclave is debuggable. */
static bool tcb_fill(CCM_TCB_INFO *t, const struct ccm_cert_identity *id)
{
	static const char model[] = "Intel SGX enclave";
	unsigned char *der = NULL;
	int len;
	bool ok;

	t->model = ASN1_UTF8STRING_new();
	t->svn = ASN1_INTEGER_new();
	t->fwids = sk_CCM_FWID_new_null();
	t->flags = ASN1_BIT_STRING_new();
	t->vendor_info = ASN1_OCTET_STRING_new();
	ok = t->model && t->svn && t->fwids && t->flags && t->vendor_info &&
	     ASN1_STRING_set(t->model, model, (int)sizeof(model) - 1) &&
	     ASN1_INTEGER_set(t->svn, id->isvsvn) && tcb_fwid(t, id->mrenclave) &&
	     tcb_fwid(t, id->mrsigner) &&
	     (!id->debug || ASN1_BIT_STRING_set_bit(t->flags, CCM_TCB_FLAG_DEBUG, 1)) &&
	     (!(id->debug || id->simulated) ||
	      ASN1_BIT_STRING_set_bit(t->flags, CCM_TCB_FLAG_NOT_SECURE, 1));
	len = ok ? identity_der(id, &der) : -1;
	ok = ok && len > 0 && ASN1_OCTET_STRING_set(t->vendor_info, der, len);
	OPENSSL_free(der);
	return ok;
}

static bool add_identity(X509 *x, const struct ccm_cert_identity *id)
{
	CCM_TCB_INFO *t = CCM_TCB_INFO_new();
	unsigned char *der = NULL;
	int len = -1;
	bool ok = t != NULL && tcb_fill(t, id);

	if (ok)
		len = i2d_CCM_TCB_INFO(t, &der);
	ok = ok && add_der_ext(x, CCM_OID_TCG_DICE_TCB_INFO, der, len);
	OPENSSL_free(der);
	CCM_TCB_INFO_free(t);
	return ok;
}

static bool add_evidence(X509 *x, int64_t tag, const uint8_t *content, size_t len)
{
	CCM_EVIDENCE_LIST *list = sk_CCM_EVIDENCE_new_null();
	CCM_EVIDENCE *e = CCM_EVIDENCE_new();
	unsigned char *der = NULL;
	int dlen = -1;
	bool ok = list != NULL && e != NULL && len <= INT32_MAX &&
	          ASN1_INTEGER_set_int64(e->tag, tag) &&
	          ASN1_OCTET_STRING_set(e->content, content, (int)len) &&
	          sk_CCM_EVIDENCE_push(list, e) > 0;

	if (ok)
		e = NULL;
	if (ok)
		dlen = i2d_CCM_EVIDENCE_LIST(list, &der);
	ok = ok && add_der_ext(x, CCM_OID_TCG_DICE_TAGGED_EVIDENCE, der, dlen);
	OPENSSL_free(der);
	CCM_EVIDENCE_free(e);
	sk_CCM_EVIDENCE_pop_free(list, CCM_EVIDENCE_free);
	return ok;
}

static ccm_code app_subject(X509 *x, const struct ccm_cert_app *p, struct ccm_error *err)
{
	X509_NAME *name = NULL;
	ccm_code rc;

	if (p->subject != NULL && p->subject[0] != '\0') {
		if ((rc = ccm_subject_parse(p->subject, &name, err)) != CCM_OK)
			return rc;
	} else {
		name = X509_NAME_new();
		if (name == NULL ||
		    !X509_NAME_add_entry_by_txt(
		            name, "CN", MBSTRING_UTF8,
		            (const unsigned char *)(p->n_dns_names ? p->dns_names[0] : "enclave"),
		            -1, -1, 0)) {
			X509_NAME_free(name);
			return ccm_fail(err, CCM_E_CRYPTO,
			                "app certificate: cannot build the subject");
		}
	}
	rc = X509_set_subject_name(x, name) ? CCM_OK
	                                    : ccm_fail(err, CCM_E_CRYPTO, "cannot set the subject");
	X509_NAME_free(name);
	return rc;
}

ccm_code ccm_cert_issue_app(X509 *ca, EVP_PKEY *ca_key, X509_REQ *csr, const struct ccm_cert_app *p,
                            X509 **out, struct ccm_error *err)
{
	char uri[160];
	X509 *x = NULL;
	ccm_code rc;
	ASN1_OBJECT *alg = NULL;
	/* From the key's algorithm, not its parsed form: a request from
	 * ccm_csr_parse_key holds no parsed key. */
	bool rsa = X509_PUBKEY_get0_param(&alg, NULL, NULL, NULL, X509_REQ_get_X509_PUBKEY(csr)) &&
	           OBJ_obj2nid(alg) == NID_rsaEncryption;

	for (size_t i = 0; i < p->n_dns_names; i++)
		if ((rc = ccm_dns_name_validate(p->dns_names[i], true, err)) != CCM_OK)
			return rc;
	if ((rc = cert_base(ca, csr, p->now, p->days, &x, err)) != CCM_OK)
		return rc;
	if ((rc = app_subject(x, p, err)) != CCM_OK) {
		X509_free(x);
		return rc;
	}
	ccm_cert_uri_app(p->account_id, p->app_id, p->build_id, uri, sizeof(uri));
	if (!add_const(x, CC_LEAF) || !add_const(x, rsa ? CC_KU_SIG_ENC : CC_KU_SIG) ||
	    !add_const(x, CC_EKU_BOTH) || !add_key_ids(x, ca) ||
	    !add_san(x, p->dns_names, p->n_dns_names, uri) || !add_identity(x, &p->identity) ||
	    (p->evidence_len > 0 && !add_evidence(x,
	                                          p->identity.simulated ? CCM_EVIDENCE_TAG_SIMULATED
	                                                                : CCM_EVIDENCE_TAG_SGX_DCAP,
	                                          p->evidence, p->evidence_len))) {
		X509_free(x);
		return ccm_fail(err, CCM_E_CRYPTO, "app certificate: cannot add its extensions");
	}
	return cert_sign(x, ca_key, out, err);
}

static const ASN1_OCTET_STRING *ext_data(X509 *cert, const char *oid)
{
	ASN1_OBJECT *obj = OBJ_txt2obj(oid, 1);
	int idx = obj ? X509_get_ext_by_OBJ(cert, obj, -1) : -1;

	ASN1_OBJECT_free(obj);
	return idx < 0 ? NULL : X509_EXTENSION_get_data(X509_get_ext(cert, idx));
}

/* vendorInfo -> the exact identity; the whole DER must be consumed. */
static bool identity_parse(const ASN1_OCTET_STRING *vi, struct ccm_cert_identity *out)
{
	const unsigned char *p = ASN1_STRING_get0_data(vi);
	const unsigned char *end = p + ASN1_STRING_length(vi);
	CCM_ENCLAVE_ID *e = d2i_CCM_ENCLAVE_ID(NULL, &p, ASN1_STRING_length(vi));
	int64_t prod = -1, svn = -1;
	bool ok = e != NULL && p == end && ASN1_STRING_length(e->mrenclave) == 32 &&
	          ASN1_STRING_length(e->mrsigner) == 32 &&
	          ASN1_INTEGER_get_int64(&prod, e->isvprodid) &&
	          ASN1_INTEGER_get_int64(&svn, e->isvsvn) && prod >= 0 && prod <= 65535 &&
	          svn >= 0 && svn <= 65535;

	if (ok) {
		memcpy(out->mrenclave, ASN1_STRING_get0_data(e->mrenclave), 32);
		memcpy(out->mrsigner, ASN1_STRING_get0_data(e->mrsigner), 32);
		out->isvprodid = (uint16_t)prod;
		out->isvsvn = (uint16_t)svn;
		out->debug = e->debug != 0;
		out->simulated = e->simulated != 0;
	}
	CCM_ENCLAVE_ID_free(e);
	return ok;
}

static bool fwid_is(const CCM_FWID *f, const uint8_t digest[32])
{
	return f != NULL && OBJ_obj2nid(f->hash_alg) == NID_sha256 &&
	       ASN1_STRING_length(f->digest) == 32 &&
	       memcmp(ASN1_STRING_get0_data(f->digest), digest, 32) == 0;
}

/* The standard fields must say what vendorInfo says: a verifier reading
 * either must reach the same identity. */
static bool tcb_consistent(const CCM_TCB_INFO *t, const struct ccm_cert_identity *id)
{
	int64_t svn = -1;
	bool insecure = id->debug || id->simulated;

	return t->svn != NULL && ASN1_INTEGER_get_int64(&svn, t->svn) && svn == id->isvsvn &&
	       sk_CCM_FWID_num(t->fwids) == 2 &&
	       fwid_is(sk_CCM_FWID_value(t->fwids, 0), id->mrenclave) &&
	       fwid_is(sk_CCM_FWID_value(t->fwids, 1), id->mrsigner) && t->flags != NULL &&
	       ASN1_BIT_STRING_get_bit(t->flags, CCM_TCB_FLAG_DEBUG) == (int)id->debug &&
	       ASN1_BIT_STRING_get_bit(t->flags, CCM_TCB_FLAG_NOT_SECURE) == (int)insecure;
}

ccm_code ccm_cert_identity_get(X509 *cert, struct ccm_cert_identity *out, struct ccm_error *err)
{
	const ASN1_OCTET_STRING *d = ext_data(cert, CCM_OID_TCG_DICE_TCB_INFO);
	const unsigned char *p, *end;
	CCM_TCB_INFO *t;
	bool ok;

	if (d == NULL)
		return ccm_fail(err, CCM_E_NOTFOUND, "certificate has no DICE TcbInfo extension");
	p = ASN1_STRING_get0_data(d);
	end = p + ASN1_STRING_length(d);
	t = d2i_CCM_TCB_INFO(NULL, &p, ASN1_STRING_length(d));
	ok = t != NULL && p == end && t->vendor_info != NULL &&
	     identity_parse(t->vendor_info, out) && tcb_consistent(t, out);
	CCM_TCB_INFO_free(t);
	if (!ok)
		return ccm_fail(err, CCM_E_INPUT,
		                "DICE TcbInfo extension: malformed or its fields disagree");
	return CCM_OK;
}

ccm_code ccm_cert_evidence_get(X509 *cert, int64_t *tag, uint8_t **content, size_t *len,
                               struct ccm_error *err)
{
	const ASN1_OCTET_STRING *d = ext_data(cert, CCM_OID_TCG_DICE_TAGGED_EVIDENCE);
	const unsigned char *p;
	CCM_EVIDENCE_LIST *list;
	CCM_EVIDENCE *e;
	ccm_code rc = CCM_OK;

	if (d == NULL)
		return ccm_fail(err, CCM_E_NOTFOUND,
		                "certificate has no tagged evidence extension");
	p = ASN1_STRING_get0_data(d);
	list = d2i_CCM_EVIDENCE_LIST(NULL, &p, ASN1_STRING_length(d));
	e = list ? sk_CCM_EVIDENCE_value(list, 0) : NULL;
	if (e == NULL || !ASN1_INTEGER_get_int64(tag, e->tag)) {
		rc = ccm_fail(err, CCM_E_INPUT, "tagged evidence extension: malformed");
	} else {
		*len = (size_t)ASN1_STRING_length(e->content);
		*content = OPENSSL_memdup(ASN1_STRING_get0_data(e->content), *len ? *len : 1);
		if (*content == NULL)
			rc = ccm_fail(err, CCM_E_NOMEM, "out of memory");
	}
	sk_CCM_EVIDENCE_pop_free(list, CCM_EVIDENCE_free);
	return rc;
}

ccm_code ccm_cert_serial_hex(X509 *cert, char *out, size_t n, struct ccm_error *err)
{
	BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), NULL);
	char *hex = bn ? BN_bn2hex(bn) : NULL;
	ccm_code rc = CCM_OK;

	if (hex == NULL || strlen(hex) + 1 > n) {
		rc = ccm_fail(err, CCM_E_CRYPTO, "certificate serial: cannot format");
	} else {
		for (char *c = hex; *c; c++)
			*c = (char)(*c >= 'A' && *c <= 'F' ? *c - 'A' + 'a' : *c);
		snprintf(out, n, "%s", hex);
	}
	OPENSSL_free(hex);
	BN_free(bn);
	return rc;
}

static bool crl_add(X509_CRL *crl, const struct ccm_crl_entry *e)
{
	X509_REVOKED *r = X509_REVOKED_new();
	BIGNUM *bn = NULL;
	ASN1_INTEGER *serial = NULL;
	ASN1_TIME *t = ASN1_TIME_new();
	bool ok = r != NULL && t != NULL && BN_hex2bn(&bn, e->serial_hex) > 0 &&
	          (serial = BN_to_ASN1_INTEGER(bn, NULL)) != NULL &&
	          X509_REVOKED_set_serialNumber(r, serial) &&
	          ASN1_TIME_set(t, (time_t)e->revoked_at) != NULL &&
	          X509_REVOKED_set_revocationDate(r, t) && X509_CRL_add0_revoked(crl, r);

	if (ok)
		r = NULL;
	X509_REVOKED_free(r);
	ASN1_INTEGER_free(serial);
	ASN1_TIME_free(t);
	BN_free(bn);
	return ok;
}

ccm_code ccm_crl_build(X509 *ca, EVP_PKEY *ca_key, const struct ccm_crl_entry *e, size_t n,
                       int64_t now, int days, X509_CRL **out, struct ccm_error *err)
{
	X509_CRL *crl = X509_CRL_new();
	ASN1_TIME *last = ASN1_TIME_new(), *next = ASN1_TIME_new();
	time_t t = now ? (time_t)now : time(NULL);
	bool ok = crl != NULL && last != NULL && next != NULL && X509_CRL_set_version(crl, 1) &&
	          X509_CRL_set_issuer_name(crl, X509_get_subject_name(ca)) &&
	          X509_time_adj_ex(last, 0, 0, &t) != NULL &&
	          X509_time_adj_ex(next, days, 0, &t) != NULL &&
	          X509_CRL_set1_lastUpdate(crl, last) && X509_CRL_set1_nextUpdate(crl, next);

	for (size_t i = 0; ok && i < n; i++)
		ok = crl_add(crl, &e[i]);
	ok = ok && X509_CRL_sort(crl) && X509_CRL_sign(crl, ca_key, EVP_sha256()) > 0;
	ASN1_TIME_free(last);
	ASN1_TIME_free(next);
	if (!ok) {
		X509_CRL_free(crl);
		return ccm_fail(err, CCM_E_CRYPTO, "CRL: cannot build or sign");
	}
	*out = crl;
	return CCM_OK;
}
