/*
 * DESIGN: the manager's long-lived verifier. Two caches behind one
 * pthread rwlock, each holding immutable, reference-counted objects so
 * the lock is held only for a lookup and never during cryptography:
 *  - collateral sets keyed by (FMSPC, TEE type), the key Intel PCS uses
 *    for TCB info; adding a set for a key replaces the old one (a refresh),
 *    and sets whose own signatures fail are refused;
 *  - checked PCK chains keyed by the exact certification data bytes
 *    (a 64-bit FNV-1a hash picks the bucket, a full memcmp decides), so a
 *    node's chain is parsed and its three signatures checked once. The
 *    cache is bounded; when full it is emptied, which costs one re-check
 *    per node and needs no LRU bookkeeping on the hot path.
 * ccm_quote_verify also works without a verifier (v == NULL, c given):
 * then nothing is cached, which is what the one-shot CLI wants.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define VERIFIER_BUCKETS 256
#define VERIFIER_MAX_CHAINS 4096
#define VERIFIER_MAX_SETS 1024

struct verifier_set {
	uint8_t fmspc[6];
	uint32_t tee;
	struct ccm_quote_collateral *c;
};

struct ccm_quote_verifier {
	pthread_rwlock_t lock;
	struct verifier_set sets[VERIFIER_MAX_SETS];
	size_t n_sets;
	struct pck_chain *buckets[VERIFIER_BUCKETS];
	size_t n_chains;
};

ccm_code ccm_quote_verifier_new(struct ccm_quote_verifier **out, struct ccm_error *err)
{
	struct ccm_quote_verifier *v = calloc(1, sizeof(*v));

	*out = NULL;
	if (v == NULL)
		return ccm_fail(err, CCM_E_NOMEM, "verifier: out of memory");
	if (pthread_rwlock_init(&v->lock, NULL) != 0) {
		free(v);
		return ccm_fail(err, CCM_E_INTERNAL, "verifier: cannot create a lock");
	}
	*out = v;
	return CCM_OK;
}

static void verifier_flush_chains(struct ccm_quote_verifier *v)
{
	for (size_t b = 0; b < VERIFIER_BUCKETS; b++) {
		struct pck_chain *c = v->buckets[b];
		while (c != NULL) {
			struct pck_chain *next = c->next;
			pckchain_free(c);
			c = next;
		}
		v->buckets[b] = NULL;
	}
	v->n_chains = 0;
}

void ccm_quote_verifier_free(struct ccm_quote_verifier *v)
{
	if (v == NULL)
		return;
	verifier_flush_chains(v);
	for (size_t i = 0; i < v->n_sets; i++)
		ccm_quote_collateral_free(v->sets[i].c);
	pthread_rwlock_destroy(&v->lock);
	free(v);
}

ccm_code ccm_quote_verifier_add(struct ccm_quote_verifier *v, struct ccm_quote_collateral *c,
                                struct ccm_error *err)
{
	uint8_t fmspc[6];
	uint32_t tee;
	size_t i;
	ccm_code rc = ccm_quote_collateral_check(c, err);

	if (rc != CCM_OK)
		return rc;
	ccm_quote_collateral_key(c, fmspc, &tee);
	ccm_quote_collateral_ref(c);
	pthread_rwlock_wrlock(&v->lock);
	for (i = 0; i < v->n_sets; i++)
		if (v->sets[i].tee == tee && memcmp(v->sets[i].fmspc, fmspc, 6) == 0)
			break;
	if (i == VERIFIER_MAX_SETS) {
		pthread_rwlock_unlock(&v->lock);
		ccm_quote_collateral_free(c);
		return ccm_fail(err, CCM_E_LIMIT, "verifier: more than %d collateral sets",
		                VERIFIER_MAX_SETS);
	}
	if (i == v->n_sets) {
		memcpy(v->sets[i].fmspc, fmspc, 6);
		v->sets[i].tee = tee;
		v->n_sets++;
	} else {
		ccm_quote_collateral_free(v->sets[i].c);
	}
	v->sets[i].c = c;
	pthread_rwlock_unlock(&v->lock);
	return CCM_OK;
}

static struct ccm_quote_collateral *verifier_find(struct ccm_quote_verifier *v,
                                                  const uint8_t fmspc[6], uint32_t tee)
{
	struct ccm_quote_collateral *c = NULL;

	pthread_rwlock_rdlock(&v->lock);
	for (size_t i = 0; i < v->n_sets; i++)
		if (v->sets[i].tee == tee && memcmp(v->sets[i].fmspc, fmspc, 6) == 0) {
			c = v->sets[i].c;
			ccm_quote_collateral_ref(c);
			break;
		}
	pthread_rwlock_unlock(&v->lock);
	return c;
}

/* FNV-1a over 8-byte words (the tail bytewise): only picks a bucket. */
static uint64_t verifier_hash(const uint8_t *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ull ^ n, w;
	size_t i = 0;

	for (; i + 8 <= n; i += 8) {
		memcpy(&w, p + i, 8);
		h = (h ^ w) * 0x100000001b3ull;
	}
	for (; i < n; i++)
		h = (h ^ p[i]) * 0x100000001b3ull;
	return h ^ (h >> 29);
}

