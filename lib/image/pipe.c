/*
 * DESIGN: the conversion's pull pipeline. A fetch thread downloads each
 * layer (digest checked) and, for a registry target, pushes it on at
 * once; as each layer lands, a scanner thread (at most one per CPU, 2..8)
 * decompresses and hashes it; the calling thread applies the scans
 * strictly in layer order to the file view. Network, registries,
 * decompression and hashing overlap instead of adding up, and the result
 * is the same as a sequential walk because only the scans run in parallel
 * and a scan reads nothing another layer writes. The fetch thread owns the
 * repositories until it is joined; every thread is joined on every path.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "image-int.h"

#define PIPE_MIN_SCANNERS 2
#define PIPE_MAX_SCANNERS 8

struct pipe_slot {
	struct pipe *p;
	size_t i;
	pthread_t th;
	bool started, done, joined;
	struct ccm_image_scan *scan;
	ccm_code rc;
	struct ccm_error err;
};

struct pipe {
	const struct image_pipe *in;
	struct pipe_slot *slots;
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	unsigned active; /* scanners running */
	unsigned max_active;
	size_t next_scan; /* next layer allowed to start scanning */
	bool fetched_all, stop;
	ccm_code rc; /* fetch thread's result */
	struct ccm_error err;
};

/* Scanners run in layer order, at most max_active at a time; a scanner
 * waiting for its turn does not hold up the downloads. */
static bool pipe_scan_turn(struct pipe *p, size_t i)
{
	bool go;

	pthread_mutex_lock(&p->mu);
	while (!p->stop && (p->active >= p->max_active || p->next_scan != i))
		pthread_cond_wait(&p->cv, &p->mu);
	go = !p->stop;
	if (go) {
		p->active++;
		p->next_scan++;
		pthread_cond_broadcast(&p->cv);
	}
	pthread_mutex_unlock(&p->mu);
	return go;
}

