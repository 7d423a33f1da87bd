/*
 * DESIGN: a collateral set is parsed and every signature inside it is
 * checked exactly once, at load: the issuer chains against the trust
 * anchor (the pinned Intel key, or root_ca.pem for test roots), both CRLs
 * against their issuers, the TCB info and QE identity signatures over
 * their exact signed text. A bad signature does not make the load fail:
 * it is recorded with its step name, and every verification against the
 * set reports it at the place Intel's order puts it (so the CLI can still
 * print the quote's identity beside "failure": "tcb info signature").
 * Unparsable input does fail the load (there is nothing to report
 * against), except TCB info / QE identity content under a bad signature:
 * the signature is checked first and its failure is what gets reported.
 * Validity windows are kept as numbers per piece; qvl.c compares them
 * with T. The set is immutable after load and reference counted, so
 * threads share it without locks.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/x509.h>

#include "internal.h"
#include "util/util.h"

#define CHECK(c, s) ((c)->step = (s), &(c)->err)

static ccm_code collateral_window_certs(X509 **x, int n, int64_t *nb, int64_t *na)
{
	*nb = INT64_MIN;
	*na = INT64_MAX;
	for (int i = 0; i < n; i++) {
		int64_t b, a;
		if (x[i] == NULL)
			continue;
		if (dcap_asn1_time(X509_get0_notBefore(x[i]), &b) != CCM_OK ||
		    dcap_asn1_time(X509_get0_notAfter(x[i]), &a) != CCM_OK)
			return CCM_E_INPUT;
		*nb = b > *nb ? b : *nb;
		*na = a < *na ? a : *na;
	}
	return CCM_OK;
}

static ccm_code collateral_window_crl(X509_CRL *crl, int64_t *nb, int64_t *na, const char *what,
                                      struct ccm_error *err)
{
	if (dcap_asn1_time(X509_CRL_get0_lastUpdate(crl), nb) != CCM_OK ||
	    dcap_asn1_time(X509_CRL_get0_nextUpdate(crl), na) != CCM_OK)
		return ccm_fail(err, CCM_E_INPUT, "%s: missing or bad thisUpdate/nextUpdate", what);
	return CCM_OK;
}

/* A 2-certificate issuer chain (signer, root) checked against the anchor. */
static ccm_code collateral_issuer_chain(const struct ccm_quote_collateral *c, const uint8_t *buf,
                                        size_t len, const char *what, const char *cn, X509 **signer,
                                        X509 **root, struct coll_check *chk, const char *step,
                                        struct ccm_error *err)
{
	STACK_OF(X509) *sk = NULL;
	X509 *o[2];
	uint8_t h[32];
	ccm_code rc = dcap_load_certs(buf, len, &sk, what, err);

	if (rc != CCM_OK)
		return rc;
	chk->code = dcap_order_chain(sk, o, 2, what, CHECK(chk, step));
	if (chk->code != CCM_OK)
		goto out;
	X509_up_ref(o[0]);
	X509_up_ref(o[1]);
	*root = o[0];
	*signer = o[1];
	if (dcap_key_hash(X509_get0_pubkey(o[0]), h) != CCM_OK ||
	    memcmp(h, c->anchor_hash, 32) != 0)
		chk->code =
		        ccm_fail(&chk->err, CCM_E_VERIFY, "%s: the root is not the trust anchor%s",
		                 what, c->test_root ? " (root_ca.pem)" : " (Intel SGX Root CA)");
	else if (X509_verify(o[0], X509_get0_pubkey(o[0])) != 1 ||
	         X509_verify(o[1], X509_get0_pubkey(o[0])) != 1)
		chk->code =
		        ccm_fail(&chk->err, CCM_E_VERIFY, "%s: a signature does not verify", what);
	else if (!dcap_cn_contains(X509_get_subject_name(o[1]), cn))
		chk->code = ccm_fail(&chk->err, CCM_E_VERIFY, "%s: the signer's CN lacks \"%s\"",
		                     what, cn);
out:
	sk_X509_pop_free(sk, X509_free);
	ERR_clear_error();
	return CCM_OK;
}