static struct pck_chain *verifier_lookup(struct ccm_quote_verifier *v, uint64_t h,
                                         const uint8_t *data, size_t len)
{
	for (struct pck_chain *c = v->buckets[h % VERIFIER_BUCKETS]; c != NULL; c = c->next)
		if (c->hash == h && c->keylen == len && memcmp(c->key, data, len) == 0) {
			pckchain_ref(c);
			return c;
		}
	return NULL;
}

static void verifier_insert(struct ccm_quote_verifier *v, struct pck_chain *ch, uint64_t h,
                            const uint8_t *data, size_t len)
{
	ch->key = malloc(len ? len : 1);
	if (ch->key == NULL)
		return;
	memcpy(ch->key, data, len);
	ch->keylen = len;
	ch->hash = h;
	if (v->n_chains >= VERIFIER_MAX_CHAINS)
		verifier_flush_chains(v);
	pckchain_ref(ch);
	ch->next = v->buckets[h % VERIFIER_BUCKETS];
	v->buckets[h % VERIFIER_BUCKETS] = ch;
	v->n_chains++;
}

/* The checked chain for type-5 certification data (a new reference). */
static ccm_code verifier_chain(struct ccm_quote_verifier *v, const uint8_t *data, size_t len,
                               struct pck_chain **out, struct ccm_error *err)
{
	uint64_t h;
	struct pck_chain *ch, *other;
	ccm_code rc;

	if (v == NULL)
		return pckchain_from_pem(data, len, out, err);
	h = verifier_hash(data, len);
	pthread_rwlock_rdlock(&v->lock);
	*out = verifier_lookup(v, h, data, len);
	pthread_rwlock_unlock(&v->lock);
	if (*out != NULL)
		return CCM_OK;
	rc = pckchain_from_pem(data, len, &ch, err);
	if (rc != CCM_OK)
		return rc;
	pthread_rwlock_wrlock(&v->lock);
	other = verifier_lookup(v, h, data, len);
	if (other == NULL)
		verifier_insert(v, ch, h, data, len);
	pthread_rwlock_unlock(&v->lock);
	if (other != NULL) {
		pckchain_free(ch);
		ch = other;
	}
	*out = ch;
	return CCM_OK;
}

static ccm_code verifier_get_chain(struct ccm_quote_verifier *v, const struct ccm_quote *q,
                                   struct ccm_quote_collateral *c, struct pck_chain **ch,
                                   struct ccm_quote_result *r)
{
	ccm_code rc;

	*ch = NULL;
	if (q->cert_type == 5) {
		rc = verifier_chain(v, q->cert_data, q->cert_len, ch, &r->error);
		if (rc != CCM_OK)
			r->failure = "pck chain";
		return rc;
	}
	if (c == NULL || c->own_chain == NULL) {
		r->failure = "pck chain";
		return ccm_fail(&r->error, CCM_E_INPUT,
		                "pck chain: certification data type %u carries no PCK certificate; "
		                "the collateral needs pck_cert.pem",
		                q->cert_type);
	}
	pckchain_ref(c->own_chain);
	*ch = c->own_chain;
	return CCM_OK;
}

ccm_code ccm_quote_verify(struct ccm_quote_verifier *v, const struct ccm_quote *q,
                          struct ccm_quote_collateral *c, const struct ccm_quote_verify_opts *opts,
                          struct ccm_quote_result *res)
{
	struct pck_chain *ch = NULL;
	ccm_code rc;

	res->verified = false;
	res->tcb_status = CCM_TCB_NONE;
	res->n_advisory_ids = 0;
	res->have_fmspc = false;
	memset(res->fmspc, 0, sizeof(res->fmspc));
	res->earliest_expiry = 0;
	res->collateral_expired = 0;
	res->failure = NULL;
	ccm_error_clear(&res->error);
	if (c == NULL && v == NULL) {
		res->failure = "collateral";
		return ccm_fail(&res->error, CCM_E_USAGE, "collateral: none given");
	}
	if ((rc = verifier_get_chain(v, q, c, &ch, res)) != CCM_OK)
		return rc;
	if (c == NULL) {
		if (ch->code != CCM_OK || ch->ext_code != CCM_OK) {
			rc = ch->code != CCM_OK ? ch->code : ch->ext_code;
			res->failure = ch->code != CCM_OK ? "pck chain" : "pck extension";
			res->error = ch->code != CCM_OK ? ch->err : ch->ext_err;
			pckchain_free(ch);
			return rc;
		}
		c = verifier_find(v, ch->ext.fmspc, q->tee_type);
		if (c == NULL) {
			pckchain_free(ch);
			res->failure = "collateral";
			return ccm_fail(&res->error, CCM_E_NOTFOUND,
			                "collateral: none cached for this FMSPC and TEE type");
		}
	} else {
		ccm_quote_collateral_ref(c);
	}
	rc = qvl_run(q, c, ch, opts, res);
	ccm_quote_collateral_free(c);
	pckchain_free(ch);
	return rc;
}
