/*
 * DESIGN: the account CA keys ccmd holds unsealed, behind one small
 * interface so that a later split can move them into a separate
 * privileged signer process without touching the handlers (see
 * ca-cache.c).
 */
#ifndef CCMD_CA_CACHE_H
#define CCMD_CA_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/types.h>

#include "ccm/ccm.h"

struct ca_cache;

/* Unseal an account CA key (bootstrap.c supplies it, with the master key). */
typedef ccm_code (*ca_cache_unseal_fn)(void *ctx, const uint8_t *sealed, size_t len, EVP_PKEY **key,
                                       struct ccm_error *err);

struct ca_cache *ca_cache_new(void);
/* Forget every key (they are wiped as OpenSSL frees them). */
void ca_cache_free(struct ca_cache *c);
/*
 * Account id's CA as the store has it now (certificate pem; sealed key,
 * needed only when key != NULL): new references to the parsed certificate
 * and, if asked, the unsealed key. Served from memory when pem is the
 * certificate remembered for id, so a rotated CA, or another account that
 * later reuses the id, is never answered with the old key.
 */
ccm_code ca_cache_get(struct ca_cache *c, int64_t id, const char *pem, const uint8_t *sealed,
                      size_t slen, ca_cache_unseal_fn unseal, void *ctx, X509 **ca, EVP_PKEY **key,
                      struct ccm_error *err);
/* Drop an account's entry (account deleted). */
void ca_cache_forget(struct ca_cache *c, int64_t id);
/* True when cert's signature verifies with ca's key; remembered per CA
 * entry by the certificate's SHA-256, since a node presents the same
 * certificate on every request. ca must come from ca_cache_get(id). */
bool ca_cache_signed(struct ca_cache *c, int64_t id, X509 *ca, X509 *cert);

#endif