static EVP_PKEY *collateral_anchor_key(const struct ccm_quote_collateral *c, X509 *anchor)
{
	return c->test_root ? X509_get0_pubkey(anchor) : dcap_intel_root_key();
}

static ccm_code collateral_anchor(struct ccm_quote_collateral *c,
                                  const struct ccm_quote_collateral_files *f, X509 **anchor,
                                  struct ccm_error *err)
{
	STACK_OF(X509) *sk = NULL;
	ccm_code rc;

	*anchor = NULL;
	if (f->root_ca == NULL) {
		memcpy(c->anchor_hash, dcap_intel_root_hash(), 32);
		return CCM_OK;
	}
	rc = dcap_load_certs(f->root_ca, f->root_ca_len, &sk, "root_ca", err);
	if (rc != CCM_OK)
		return rc;
	if (sk_X509_num(sk) != 1) {
		sk_X509_pop_free(sk, X509_free);
		return ccm_fail(err, CCM_E_INPUT, "root_ca: expected exactly one certificate");
	}
	*anchor = sk_X509_shift(sk);
	sk_X509_free(sk);
	c->test_root = true;
	if (dcap_key_hash(X509_get0_pubkey(*anchor), c->anchor_hash) != CCM_OK)
		return ccm_fail(err, CCM_E_INPUT, "root_ca: unusable public key");
	return CCM_OK;
}

/* CRL signed by key and issued by the subject of issuer. */
static void collateral_crl_check(X509_CRL *crl, EVP_PKEY *key, X509 *issuer, const char *what,
                                 struct coll_check *chk, const char *step)
{
	chk->step = step;
	if (issuer == NULL || key == NULL)
		chk->code = ccm_fail(&chk->err, CCM_E_VERIFY, "%s: no usable issuer", what);
	else if (X509_CRL_verify(crl, key) != 1)
		chk->code =
		        ccm_fail(&chk->err, CCM_E_VERIFY, "%s: signature does not verify", what);
	else if (X509_NAME_cmp(X509_CRL_get_issuer(crl), X509_get_subject_name(issuer)) != 0)
		chk->code = ccm_fail(&chk->err, CCM_E_VERIFY, "%s: issuer name is not its signer's",
		                     what);
	ERR_clear_error();
}

static ccm_code collateral_crls(struct ccm_quote_collateral *c,
                                const struct ccm_quote_collateral_files *f, X509 *anchor,
                                struct ccm_error *err)
{
	ccm_code rc;

	if ((rc = collateral_issuer_chain(c, f->pck_crl_issuer_chain, f->pck_crl_issuer_chain_len,
	                                  "pck_crl_issuer_chain", "CA", &c->pck_ca, &c->pck_ca_root,
	                                  &c->pck_crl_check, "pck crl", err)) != CCM_OK ||
	    (rc = dcap_load_crl(f->root_ca_crl, f->root_ca_crl_len, &c->root_crl, "root_ca_crl",
	                        err)) != CCM_OK ||
	    (rc = dcap_load_crl(f->pck_crl, f->pck_crl_len, &c->pck_crl, "pck_crl", err)) != CCM_OK)
		return rc;
	collateral_crl_check(c->root_crl, collateral_anchor_key(c, anchor),
	                     anchor ? anchor : c->pck_ca_root, "root_ca_crl", &c->root_crl_check,
	                     "root ca crl");
	if (c->pck_crl_check.code == CCM_OK)
		collateral_crl_check(c->pck_crl, X509_get0_pubkey(c->pck_ca), c->pck_ca, "pck_crl",
		                     &c->pck_crl_check, "pck crl");
	if (c->pck_ca != NULL &&
	    dcap_key_hash(X509_get0_pubkey(c->pck_ca), c->pck_ca_hash) != CCM_OK)
		return ccm_fail(err, CCM_E_INPUT, "pck_crl_issuer_chain: unusable public key");
	return CCM_OK;
}

static void collateral_revoked(const struct ccm_quote_collateral *c, X509 *signer, const char *what,
                               struct coll_check *chk)
{
	X509_REVOKED *rev = NULL;

