/*
 * DESIGN: one function per step of Intel's verification order (QVL
 * QuoteVerifier.cpp and the SPEC-NOTES Part G list), each either passing
 * or naming itself in res->failure, so the first failure reported is the
 * one Intel's verifier would report. Everything expensive that does not
 * depend on the quote at hand was done earlier (collateral.c at load,
 * pckchain.c once per PCK chain); what is left here per quote is two ECDSA
 * verifications, two SHA-256 of under 700 bytes, and comparisons of
 * bytes and integers against numbers computed in advance.
 * Expiry is special, as in Intel's QvE: collateral past its end at T is a
 * failure unless allow_expired is set, then only reported; collateral not
 * yet valid at T is always a failure (nothing legitimate produces it).
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/x509.h>

#include "internal.h"
#include "tcblevel.h"
#include "util/util.h"

struct vctx {
	const struct ccm_quote *q;
	struct ccm_quote_collateral *c;
	struct pck_chain *ch;
	const struct ccm_quote_verify_opts *o;
	struct ccm_quote_result *r;
	unsigned expired, notyet;
	enum ccm_tcb_status qe_status;
	int64_t nb[CCM_PIECE_COUNT], na[CCM_PIECE_COUNT];
};

#define FAIL(v, step, code, ...)                                                                   \
	((v)->r->failure = (step), ccm_fail(&(v)->r->error, code, __VA_ARGS__))

static ccm_code qvl_recorded(struct vctx *v, const struct coll_check *chk)
{
	if (chk->code == CCM_OK)
		return CCM_OK;
	v->r->failure = chk->step;
	v->r->error = chk->err;
	return chk->code;
}

static void qvl_windows(struct vctx *v)
{
	int64_t t = v->o->at, nb, na, earliest = INT64_MAX;

	for (int i = 0; i < CCM_PIECE_COUNT; i++) {
		nb = v->c->nb[i];
		na = v->c->na[i];
		if (i == 0) {
			nb = v->ch->nb[0] > v->ch->nb[1] ? v->ch->nb[0] : v->ch->nb[1];
			nb = nb > v->ch->nb[2] ? nb : v->ch->nb[2];
			na = v->ch->na[0] < v->ch->na[1] ? v->ch->na[0] : v->ch->na[1];
			na = na < v->ch->na[2] ? na : v->ch->na[2];
		}
		v->nb[i] = nb;
		v->na[i] = na;
		if (t > na)
			v->expired |= 1u << i;
		if (t < nb)
			v->notyet |= 1u << i;
		earliest = na < earliest ? na : earliest;
	}
	v->r->earliest_expiry = earliest;
	v->r->collateral_expired = v->expired;
}

static ccm_code qvl_current(struct vctx *v, unsigned pieces)
{
	char t[32], w[32];

	if (((v->notyet | v->expired) & pieces) == 0)
		return CCM_OK;
	ccm_quote_format_time(v->o->at, t);
	for (unsigned i = 0; i < CCM_PIECE_COUNT; i++) {
		unsigned bit = 1u << i;
		if ((pieces & bit) == 0)
			continue;
		if (v->notyet & bit) {
			ccm_quote_format_time(v->nb[i], w);
			return FAIL(v, "collateral not yet valid", CCM_E_VERIFY,
			            "collateral not yet valid: %s is valid from %s, after the "
			            "verification time %s",
			            ccm_quote_piece_name(bit), w, t);
		}
		if ((v->expired & bit) && !v->o->allow_expired) {
			ccm_quote_format_time(v->na[i], w);
			return FAIL(v, "collateral expired", CCM_E_VERIFY,
			            "collateral expired: %s expired at %s, before the verification "
			            "time %s (--allow-expired-collateral to accept)",
			            ccm_quote_piece_name(bit), w, t);
		}
	}
	return CCM_OK;
}

static ccm_code qvl_pck_chain(struct vctx *v)
{
	struct pck_chain *ch = v->ch;
	ccm_code rc;

	if (ch->code != CCM_OK) {
		v->r->failure = "pck chain";
		v->r->error = ch->err;
		return ch->code;
	}
	if (memcmp(ch->root_hash, v->c->anchor_hash, 32) != 0)
		return FAIL(v, "pck chain", CCM_E_VERIFY,
		            "pck chain: the root is not the trust anchor (%s)",
		            v->c->test_root ? "root_ca.pem" : "the Intel SGX Root CA key");
	qvl_windows(v);
	if ((rc = qvl_current(v, CCM_PIECE_PCK_CERT_CHAIN)) != CCM_OK ||
	    (rc = qvl_recorded(v, &v->c->root_crl_check)) != CCM_OK ||
	    (rc = qvl_current(v, CCM_PIECE_ROOT_CA_CRL)) != CCM_OK ||
	    (rc = qvl_recorded(v, &v->c->pck_crl_check)) != CCM_OK ||
	    (rc = qvl_current(v, CCM_PIECE_PCK_CRL_ISSUER_CHAIN | CCM_PIECE_PCK_CRL)) != CCM_OK)
		return rc;
	if (memcmp(ch->inter_hash, v->c->pck_ca_hash, 32) != 0 ||
	    X509_NAME_cmp(X509_CRL_get_issuer(v->c->pck_crl), X509_get_issuer_name(ch->leaf)) != 0)
		return FAIL(v, "pck crl", CCM_E_VERIFY,
		            "pck crl: not issued by the PCK certificate's issuer");
	return CCM_OK;
}

static ccm_code qvl_revocation(struct vctx *v)
{
	X509_REVOKED *rev = NULL;

	if (X509_CRL_get0_by_serial(v->c->root_crl, &rev, X509_get0_serialNumber(v->ch->inter)) ==
	    1)
		return FAIL(v, "pck revoked", CCM_E_VERIFY,
		            "pck revoked: the intermediate CA is on the root CA CRL");
	if (X509_CRL_get0_by_serial(v->c->pck_crl, &rev, X509_get0_serialNumber(v->ch->leaf)) == 1)
		return FAIL(v, "pck revoked", CCM_E_VERIFY,
		            "pck revoked: the PCK certificate is on the PCK CRL");
	return CCM_OK;
}

static ccm_code qvl_collateral_sigs(struct vctx *v)
{
	ccm_code rc;

	if ((rc = qvl_recorded(v, &v->c->tcb_check)) != CCM_OK ||
	    (rc = qvl_recorded(v, &v->c->tcb_sig)) != CCM_OK ||
	    (rc = qvl_current(v, CCM_PIECE_TCB_INFO_ISSUER_CHAIN | CCM_PIECE_TCB_INFO)) != CCM_OK ||
	    (rc = qvl_recorded(v, &v->c->qe_check)) != CCM_OK ||
	    (rc = qvl_recorded(v, &v->c->qe_sig)) != CCM_OK ||
	    (rc = qvl_current(v, CCM_PIECE_QE_IDENTITY_ISSUER_CHAIN | CCM_PIECE_QE_IDENTITY)) !=
	            CCM_OK)
		return rc;
	return CCM_OK;
}

/* 4.1.2.4.4 (extension), 4.1.2.4.9, 4.1.2.4.10 */
static ccm_code qvl_tcb_info_match(struct vctx *v)
{
	const struct tcbinfo *t = &v->c->tcb;
	const struct pckext *e = &v->ch->ext;
	bool tdx = ccm_quote_is_tdx(v->q);

	if (v->ch->ext_code != CCM_OK) {
		v->r->failure = "pck extension";
		v->r->error = v->ch->ext_err;
		return CCM_E_VERIFY;
	}
	if (t->tdx != tdx)
		return FAIL(v, "tcb info mismatch", CCM_E_VERIFY,
		            "tcb info mismatch: the TCB info is for %s, the quote is %s",
		            t->tdx ? "TDX" : "SGX", tdx ? "TDX" : "SGX");
	if (memcmp(e->fmspc, t->fmspc, 6) != 0)
		return FAIL(v, "tcb info mismatch", CCM_E_VERIFY,
		            "tcb info mismatch: PCK FMSPC differs from the TCB info's fmspc");
	if (memcmp(e->pceid, t->pceid, 2) != 0)
		return FAIL(v, "tcb info mismatch", CCM_E_VERIFY,
		            "tcb info mismatch: PCK PCE-ID differs from the TCB info's pceId");
	return CCM_OK;
}

