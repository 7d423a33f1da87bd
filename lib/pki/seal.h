/*
 * DESIGN: sealing secrets kept in the store with the manager's master key:
 * AES-256-GCM with a random 96-bit nonce per blob, and the blob's purpose
 * as associated data, so a sealed key copied into another column (or
 * another kind of secret) does not open. Format: "ccm1" | nonce(12) |
 * ciphertext | tag(16).
 */
#ifndef CCM_SEAL_H
#define CCM_SEAL_H

#include <stddef.h>
#include <stdint.h>

#include "ccm/ccm.h"

#define SEAL_KEY_SIZE 32
#define SEAL_OVERHEAD (4 + 12 + 16)

/* out is malloc'ed. */
ccm_code seal_encrypt(const uint8_t key[SEAL_KEY_SIZE], const char *purpose, const uint8_t *pt,
                      size_t len, uint8_t **out, size_t *outlen, struct ccm_error *err);
/* out is malloc'ed; free with OPENSSL_clear_free(out, outlen). */
ccm_code seal_decrypt(const uint8_t key[SEAL_KEY_SIZE], const char *purpose, const uint8_t *in,
                      size_t len, uint8_t **out, size_t *outlen, struct ccm_error *err);

#endif
