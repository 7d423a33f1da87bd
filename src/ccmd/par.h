/*
 * DESIGN: a fork-join pool for the pure, CPU-bound part of a request: the
 * signature checks, certificate signatures and answers of a batch's items
 * (see par.c).
 */
#ifndef CCMD_PAR_H
#define CCMD_PAR_H

#include <stddef.h>

struct par;

/* A pool of `threads` helpers besides the caller (0: everything inline). */
struct par *par_new(int threads);
void par_free(struct par *p);
/* fn(arg, i) for every i in [0, n), on the helpers and the calling thread;
 * returns when all are done. p NULL runs inline. One caller at a time. */
void par_for(struct par *p, size_t n, void (*fn)(void *arg, size_t i), void *arg);
/* Helpers for this machine: one fewer than its online CPUs, at most 7. */
int par_default_threads(void);

#endif