/* 4.1.2.4.11: MRSIGNERSEAM and SEAMATTRIBUTES against the TDX module. */
static ccm_code qvl_tdx_module(struct vctx *v)
{
	const struct tcbinfo *t = &v->c->tcb;
	const struct ccm_quote_td_report *td = &v->q->td;
	const struct tdx_module_id *m = &t->module;

	if (!t->tdx)
		return CCM_OK;
	if (td->tee_tcb_svn[1] > 0) {
		m = tcblevel_find_module(t, td->tee_tcb_svn[1]);
		if (m == NULL)
			return FAIL(v, "tdx module", CCM_E_VERIFY,
			            "tdx module: no TDX_%02X identity in the TCB info",
			            td->tee_tcb_svn[1]);
	}
	if (memcmp(td->mr_signer_seam, m->mrsigner, 48) != 0)
		return FAIL(v, "tdx module", CCM_E_VERIFY,
		            "tdx module: MRSIGNERSEAM differs from the TDX module identity");
	if (!util_is_zero(td->seam_attributes, 8) || !util_is_zero(m->attributes, 8))
		return FAIL(
		        v, "tdx module", CCM_E_VERIFY,
		        "tdx module: SEAMATTRIBUTES are not zero as the module identity requires");
	return CCM_OK;
}

