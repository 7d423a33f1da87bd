/*
 * DESIGN: the sync thread behind durable.h. The loop numbers each commit
 * it wants durable (a generation) and queues the reply; the thread syncs
 * the WAL for the newest generation it has been asked for, publishes the
 * generation it covered, and wakes the loop with event_active, which
 * releases every reply up to it in order. While the thread waits on the
 * disk the loop keeps serving, so the next sync covers everything that
 * committed meanwhile: the disk costs one sync per batch, not per reply.
 * A failed sync is sticky (after an fsync error the kernel may have
 * dropped the dirty pages, so no later sync proves anything): from then
 * on every write is answered 503 until ccmd is restarted, and nothing is
 * acknowledged that may not be on disk. Checkpoints run on the thread
 * after the replies are released.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

#include "ccmd.h"
#include "durable.h"

struct durable_waiter {
	struct durable_waiter *next;
	uint64_t gen;
	void (*done)(void *arg, bool ok);
	void *arg;
};

struct durable {
	struct store_sync *sync;
	struct event *ev; /* activated by the thread, runs on the loop */
	pthread_t thread;
	bool started;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	/* under lock */
	uint64_t requested; /* newest generation the loop waits for */
	uint64_t synced;    /* newest generation a sync attempt covered */
	uint64_t ok_upto;   /* newest generation known durable */
	bool failed;        /* a sync failed: sticky */
	bool stopping;
	struct ccm_error err;
	/* loop only */
	uint64_t next_gen;
	struct durable_waiter *head, *tail;
};

static void *durable_main(void *arg)
{
	struct durable *u = arg;
	struct ccm_error err;

	pthread_mutex_lock(&u->lock);
	for (;;) {
		uint64_t target;
		ccm_code rc;

		while (u->requested == u->synced && !u->stopping)
			pthread_cond_wait(&u->cond, &u->lock);
		if (u->requested == u->synced)
			break;
		target = u->requested;
		pthread_mutex_unlock(&u->lock);
		rc = store_sync_run(u->sync, &err);
		pthread_mutex_lock(&u->lock);
		u->synced = target;
		if (rc != CCM_OK && !u->failed) {
			u->failed = true;
			u->err = err;
		}
		if (!u->failed)
			u->ok_upto = target;
		pthread_mutex_unlock(&u->lock);
		event_active(u->ev, EV_READ, 1);
		store_sync_checkpoint(u->sync);
		pthread_mutex_lock(&u->lock);
	}
	pthread_mutex_unlock(&u->lock);
	return NULL;
}

/* On the loop: release the replies whose commits a sync has covered. */
static void durable_deliver(evutil_socket_t fd, short what, void *arg)
{
	struct durable *u = arg;
	uint64_t synced, ok_upto;
	bool report = false;

	(void)fd;
	(void)what;
	pthread_mutex_lock(&u->lock);
	synced = u->synced;
	ok_upto = u->ok_upto;
	if (u->failed && u->err.code != CCM_OK) {
		report = true;
		u->err.code = CCM_OK; /* log it once */
	}
	pthread_mutex_unlock(&u->lock);
	if (report)
		log_error("store sync failed: writes are refused until ccmd restarts", &u->err);
	while (u->head != NULL && u->head->gen <= synced) {
		struct durable_waiter *w = u->head;
		if ((u->head = w->next) == NULL)
			u->tail = NULL;
		w->done(w->arg, w->gen <= ok_upto);
		free(w);
	}
}

struct durable *durable_new(struct event_base *base, struct store *s, struct ccm_error *err)
{
	struct durable *u = calloc(1, sizeof(*u));

	if (u == NULL) {
		ccm_fail(err, CCM_E_NOMEM, "out of memory");
		return NULL;
	}
	pthread_mutex_init(&u->lock, NULL);
	pthread_cond_init(&u->cond, NULL);
	u->ev = event_new(base, -1, 0, durable_deliver, u);
	if (u->ev == NULL) {
		ccm_fail(err, CCM_E_NOMEM, "cannot create the sync event");
		goto fail;
	}
	if (store_sync_open(s, &u->sync, err) != CCM_OK)
		goto fail;
	if (pthread_create(&u->thread, NULL, durable_main, u) != 0) {
		ccm_fail(err, CCM_E_INTERNAL, "cannot start the sync thread");
		goto fail;
	}
	u->started = true;
	return u;
fail:
	durable_free(u);
	return NULL;
}

bool durable_failed(struct durable *u)
{
	bool f;

	pthread_mutex_lock(&u->lock);
	f = u->failed;
	pthread_mutex_unlock(&u->lock);
	return f;
}

bool durable_wait(struct durable *u, void (*done)(void *arg, bool ok), void *arg)
{
	struct durable_waiter *w = malloc(sizeof(*w));

	if (w == NULL)
		return false;
	w->next = NULL;
	w->gen = ++u->next_gen;
	w->done = done;
	w->arg = arg;
	if (u->tail != NULL)
		u->tail->next = w;
	else
		u->head = w;
	u->tail = w;
	pthread_mutex_lock(&u->lock);
	u->requested = w->gen;
	pthread_cond_signal(&u->cond);
	pthread_mutex_unlock(&u->lock);
	return true;
}

void durable_free(struct durable *u)
{
	if (u == NULL)
		return;
	if (u->started) {
		pthread_mutex_lock(&u->lock);
		u->stopping = true;
		pthread_cond_signal(&u->cond);
		pthread_mutex_unlock(&u->lock);
		pthread_join(u->thread, NULL); /* it finishes the sync it was asked for */
	}
	durable_deliver(-1, 0, u);
	while (u->head != NULL) { /* only when the thread never ran */
		struct durable_waiter *w = u->head;
		u->head = w->next;
		w->done(w->arg, false);
		free(w);
	}
	if (u->ev != NULL)
		event_free(u->ev);
	store_sync_close(u->sync);
	pthread_cond_destroy(&u->cond);
	pthread_mutex_destroy(&u->lock);
	free(u);
}
