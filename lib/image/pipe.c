/*
 * DESIGN: the conversion's pull pipeline. Each layer is read once from the
 * network and used three ways at the same time: a fetch thread downloads
 * it into the work directory (SHA-256 and size checked as it streams), a
 * scanner thread (at most one per CPU, 2..8, in layer order) decompresses
 * and hashes it while it lands, following the file, and for a registry
 * target a push thread uploads it while it lands too. Nothing unverified
 * is trusted: a scan is applied to the file view only once its layer's
 * digest checked, a scan error counts only for a verified layer (so a
 * corrupted blob is reported as such, not as a bad tar), and the push
 * holds back the blob's last byte until the digest checked, so the target
 * never completes an upload of bytes that do not match. The calling
 * thread applies the scans strictly in layer order, so the result is the
 * same as a sequential walk. The first failure stops every thread and is
 * the one reported; every thread is joined on every path.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "image-int.h"
#include "walk-int.h"

#define PIPE_MIN_SCANNERS 2
#define PIPE_MAX_SCANNERS 8
#define PIPE_STEP (256u << 10)

struct pipe_slot {
	struct image_pipeline *p;
	size_t i;
	uint64_t size;
	pthread_t th;
	bool started, joined, scanned;
	bool begun, landed, failed; /* download: path set, verified, failed */
	uint64_t have;              /* bytes downloaded so far */
	uint64_t told;              /* have when waiters were last woken */
	struct ccm_oci_feed fetch_feed, scan_feed, push_feed;
	struct ccm_image_scan *scan;
};

struct image_pipeline {
	struct image_pipe in_copy; /* outlives the caller's (the push goes on) */
	const struct image_pipe *in;
	struct pipe_slot *slots;
	pthread_t fetch_th, push_th;
	bool fetch_started, push_started, push_joined;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	unsigned active, max_active, waiting;
	size_t next_scan;
	bool failed, stop;
	struct ccm_error err; /* the first failure */
};

/* Record the first failure (later ones are its consequences) and stop. */
static void pipe_fail(struct image_pipeline *p, const struct ccm_error *err)
{
	pthread_mutex_lock(&p->mu);
	if (!p->failed) {
		p->failed = true;
		p->err = *err;
	}
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
}

static void pipe_wait_locked(struct image_pipeline *p)
{
	p->waiting++;
	pthread_cond_wait(&p->cv, &p->mu);
	p->waiting--;
}

/* ---- the feeds: one download, followed by the scan and the push ------ */

/* The download's progress; false (abandon it) once the pipeline failed. */
static bool pipe_grow(void *ctx, uint64_t bytes)
{
	struct pipe_slot *s = ctx;
	struct image_pipeline *p = s->p;
	bool go;

	pthread_mutex_lock(&p->mu);
	s->have = bytes;
	/* Wake the readers every PIPE_STEP bytes, not for every write. */
	if (!s->begun || bytes >= s->told + PIPE_STEP || bytes >= s->size) {
		s->told = bytes;
		if (p->waiting > 0)
			pthread_cond_broadcast(&p->cv);
	}
	s->begun = true;
	go = !p->failed && !p->stop;
	pthread_mutex_unlock(&p->mu);
	return go;
}

/* Bytes readable past `have`; last_verified holds back the final byte until
 * the digest checked. -1 when the layer or the pipeline failed. */
static int64_t pipe_follow(struct pipe_slot *s, uint64_t have, bool last_verified)
{
	struct image_pipeline *p = s->p;
	uint64_t ready;
	int64_t r;

	pthread_mutex_lock(&p->mu);
	for (;;) {
		ready = s->have;
		if (last_verified && !s->landed && ready >= s->size)
			ready = s->size > 0 ? s->size - 1 : 0;
		if (p->failed || p->stop || s->failed || ready > have || s->landed ||
		    (!last_verified && s->have >= s->size))
			break;
		pipe_wait_locked(p);
	}
	r = p->failed || p->stop || s->failed ? -1 : (int64_t)ready;
	pthread_mutex_unlock(&p->mu);
	return r;
}

static int64_t pipe_scan_wait(void *ctx, uint64_t have)
{
	return pipe_follow(ctx, have, false);
}

static int64_t pipe_push_wait(void *ctx, uint64_t have)
{
	return pipe_follow(ctx, have, true);
}

/* Wait until layer i's file exists (true) or the pipeline failed. */
static bool pipe_await_begun(struct image_pipeline *p, struct pipe_slot *s)
{
	bool ok;

	pthread_mutex_lock(&p->mu);
	while (!s->begun && !s->landed && !s->failed && !p->failed && !p->stop)
		pipe_wait_locked(p);
	ok = !s->failed && !p->failed && !p->stop;
	pthread_mutex_unlock(&p->mu);
	return ok;
}

/* ---- scanners --------------------------------------------------------- */