/* SHA-256(attestation key || QE auth data), without a 64 KiB stack buffer. */
static ccm_code qvl_binding_hash(const struct ccm_quote *q, uint8_t md[32])
{
	uint8_t small[64 + 256], *buf = small;
	size_t n = 64 + (size_t)q->qe_auth_len;

	if (n > sizeof(small) && (buf = malloc(n)) == NULL)
		return CCM_E_NOMEM;
	memcpy(buf, q->attest_key, 64);
	if (q->qe_auth_len > 0)
		memcpy(buf + 64, q->qe_auth, q->qe_auth_len);
	dcap_sha256(buf, n, md);
	if (buf != small)
		free(buf);
	return CCM_OK;
}

static ccm_code qvl_qe_report(struct vctx *v)
{
	const struct ccm_quote *q = v->q;
	uint8_t md[32];
	bool ok;
	ccm_code rc = dcap_verify_tmpl(v->ch->leaf_ctx, q->qe_report_raw, 384, q->qe_report_sig,
	                               &ok, &v->r->error);

	if (rc != CCM_OK)
		return FAIL(v, "qe report signature", rc, "qe report signature: crypto failure");
	if (!ok)
		return FAIL(v, "qe report signature", CCM_E_VERIFY,
		            "qe report signature: does not verify with the PCK key");
	if (qvl_binding_hash(q, md) != CCM_OK)
		return FAIL(v, "attestation key binding", CCM_E_NOMEM, "out of memory");
	if (memcmp(md, q->qe_report.reportdata, 32) != 0)
		return FAIL(
		        v, "attestation key binding", CCM_E_VERIFY,
		        "attestation key binding: QE REPORTDATA is not SHA-256(attestation key || "
		        "QE auth data)");
	return CCM_OK;
}

static bool qvl_masked(const uint8_t *val, const uint8_t *mask, const uint8_t *want, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((val[i] & mask[i]) != want[i])
			return false;
	return true;
}

/* 4.1.2.4.14 and 4.1.2.4.15 */
static ccm_code qvl_qe_identity(struct vctx *v)
{
	const struct qeid *id = &v->c->qe;
	const struct ccm_quote_report *r = &v->q->qe_report;
	const char *want = ccm_quote_is_tdx(v->q) ? "TD_QE" : "QE";

	if (strcmp(id->id, want) != 0)
		return FAIL(v, "qe identity", CCM_E_VERIFY,
		            "qe identity: id \"%s\", a %s quote needs \"%s\"", id->id,
		            ccm_quote_is_tdx(v->q) ? "TDX" : "SGX", want);
	if (!qvl_masked(r->miscselect, id->miscselect_mask, id->miscselect, 4))
		return FAIL(v, "qe identity", CCM_E_VERIFY, "qe identity: MISCSELECT mismatch");
	if (!qvl_masked(r->attributes, id->attributes_mask, id->attributes, 16))
		return FAIL(v, "qe identity", CCM_E_VERIFY, "qe identity: ATTRIBUTES mismatch");
	if (memcmp(r->mrsigner, id->mrsigner, 32) != 0)
		return FAIL(v, "qe identity", CCM_E_VERIFY, "qe identity: MRSIGNER mismatch");
	if (r->isvprodid != id->isvprodid)
		return FAIL(v, "qe identity", CCM_E_VERIFY,
		            "qe identity: ISVPRODID %u, expected %u", r->isvprodid, id->isvprodid);
	v->qe_status = tcblevel_isv_status(tcblevel_isv_level(id->levels, id->n_levels, r->isvsvn));
	return CCM_OK;
}