	if (chk->code == CCM_OK && c->root_crl_check.code == CCM_OK &&
	    X509_CRL_get0_by_serial(c->root_crl, &rev, X509_get0_serialNumber(signer)) == 1)
		chk->code =
		        ccm_fail(&chk->err, CCM_E_VERIFY,
		                 "%s: the signing certificate is revoked by the root CA CRL", what);
}

static void collateral_sig(X509 *signer, const char *raw, size_t rawlen, const uint8_t sig[64],
                           const char *what, struct coll_check *chk, const char *step)
{
	bool ok = false;

	chk->step = step;
	if (signer == NULL)
		chk->code = ccm_fail(&chk->err, CCM_E_VERIFY, "%s: no signing certificate", what);
	else if ((chk->code = dcap_verify_raw(X509_get0_pubkey(signer), (const uint8_t *)raw,
	                                      rawlen, sig, &ok, &chk->err)) == CCM_OK &&
	         !ok)
		chk->code =
		        ccm_fail(&chk->err, CCM_E_VERIFY,
		                 "%s: the signature does not verify over the signed text", what);
}

/* TCB info (tcb) or QE identity: the signature over the signed text is
 * checked before the content is read. Content that does not parse fails
 * the load only when its signature held; otherwise the signature failure
 * is what verification reports, as Intel's order puts it first. */
static ccm_code collateral_piece(struct ccm_quote_collateral *c, bool tcb, const uint8_t *buf,
                                 size_t len, struct ccm_error *err)
{
	const char *what = tcb ? "tcb_info" : "qe_identity", *raw;
	struct coll_check *chk = tcb ? &c->tcb_sig : &c->qe_sig;
	size_t rawlen;
	uint8_t sig[64];
	ccm_code rc = tcbinfo_signed(buf, len, tcb ? "tcbInfo" : "enclaveIdentity", &raw, &rawlen,
	                             sig, err);

	if (rc != CCM_OK) {
		ccm_error_prefix(err, "%s", what);
		return rc;
	}
	collateral_sig(tcb ? c->tcb_signer : c->qe_signer, raw, rawlen, sig, what, chk,
	               tcb ? "tcb info signature" : "qe identity signature");
	if (tcb)
		rc = tcbinfo_parse(buf, len, &c->tcb, &raw, &rawlen, sig, err);
	else
		rc = tcbinfo_parse_qeid(buf, len, &c->qe, &raw, &rawlen, sig, err);
	if (rc != CCM_OK && chk->code != CCM_OK) {
		*(tcb ? &c->tcb_unusable : &c->qe_unusable) = true;
		return CCM_OK;
	}
	return rc;
}

static ccm_code collateral_json(struct ccm_quote_collateral *c,
                                const struct ccm_quote_collateral_files *f, struct ccm_error *err)
{
	ccm_code rc;

	if ((rc = collateral_issuer_chain(c, f->tcb_info_issuer_chain, f->tcb_info_issuer_chain_len,
	                                  "tcb_info_issuer_chain", "SGX TCB Signing",
	                                  &c->tcb_signer, &c->tcb_root, &c->tcb_check,
	                                  "tcb info chain", err)) != CCM_OK)
		return rc;
	collateral_revoked(c, c->tcb_signer, "tcb_info_issuer_chain", &c->tcb_check);
	if ((rc = collateral_piece(c, true, f->tcb_info, f->tcb_info_len, err)) != CCM_OK ||
	    (rc = collateral_issuer_chain(
	             c, f->qe_identity_issuer_chain, f->qe_identity_issuer_chain_len,
	             "qe_identity_issuer_chain", "SGX TCB Signing", &c->qe_signer, &c->qe_root,
	             &c->qe_check, "qe identity chain", err)) != CCM_OK)
		return rc;
	collateral_revoked(c, c->qe_signer, "qe_identity_issuer_chain", &c->qe_check);
	return collateral_piece(c, false, f->qe_identity, f->qe_identity_len, err);
}

