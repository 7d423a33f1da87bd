/*
 * DESIGN: ccmd used to read, parse and unseal an account's CA for every
 * certificate it issued and every node request it authenticated. With
 * OpenSSL 3.0 the parse and the key decode cost several times the ECDSA
 * signature itself, so the issuing path spent most of its CPU there.
 * The unsealed key now stays in memory, in this one place: keyed by
 * account id and checked against the certificate PEM the store holds now
 * (read on every lookup, cheap), so rotation or an account re-created
 * under a reused id can never be served an old key, even without the
 * explicit forget on deletion. Bounded (least recently used entry
 * replaced); keys are freed, and so wiped, when evicted and at exit.
 * ccmd is one thread: no locking. A future signer process would replace
 * this file: callers only ask for "the CA of account N".
 *
 * Also remembered per CA: the SHA-256 of node certificates whose
 * signature already verified with it, so the mTLS node check costs a hash
 * rather than an ECDSA verification on every request of a connection.
 * Validity, revocation and node state are still checked per request by
 * the caller.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "ca-cache.h"
#include "pki/pki.h"

#define CA_CACHE_MAX 64
#define CA_CACHE_SIGNED 32

struct ca_entry {
	int64_t id; /* 0: free */
	uint64_t used;
	char *pem;
	X509 *ca;
	EVP_PKEY *key; /* NULL until first asked for */
	uint8_t signed_sha[CA_CACHE_SIGNED][32];
	size_t nsigned, next_signed;
};

struct ca_cache {
	struct ca_entry e[CA_CACHE_MAX];
	uint64_t tick;
};

struct ca_cache *ca_cache_new(void)
{
	return calloc(1, sizeof(struct ca_cache));
}

static void ca_cache_clear(struct ca_entry *e)
{
	free(e->pem);
	X509_free(e->ca);
	EVP_PKEY_free(e->key);
	memset(e, 0, sizeof(*e));
}

void ca_cache_free(struct ca_cache *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < CA_CACHE_MAX; i++)
		ca_cache_clear(&c->e[i]);
	free(c);
}

void ca_cache_forget(struct ca_cache *c, int64_t id)
{
	for (size_t i = 0; c != NULL && i < CA_CACHE_MAX; i++)
		if (c->e[i].id == id)
			ca_cache_clear(&c->e[i]);
}

static struct ca_entry *ca_cache_find(struct ca_cache *c, int64_t id)
{
	for (size_t i = 0; c != NULL && i < CA_CACHE_MAX; i++)
		if (c->e[i].id == id)
			return &c->e[i];
	return NULL;
}

/* A free entry, or the least recently used one, emptied. */
static struct ca_entry *ca_cache_slot(struct ca_cache *c)
{
	struct ca_entry *lru = &c->e[0];

	for (size_t i = 0; i < CA_CACHE_MAX; i++) {
		if (c->e[i].id == 0)
			return &c->e[i];
		if (c->e[i].used < lru->used)
			lru = &c->e[i];
	}
	ca_cache_clear(lru);
	return lru;
}

/* The entry for (id, pem), parsed now if not remembered. */
static struct ca_entry *ca_cache_entry(struct ca_cache *c, int64_t id, const char *pem,
                                       struct ccm_error *err)
{
	struct ca_entry *e = ca_cache_find(c, id);
	X509 *ca = NULL;
	char *copy;

	if (e != NULL && strcmp(e->pem, pem) == 0)
		return e;
	if (e != NULL)
		ca_cache_clear(e); /* the store holds another CA under this id now */
	if (pki_cert_from_pem(pem, strlen(pem), &ca, err) != CCM_OK)
		return NULL;
	copy = strdup(pem);
	if (copy == NULL) {
		X509_free(ca);
		ccm_fail(err, CCM_E_NOMEM, "out of memory");
		return NULL;
	}
	e = ca_cache_slot(c);
	e->id = id;
	e->pem = copy;
	e->ca = ca;
	return e;
}

ccm_code ca_cache_get(struct ca_cache *c, int64_t id, const char *pem, const uint8_t *sealed,
                      size_t slen, ca_cache_unseal_fn unseal, void *ctx, X509 **ca, EVP_PKEY **key,
                      struct ccm_error *err)
{
	struct ca_entry *e = id > 0 ? ca_cache_entry(c, id, pem, err) : NULL;
	ccm_code rc;

	*ca = NULL;
	if (key != NULL)
		*key = NULL;
	if (e == NULL)
		return id > 0 ? err->code
		              : ccm_fail(err, CCM_E_INPUT, "account id %lld", (long long)id);
	if (key != NULL && e->key == NULL &&
	    (rc = unseal(ctx, sealed, slen, &e->key, err)) != CCM_OK)
		return rc;
	e->used = ++c->tick;
	X509_up_ref(e->ca);
	*ca = e->ca;
	if (key != NULL) {
		EVP_PKEY_up_ref(e->key);
		*key = e->key;
	}
	return CCM_OK;
}

bool ca_cache_signed(struct ca_cache *c, int64_t id, X509 *ca, X509 *cert)
{
	struct ca_entry *e = ca_cache_find(c, id);
	uint8_t sha[32];
	unsigned int n = 0;

	if (e == NULL || e->ca != ca || X509_digest(cert, EVP_sha256(), sha, &n) != 1 || n != 32)
		return X509_verify(cert, X509_get0_pubkey(ca)) == 1;
	for (size_t i = 0; i < e->nsigned; i++)
		if (memcmp(e->signed_sha[i], sha, 32) == 0)
			return true;
	if (X509_verify(cert, X509_get0_pubkey(ca)) != 1)
		return false;
	memcpy(e->signed_sha[e->next_signed], sha, 32);
	e->next_signed = (e->next_signed + 1) % CA_CACHE_SIGNED;
	if (e->nsigned < CA_CACHE_SIGNED)
		e->nsigned++;
	return true;
}
