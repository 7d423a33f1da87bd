/*
 * DESIGN: see keypool.h. One thread, a fixed array under a mutex. Unused
 * keys are freed with EVP_PKEY_free, which clears the RSA private
 * components; they never leave ccmd's memory and are never written out
 * unsealed (the caller seals the key it takes).
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

#include <openssl/evp.h>

#include "ccm/sgx.h"
#include "keypool.h"

#define KEYPOOL_MAX 8

struct keypool {
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	EVP_PKEY *keys[KEYPOOL_MAX];
	size_t n, ready;
	bool making, stop;
};

static void *keypool_main(void *arg)
{
	struct keypool *p = arg;
	struct ccm_error err;
	EVP_PKEY *k;

	pthread_mutex_lock(&p->mu);
	for (;;) {
		while (p->n >= p->ready && !p->stop)
			pthread_cond_wait(&p->cv, &p->mu);
		if (p->stop)
			break;
		p->making = true;
		pthread_mutex_unlock(&p->mu);
		k = NULL;
		if (ccm_sgx_keygen(&k, &err) != CCM_OK)
			k = NULL; /* takers then make their own, and say why */
		pthread_mutex_lock(&p->mu);
		p->making = false;
		if (k != NULL && p->n < KEYPOOL_MAX)
			p->keys[p->n++] = k;
		else
			EVP_PKEY_free(k);
		pthread_cond_broadcast(&p->cv);
		if (k == NULL)
			break; /* no busy loop on a failing generator */
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

struct keypool *keypool_new(size_t ready)
{
	struct keypool *p = calloc(1, sizeof(*p));

	if (p == NULL)
		return NULL;
	p->ready = ready < KEYPOOL_MAX ? ready : KEYPOOL_MAX;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	if (pthread_create(&p->thread, NULL, keypool_main, p) != 0) {
		pthread_cond_destroy(&p->cv);
		pthread_mutex_destroy(&p->mu);
		free(p);
		return NULL;
	}
	return p;
}

ccm_code keypool_take(struct keypool *p, EVP_PKEY **out, struct ccm_error *err)
{
	*out = NULL;
	if (p != NULL) {
		pthread_mutex_lock(&p->mu);
		/* One being made is done sooner than a new one started here. */
		while (p->n == 0 && p->making && !p->stop)
			pthread_cond_wait(&p->cv, &p->mu);
		if (p->n > 0) {
			*out = p->keys[--p->n];
			p->keys[p->n] = NULL;
			pthread_cond_broadcast(&p->cv); /* make the next */
		}
		pthread_mutex_unlock(&p->mu);
	}
	return *out != NULL ? CCM_OK : ccm_sgx_keygen(out, err);
}

void keypool_free(struct keypool *p)
{
	if (p == NULL)
		return;
	pthread_mutex_lock(&p->mu);
	p->stop = true;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	pthread_join(p->thread, NULL);
	for (size_t i = 0; i < p->n; i++)
		EVP_PKEY_free(p->keys[i]);
	pthread_cond_destroy(&p->cv);
	pthread_mutex_destroy(&p->mu);
	free(p);
}
