/*
 * DESIGN: every certificate an account CA issued, node and app alike, by
 * serial. The CRL is a query (the REVOKED rows); EXPIRED is not stored
 * but derived from not_after when shown, so no job has to flip states.
 */
#include <stdio.h>
#include <string.h>

#include "store-int.h"

#define CERT_COLS                                                                                  \
	"id, account_id, kind, serial, node_id, app_id, build_id, not_after, state, revoked_at,"   \
	" created_at"

static void cert_row(sqlite3_stmt *st, void *out)
{
	struct store_cert *c = out;

	memset(c, 0, sizeof(*c));
	c->id = sqlite3_column_int64(st, 0);
	c->account_id = sqlite3_column_int64(st, 1);
	store_text(st, 2, c->kind, sizeof(c->kind));
	store_text(st, 3, c->serial, sizeof(c->serial));
	c->node_id = sqlite3_column_int64(st, 4);
	c->app_id = sqlite3_column_int64(st, 5);
	c->build_id = sqlite3_column_int64(st, 6);
	c->not_after = sqlite3_column_int64(st, 7);
	store_text(st, 8, c->state, sizeof(c->state));
	c->revoked_at = sqlite3_column_int64(st, 9);
	c->created_at = sqlite3_column_int64(st, 10);
}

ccm_code store_cert_create(struct store *s, struct store_cert *c, struct ccm_error *err)
{
	sqlite3_stmt *st;
	ccm_code rc;

	if (store_prepare(
	            s,
	            "INSERT INTO certificates(account_id, kind, serial, node_id, app_id,"
	            " build_id, not_after, state, created_at) VALUES (?,?,?,?,?,?,?,'ISSUED',?)",
	            &st, "certificate create", err) != CCM_OK)
		return CCM_E_INTERNAL;
	sqlite3_bind_int64(st, 1, c->account_id);
	store_bind_text(st, 2, c->kind);
	store_bind_text(st, 3, c->serial);
	sqlite3_bind_int64(st, 4, c->node_id);
	sqlite3_bind_int64(st, 5, c->app_id);
	sqlite3_bind_int64(st, 6, c->build_id);
	sqlite3_bind_int64(st, 7, c->not_after);
	sqlite3_bind_int64(st, 8, c->created_at);
	rc = store_step_done(s, st, false, "certificate serial", err);
	if (rc == CCM_OK) {
		c->id = sqlite3_last_insert_rowid(s->db);
		snprintf(c->state, sizeof(c->state), "ISSUED");
	}
	return rc;
}

ccm_code store_cert_get(struct store *s, int64_t account_id, int64_t id, struct store_cert *c,
                        struct ccm_error *err)
{
	sqlite3_stmt *st;

	if (store_prepare(s,
	                  "SELECT " CERT_COLS " FROM certificates WHERE id = ? AND account_id = ?",
	                  &st, "certificate get", err) != CCM_OK)
		return CCM_E_INTERNAL;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, account_id);
	return store_row(s, st, cert_row, c, "certificate", err);
}

ccm_code store_cert_by_serial(struct store *s, int64_t account_id, const char *serial,
                              struct store_cert *c, struct ccm_error *err)
{
	sqlite3_stmt *st;

	if (store_prepare(
	            s, "SELECT " CERT_COLS " FROM certificates WHERE account_id = ? AND serial = ?",
	            &st, "certificate by serial", err) != CCM_OK)
		return CCM_E_INTERNAL;
	sqlite3_bind_int64(st, 1, account_id);
	store_bind_text(st, 2, serial);
	return store_row(s, st, cert_row, c, "certificate", err);
}

ccm_code store_cert_revoke(struct store *s, int64_t id, int64_t now, struct ccm_error *err)
{
	sqlite3_stmt *st;

	if (store_prepare(s,
	                  "UPDATE certificates SET state = 'REVOKED', revoked_at = ? WHERE id = ?"
	                  " AND state = 'ISSUED'",
	                  &st, "certificate revoke", err) != CCM_OK)
		return CCM_E_INTERNAL;
	sqlite3_bind_int64(st, 1, now);
	sqlite3_bind_int64(st, 2, id);
	return store_step_done(s, st, true, "unrevoked certificate", err);
}

ccm_code store_cert_revoke_node(struct store *s, int64_t node_id, int64_t now,
                                struct ccm_error *err)
{
	sqlite3_stmt *st;

	if (store_prepare(s,
	                  "UPDATE certificates SET state = 'REVOKED', revoked_at = ? WHERE"
	                  " node_id = ? AND kind = 'node' AND state = 'ISSUED'",
	                  &st, "certificate revoke", err) != CCM_OK)
		return CCM_E_INTERNAL;
	sqlite3_bind_int64(st, 1, now);
	sqlite3_bind_int64(st, 2, node_id);
	return store_step_done(s, st, false, "certificate", err);
}

static ccm_code cert_emit(void *ctx, const void *row)
{
	struct store_emit *e = ctx;

	return ((store_cert_cb)e->fn)(e->ctx, row);
}

ccm_code store_cert_list(struct store *s, int64_t account_id, int64_t app_id, bool revoked_only,
                         const struct store_page *pg, store_cert_cb cb, void *ctx,
                         struct ccm_error *err)
{
	struct store_emit e = {(void (*)(void))cb, ctx};
	struct store_cert tmp;
	sqlite3_stmt *st;

	if (store_prepare(s,
	                  "SELECT " CERT_COLS " FROM certificates WHERE account_id = ?1 AND"
	                  " (?2 = 0 OR app_id = ?2) AND (?3 = 0 OR state = 'REVOKED')"
	                  " ORDER BY id LIMIT ?4 OFFSET ?5",
	                  &st, "certificate list", err) != CCM_OK)
		return CCM_E_INTERNAL;
	sqlite3_bind_int64(st, 1, account_id);
	sqlite3_bind_int64(st, 2, app_id);
	sqlite3_bind_int(st, 3, revoked_only);
	store_page_bind(st, 4, pg);
	return store_rows(s, st, cert_row, &tmp, cert_emit, &e, "certificate list", err);
}
