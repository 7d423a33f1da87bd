/*
 * DESIGN: image conversions run off the request path. ccmd is one event
 * loop that owns the store, so the worker thread never touches the store:
 * it runs ccm_image_convert (pull, convert, sign, push) and posts progress
 * and the final result back to the loop with event_base_once, where the
 * job's owner records them. One conversion at a time: a conversion is
 * I/O- and hash-bound and the machine has few cores; a queue keeps the
 * order in which builds were requested. The signing key is handed to the
 * job, used, and freed (OpenSSL wipes key material on free); the job's
 * strings, registry secrets among them, are wiped when it is freed.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "ccmd.h"
#include "worker.h"

struct worker {
	struct event_base *base;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct worker_job *head, *tail;
	bool stopping;
	bool started;
};

struct progress_msg {
	struct worker_job *job;
	char phase[16];
	uint64_t done, total;
};

static void progress_deliver(evutil_socket_t fd, short what, void *arg)
{
	struct progress_msg *m = arg;

	(void)fd;
	(void)what;
	if (m->job->on_progress != NULL)
		m->job->on_progress(m->job->ctx, m->phase, m->done, m->total);
	free(m);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Called by the converter on the worker thread; throttled to 4 per second
 * per phase so the loop and the store are not flooded. */
static void progress_hook(void *ctx, const char *phase, uint64_t done, uint64_t total)
{
	struct worker_job *job = ctx;
	struct timeval zero = {0, 0};
	struct progress_msg *m;
	double t = now_s();
	bool phase_changed = strncmp(job->last_phase, phase, sizeof(job->last_phase)) != 0;

	if (!phase_changed && t - job->last_progress < 0.25 && done != total)
		return;
	job->last_progress = t;
	snprintf(job->last_phase, sizeof(job->last_phase), "%s", phase);
	m = calloc(1, sizeof(*m));
	if (m == NULL)
		return;
	m->job = job;
	snprintf(m->phase, sizeof(m->phase), "%s", phase);
	m->done = done;
	m->total = total;
	if (event_base_once(job->w->base, -1, EV_TIMEOUT, progress_deliver, m, &zero) != 0)
		free(m);
}

static void done_deliver(evutil_socket_t fd, short what, void *arg)
{
	struct worker_job *job = arg;

	(void)fd;
	(void)what;
	job->on_done(job->ctx, job);
	worker_job_free(job);
}

static void worker_run(struct worker_job *job)
{
	struct timeval zero = {0, 0};

	job->opts.progress = progress_hook;
	job->opts.progress_ctx = job;
	job->rc = ccm_image_convert(&job->opts, &job->res, &job->err);
	event_base_once(job->w->base, -1, EV_TIMEOUT, done_deliver, job, &zero);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;

	for (;;) {
		struct worker_job *job;
		pthread_mutex_lock(&w->lock);
		while (w->head == NULL && !w->stopping)
			pthread_cond_wait(&w->cond, &w->lock);
		job = w->head;
		if (job != NULL && (w->head = job->next) == NULL)
			w->tail = NULL;
		pthread_mutex_unlock(&w->lock);
		if (job == NULL)
			return NULL;
		worker_run(job);
	}
}

struct worker *worker_new(struct event_base *base)
{
	struct worker *w = calloc(1, sizeof(*w));

	if (w == NULL)
		return NULL;
	w->base = base;
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->cond, NULL);
	if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
		free(w);
		return NULL;
	}
	w->started = true;
	return w;
}

void worker_submit(struct worker *w, struct worker_job *job)
{
	job->w = w;
	job->next = NULL;
	pthread_mutex_lock(&w->lock);
	if (w->tail != NULL)
		w->tail->next = job;
	else
		w->head = job;
	w->tail = job;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
}

size_t worker_queued(struct worker *w)
{
	size_t n = 0;

	pthread_mutex_lock(&w->lock);
	for (struct worker_job *j = w->head; j != NULL; j = j->next)
		n++;
	pthread_mutex_unlock(&w->lock);
	return n;
}

void worker_free(struct worker *w)
{
	struct worker_job *j;

	if (w == NULL)
		return;
	pthread_mutex_lock(&w->lock);
	w->stopping = true;
	j = w->head;
	w->head = w->tail = NULL;
	pthread_cond_broadcast(&w->cond);
	pthread_mutex_unlock(&w->lock);
	if (w->started)
		pthread_join(w->thread, NULL);
	/* Jobs never started are dropped; their builds stay queued in the
	 * store and are picked up again at the next start. */
	while (j != NULL) {
		struct worker_job *next = j->next;
		worker_job_free(j);
		j = next;
	}
	pthread_mutex_destroy(&w->lock);
	pthread_cond_destroy(&w->cond);
	free(w);
}

struct worker_job *worker_job_new(void)
{
	return calloc(1, sizeof(struct worker_job));
}

void worker_job_free(struct worker_job *job)
{
	if (job == NULL)
		return;
	EVP_PKEY_free(job->opts.key);
	json_decref(job->opts.certificate);
	json_decref(job->opts.entrypoint);
	json_decref(job->opts.cmd);
	/* Wiped: registry passwords and tokens are among them. */
	for (size_t i = 0; i < WORKER_MAX_STRINGS; i++)
		if (job->strings[i] != NULL)
			OPENSSL_clear_free(job->strings[i], strlen(job->strings[i]) + 1);
	free(job);
}

const char *worker_job_keep(struct worker_job *job, const char *s)
{
	for (size_t i = 0; s != NULL && i < WORKER_MAX_STRINGS; i++) {
		if (job->strings[i] == NULL) {
			job->strings[i] = strdup(s);
			return job->strings[i];
		}
	}
	return NULL;
}
