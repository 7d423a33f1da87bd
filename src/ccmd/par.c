/*
 * DESIGN: ccmd answers from one event-loop thread, which keeps handlers
 * and the store single-threaded. The one place that is worth a second
 * core is the CPU-bound part of a batch of issue requests: per item two
 * ECDSA verifications (reading the item and the caller's certificate),
 * then the certificate's construction and signature (reading the item
 * and the account CA and key the batch holds), then its answer's JSON.
 * par_for hands those out to a few helper threads and works on them
 * itself, so with one CPU (or no helpers) they simply run inline, and it
 * returns only when every item is done and every helper has let go of the
 * job, which lives on the caller's stack. The loop is inside par_for the
 * whole time, so what a job reads cannot change under it; functions run
 * here must still not write the store, ccmd state or any libevent object,
 * nor read what another item writes.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>

#include "par.h"

#define PAR_MAX_THREADS 7

struct par_job {
	void (*fn)(void *arg, size_t i);
	void *arg;
	size_t n;
	atomic_size_t next;
};

struct par {
	pthread_mutex_t lock;
	pthread_cond_t work, done;
	struct par_job *job; /* NULL between calls */
	unsigned long gen;   /* bumped per job, so a helper joins each once */
	int active;          /* helpers inside the current job */
	bool stop;
	int nthreads;
	pthread_t threads[PAR_MAX_THREADS];
};

static void par_run(struct par_job *j)
{
	size_t i;

	while ((i = atomic_fetch_add(&j->next, 1)) < j->n)
		j->fn(j->arg, i);
}

static void *par_main(void *arg)
{
	struct par *p = arg;
	unsigned long seen = 0;

	pthread_mutex_lock(&p->lock);
	for (;;) {
		while (!p->stop && (p->job == NULL || p->gen == seen))
			pthread_cond_wait(&p->work, &p->lock);
		if (p->stop)
			break;
		struct par_job *j = p->job;
		seen = p->gen;
		p->active++;
		pthread_mutex_unlock(&p->lock);
		par_run(j);
		pthread_mutex_lock(&p->lock);
		if (--p->active == 0)
			pthread_cond_signal(&p->done);
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

struct par *par_new(int threads)
{
	struct par *p = calloc(1, sizeof(*p));

	if (p == NULL)
		return NULL;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->work, NULL);
	pthread_cond_init(&p->done, NULL);
	if (threads > PAR_MAX_THREADS)
		threads = PAR_MAX_THREADS;
	for (int i = 0; i < threads; i++) {
		if (pthread_create(&p->threads[i], NULL, par_main, p) != 0)
			break;
		p->nthreads++;
	}
	return p;
}

void par_free(struct par *p)
{
	if (p == NULL)
		return;
	pthread_mutex_lock(&p->lock);
	p->stop = true;
	pthread_cond_broadcast(&p->work);
	pthread_mutex_unlock(&p->lock);
	for (int i = 0; i < p->nthreads; i++)
		pthread_join(p->threads[i], NULL);
	pthread_cond_destroy(&p->work);
	pthread_cond_destroy(&p->done);
	pthread_mutex_destroy(&p->lock);
	free(p);
}

void par_for(struct par *p, size_t n, void (*fn)(void *arg, size_t i), void *arg)
{
	struct par_job j = {.fn = fn, .arg = arg, .n = n};

	atomic_init(&j.next, 0);
	if (p == NULL || p->nthreads == 0 || n < 2) {
		par_run(&j);
		return;
	}
	pthread_mutex_lock(&p->lock);
	p->job = &j;
	p->gen++;
	pthread_cond_broadcast(&p->work);
	pthread_mutex_unlock(&p->lock);
	par_run(&j);
	pthread_mutex_lock(&p->lock);
	p->job = NULL; /* a helper not yet in stays out */
	while (p->active > 0)
		pthread_cond_wait(&p->done, &p->lock);
	pthread_mutex_unlock(&p->lock);
}

int par_default_threads(void)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);

	if (cpus <= 1)
		return 0;
	return cpus - 1 > PAR_MAX_THREADS ? PAR_MAX_THREADS : (int)(cpus - 1);
}
