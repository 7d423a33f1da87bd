/*
 * DESIGN: durable replies (group commit). ccmd's one thread commits
 * without waiting for the disk; a reply that follows a commit waits here
 * until a sync thread has made that commit durable, and one disk sync
 * releases every reply waiting for it. See lib/store/sync.c for why this
 * keeps the store's guarantee, and docs/internals/manager.md.
 */
#ifndef CCMD_DURABLE_H
#define CCMD_DURABLE_H

#include <stdbool.h>

#include <event2/event.h>

#include "ccm/store.h"

struct durable;

/* Start the sync thread for s; replies are released on base's loop. */
struct durable *durable_new(struct event_base *base, struct store *s, struct ccm_error *err);
/* On the loop, after a commit: done(arg, ok) runs on the loop once that
 * commit is on disk (ok) or could not be made durable (!ok). False when
 * it cannot queue (then nothing will call done). */
bool durable_wait(struct durable *u, void (*done)(void *arg, bool ok), void *arg);
/* True once a sync has failed (sticky): writes must be refused before
 * they run, not only their replies turned into errors. */
bool durable_failed(struct durable *u);
/* Final sync, then every waiter is called; stops the thread. */
void durable_free(struct durable *u);

#endif