static ccm_code collateral_windows(struct ccm_quote_collateral *c, struct ccm_error *err)
{
	X509 *pck[2] = {c->pck_ca, c->pck_ca_root}, *tcb[2] = {c->tcb_signer, c->tcb_root};
	X509 *qe[2] = {c->qe_signer, c->qe_root};
	ccm_code rc;

	if (collateral_window_certs(pck, 2, &c->nb[1], &c->na[1]) != CCM_OK ||
	    collateral_window_certs(tcb, 2, &c->nb[4], &c->na[4]) != CCM_OK ||
	    collateral_window_certs(qe, 2, &c->nb[6], &c->na[6]) != CCM_OK)
		return ccm_fail(err, CCM_E_INPUT,
		                "collateral: a certificate has a bad validity time");
	if ((rc = collateral_window_crl(c->root_crl, &c->nb[2], &c->na[2], "root_ca_crl", err)) !=
	            CCM_OK ||
	    (rc = collateral_window_crl(c->pck_crl, &c->nb[3], &c->na[3], "pck_crl", err)) !=
	            CCM_OK)
		return rc;
	c->nb[5] = c->tcb_unusable ? INT64_MIN : c->tcb.issue_date;
	c->na[5] = c->tcb_unusable ? INT64_MAX : c->tcb.next_update;
	c->nb[7] = c->qe_unusable ? INT64_MIN : c->qe.issue_date;
	c->na[7] = c->qe_unusable ? INT64_MAX : c->qe.next_update;
	c->nb[0] = INT64_MIN;
	c->na[0] = INT64_MAX;
	return CCM_OK;
}

/* pck_cert.pem (cert types 1-4): the leaf plus the PCK CRL issuer chain. */
static ccm_code collateral_own_chain(struct ccm_quote_collateral *c,
                                     const struct ccm_quote_collateral_files *f,
                                     struct ccm_error *err)
{
	STACK_OF(X509) *sk = NULL;
	ccm_code rc;

	if (f->pck_cert == NULL)
		return CCM_OK;
	rc = dcap_load_certs(f->pck_cert, f->pck_cert_len, &sk, "pck_cert", err);
	if (rc != CCM_OK)
		return rc;
	if (c->pck_ca != NULL && c->pck_ca_root != NULL && sk_X509_num(sk) == 1) {
		X509_up_ref(c->pck_ca);
		X509_up_ref(c->pck_ca_root);
		sk_X509_push(sk, c->pck_ca);
		sk_X509_push(sk, c->pck_ca_root);
	}
	rc = pckchain_new(sk, &c->own_chain, err);
	sk_X509_pop_free(sk, X509_free);
	return rc;
}

ccm_code ccm_quote_collateral_new(const struct ccm_quote_collateral_files *f,
                                  struct ccm_quote_collateral **out, struct ccm_error *err)
{
	struct ccm_quote_collateral *c = calloc(1, sizeof(*c));
	X509 *anchor = NULL;
	ccm_code rc;

	*out = NULL;
	if (c == NULL)
		return ccm_fail(err, CCM_E_NOMEM, "collateral: out of memory");
	atomic_init(&c->refs, 1);
	if ((rc = collateral_anchor(c, f, &anchor, err)) != CCM_OK ||
	    (rc = collateral_crls(c, f, anchor, err)) != CCM_OK ||
	    (rc = collateral_json(c, f, err)) != CCM_OK ||
	    (rc = collateral_windows(c, err)) != CCM_OK ||
	    (rc = collateral_own_chain(c, f, err)) != CCM_OK)
		goto fail;
	X509_free(anchor);
	*out = c;
	return CCM_OK;
fail:
	X509_free(anchor);
	ERR_clear_error();
	ccm_quote_collateral_free(c);
	return rc;
}

static const char *const collateral_names[] = {
        "pck_crl_issuer_chain.pem",  "pck_crl.der",   "root_ca_crl.der",
        "tcb_info_issuer_chain.pem", "tcb_info.json", "qe_identity_issuer_chain.pem",
        "qe_identity.json",          "root_ca.pem",   "pck_cert.pem",
};
#define COLL_NFILES 9
#define COLL_NREQUIRED 7

