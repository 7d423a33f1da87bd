/*
 * DESIGN: what the parts of ccm-enclave share: the loaded manifest and
 * SIGSTRUCT, the MRENCLAVE it re-measured, and the provisioned identity
 * (key kept in memory, files written where the certificate config says).
 */
#ifndef CCM_ENCLAVE_H
#define CCM_ENCLAVE_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include <openssl/types.h>

#include "ccm/attest.h"
#include "ccm/image.h"
#include "ccm/sgx.h"

struct enclave {
	const char *root;
	struct ccm_image_manifest m;
	uint8_t *man, *self, *sig;
	size_t man_len, self_len, sig_len;
	struct ccm_sgx_sigstruct s;
	uint8_t mrenclave[32];
	/* provisioning */
	const char *agent_url;
	EVP_PKEY *key;
	time_t not_before, not_after; /* of the current certificate */
	/* the app instance, as reported to the agent (supervise.c) */
	struct ccm_attest_instance inst; /* from the first grant */
	time_t report_at;                /* next keepalive; 0: none due */
	bool report_failing;
};

/* provision.c: key, attestation through the agent, files. CCM_OK without
 * doing anything when the manifest has no certificate config. */
ccm_code provision_run(struct enclave *e, struct ccm_error *err);
/* Seconds until the certificate should be renewed (-1: never). */
long provision_renew_in(const struct enclave *e);

/* supervise.c: run argv as a child and stay as PID 1 until it exits;
 * returns the exit status to propagate. start() runs in the child. */
int supervise_run(struct enclave *e, int (*start)(struct enclave *e));

int enclave_die(const struct ccm_error *err);

#endif
