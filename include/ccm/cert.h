/*
 * DESIGN: the certificate profiles the manager issues from an account CA,
 * and the checks on what it is asked to sign. Profiles, not a general CA:
 * a node certificate can only authenticate a node (clientAuth, a node URI),
 * an app certificate carries exactly the whitelisted names, a SPIFFE-style
 * URI naming account, app and build, and two extensions that let a relying
 * party check the enclave with nothing but the account CA:
 *
 *  - TCG DICE tagged evidence (OID 2.23.133.5.4.9): the attestation
 *    evidence itself (DCAP quote or ccm simulated quote), so it can be
 *    re-verified independently;
 *  - TCG DICE TcbInfo (OID 2.23.133.5.4.1): the enclave identity with
 *    MRENCLAVE and MRSIGNER as SHA-256 FWIDs, ISVSVN as svn, debug and
 *    "not secure" (simulated evidence) as operational flags, and the exact
 *    ccm EnclaveIdentity (MRENCLAVE, MRSIGNER, ISVPRODID, ISVSVN, debug,
 *    simulated) in vendorInfo, decoded by ccm_cert_identity_get.
 *
 * Only standard OIDs with small arcs: Go's crypto/x509 refuses a whole
 * certificate whose extension OID has an arc above 31 bits (as a private
 * 2.25.<uuid> arc would), and relying parties are often written in Go.
 */
#ifndef CCM_CERT_H
#define CCM_CERT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/types.h>

#include "ccm/ccm.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CCM_OID_TCG_DICE_TCB_INFO "2.23.133.5.4.1"
#define CCM_OID_TCG_DICE_TAGGED_EVIDENCE "2.23.133.5.4.9"

/* Evidence tags used inside the tagged-evidence extension (CBOR tag
 * numbers in the first-come-first-served range, assigned by ccm). */
#define CCM_EVIDENCE_TAG_SGX_DCAP 1668576000
#define CCM_EVIDENCE_TAG_SIMULATED 1668576001

#define CCM_CSR_MAX 16384
#define CCM_SUBJECT_MAX 512

/* Parse a PEM CSR: size cap, self-signature, and key strength (EC P-256 or
 * P-384, RSA 2048-4096). spki_sha256 receives SHA-256 of its DER
 * SubjectPublicKeyInfo (what report data must carry). */
ccm_code ccm_csr_parse(const char *pem, size_t len, X509_REQ **out, uint8_t spki_sha256[32],
                       struct ccm_error *err);

/* The same checks and refusals as ccm_csr_parse, for issuance: a CSR with an
 * EC P-256/P-384 key signed with ECDSA is checked without OpenSSL 3.0's
 * key decoder (lib/cert/csr-key.c), and *out then holds only the key
 * (X509_REQ_get0_pubkey is NULL): fit for ccm_cert_issue_app/_node,
 * nothing else. Other CSRs are parsed by ccm_csr_parse. */
ccm_code ccm_csr_parse_key(const char *pem, size_t len, X509_REQ **out, uint8_t spki_sha256[32],
                           struct ccm_error *err);

/* Only the SPKI hash of a well-formed CSR with a key of an accepted type
 * and size, without checking its self-signature (nor, for EC, that the
 * point is on the curve): for a caller that forwards the CSR to one that
 * does (the node agent to ccmd, which uses ccm_csr_parse_key).
 * What the fast path of ccm_csr_parse_key does not take goes through
 * ccm_csr_parse, so other CSRs and all refusals are as there. */
ccm_code ccm_csr_key_hash(const char *pem, size_t len, uint8_t spki_sha256[32],
                          struct ccm_error *err);

/* "CN=web,O=Example,C=DE": attributes CN, O, OU, C, ST, L; no escapes. */
ccm_code ccm_subject_parse(const char *s, X509_NAME **out, struct ccm_error *err);

struct ccm_cert_node {
	int64_t account_id;
	int64_t node_id;
	const char *node_name;
	int days;
	int64_t now; /* notBefore; 0 = the current time */
};

ccm_code ccm_cert_issue_node(X509 *ca, EVP_PKEY *ca_key, X509_REQ *csr,
                             const struct ccm_cert_node *p, X509 **out, struct ccm_error *err);

struct ccm_cert_identity {
	uint8_t mrenclave[32];
	uint8_t mrsigner[32];
	uint16_t isvprodid;
	uint16_t isvsvn;
	bool debug;
	bool simulated;
};

struct ccm_cert_app {
	int64_t account_id;
	int64_t app_id;
	int64_t build_id;
	const char *subject; /* ccm_subject_parse syntax; NULL = CN of the first name */
	const char *const *dns_names;
	size_t n_dns_names;
	int days;
	int64_t now;
	struct ccm_cert_identity identity;
	const uint8_t *evidence; /* the raw quote */
	size_t evidence_len;
};

ccm_code ccm_cert_issue_app(X509 *ca, EVP_PKEY *ca_key, X509_REQ *csr, const struct ccm_cert_app *p,
                            X509 **out, struct ccm_error *err);

/* Read the enclave identity (DICE TcbInfo) back; CCM_E_NOTFOUND if absent. */
ccm_code ccm_cert_identity_get(X509 *cert, struct ccm_cert_identity *out, struct ccm_error *err);
/* The tagged evidence: first entry's tag and content (malloc'ed). */
ccm_code ccm_cert_evidence_get(X509 *cert, int64_t *tag, uint8_t **content, size_t *len,
                               struct ccm_error *err);

/* "spiffe://ccm/account/A/app/P/build/B" and ".../node/N". */
void ccm_cert_uri_app(int64_t account, int64_t app, int64_t build, char *out, size_t n);
void ccm_cert_uri_node(int64_t account, int64_t node, char *out, size_t n);

struct ccm_crl_entry {
	const char *serial_hex; /* as ccm_cert_serial_hex prints it */
	int64_t revoked_at;
};

/* A CRL of the CA listing the entries, valid from now for days. */
ccm_code ccm_crl_build(X509 *ca, EVP_PKEY *ca_key, const struct ccm_crl_entry *e, size_t n,
                       int64_t now, int days, X509_CRL **out, struct ccm_error *err);

/* Serial number as lowercase hex (no leading zeros but one "0"). */
ccm_code ccm_cert_serial_hex(X509 *cert, char *out, size_t n, struct ccm_error *err);

#ifdef __cplusplus
}
#endif
#endif