/* Scanners run in layer order, at most max_active at a time. */
static bool pipe_scan_turn(struct image_pipeline *p, size_t i)
{
	bool go;

	pthread_mutex_lock(&p->mu);
	while (!p->stop && !p->failed && (p->active >= p->max_active || p->next_scan != i))
		pipe_wait_locked(p);
	go = !p->stop && !p->failed;
	if (go) {
		p->active++;
		p->next_scan++;
		pthread_cond_broadcast(&p->cv);
	}
	pthread_mutex_unlock(&p->mu);
	return go;
}

/* A scan error is the reason only once the layer proved to be what the
 * manifest names; otherwise the download's own error is. */
static void pipe_scan_failed(struct image_pipeline *p, struct pipe_slot *s, struct ccm_error *err)
{
	bool landed;

	pthread_mutex_lock(&p->mu);
	while (!s->landed && !s->failed && !p->failed && !p->stop)
		pipe_wait_locked(p);
	landed = s->landed;
	pthread_mutex_unlock(&p->mu);
	if (landed) {
		ccm_error_prefix(err, "layer %zu (%s)", s->i, p->in->m->layers[s->i].digest);
		pipe_fail(p, err);
	}
}

static void *pipe_scan(void *arg)
{
	struct pipe_slot *s = arg;
	struct image_pipeline *p = s->p;
	struct ccm_error err = {0};
	bool ran = pipe_scan_turn(p, s->i);

	if (ran && pipe_await_begun(p, s) &&
	    image_scan_feed(p->in->fs, p->in->layer_path[s->i], &s->scan_feed, &s->scan, &err) !=
	            CCM_OK)
		pipe_scan_failed(p, s, &err);
	pthread_mutex_lock(&p->mu);
	s->scanned = true;
	if (ran)
		p->active--;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

/* ---- fetch and push threads ------------------------------------------- */

/* A manifest may name one blob twice (empty layers often are). The second
 * must not download into the same work file again: opening it truncates
 * the file the first one's scanner or push may still be reading. It waits
 * for the first to land and shares its checked file. True when layer i
 * was handled so (landed, or the pipeline failed); false: download it. */
static bool pipe_fetch_dup(struct image_pipeline *p, size_t i)
{
	const struct image_pipe *in = p->in;
	struct pipe_slot *s = &p->slots[i], *first;
	size_t j = 0;

	while (j < i && strcmp(in->m->layers[j].digest, in->m->layers[i].digest) != 0)
		j++;
	if (j == i)
		return false;
	first = &p->slots[j];
	pthread_mutex_lock(&p->mu);
	while (!first->landed && !first->failed && !p->failed && !p->stop)
		pipe_wait_locked(p);
	if (first->landed) {
		memcpy(in->layer_path[i], in->layer_path[j], sizeof(in->layer_path[i]));
		s->have = s->size;
		s->begun = s->landed = true;
	} else {
		s->failed = true;
	}
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	return true;
}

static void *pipe_fetch(void *arg)
{
	struct image_pipeline *p = arg;
	const struct image_pipe *in = p->in;
	struct ccm_error err = {0};

	for (size_t i = 0; i < in->m->n_layers; i++) {
		struct pipe_slot *s = &p->slots[i];
		const struct ccm_oci_desc *d = &in->m->layers[i];
		ccm_code rc;

		pthread_mutex_lock(&p->mu);
		bool go = !p->failed && !p->stop;
		pthread_mutex_unlock(&p->mu);
		if (!go)
			break;
		if (pthread_create(&s->th, NULL, pipe_scan, s) != 0) {
			ccm_fail(&err, CCM_E_INTERNAL, "cannot start a scanner thread");
			pipe_fail(p, &err);
			break;
		}
		s->started = true;
		if (pipe_fetch_dup(p, i))
			continue;
		rc = ccm_oci_repo_get_blob_file_feed(in->src, d, in->work, in->layer_path[i],
		                                     sizeof(in->layer_path[i]), &s->fetch_feed,
		                                     &err);
		pthread_mutex_lock(&p->mu);
		s->landed = rc == CCM_OK;
		s->failed = rc != CCM_OK;
		pthread_cond_broadcast(&p->cv);
		pthread_mutex_unlock(&p->mu);
		if (rc != CCM_OK) {
			ccm_error_prefix(&err, "layer %zu (%s)", i, d->digest);
			pipe_fail(p, &err);
			break;
		}
	}
	return NULL;
}

static void *pipe_push(void *arg)
{
	struct image_pipeline *p = arg;
	const struct image_pipe *in = p->in;
	struct ccm_error err = {0};
	const char *how = "";

	for (size_t i = 0; i < in->m->n_layers; i++) {
		struct pipe_slot *s = &p->slots[i];
		if (!pipe_await_begun(p, s))
			break;
		if (ccm_oci_repo_push_blob_feed(in->dst, &in->m->layers[i], in->layer_path[i],
		                                in->src, &s->push_feed, &how, &err) != CCM_OK) {
			pipe_fail(p, &err);
			break;
		}
	}
	return NULL;
}

/* ---- the calling thread: apply in order ------------------------------- */

static ccm_code pipe_apply_all(struct image_pipeline *p, struct ccm_error *err)
{
	const struct image_pipe *in = p->in;
	uint64_t done = 0, total = 0;
	bool failed = false;

	for (size_t i = 0; i < in->m->n_layers; i++)
		total += in->m->layers[i].size;
	for (size_t i = 0; !failed && i < in->m->n_layers; i++) {
		struct pipe_slot *s = &p->slots[i];
		if (in->progress != NULL)
			in->progress(in->progress_ctx, "pull", done, total);
		pthread_mutex_lock(&p->mu);
		while (!p->failed && !(s->scanned && s->landed))
			pipe_wait_locked(p);
		failed = p->failed;
		pthread_mutex_unlock(&p->mu);
		if (failed)
			break;
		done += in->m->layers[i].size;
		if (ccm_image_fs_apply(in->fs, s->scan, (unsigned)i, err) != CCM_OK) {
			ccm_error_prefix(err, "layer %zu (%s)", i, in->m->layers[i].digest);
			pipe_fail(p, err);
			failed = true;
			break;
		}
		ccm_image_scan_free(s->scan);
		s->scan = NULL;
		if (in->verbose)
			fprintf(stderr, "walked layer %s\n", in->m->layers[i].digest);
	}
	if (failed) {
		pthread_mutex_lock(&p->mu);
		*err = p->err;
		pthread_mutex_unlock(&p->mu);
		return err->code;
	}
	if (in->progress != NULL)
		in->progress(in->progress_ctx, "convert", total, total);
	return CCM_OK;
}

static void pipe_stop(struct image_pipeline *p)
{
	pthread_mutex_lock(&p->mu);
	p->stop = true;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
}

/* Join the fetch thread and the scanners (the push may go on). */
static void pipe_join_pull(struct image_pipeline *p)
{
	if (p->fetch_started)
		pthread_join(p->fetch_th, NULL);
	p->fetch_started = false;
	for (size_t i = 0; i < p->in->m->n_layers; i++) {
		struct pipe_slot *s = &p->slots[i];
		if (s->started && !s->joined)
			pthread_join(s->th, NULL);
		s->joined = true;
		ccm_image_scan_free(s->scan);
		s->scan = NULL;
	}
}

void image_pipe_free(struct image_pipeline *p)
{
	if (p == NULL)
		return;
	pipe_stop(p);
	pipe_join_pull(p);
	if (p->push_started && !p->push_joined)
		pthread_join(p->push_th, NULL);
	pthread_cond_destroy(&p->cv);
	pthread_mutex_destroy(&p->mu);
	free(p->slots);
	free(p);
}

ccm_code image_pipe_join(struct image_pipeline *p, struct ccm_error *err)
{
	bool failed;

	if (p->push_started && !p->push_joined)
		pthread_join(p->push_th, NULL);
	p->push_joined = true;
	pthread_mutex_lock(&p->mu);
	failed = p->failed;
	if (failed)
		*err = p->err;
	pthread_mutex_unlock(&p->mu);
	return failed ? err->code : CCM_OK;
}

static struct image_pipeline *pipe_new(const struct image_pipe *in)
{
	struct image_pipeline *p = calloc(1, sizeof(*p));
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);

	if (p == NULL || (p->slots = calloc(in->m->n_layers + 1, sizeof(*p->slots))) == NULL) {
		free(p);
		return NULL;
	}
	p->in_copy = *in;
	p->in = &p->in_copy;
	p->max_active = (unsigned)(cpus < PIPE_MIN_SCANNERS   ? PIPE_MIN_SCANNERS
	                           : cpus > PIPE_MAX_SCANNERS ? PIPE_MAX_SCANNERS
	                                                      : cpus);
	for (size_t i = 0; i < in->m->n_layers; i++) {
		struct pipe_slot *s = &p->slots[i];
		s->p = p;
		s->i = i;
		s->size = in->m->layers[i].size;
		s->fetch_feed = (struct ccm_oci_feed){.grow = pipe_grow, .ctx = s};
		s->scan_feed = (struct ccm_oci_feed){.wait = pipe_scan_wait, .ctx = s};
		s->push_feed = (struct ccm_oci_feed){.wait = pipe_push_wait, .ctx = s};
	}
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	return p;
}

ccm_code image_pipe_run(const struct image_pipe *in, struct image_pipeline **out,
                        struct ccm_error *err)
{
	struct image_pipeline *p = pipe_new(in);
	ccm_code rc;

	*out = NULL;
	if (p == NULL)
		return ccm_fail(err, CCM_E_NOMEM, "out of memory");
	p->fetch_started = pthread_create(&p->fetch_th, NULL, pipe_fetch, p) == 0;
	p->push_started = p->fetch_started && in->dst != NULL &&
	                  pthread_create(&p->push_th, NULL, pipe_push, p) == 0;
	if (!p->fetch_started || (in->dst != NULL && !p->push_started))
		rc = ccm_fail(err, CCM_E_INTERNAL, "cannot start the download threads");
	else
		rc = pipe_apply_all(p, err);
	if (rc != CCM_OK) {
		image_pipe_free(p);
		return rc;
	}
	pipe_join_pull(p);
	*out = p;
	return CCM_OK;
}
