/*
 * DESIGN: the rules of DESIGN.md "Policy" as rows of one table, evaluated in
 * order; the first that fails decides, and its id is what the audit log and
 * the runtime see. Order: who is asking (node), then what the evidence says
 * (verified, kind, TCB, key binding), then whether that identity may run
 * (build state, identity match, ISVSVN, debug), then what it asks for
 * (labels, names). Every rule is a short function over plain values; the
 * table makes adding one a one-line change that the tests see at once.
 */
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include "ccm/policy.h"
#include "ccm/quote.h"

typedef bool (*rule_fn)(const struct ccm_policy_input *in, char *why, size_t n);

static bool rule_node(const struct ccm_policy_input *in, char *why, size_t n)
{
	static const char *const names[] = {"ENROLLING", "ACTIVE", "UNREACHABLE", "DEACTIVATED"};

	if (in->node_account_id != in->account_id) {
		snprintf(why, n, "the node does not belong to this account");
		return false;
	}
	if (in->node_state != CCM_NODE_ACTIVE) {
		snprintf(why, n, "the node is %s, not ACTIVE",
		         (unsigned)in->node_state < 4 ? names[in->node_state]
		                                      : "in an unknown state");
		return false;
	}
	return true;
}

static bool rule_evidence(const struct ccm_policy_input *in, char *why, size_t n)
{
	if (!in->evidence_verified) {
		snprintf(why, n, "the attestation evidence did not verify");
		return false;
	}
	return true;
}

static bool rule_simulated(const struct ccm_policy_input *in, char *why, size_t n)
{
	if (in->evidence_kind == CCM_EVIDENCE_SIMULATED && !in->test_only) {
		snprintf(why, n,
		         "simulated evidence is refused: the account is not test-only (hardware "
		         "evidence required)");
		return false;
	}
	return true;
}

static bool rule_tcb(const struct ccm_policy_input *in, char *why, size_t n)
{
	if (in->evidence_kind != CCM_EVIDENCE_DCAP)
		return true;
	if (in->tcb_status <= 0 || in->tcb_status >= 31 ||
	    !(in->accepted_tcb & (1u << (unsigned)in->tcb_status))) {
		snprintf(why, n, "TCB status %s is not accepted by the account",
		         ccm_tcb_status_name((enum ccm_tcb_status)in->tcb_status));
		return false;
	}
	return true;
}

static bool rule_binding(const struct ccm_policy_input *in, char *why, size_t n)
{
	if (CRYPTO_memcmp(in->report_data, in->spki_sha256, 32) != 0) {
		snprintf(why, n,
		         "report data does not bind the CSR key (SHA-256 of its "
		         "SubjectPublicKeyInfo)");
		return false;
	}
	if (in->nonce_hash != NULL &&
	    CRYPTO_memcmp(in->report_data + 32, in->nonce_hash, 32) != 0) {
		snprintf(why, n, "report data does not carry the manager's nonce");
		return false;
	}
	return true;
}

static bool rule_build_state(const struct ccm_policy_input *in, char *why, size_t n)
{
	if (in->build_account_id != in->account_id || in->build_app_id != in->app_id ||
	    in->app_account_id != in->account_id) {
		snprintf(why, n, "the build is not a build of this application in this account");
		return false;
	}
	if (in->build_state != CCM_BUILD_WHITELISTED) {
		snprintf(why, n, "the build is %s, not WHITELISTED",
		         in->build_state == CCM_BUILD_PENDING ? "PENDING (not yet approved)"
		                                              : "REJECTED");
		return false;
	}
	if (in->build_revoked) {
		snprintf(why, n, "the build's whitelisting was revoked");
		return false;
	}
	return true;
}

static bool rule_identity(const struct ccm_policy_input *in, char *why, size_t n)
{
	if (memcmp(in->mrenclave, in->build_mrenclave, 32) != 0) {
		snprintf(why, n, "MRENCLAVE differs from the build's");
		return false;
	}
	if (memcmp(in->mrsigner, in->build_mrsigner, 32) != 0) {
		snprintf(why, n, "MRSIGNER differs from the build's");
		return false;
	}
	if (in->isvprodid != in->build_isvprodid || in->isvprodid != in->app_isvprodid) {
		snprintf(why, n, "ISVPRODID %u differs from the application's %u", in->isvprodid,
		         in->app_isvprodid);
		return false;
	}
	return true;
}

static bool rule_isvsvn(const struct ccm_policy_input *in, char *why, size_t n)
{
	if (in->isvsvn < in->app_min_isvsvn) {
		snprintf(why, n, "ISVSVN %u is below the application's minimum %u", in->isvsvn,
		         in->app_min_isvsvn);
		return false;
	}
	return true;
}

static bool rule_debug(const struct ccm_policy_input *in, char *why, size_t n)
{
	if (in->debug && !in->app_allow_debug) {
		snprintf(why, n, "a debug enclave, and the application does not allow debug");
		return false;
	}
	return true;
}

static bool has_label(const char *const *set, size_t n, const char *label)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(set[i], label) == 0)
			return true;
	return false;
}

static bool rule_labels(const struct ccm_policy_input *in, char *why, size_t n)
{
	for (size_t i = 0; i < in->n_app_labels; i++) {
		if (!has_label(in->node_labels, in->n_node_labels, in->app_labels[i])) {
			snprintf(why, n,
			         "the node lacks the label %.100s that the application requires",
			         in->app_labels[i]);
			return false;
		}
	}
	return true;
}

static bool rule_domains(const struct ccm_policy_input *in, char *why, size_t n)
{
	for (size_t i = 0; i < in->n_dns_names; i++) {
		bool ok = false;
		for (size_t j = 0; j < in->n_whitelisted_domains && !ok; j++)
			ok = ccm_dns_name_matches(in->whitelisted_domains[j], in->dns_names[i]);
		if (!ok) {
			snprintf(why, n, "DNS name %.200s is not whitelisted for the application",
			         in->dns_names[i]);
			return false;
		}
	}
	return true;
}

static const struct {
	const char *id;
	rule_fn fn;
} rules[] = {
        {"node", rule_node},
        {"evidence", rule_evidence},
        {"simulated_evidence", rule_simulated},
        {"tcb_status", rule_tcb},
        {"key_binding", rule_binding},
        {"build_status", rule_build_state},
        {"identity", rule_identity},
        {"isvsvn", rule_isvsvn},
        {"debug", rule_debug},
        {"node_labels", rule_labels},
        {"domains", rule_domains},
};

ccm_code ccm_policy_check(const struct ccm_policy_input *in, struct ccm_policy_decision *d)
{
	memset(d, 0, sizeof(*d));
	for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++) {
		if (!rules[i].fn(in, d->reason, sizeof(d->reason))) {
			d->check = rules[i].id;
			return CCM_E_VERIFY;
		}
	}
	d->granted = true;
	d->check = "granted";
	snprintf(d->reason, sizeof(d->reason), "every policy check passed");
	return CCM_OK;
}
