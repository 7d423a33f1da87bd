/*
 * DESIGN: the thread behind defer.h, built like durable.c: jobs go in
 * under a lock, the thread takes them one at a time, and finished jobs are
 * handed back in order with event_active, which wakes the loop once for
 * all of them. One thread is enough: the work is CPU-bound and the loop
 * and the signing helpers have the other cores; a second would only let
 * logins take more of them from issuance.
 */
#include <pthread.h>
#include <stdlib.h>

#include "defer.h"

struct defer_job {
	struct defer_job *next;
	void (*work)(void *arg);
	void (*done)(void *arg);
	void *arg;
};

struct defer {
	struct event *ev; /* activated by the thread, runs on the loop */
	pthread_t thread;
	bool started;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	/* under lock */
	struct defer_job *todo, *todo_tail; /* waiting for the thread */
	struct defer_job *done, *done_tail; /* waiting for the loop */
	size_t queued;                      /* jobs not yet handed back */
	size_t max_queued;
	bool stopping;
};

static void defer_append(struct defer_job **head, struct defer_job **tail, struct defer_job *j)
{
	j->next = NULL;
	if (*tail != NULL)
		(*tail)->next = j;
	else
		*head = j;
	*tail = j;
}

static void *defer_main(void *arg)
{
	struct defer *q = arg;

	pthread_mutex_lock(&q->lock);
	for (;;) {
		struct defer_job *j;

		while (q->todo == NULL && !q->stopping)
			pthread_cond_wait(&q->cond, &q->lock);
		if ((j = q->todo) == NULL)
			break; /* stopping, and nothing left to run */
		if ((q->todo = j->next) == NULL)
			q->todo_tail = NULL;
		pthread_mutex_unlock(&q->lock);
		j->work(j->arg);
		pthread_mutex_lock(&q->lock);
		defer_append(&q->done, &q->done_tail, j);
		event_active(q->ev, EV_READ, 1);
	}
	pthread_mutex_unlock(&q->lock);
	return NULL;
}

/* On the loop: every finished job's done, in order. */
static void defer_deliver(evutil_socket_t fd, short what, void *arg)
{
	struct defer *q = arg;
	struct defer_job *j, *next;

	(void)fd;
	(void)what;
	pthread_mutex_lock(&q->lock);
	j = q->done;
	q->done = q->done_tail = NULL;
	for (struct defer_job *k = j; k != NULL; k = k->next)
		q->queued--;
	pthread_mutex_unlock(&q->lock);
	for (; j != NULL; j = next) {
		next = j->next;
		j->done(j->arg);
		free(j);
	}
}

struct defer *defer_new(struct event_base *base, size_t max_queued)
{
	struct defer *q = calloc(1, sizeof(*q));

	if (q == NULL)
		return NULL;
	pthread_mutex_init(&q->lock, NULL);
	pthread_cond_init(&q->cond, NULL);
	q->max_queued = max_queued;
	q->ev = event_new(base, -1, 0, defer_deliver, q);
	if (q->ev == NULL || pthread_create(&q->thread, NULL, defer_main, q) != 0) {
		defer_free(q);
		return NULL;
	}
	q->started = true;
	return q;
}

bool defer_submit(struct defer *q, void (*work)(void *arg), void (*done)(void *arg), void *arg)
{
	struct defer_job *j;
	bool ok;

	pthread_mutex_lock(&q->lock);
	ok = q->queued < q->max_queued && !q->stopping;
	if (ok && (j = malloc(sizeof(*j))) != NULL) {
		j->work = work;
		j->done = done;
		j->arg = arg;
		defer_append(&q->todo, &q->todo_tail, j);
		q->queued++;
		pthread_cond_signal(&q->cond);
	} else
		ok = false;
	pthread_mutex_unlock(&q->lock);
	return ok;
}

size_t defer_queued(struct defer *q)
{
	size_t n;

	pthread_mutex_lock(&q->lock);
	n = q->queued;
	pthread_mutex_unlock(&q->lock);
	return n;
}

void defer_free(struct defer *q)
{
	if (q == NULL)
		return;
	if (q->started) {
		pthread_mutex_lock(&q->lock);
		q->stopping = true;
		pthread_cond_signal(&q->cond);
		pthread_mutex_unlock(&q->lock);
		pthread_join(q->thread, NULL); /* it runs what was queued first */
		defer_deliver(-1, 0, q);
	}
	if (q->ev != NULL)
		event_free(q->ev);
	pthread_cond_destroy(&q->cond);
	pthread_mutex_destroy(&q->lock);
	free(q);
}