static ccm_code qvl_quote_sig(struct vctx *v)
{
	EVP_PKEY_CTX *ctx = NULL;
	bool ok = false;
	ccm_code rc = pckchain_ak_ctx(v->ch, v->q->attest_key, &ctx, &v->r->error);

	if (rc == CCM_E_INPUT)
		return FAIL(v, "quote signature", CCM_E_VERIFY,
		            "quote signature: the attestation key is not a P-256 point");
	if (rc == CCM_OK)
		rc = dcap_verify_ctx(ctx, v->q->raw, v->q->signed_len, v->q->signature, &ok,
		                     &v->r->error);
	EVP_PKEY_CTX_free(ctx);
	if (rc != CCM_OK)
		return FAIL(v, "quote signature", rc, "quote signature: crypto failure");
	if (!ok)
		return FAIL(v, "quote signature", CCM_E_VERIFY,
		            "quote signature: does not verify with the attestation key");
	return CCM_OK;
}

static ccm_code qvl_tcb_level(struct vctx *v)
{
	const struct tcb_level *sgx, *tdx, *lv;
	bool is_tdx = v->c->tcb.tdx;
	enum ccm_tcb_status st, ms;

	tcblevel_match(&v->c->tcb, &v->ch->ext, is_tdx ? v->q->td.tee_tcb_svn : NULL, &sgx, &tdx);
	lv = is_tdx ? tdx : sgx;
	if (lv == NULL) {
		v->r->tcb_status = CCM_TCB_NOT_SUPPORTED;
		return FAIL(v, "tcb level", CCM_E_VERIFY,
		            "tcb level: no %s TCB level matches the platform (TCBNotSupported)",
		            sgx == NULL ? "SGX" : "TDX");
	}
	st = lv->status;
	if (is_tdx) {
		ms = tcblevel_module_status(&v->c->tcb, v->q->td.tee_tcb_svn);
		if (ms == CCM_TCB_NONE)
			return FAIL(v, "tcb level", CCM_E_VERIFY,
			            "tcb level: the TDX module TCB level has a status other than "
			            "UpToDate, OutOfDate or Revoked (unrecognized)");
		if (ms == CCM_TCB_NOT_SUPPORTED) {
			v->r->tcb_status = CCM_TCB_NOT_SUPPORTED;
			return FAIL(v, "tcb level", CCM_E_VERIFY,
			            "tcb level: no TDX module TCB level matches (TCBNotSupported)");
		}
		st = tcblevel_converge(st, ms);
	}
	st = tcblevel_converge(st, v->qe_status);
	v->r->tcb_status = st;
	v->r->n_advisory_ids = lv->n_adv;
	for (size_t i = 0; i < lv->n_adv; i++)
		memcpy(v->r->advisory_ids[i], lv->adv[i], CCM_QUOTE_ADVISORY_MAX);
	if (st == CCM_TCB_NOT_SUPPORTED)
		return FAIL(v, "tcb level", CCM_E_VERIFY,
		            "tcb level: the QE identity has no level for QE ISVSVN %u "
		            "(TCBNotSupported)",
		            v->q->qe_report.isvsvn);
	if (st == CCM_TCB_REVOKED)
		return FAIL(v, "tcb level", CCM_E_VERIFY,
		            "tcb level: the TCB status is Revoked (terminal)");
	return CCM_OK;
}

ccm_code qvl_run(const struct ccm_quote *q, struct ccm_quote_collateral *c, struct pck_chain *ch,
                 const struct ccm_quote_verify_opts *o, struct ccm_quote_result *r)
{
	struct vctx v = {.q = q, .c = c, .ch = ch, .o = o, .r = r, .qe_status = CCM_TCB_UP_TO_DATE};
	ccm_code rc;

	if (ch->code == CCM_OK && ch->ext_code == CCM_OK) {
		memcpy(r->fmspc, ch->ext.fmspc, 6);
		r->have_fmspc = true;
	}
	if ((rc = qvl_pck_chain(&v)) != CCM_OK || (rc = qvl_revocation(&v)) != CCM_OK ||
	    (rc = qvl_collateral_sigs(&v)) != CCM_OK || (rc = qvl_tcb_info_match(&v)) != CCM_OK ||
	    (rc = qvl_tdx_module(&v)) != CCM_OK || (rc = qvl_qe_report(&v)) != CCM_OK ||
	    (rc = qvl_qe_identity(&v)) != CCM_OK || (rc = qvl_quote_sig(&v)) != CCM_OK ||
	    (rc = qvl_tcb_level(&v)) != CCM_OK)
		return rc;
	r->verified = true;
	return CCM_OK;
}
