/*
 * DESIGN: registry credentials of an account, one row per (account, host).
 * The store never sees a secret in clear: ccmd seals it with the master
 * key (lib/pki/seal.c) before store_registry_put and unseals what
 * store_registry_by_host returns, in the build worker only. Listings and
 * store_registry_get leave the sealed column out, so no reply or log path
 * can carry it by accident. Adding credentials for a host already present
 * replaces them in place (same id, created_at kept), which is what a user
 * rotating a password expects.
 */
#include <stdlib.h>
#include <string.h>

#include "store-int.h"

#define REG_COLS "id, account_id, host, username, kind, created_at, updated_at"

static void registry_row(sqlite3_stmt *st, void *out)
{
	struct store_registry *r = out;

	memset(r, 0, sizeof(*r));
	r->id = sqlite3_column_int64(st, 0);
	r->account_id = sqlite3_column_int64(st, 1);
	store_text(st, 2, r->host, sizeof(r->host));
	store_text(st, 3, r->username, sizeof(r->username));
	store_text(st, 4, r->kind, sizeof(r->kind));
	r->created_at = sqlite3_column_int64(st, 5);
	r->updated_at = sqlite3_column_int64(st, 6);
}

static ccm_code registry_find(struct store *s, int64_t account_id, const char *host,
                              struct store_registry *r, struct ccm_error *err)
{
	sqlite3_stmt *st;

	if (store_prepare(s,
	                  "SELECT " REG_COLS " FROM registries WHERE account_id = ? AND host = ?",
	                  &st, "registry by host", err) != CCM_OK)
		return CCM_E_INTERNAL;
	sqlite3_bind_int64(st, 1, account_id);
	store_bind_text(st, 2, host);
	return store_row(s, st, registry_row, r, "registry", err);
}

ccm_code store_registry_put(struct store *s, struct store_registry *r, const uint8_t *sealed,
                            size_t sealed_len, bool *replaced, struct ccm_error *err)
{
	struct store_registry old;
	struct ccm_error ignore;
	sqlite3_stmt *st;
	ccm_code rc;

	*replaced = registry_find(s, r->account_id, r->host, &old, &ignore) == CCM_OK;
	if (store_prepare(
	            s,
	            "INSERT INTO registries(account_id, host, username, kind, secret_sealed,"
	            " created_at, updated_at) VALUES (?,?,?,?,?,?,?)"
	            " ON CONFLICT(account_id, host) DO UPDATE SET"
	            " username = excluded.username, kind = excluded.kind,"
	            " secret_sealed = excluded.secret_sealed, updated_at = excluded.updated_at",
	            &st, "registry put", err) != CCM_OK)
		return CCM_E_INTERNAL;
	sqlite3_bind_int64(st, 1, r->account_id);
	store_bind_text(st, 2, r->host);
	store_bind_text(st, 3, r->username);
	store_bind_text(st, 4, r->kind);
	sqlite3_bind_blob(st, 5, sealed, (int)sealed_len, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 6, r->created_at);
	sqlite3_bind_int64(st, 7, r->created_at);
	if ((rc = store_step_done(s, st, true, "registry", err)) != CCM_OK)
		return rc;
	return registry_find(s, r->account_id, r->host, r, err);
}

ccm_code store_registry_get(struct store *s, int64_t account_id, int64_t id,
                            struct store_registry *r, struct ccm_error *err)
{
	sqlite3_stmt *st;

	if (store_prepare(s, "SELECT " REG_COLS " FROM registries WHERE id = ? AND account_id = ?",
	                  &st, "registry get", err) != CCM_OK)
		return CCM_E_INTERNAL;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, account_id);
	return store_row(s, st, registry_row, r, "registry", err);
}

ccm_code store_registry_by_host(struct store *s, int64_t account_id, const char *host,
                                struct store_registry *r, uint8_t **sealed, size_t *sealed_len,
                                struct ccm_error *err)
{
	sqlite3_stmt *st;
	ccm_code rc;
	int step;

	*sealed = NULL;
	*sealed_len = 0;
	if (store_prepare(s,
	                  "SELECT " REG_COLS ", secret_sealed FROM registries"
	                  " WHERE account_id = ? AND host = ?",
	                  &st, "registry secret", err) != CCM_OK)
		return CCM_E_INTERNAL;
	sqlite3_bind_int64(st, 1, account_id);
	store_bind_text(st, 2, host);
	step = sqlite3_step(st);
	if (step == SQLITE_ROW) {
		registry_row(st, r);
		rc = store_blob_dup(st, 7, sealed, sealed_len, err);
	} else if (step == SQLITE_DONE) {
		rc = ccm_fail(err, CCM_E_NOTFOUND, "no credentials for registry %s", host);
	} else {
		rc = store_sqlfail(s, sqlite3_extended_errcode(s->db), "registry secret", err);
	}
	sqlite3_finalize(st);
	return rc;
}

ccm_code store_registry_delete(struct store *s, int64_t account_id, int64_t id,
                               struct ccm_error *err)
{
	sqlite3_stmt *st;

	if (store_prepare(s, "DELETE FROM registries WHERE id = ? AND account_id = ?", &st,
	                  "registry delete", err) != CCM_OK)
		return CCM_E_INTERNAL;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, account_id);
	return store_step_done(s, st, true, "registry", err);
}

static ccm_code registry_emit(void *ctx, const void *row)
{
	struct store_emit *e = ctx;

	return ((store_registry_cb)e->fn)(e->ctx, row);
}

ccm_code store_registry_list(struct store *s, int64_t account_id, const struct store_page *pg,
                             store_registry_cb cb, void *ctx, struct ccm_error *err)
{
	struct store_emit e = {(void (*)(void))cb, ctx};
	struct store_registry tmp;
	sqlite3_stmt *st;

	if (store_prepare(s,
	                  "SELECT " REG_COLS " FROM registries WHERE account_id = ?1"
	                  " ORDER BY host LIMIT ?2 OFFSET ?3",
	                  &st, "registry list", err) != CCM_OK)
		return CCM_E_INTERNAL;
	sqlite3_bind_int64(st, 1, account_id);
	store_page_bind(st, 2, pg);
	return store_rows(s, st, registry_row, &tmp, registry_emit, &e, "registry list", err);
}