static ccm_code collateral_read(const char *dir, uint8_t **bufs, size_t *lens,
                                struct ccm_error *err)
{
	char path[4096];

	for (int i = 0; i < COLL_NFILES; i++) {
		int n = snprintf(path, sizeof(path), "%s/%s", dir, collateral_names[i]);
		if (n < 0 || (size_t)n >= sizeof(path))
			return ccm_fail(err, CCM_E_RANGE, "collateral: directory path too long");
		if (i >= COLL_NREQUIRED && access(path, F_OK) != 0)
			continue;
		ccm_code rc =
		        util_read_file(path, CCM_QUOTE_COLLATERAL_MAX, &bufs[i], &lens[i], err);
		if (rc != CCM_OK)
			return rc;
	}
	return CCM_OK;
}

ccm_code ccm_quote_collateral_load(const char *dir, struct ccm_quote_collateral **out,
                                   struct ccm_error *err)
{
	uint8_t *b[COLL_NFILES] = {0};
	size_t l[COLL_NFILES] = {0};
	struct ccm_quote_collateral_files f;
	ccm_code rc = collateral_read(dir, b, l, err);

	*out = NULL;
	if (rc == CCM_OK) {
		f = (struct ccm_quote_collateral_files){b[0], l[0], b[1], l[1], b[2], l[2],
		                                        b[3], l[3], b[4], l[4], b[5], l[5],
		                                        b[6], l[6], b[7], l[7], b[8], l[8]};
		rc = ccm_quote_collateral_new(&f, out, err);
	}
	for (int i = 0; i < COLL_NFILES; i++)
		free(b[i]);
	if (rc != CCM_OK)
		ccm_error_prefix(err, "%s", dir);
	return rc;
}

void ccm_quote_collateral_ref(struct ccm_quote_collateral *c)
{
	atomic_fetch_add(&c->refs, 1);
}

void ccm_quote_collateral_free(struct ccm_quote_collateral *c)
{
	if (c == NULL || atomic_fetch_sub(&c->refs, 1) != 1)
		return;
	X509_free(c->pck_ca);
	X509_free(c->pck_ca_root);
	X509_CRL_free(c->pck_crl);
	X509_CRL_free(c->root_crl);
	X509_free(c->tcb_signer);
	X509_free(c->tcb_root);
	X509_free(c->qe_signer);
	X509_free(c->qe_root);
	pckchain_free(c->own_chain);
	tcbinfo_clear(&c->tcb);
	tcbinfo_clear_qeid(&c->qe);
	free(c);
}

ccm_code ccm_quote_collateral_check(const struct ccm_quote_collateral *c, struct ccm_error *err)
{
	const struct coll_check *order[] = {&c->root_crl_check, &c->pck_crl_check, &c->tcb_check,
	                                    &c->tcb_sig,        &c->qe_check,      &c->qe_sig};

	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++)
		if (order[i]->code != CCM_OK) {
			if (err != NULL)
				*err = order[i]->err;
			return order[i]->code;
		}
	return CCM_OK;
}

void ccm_quote_collateral_key(const struct ccm_quote_collateral *c, uint8_t fmspc[6],
                              uint32_t *tee_type)
{
	memcpy(fmspc, c->tcb.fmspc, 6);
	*tee_type = c->tcb.tdx ? CCM_QUOTE_TEE_TDX : CCM_QUOTE_TEE_SGX;
}

const char *ccm_quote_piece_name(unsigned piece)
{
	static const char *const names[CCM_PIECE_COUNT] = {"pck_cert_chain",
	                                                   "pck_crl_issuer_chain",
	                                                   "root_ca_crl",
	                                                   "pck_crl",
	                                                   "tcb_info_issuer_chain",
	                                                   "tcb_info",
	                                                   "qe_identity_issuer_chain",
	                                                   "qe_identity"};

	for (int i = 0; i < CCM_PIECE_COUNT; i++)
		if (piece == 1u << i)
			return names[i];
	return "?";
}
