/*
 * DESIGN: evidence that is not a hardware quote, and the pieces shared by
 * every kind of evidence.
 *
 * On machines without SGX, a converted image still has to prove what it is
 * running before it gets a certificate. The runtime computes the report body
 * an SGX CPU would have produced (MRENCLAVE by re-measuring itself, the rest
 * from its SIGSTRUCT, REPORTDATA binding its key), and the node agent wraps
 * it in a *simulated quote* signed with the node's enrolled key. The format
 * is built so that it can never be taken for hardware evidence: it starts
 * with an ASCII magic where a DCAP quote has its version number, carries a
 * SIMULATED flag that must be set, and names the node certificate that
 * signed it. What it proves: that an enrolled node, holding its key, vouched
 * for that report. What it does not: anything about isolation or the CPU.
 * The manager accepts it only for test-only accounts (lib/policy).
 *
 * Layout (little-endian), CCM_SIMQ_SIZE_MAX bytes at most:
 *   0  16  magic "CCM SIMULATED\0\0\0"
 *  16   4  version = 1
 *  20   4  flags, bit 0 SIMULATED = 1, others 0
 *  24   8  issued_at, seconds since the epoch
 *  32  32  SHA-256 of the signing node certificate (DER)
 *  64 384  SGX report body (Intel sgx_report_body_t layout)
 * 448   2  signature length n (DER ECDSA, at most 80)
 * 450   n  ECDSA P-256 / SHA-256 signature by the node key over bytes [0, 448)
 */
#ifndef CCM_ATTEST_H
#define CCM_ATTEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/types.h>

#include "ccm/ccm.h"
#include "ccm/quote.h"
#include "ccm/sgx.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CCM_REPORT_BODY_SIZE CCM_QUOTE_REPORT_SIZE
#define CCM_SIMQ_COVERED 448u     /* bytes the signature covers */
#define CCM_SIMQ_SIGNED_SIZE 450u /* header including the length */
#define CCM_SIMQ_SIZE_MAX (CCM_SIMQ_SIGNED_SIZE + 80u)
#define CCM_SIMQ_FLAG_SIMULATED 1u

/* The report an SGX CPU would give an enclave launched from this
 * SIGSTRUCT with this MRENCLAVE: MRSIGNER = SHA-256(modulus), ATTRIBUTES
 * with INIT set, MISCSELECT, ISV fields from the SIGSTRUCT. */
ccm_code ccm_report_from_sigstruct(const struct ccm_sgx_sigstruct *s, const uint8_t mrenclave[32],
                                   const uint8_t report_data[64], struct ccm_quote_report *out,
                                   struct ccm_error *err);

/* REPORTDATA for a key: SHA-256 of the DER SubjectPublicKeyInfo, then the
 * nonce hash (or zeros). */
ccm_code ccm_report_data_for_key(EVP_PKEY *key, const uint8_t *nonce_hash, uint8_t out[64],
                                 struct ccm_error *err);
/* The same from a DER SubjectPublicKeyInfo already at hand. */
void ccm_report_data_for_spki(const uint8_t *spki, size_t len, const uint8_t *nonce_hash,
                              uint8_t out[64]);

struct ccm_simquote {
	uint32_t version;
	uint32_t flags;
	int64_t issued_at;
	uint8_t node_cert_sha256[32];
	struct ccm_quote_report report;
	uint8_t report_raw[CCM_REPORT_BODY_SIZE];
};

/* Sign a report as node (cert is the node's certificate, key its key). */
ccm_code ccm_simquote_sign(const uint8_t report[CCM_REPORT_BODY_SIZE], X509 *node_cert,
                           EVP_PKEY *node_key, int64_t now, uint8_t *out, size_t *len,
                           struct ccm_error *err);

/* Parse without verifying; every field checked, errors name it. */
ccm_code ccm_simquote_parse(const uint8_t *buf, size_t len, struct ccm_simquote *out,
                            struct ccm_error *err);

/* Parse and verify against the node certificate: its hash must match and
 * the signature verify with its key. */
