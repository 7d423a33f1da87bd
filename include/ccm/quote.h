/*
 * DESIGN: Intel SGX/TDX DCAP ECDSA quote verification, offline and exact.
 *
 * Three objects, so that a manager pays for each piece of work once:
 *  - a parsed quote (ccm_quote_parse): the bytes are checked field by field
 *    and copied; nothing cryptographic happens here;
 *  - a collateral set (ccm_quote_collateral_load): Intel's
 *    sgx_ql_qve_collateral_t pieces, parsed, and every signature inside the
 *    set (issuer chains, CRLs, TCB info, QE identity) checked once at load.
 *    What depends on the verification time T is kept as numbers and
 *    compared per call, so one loaded set serves any T;
 *  - a verifier (ccm_quote_verifier_new): a thread-safe cache of collateral
 *    sets keyed by (FMSPC, TEE type) and of verified PCK chains keyed by
 *    their exact bytes, so that verifying a quote from a known node costs
 *    two ECDSA verifications and a few comparisons.
 * The check order and its step names follow Intel's QVL (see
 * docs/internals/quote.md); every failure names its step.
 */
#ifndef CCM_QUOTE_H
#define CCM_QUOTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ccm/ccm.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CCM_QUOTE_MAX_BYTES (1u << 20)      /* largest quote accepted */
#define CCM_QUOTE_COLLATERAL_MAX (1u << 20) /* largest collateral file */
#define CCM_QUOTE_TEE_SGX 0x00000000u
#define CCM_QUOTE_TEE_TDX 0x00000081u

/* Report body types (the v5 body descriptor; v3/v4 get the same values). */
enum ccm_quote_body {
	CCM_QUOTE_BODY_SGX = 1,  /* SGX report body, 384 bytes */
	CCM_QUOTE_BODY_TD10 = 2, /* TD report 1.0, 584 bytes */
	CCM_QUOTE_BODY_TD15 = 3, /* TD report 1.5, 648 bytes */
};

struct ccm_quote_report {
	uint8_t cpusvn[16];
	uint8_t miscselect[4]; /* memory order (little-endian u32) */
	uint8_t isvextprodid[16];
	uint8_t attributes[16]; /* FLAGS u64 || XFRM u64, memory order */
	uint8_t mrenclave[32];
	uint8_t mrsigner[32];
	uint8_t configid[64];
	uint16_t isvprodid;
	uint16_t isvsvn;
	uint16_t configsvn;
	uint8_t isvfamilyid[16];
	uint8_t reportdata[64];
};

struct ccm_quote_td_report {
	uint8_t tee_tcb_svn[16];
	uint8_t mr_seam[48];
	uint8_t mr_signer_seam[48];
	uint8_t seam_attributes[8];
	uint8_t td_attributes[8];
	uint8_t xfam[8];
	uint8_t mr_td[48];
	uint8_t mr_config_id[48];
	uint8_t mr_owner[48];
	uint8_t mr_owner_config[48];
	uint8_t rtmr[4][48];
	uint8_t report_data[64];
	uint8_t tee_tcb_svn2[16]; /* TD report 1.5 only */
	uint8_t mr_servicetd[48]; /* TD report 1.5 only */
};

#define CCM_QUOTE_REPORT_SIZE 384u

/* The 384-byte SGX report body (Intel sgx_report_body_t), both ways. */
void ccm_quote_report_decode(const uint8_t *in, struct ccm_quote_report *r);
void ccm_quote_report_encode(const struct ccm_quote_report *r, uint8_t *out);

/* A parsed quote. All pointers point into raw, which the quote owns. */
struct ccm_quote {
	uint8_t *raw;
	size_t len;
	uint16_t version;
	uint16_t att_key_type;
	uint32_t tee_type;
	uint16_t qe_svn; /* header, informational */
	uint16_t pce_svn;
	uint8_t qe_vendor_id[16];
	uint8_t user_data[20];
	enum ccm_quote_body body_type;
	size_t body_off;
	size_t signed_len;             /* quote[0:signed_len] is covered by the signature */
	struct ccm_quote_report sgx;   /* when body_type == SGX */
	struct ccm_quote_td_report td; /* when body_type is TD10 or TD15 */
	uint32_t sig_data_len;
	const uint8_t *signature;     /* 64: r || s big-endian */
	const uint8_t *attest_key;    /* 64: x || y big-endian */
	const uint8_t *qe_report_raw; /* 384 */
	struct ccm_quote_report qe_report;
	const uint8_t *qe_report_sig; /* 64 */
	const uint8_t *qe_auth;
	uint16_t qe_auth_len;
	uint16_t cert_type; /* 1..5 (the inner type for v4/v5) */
	const uint8_t *cert_data;
	uint32_t cert_len;
	size_t trailing; /* unsigned bytes after the signature data (ignored) */
};

