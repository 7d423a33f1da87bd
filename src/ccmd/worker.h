/*
 * DESIGN: the conversion worker of ccmd (worker.c): a queue and one thread
 * running ccm_image_convert, reporting back on the event loop only.
 */
#ifndef CCMD_WORKER_H
#define CCMD_WORKER_H

#include <stdbool.h>
#include <stdint.h>

#include <event2/event.h>

#include "ccm/image.h"

#define WORKER_MAX_STRINGS 160

struct worker;

struct worker_job {
	struct worker_job *next;
	struct worker *w;
	struct ccm_image_convert_opts opts; /* key, json values and strings owned */
	char *strings[WORKER_MAX_STRINGS];  /* copies the opts point into */
	/* set by the worker */
	ccm_code rc;
	struct ccm_image_convert_result res;
	struct ccm_error err;
	char last_phase[16];
	double last_progress;
	/* called on the event loop thread */
	void (*on_progress)(void *ctx, const char *phase, uint64_t done, uint64_t total);
	void (*on_done)(void *ctx, struct worker_job *job); /* job freed afterwards */
	void *ctx;
};

struct worker *worker_new(struct event_base *base);
void worker_free(struct worker *w);
void worker_submit(struct worker *w, struct worker_job *job);
size_t worker_queued(struct worker *w);

struct worker_job *worker_job_new(void);
void worker_job_free(struct worker_job *job);
/* A copy of s owned by the job (for opts fields); NULL when full. */
const char *worker_job_keep(struct worker_job *job, const char *s);

#endif
