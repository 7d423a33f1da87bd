/*
 * DESIGN: private to lib/store: the SQLite handle and the small helpers
 * every table file uses, so that each statement is prepared, bound by
 * position, stepped and finalised the same way, and every SQLite error
 * becomes a ccm_error naming the operation.
 */
#ifndef CCM_STORE_INT_H
#define CCM_STORE_INT_H

#include <sqlite3.h>
#include <stdatomic.h>

#include "ccm/store.h"

struct store {
	sqlite3 *db;
	bool in_tx;
	uint64_t commits;      /* successful COMMITs, for store_commit_count */
	atomic_int wal_frames; /* WAL size after the last commit (sync.c) */
};

/* Prepare sql; on failure record an error naming what. Statements for the
 * same SQL text are kept prepared and handed out again (parsing a
 * statement costs more than running it); inside lib/store
 * sqlite3_finalize gives such a statement back instead of destroying it,
 * so every table file keeps the plain prepare/step/finalize pattern. A
 * store handle is used by one thread (SQLITE_OPEN_NOMUTEX). */
ccm_code store_prepare(struct store *s, const char *sql, sqlite3_stmt **st, const char *what,
                       struct ccm_error *err);
int store_finalize(sqlite3_stmt *st);
#define sqlite3_finalize(st) store_finalize(st)
/* Map a failed step/exec result to a ccm_code (UNIQUE -> CONFLICT). */
ccm_code store_sqlfail(struct store *s, int rc, const char *what, struct ccm_error *err);
/* Run a statement expected to change rows; CCM_E_NOTFOUND when none did. */
ccm_code store_step_done(struct store *s, sqlite3_stmt *st, bool need_change, const char *what,
                         struct ccm_error *err);
void store_text(sqlite3_stmt *st, int col, char *out, size_t max);
int store_bind_text(sqlite3_stmt *st, int idx, const char *v);
/* Copy a blob column into a malloc'ed buffer. */
ccm_code store_blob_dup(sqlite3_stmt *st, int col, uint8_t **out, size_t *len,
                        struct ccm_error *err);
ccm_code store_text_dup(sqlite3_stmt *st, int col, char **out, struct ccm_error *err);
/* Step one row into out with row(); CCM_E_NOTFOUND naming what if none.
 * Finalises st. */
ccm_code store_row(struct store *s, sqlite3_stmt *st, void (*row)(sqlite3_stmt *, void *),
                   void *out, const char *what, struct ccm_error *err);
/* Each row into tmp, then cb(ctx, tmp). Finalises st. */
ccm_code store_rows(struct store *s, sqlite3_stmt *st, void (*row)(sqlite3_stmt *, void *),
                    void *tmp, ccm_code (*cb)(void *, const void *), void *ctx, const char *what,
                    struct ccm_error *err);
/* A typed listing callback carried through store_rows: fn is cast back to
 * its real type by the table file's adapter before the call. */
struct store_emit {
	void (*fn)(void);
	void *ctx;
};
void store_page_bind(sqlite3_stmt *st, int idx, const struct store_page *pg);

#endif
