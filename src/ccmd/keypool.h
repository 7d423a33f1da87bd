/*
 * DESIGN: account signing keys made ahead of time. An SGX signing key is
 * RSA-3072 with e=3, and finding its primes takes 0.3-1.4 s of CPU here;
 * made inside the account-creation request it stalls the one event loop,
 * so every heartbeat and issuance waits behind it. A thread keeps a few
 * keys ready instead; a request takes one in microseconds and the thread
 * makes the next in the background.
 */
#ifndef CCMD_KEYPOOL_H
#define CCMD_KEYPOOL_H

#include <stddef.h>

#include <openssl/types.h>

#include "ccm/ccm.h"

struct keypool;

/* Start the thread keeping `ready` keys (at most 8); NULL if it cannot. */
struct keypool *keypool_new(size_t ready);
/* A fresh key, the caller's to free: from the pool, else (pool NULL or
 * empty and idle) made here. Waits for one the thread is making. */
ccm_code keypool_take(struct keypool *p, EVP_PKEY **out, struct ccm_error *err);
/* Stop the thread (after the key it is making), free the unused keys. */
void keypool_free(struct keypool *p);

#endif