/* Parse and check a quote (copies buf). Errors name the field and offset. */
ccm_code ccm_quote_parse(const uint8_t *buf, size_t len, struct ccm_quote **out,
                         struct ccm_error *err);
void ccm_quote_free(struct ccm_quote *q);

/* The PCK certificate's SGX extension from type-5 certification data,
 * parsed only (nothing verified): for display and cache keys. */
struct ccm_quote_pck_info {
	uint8_t fmspc[6];
	uint8_t pceid[2];
	uint8_t tcb_comp[16];
	uint16_t pcesvn;
	uint8_t cpusvn[16];
	uint8_t sgx_type; /* 0 Standard, 1 Scalable, 2 ScalableWithIntegrity */
	bool platform;    /* issued by the Platform CA */
};
ccm_code ccm_quote_pck_info(const struct ccm_quote *q, struct ccm_quote_pck_info *out,
                            struct ccm_error *err);

/* True for TDX quotes (tee_type 0x81). */
bool ccm_quote_is_tdx(const struct ccm_quote *q);

/* TCB statuses, as Intel's PCS spells them (ccm_tcb_status_name). */
enum ccm_tcb_status {
	CCM_TCB_NONE = 0, /* not evaluated */
	CCM_TCB_UP_TO_DATE,
	CCM_TCB_SW_HARDENING_NEEDED,
	CCM_TCB_CONFIGURATION_NEEDED,
	CCM_TCB_CONFIGURATION_AND_SW_HARDENING_NEEDED,
	CCM_TCB_OUT_OF_DATE,
	CCM_TCB_OUT_OF_DATE_CONFIGURATION_NEEDED,
	CCM_TCB_REVOKED,
	CCM_TCB_NOT_SUPPORTED,
};
const char *ccm_tcb_status_name(enum ccm_tcb_status s);
/* Revoked and TCBNotSupported are terminal (the quote does not verify). */
bool ccm_tcb_status_terminal(enum ccm_tcb_status s);

/* Pieces of collateral, as bits of ccm_quote_result.collateral_expired. */
enum ccm_quote_piece {
	CCM_PIECE_PCK_CERT_CHAIN = 1u << 0,
	CCM_PIECE_PCK_CRL_ISSUER_CHAIN = 1u << 1,
	CCM_PIECE_ROOT_CA_CRL = 1u << 2,
	CCM_PIECE_PCK_CRL = 1u << 3,
	CCM_PIECE_TCB_INFO_ISSUER_CHAIN = 1u << 4,
	CCM_PIECE_TCB_INFO = 1u << 5,
	CCM_PIECE_QE_IDENTITY_ISSUER_CHAIN = 1u << 6,
	CCM_PIECE_QE_IDENTITY = 1u << 7,
};
#define CCM_PIECE_COUNT 8
/* Name of one piece bit ("tcb_info", ...), as the collateral file is named. */
const char *ccm_quote_piece_name(unsigned piece);

/* ---- collateral ------------------------------------------------------- */

struct ccm_quote_collateral; /* opaque, reference counted */

/* The collateral files' contents, in memory (NULL/0 for absent optional
 * pieces: root_ca, pck_cert). PEM or DER for certificates and CRLs. */