static void *pipe_scan(void *arg)
{
	struct pipe_slot *s = arg;
	struct pipe *p = s->p;
	bool ran = pipe_scan_turn(p, s->i);

	if (ran)
		s->rc = ccm_image_scan_file(p->in->fs, p->in->layer_path[s->i], &s->scan, &s->err);
	else
		s->rc = ccm_fail(&s->err, CCM_E_INTERNAL, "scan cancelled");
	pthread_mutex_lock(&p->mu);
	s->done = true;
	if (ran)
		p->active--;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

/* Start the scanner of layer i (it waits for its turn itself). */
static void pipe_start_scan(struct pipe *p, size_t i)
{
	struct pipe_slot *s = &p->slots[i];

	pthread_mutex_lock(&p->mu);
	s->started = true;
	pthread_mutex_unlock(&p->mu);
	if (pthread_create(&s->th, NULL, pipe_scan, s) != 0) {
		s->joined = true; /* no thread: scan here, in turn */
		pipe_scan(s);
	}
}

static void pipe_fetch_done(struct pipe *p, ccm_code rc)
{
	pthread_mutex_lock(&p->mu);
	p->fetched_all = true;
	p->rc = rc;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
}

static void *pipe_fetch(void *arg)
{
	struct pipe *p = arg;
	const struct image_pipe *in = p->in;
	const char *how = "";
	ccm_code rc = CCM_OK;

	for (size_t i = 0; rc == CCM_OK && i < in->m->n_layers; i++) {
		const struct ccm_oci_desc *d = &in->m->layers[i];
		rc = ccm_oci_repo_get_blob_file(in->src, d, in->work, in->layer_path[i],
		                                sizeof(in->layer_path[i]), &p->err);
		if (rc != CCM_OK) {
			ccm_error_prefix(&p->err, "layer %zu (%s)", i, d->digest);
			break;
		}
		pipe_start_scan(p, i);
		if (in->dst != NULL)
			rc = ccm_oci_repo_push_blob(in->dst, d, in->layer_path[i], in->src, &how,
			                            &p->err);
	}
	pipe_fetch_done(p, rc);
	return NULL;
}

/* Wait for the scan of layer i; false with the reason when it will not
 * come (the fetch failed first). */
static bool pipe_wait(struct pipe *p, size_t i, struct ccm_error *err)
{
	struct pipe_slot *s = &p->slots[i];
	bool ok;

	pthread_mutex_lock(&p->mu);
	while (!s->done && !(p->fetched_all && !s->started))
		pthread_cond_wait(&p->cv, &p->mu);
	ok = s->done;
	pthread_mutex_unlock(&p->mu);
	if (!ok) {
		*err = p->err;
		return false;
	}
	if (!s->joined) {
		pthread_join(s->th, NULL);
		s->joined = true;
	}
	return true;
}

static ccm_code pipe_apply_all(struct pipe *p, struct ccm_error *err)
{
	const struct image_pipe *in = p->in;
	uint64_t done = 0, total = 0;

	for (size_t i = 0; i < in->m->n_layers; i++)
		total += in->m->layers[i].size;
	for (size_t i = 0; i < in->m->n_layers; i++) {
		struct pipe_slot *s = &p->slots[i];
		if (in->progress != NULL)
			in->progress(in->progress_ctx, "pull", done, total);
		if (!pipe_wait(p, i, err))
			return err->code;
		done += in->m->layers[i].size;
		if (s->rc != CCM_OK) {
			*err = s->err;
			ccm_error_prefix(err, "layer %zu (%s): layer %zu", i,
			                 in->m->layers[i].digest, i);
			return err->code;
		}
		if (ccm_image_fs_apply(in->fs, s->scan, (unsigned)i, err) != CCM_OK) {
			ccm_error_prefix(err, "layer %zu (%s)", i, in->m->layers[i].digest);
			return err->code;
		}
		ccm_image_scan_free(s->scan);
		s->scan = NULL;
		if (in->verbose)
			fprintf(stderr, "walked layer %s\n", in->m->layers[i].digest);
	}
	if (in->progress != NULL)
		in->progress(in->progress_ctx, "convert", total, total);
	return CCM_OK;
}

static void pipe_teardown(struct pipe *p)
{
	pthread_mutex_lock(&p->mu);
	p->stop = true;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	pthread_join(p->th, NULL);
	for (size_t i = 0; i < p->in->m->n_layers; i++) {
		struct pipe_slot *s = &p->slots[i];
		if (s->started && !s->joined)
			pthread_join(s->th, NULL);
		ccm_image_scan_free(s->scan);
	}
}

ccm_code image_pipe_run(const struct image_pipe *in, struct ccm_error *err)
{
	struct pipe p = {.in = in};
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	ccm_code rc;

	p.max_active = (unsigned)(cpus < PIPE_MIN_SCANNERS   ? PIPE_MIN_SCANNERS
	                          : cpus > PIPE_MAX_SCANNERS ? PIPE_MAX_SCANNERS
	                                                     : cpus);
	p.slots = calloc(in->m->n_layers + 1, sizeof(*p.slots));
	if (p.slots == NULL)
		return ccm_fail(err, CCM_E_NOMEM, "out of memory");
	for (size_t i = 0; i < in->m->n_layers; i++) {
		p.slots[i].p = &p;
		p.slots[i].i = i;
	}
	pthread_mutex_init(&p.mu, NULL);
	pthread_cond_init(&p.cv, NULL);
	if (pthread_create(&p.th, NULL, pipe_fetch, &p) != 0) {
		rc = ccm_fail(err, CCM_E_INTERNAL, "cannot start the fetch thread");
	} else {
		rc = pipe_apply_all(&p, err);
		pipe_teardown(&p);
		if (rc == CCM_OK && p.rc != CCM_OK) {
			*err = p.err;
			rc = p.rc;
		}
	}
	pthread_cond_destroy(&p.cv);
	pthread_mutex_destroy(&p.mu);
	free(p.slots);
	return rc;
}
