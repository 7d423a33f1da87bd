/*
 * DESIGN: work too slow for ccmd's one event-loop thread. An Argon2id
 * password check takes tens of milliseconds at the production cost, and
 * on the loop every other request, node heartbeat and certificate issue
 * waited behind it: a burst of logins (or a guessing campaign spread over
 * many addresses, which the per-address limit does not stop) stalled the
 * whole manager. Here one thread runs such work in order and hands each
 * result back on the loop, where the request is finished. The queue is
 * bounded, so a flood is answered "busy" at once instead of growing it.
 */
#ifndef CCMD_DEFER_H
#define CCMD_DEFER_H

#include <stdbool.h>
#include <stddef.h>

#include <event2/event.h>

struct defer;

/* One thread; at most max_queued jobs waiting or running. NULL when it
 * cannot start (callers then do the work inline, as before). */
struct defer *defer_new(struct event_base *base, size_t max_queued);
/* On the loop: work(arg) on the thread, then done(arg) on the loop.
 * False when the queue is full (nothing will be called). */
bool defer_submit(struct defer *q, void (*work)(void *arg), void (*done)(void *arg), void *arg);
/* Jobs waiting or running (not yet handed back to the loop). */
size_t defer_queued(struct defer *q);
/* Runs what is queued, calls every done here (the loop's thread, after
 * the loop has stopped), stops the thread. */
void defer_free(struct defer *q);

#endif