ccm_code ccm_simquote_verify(const uint8_t *buf, size_t len, X509 *node_cert,
                             struct ccm_simquote *out, struct ccm_error *err);

/* True when buf starts like a simulated quote (for dispatch only). */
bool ccm_simquote_is(const uint8_t *buf, size_t len);

/* ---- the runtime's side (lib/attest/client.c) --------------------- */

/* A key of the type the certificate config names: "ec-p256" (default),
 * "rsa-2048" or "rsa-3072". */
ccm_code ccm_attest_keygen(const char *type, EVP_PKEY **out, struct ccm_error *err);

/* A PEM CSR for key with subject CN=cn. */
ccm_code ccm_attest_csr(EVP_PKEY *key, const char *cn, char **pem, struct ccm_error *err);

/* POST {report, csr, dns_names} to the agent's /v1/attest; on success the
 * certificate and chain (PEM, malloc'ed). A refusal is CCM_E_VERIFY with
 * the manager's reason. agent_url is http://HOST:PORT. */
ccm_code ccm_attest_request(const char *agent_url, const uint8_t report[CCM_REPORT_BODY_SIZE],
                            const char *csr_pem, const char *const *dns_names, size_t n_dns,
                            char **cert_pem, char **chain_pem, struct ccm_error *err);

/* The agent's handle on the runtime's app instance, from a grant. */
struct ccm_attest_instance {
	char id[33];    /* hex */
	char token[65]; /* hex MAC over id, app and build (the agent's key) */
	int64_t app_id, build_id;
	int keepalive_s; /* report RUNNING this often; 0: no handle given */
};

/* ccm_attest_request, also returning the grant's instance handle. */
ccm_code ccm_attest_request_inst(const char *agent_url, const uint8_t report[CCM_REPORT_BODY_SIZE],
                                 const char *csr_pem, const char *const *dns_names, size_t n_dns,
                                 struct ccm_attest_instance *inst, char **cert_pem,
                                 char **chain_pem, struct ccm_error *err);

/* A client of one agent that keeps its connection open (HTTP/1.1
 * keep-alive) across requests, for callers that make many: a request that
 * finds the connection closed by the agent meanwhile is sent once more on a
 * new one. Each request gives up after timeout_s. Not thread-safe: one
 * client per thread. NULL on failure (a URL that is not http://HOST:PORT,
 * out of memory); nothing is sent before the first request. */
struct ccm_attest_client;
struct ccm_attest_client *ccm_attest_client_new(const char *agent_url, int timeout_s,
                                                struct ccm_error *err);
void ccm_attest_client_free(struct ccm_attest_client *c);

/* ccm_attest_request_inst on c's connection (inst may be NULL). */
ccm_code ccm_attest_client_request(struct ccm_attest_client *c,
                                   const uint8_t report[CCM_REPORT_BODY_SIZE], const char *csr_pem,
                                   const char *const *dns_names, size_t n_dns,
                                   struct ccm_attest_instance *inst, char **cert_pem,
                                   char **chain_pem, struct ccm_error *err);

/* The JSON body {report, csr, dns_names} of an attest request (malloc'ed;
 * NULL when out of memory), for a caller that sends the same request many
 * times (ccm bench issue). */
char *ccm_attest_request_body(const uint8_t report[CCM_REPORT_BODY_SIZE], const char *csr_pem,
                              const char *const *dns_names, size_t n_dns);
/* The error for a refused attest request: status and the agent's answer
 * body ({"error":{"code","message"}}), as "certificate refused (HTTP N):
 * code: message" (CCM_E_VERIFY for 403). */
ccm_code ccm_attest_refusal(const char *body, size_t len, int status, struct ccm_error *err);

/* POST /v1/instances: state "RUNNING" (repeat every keepalive_s) or
 * "STOPPED"; pid is the app's. Gives up after timeout_s. */
ccm_code ccm_attest_instance_report(const char *agent_url, const struct ccm_attest_instance *inst,
                                    const char *state, int64_t pid, int timeout_s,
                                    struct ccm_error *err);

#ifdef __cplusplus
}
#endif
#endif