struct ccm_quote_collateral_files {
	const uint8_t *pck_crl_issuer_chain;
	size_t pck_crl_issuer_chain_len;
	const uint8_t *pck_crl;
	size_t pck_crl_len;
	const uint8_t *root_ca_crl;
	size_t root_ca_crl_len;
	const uint8_t *tcb_info_issuer_chain;
	size_t tcb_info_issuer_chain_len;
	const uint8_t *tcb_info;
	size_t tcb_info_len;
	const uint8_t *qe_identity_issuer_chain;
	size_t qe_identity_issuer_chain_len;
	const uint8_t *qe_identity;
	size_t qe_identity_len;
	const uint8_t *root_ca; /* optional test trust anchor */
	size_t root_ca_len;
	const uint8_t *pck_cert; /* optional PCK leaf for cert types 1-4 */
	size_t pck_cert_len;
};

/* Load from memory or from a directory of files named as the fields
 * above (pck_crl.der, tcb_info.json, ...). Unparsable input fails here
 * (CCM_E_INPUT); a bad signature inside the set does not: it is recorded
 * and reported, at its step, by every verification against the set. */
ccm_code ccm_quote_collateral_new(const struct ccm_quote_collateral_files *files,
                                  struct ccm_quote_collateral **out, struct ccm_error *err);
ccm_code ccm_quote_collateral_load(const char *dir, struct ccm_quote_collateral **out,
                                   struct ccm_error *err);
void ccm_quote_collateral_ref(struct ccm_quote_collateral *c);
void ccm_quote_collateral_free(struct ccm_quote_collateral *c); /* drops a reference */
/* CCM_OK when every signature inside the set verified, else the first
 * failure (the message names the step). */
ccm_code ccm_quote_collateral_check(const struct ccm_quote_collateral *c, struct ccm_error *err);
/* FMSPC (6 bytes) and TEE type (CCM_QUOTE_TEE_*) of the TCB info. */
void ccm_quote_collateral_key(const struct ccm_quote_collateral *c, uint8_t fmspc[6],
                              uint32_t *tee_type);

/* ---- verification ---------------------------------------------------- */

struct ccm_quote_verify_opts {
	int64_t at;         /* verification time T, seconds since the epoch (UTC) */
	bool allow_expired; /* expired collateral is reported, not fatal */
};

#define CCM_QUOTE_MAX_ADVISORIES 128
#define CCM_QUOTE_ADVISORY_MAX 32 /* including the NUL */

struct ccm_quote_result {
	bool verified; /* all checks passed and the status is not terminal */
	enum ccm_tcb_status tcb_status;
	size_t n_advisory_ids;
	char advisory_ids[CCM_QUOTE_MAX_ADVISORIES][CCM_QUOTE_ADVISORY_MAX];
	bool have_fmspc;
	uint8_t fmspc[6];
	int64_t earliest_expiry;     /* earliest notAfter/nextUpdate used, 0 if unknown */
	unsigned collateral_expired; /* CCM_PIECE_* bits not current at T */
	const char *failure;         /* step name, NULL when verified */
	struct ccm_error error;      /* detail of the failure */
};

struct ccm_quote_verifier; /* opaque, thread-safe */

ccm_code ccm_quote_verifier_new(struct ccm_quote_verifier **out, struct ccm_error *err);
void ccm_quote_verifier_free(struct ccm_quote_verifier *v);
/* Add (or replace) a collateral set under its (FMSPC, TEE type). Sets
 * whose own signatures fail are refused. Takes a new reference. */
ccm_code ccm_quote_verifier_add(struct ccm_quote_verifier *v, struct ccm_quote_collateral *c,
                                struct ccm_error *err);

/*
 * Verify q at opts->at against c, or (c == NULL) against the set cached
 * in v for the quote's FMSPC and TEE type. Returns CCM_OK when verified,
 * CCM_E_VERIFY when a check fails or the status is terminal (res->failure
 * names the step), another code for unusable input. res is always filled.
 */
ccm_code ccm_quote_verify(struct ccm_quote_verifier *v, const struct ccm_quote *q,
                          struct ccm_quote_collateral *c, const struct ccm_quote_verify_opts *opts,
                          struct ccm_quote_result *res);

/* RFC 3339 time ("2025-07-19T10:01:17Z", offsets and fractions allowed)
 * to seconds since the epoch, and back (UTC, "Z", 21 bytes with NUL). */
ccm_code ccm_quote_parse_time(const char *s, int64_t *out, struct ccm_error *err);
void ccm_quote_format_time(int64_t t, char out[32]);

#ifdef __cplusplus
}
#endif
#endif
