/*
 * DESIGN: the issuance policy as a pure function. The manager gathers the
 * account, app, build, node and the already-verified evidence from its
 * store and hands them over as plain values; ccm_policy_check returns one
 * decision naming the first check that failed. Keeping it free of I/O means
 * every rule of DESIGN.md "Policy" is unit-tested exhaustively, and the
 * manager, the agent's local pre-checks and a future relying party evaluate
 * exactly the same rules.
 *
 * Also here: the validators for the user-supplied fields those rules read
 * (labels, DNS names, memory sizes), so that what is stored is what the
 * policy can reason about.
 */
#ifndef CCM_POLICY_H
#define CCM_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ccm/ccm.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CCM_LABEL_KEY_MAX 63
#define CCM_LABEL_VALUE_MAX 63
#define CCM_LABELS_MAX 64
#define CCM_DNS_NAME_MAX 253
#define CCM_DOMAINS_MAX 64

/* "key=value": key 1-63 of [A-Za-z0-9._/-] starting alphanumeric, value
 * 0-63 of [A-Za-z0-9._-]. */
ccm_code ccm_label_validate(const char *label, struct ccm_error *err);

/* A hostname per RFC 1123 (labels 1-63 of letters, digits, hyphens, not
 * starting or ending with a hyphen; 253 total), optionally with a leading
 * "*." wildcard label when allow_wildcard. No trailing dot, no IP address. */
ccm_code ccm_dns_name_validate(const char *name, bool allow_wildcard, struct ccm_error *err);

/* Does name match pattern (exact, case-insensitive; "*.x.y" matches exactly
 * one extra leftmost label)? */
bool ccm_dns_name_matches(const char *pattern, const char *name);

/* Enclave memory size: "256M", "2G", "65536", "512K" (binary units).
 * *bytes is what was asked, *enclave the power of two it rounds up to
 * (SGX enclave sizes are powers of two). Range 64 KiB - 64 GiB. */
ccm_code ccm_mem_size_parse(const char *s, uint64_t *bytes, uint64_t *enclave,
                            struct ccm_error *err);

enum ccm_build_state {
	CCM_BUILD_PENDING = 0,
	CCM_BUILD_WHITELISTED,
	CCM_BUILD_REJECTED,
};

enum ccm_node_state {
	CCM_NODE_ENROLLING = 0,
	CCM_NODE_ACTIVE,
	CCM_NODE_UNREACHABLE,
	CCM_NODE_DEACTIVATED,
};

enum ccm_evidence_kind {
	CCM_EVIDENCE_DCAP = 0,
	CCM_EVIDENCE_SIMULATED,
};

/* The facts a decision needs. Account ids are compared, not looked up. */
struct ccm_policy_input {
	/* the account the request is made in */
	int64_t account_id;
	bool test_only;
	unsigned accepted_tcb; /* bit (1u << enum ccm_tcb_status) per accepted status */
	/* the application */
	int64_t app_account_id;
	uint16_t app_isvprodid;
	uint16_t app_min_isvsvn;
	bool app_allow_debug;
	const char *const *app_labels; /* "k=v" the node must carry */
	size_t n_app_labels;
	const char *const *whitelisted_domains;
	size_t n_whitelisted_domains;
	/* the build the runtime claims to be */
	int64_t build_account_id;
	int64_t build_app_id;
	int64_t app_id;
	enum ccm_build_state build_state;
	bool build_revoked;
	uint8_t build_mrenclave[32];
	uint8_t build_mrsigner[32];
	uint16_t build_isvprodid;
	/* the node the request came through */
	int64_t node_account_id;
	enum ccm_node_state node_state;
	const char *const *node_labels;
	size_t n_node_labels;
	/* the evidence, already checked cryptographically by the caller */
	enum ccm_evidence_kind evidence_kind;
	bool evidence_verified;
	int tcb_status; /* enum ccm_tcb_status (DCAP only) */
	uint8_t mrenclave[32];
	uint8_t mrsigner[32];
	uint16_t isvprodid;
	uint16_t isvsvn;
	bool debug;
	uint8_t report_data[64];
	/* the request */
	uint8_t spki_sha256[32];   /* SHA-256 of the CSR's DER SubjectPublicKeyInfo */
	const uint8_t *nonce_hash; /* 32 bytes expected in report_data[32..64], or NULL */
	const char *const *dns_names;
	size_t n_dns_names;
};

struct ccm_policy_decision {
	bool granted;
	const char *check; /* stable id of the failing check, "granted" when granted */
	char reason[CCM_ERRMSG_MAX];
};

/* Evaluate every rule in order; CCM_OK when granted, CCM_E_VERIFY when
 * refused (d->check and d->reason say which rule and why). */
ccm_code ccm_policy_check(const struct ccm_policy_input *in, struct ccm_policy_decision *d);

#ifdef __cplusplus
}
#endif
#endif
