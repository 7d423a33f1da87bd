/*
 * DESIGN: compute nodes, the join tokens they enroll with, and the app
 * instances they report. A join token is known only by its SHA-256 (the
 * secret never reaches SQL); the row is fetched whatever its state so the
 * caller can say precisely why it is unusable, and its hash is returned
 * for the caller's constant-time comparison. Uses are decremented with a
 * guarded UPDATE (uses_left > 0), so two enrollments cannot share the
 * last use.
 */
#include <stdio.h>
#include <string.h>

#include "store-int.h"

#define JT_COLS                                                                                    \
	"id, account_id, name, labels, uses_total, uses_left, expires_at, revoked, created_by,"    \
	" created_at, token_hash"
#define NODE_COLS                                                                                  \
	"id, account_id, name, state, attestation, labels, sys_info, load, token_id, last_seen,"   \
	" created_at, updated_at"

static void jt_row(sqlite3_stmt *st, void *out)
{
	struct store_join_token *t = out;

	memset(t, 0, sizeof(*t));
	t->id = sqlite3_column_int64(st, 0);
	t->account_id = sqlite3_column_int64(st, 1);
	store_text(st, 2, t->name, sizeof(t->name));
	store_text(st, 3, t->labels, sizeof(t->labels));
	t->uses_total = sqlite3_column_int64(st, 4);
	t->uses_left = sqlite3_column_int64(st, 5);
	t->expires_at = sqlite3_column_int64(st, 6);
	t->revoked = sqlite3_column_int(st, 7) != 0;
	t->created_by = sqlite3_column_int64(st, 8);
	t->created_at = sqlite3_column_int64(st, 9);
	if (sqlite3_column_bytes(st, 10) == STORE_DIGEST)
		memcpy(t->token_hash, sqlite3_column_blob(st, 10), STORE_DIGEST);
}

ccm_code store_join_token_create(struct store *s, struct store_join_token *t,
                                 const uint8_t hash[STORE_DIGEST], struct ccm_error *err)
{
	sqlite3_stmt *st;
	ccm_code rc;

	if (store_prepare(
	            s,
	            "INSERT INTO join_tokens(account_id, name, token_hash, labels, uses_total,"
	            " uses_left, expires_at, created_by, created_at) VALUES (?,?,?,?,?,?,?,?,?)",
	            &st, "join token create", err) != CCM_OK)
		return CCM_E_INTERNAL;
	sqlite3_bind_int64(st, 1, t->account_id);
	store_bind_text(st, 2, t->name);
	sqlite3_bind_blob(st, 3, hash, STORE_DIGEST, SQLITE_TRANSIENT);
	store_bind_text(st, 4, t->labels);
	sqlite3_bind_int64(st, 5, t->uses_total);
	sqlite3_bind_int64(st, 6, t->uses_total);
	sqlite3_bind_int64(st, 7, t->expires_at);
	sqlite3_bind_int64(st, 8, t->created_by);
	sqlite3_bind_int64(st, 9, t->created_at);
	rc = store_step_done(s, st, false, "join token name", err);
	if (rc == CCM_OK) {
		t->id = sqlite3_last_insert_rowid(s->db);
		t->uses_left = t->uses_total;
	}
	return rc;
}

ccm_code store_join_token_find(struct store *s, const uint8_t hash[STORE_DIGEST],
                               struct store_join_token *t, struct ccm_error *err)
{
	sqlite3_stmt *st;

	if (store_prepare(s, "SELECT " JT_COLS " FROM join_tokens WHERE token_hash = ?", &st,
	                  "join token find", err) != CCM_OK)
		return CCM_E_INTERNAL;
	sqlite3_bind_blob(st, 1, hash, STORE_DIGEST, SQLITE_TRANSIENT);
	return store_row(s, st, jt_row, t, "join token", err);
}

ccm_code store_join_token_use(struct store *s, int64_t id, struct ccm_error *err)
{
	sqlite3_stmt *st;

	if (store_prepare(s,
	                  "UPDATE join_tokens SET uses_left = uses_left - 1 WHERE id = ? AND"
	                  " uses_left > 0 AND revoked = 0",
	                  &st, "join token use", err) != CCM_OK)
		return CCM_E_INTERNAL;
	sqlite3_bind_int64(st, 1, id);
	return store_step_done(s, st, true, "usable join token", err);
}

ccm_code store_join_token_revoke(struct store *s, int64_t account_id, int64_t id,
                                 struct ccm_error *err)
{
	sqlite3_stmt *st;

	if (store_prepare(s, "UPDATE join_tokens SET revoked = 1 WHERE id = ? AND account_id = ?",
	                  &st, "join token revoke", err) != CCM_OK)
		return CCM_E_INTERNAL;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, account_id);
	return store_step_done(s, st, true, "join token", err);
}

static ccm_code jt_emit(void *ctx, const void *row)
{
	struct store_emit *e = ctx;

	return ((store_join_token_cb)e->fn)(e->ctx, row);
}

ccm_code store_join_token_list(struct store *s, int64_t account_id, const struct store_page *pg,
                               store_join_token_cb cb, void *ctx, struct ccm_error *err)
{
	struct store_emit e = {(void (*)(void))cb, ctx};
	struct store_join_token tmp;
	sqlite3_stmt *st;

	if (store_prepare(s,
	                  "SELECT " JT_COLS " FROM join_tokens WHERE account_id = ? ORDER BY id"
	                  " LIMIT ? OFFSET ?",
	                  &st, "join token list", err) != CCM_OK)
		return CCM_E_INTERNAL;
	sqlite3_bind_int64(st, 1, account_id);
	store_page_bind(st, 2, pg);
	return store_rows(s, st, jt_row, &tmp, jt_emit, &e, "join token list", err);
}

/* ---- nodes ----------------------------------------------------------------- */

static void node_row(sqlite3_stmt *st, void *out)
{
	struct store_node *n = out;

	memset(n, 0, sizeof(*n));
	n->id = sqlite3_column_int64(st, 0);
	n->account_id = sqlite3_column_int64(st, 1);
	store_text(st, 2, n->name, sizeof(n->name));
	store_text(st, 3, n->state, sizeof(n->state));
	store_text(st, 4, n->attestation, sizeof(n->attestation));
	store_text(st, 5, n->labels, sizeof(n->labels));
	store_text(st, 6, n->sys_info, sizeof(n->sys_info));
	store_text(st, 7, n->load, sizeof(n->load));
	n->token_id = sqlite3_column_int64(st, 8);
	n->last_seen = sqlite3_column_int64(st, 9);
	n->created_at = sqlite3_column_int64(st, 10);
	n->updated_at = sqlite3_column_int64(st, 11);
}

ccm_code store_node_create(struct store *s, struct store_node *n, struct ccm_error *err)
{
	sqlite3_stmt *st;
	ccm_code rc;

	if (store_prepare(
	            s,
	            "INSERT INTO nodes(account_id, name, state, attestation, labels, sys_info,"
	            " load, token_id, last_seen, created_at, updated_at)"
	            " VALUES (?,?,?,?,?,?,?,?,?,?,?)",
	            &st, "node create", err) != CCM_OK)
		return CCM_E_INTERNAL;
	sqlite3_bind_int64(st, 1, n->account_id);
	store_bind_text(st, 2, n->name);
	store_bind_text(st, 3, n->state);
	store_bind_text(st, 4, n->attestation);
	store_bind_text(st, 5, n->labels);
	store_bind_text(st, 6, n->sys_info);
	store_bind_text(st, 7, n->load);
	sqlite3_bind_int64(st, 8, n->token_id);
	sqlite3_bind_int64(st, 9, n->last_seen);
	sqlite3_bind_int64(st, 10, n->created_at);
	sqlite3_bind_int64(st, 11, n->created_at);
	rc = store_step_done(s, st, false, "node", err);
	if (rc == CCM_OK) {
		n->id = sqlite3_last_insert_rowid(s->db);
		n->updated_at = n->created_at;
	}
	return rc;
}

ccm_code store_node_get(struct store *s, int64_t account_id, int64_t id, struct store_node *n,
                        struct ccm_error *err)
{
	sqlite3_stmt *st;

	if (store_prepare(s, "SELECT " NODE_COLS " FROM nodes WHERE id = ? AND account_id = ?", &st,
	                  "node get", err) != CCM_OK)
		return CCM_E_INTERNAL;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, account_id);
	return store_row(s, st, node_row, n, "node", err);
}

static ccm_code node_set(struct store *s, const char *sql, int64_t id, const char *v, int64_t now,
                         struct ccm_error *err)
{
	sqlite3_stmt *st;

	if (store_prepare(s, sql, &st, "node update", err) != CCM_OK)
		return CCM_E_INTERNAL;
	store_bind_text(st, 1, v);
	sqlite3_bind_int64(st, 2, now);
	sqlite3_bind_int64(st, 3, id);
	return store_step_done(s, st, true, "node", err);
}

ccm_code store_node_set_state(struct store *s, int64_t id, const char *state, int64_t now,
                              struct ccm_error *err)
{
	return node_set(s, "UPDATE nodes SET state = ?, updated_at = ? WHERE id = ?", id, state,
	                now, err);
}

ccm_code store_node_set_labels(struct store *s, int64_t id, const char *labels, int64_t now,
                               struct ccm_error *err)
{
	return node_set(s, "UPDATE nodes SET labels = ?, updated_at = ? WHERE id = ?", id, labels,
	                now, err);
}

ccm_code store_node_seen(struct store *s, int64_t id, const char *load, int64_t now,
                         struct ccm_error *err)
{
	return node_set(s,
	                "UPDATE nodes SET load = ?, last_seen = ?2, state = 'ACTIVE',"
	                " updated_at = CASE state WHEN 'ACTIVE' THEN updated_at ELSE ?2 END"
	                " WHERE id = ?3 AND state IN ('ACTIVE', 'UNREACHABLE')",
	                id, load, now, err);
}

static ccm_code node_emit(void *ctx, const void *row)
{
	struct store_emit *e = ctx;

	return ((store_node_cb)e->fn)(e->ctx, row);
}

ccm_code store_node_sweep(struct store *s, int64_t before, int64_t now, store_node_cb cb, void *ctx,
                          struct ccm_error *err)
{
	struct store_emit e = {(void (*)(void))cb, ctx};
	struct store_node tmp;
	sqlite3_stmt *st;

	if (store_prepare(s,
	                  "UPDATE nodes SET state = 'UNREACHABLE', updated_at = ?1 WHERE"
	                  " state = 'ACTIVE' AND last_seen < ?2 RETURNING " NODE_COLS,
	                  &st, "node sweep", err) != CCM_OK)
		return CCM_E_INTERNAL;
	sqlite3_bind_int64(st, 1, now);
	sqlite3_bind_int64(st, 2, before);
	return store_rows(s, st, node_row, &tmp, node_emit, &e, "node sweep", err);
}

ccm_code store_node_list(struct store *s, int64_t account_id, const struct store_page *pg,
                         store_node_cb cb, void *ctx, struct ccm_error *err)
{
	struct store_emit e = {(void (*)(void))cb, ctx};
	struct store_node tmp;
	sqlite3_stmt *st;

	if (store_prepare(s,
	                  "SELECT " NODE_COLS " FROM nodes WHERE account_id = ? ORDER BY id"
	                  " LIMIT ? OFFSET ?",
	                  &st, "node list", err) != CCM_OK)
		return CCM_E_INTERNAL;
	sqlite3_bind_int64(st, 1, account_id);
	store_page_bind(st, 2, pg);
	return store_rows(s, st, node_row, &tmp, node_emit, &e, "node list", err);
}

/* ---- app instances ----------------------------------------------------------- */

ccm_code store_instance_set(struct store *s, int64_t node_id, int64_t app_id, const char *state,
                            int64_t now, struct ccm_error *err)
{
	sqlite3_stmt *st;

	/* Only apps of the node's own account: a node cannot fill the table
	 * with ids it made up (others are ignored, not an error). */
	if (store_prepare(s,
	                  "INSERT INTO app_instances(node_id, app_id, state, updated_at)"
	                  " SELECT ?1, ?2, ?3, ?4 WHERE EXISTS (SELECT 1 FROM apps a JOIN nodes n"
	                  " ON n.account_id = a.account_id WHERE a.id = ?2 AND n.id = ?1)"
	                  " ON CONFLICT(node_id, app_id) DO UPDATE SET"
	                  " state = excluded.state, updated_at = excluded.updated_at",
	                  &st, "instance set", err) != CCM_OK)
		return CCM_E_INTERNAL;
	sqlite3_bind_int64(st, 1, node_id);
	sqlite3_bind_int64(st, 2, app_id);
	store_bind_text(st, 3, state);
	sqlite3_bind_int64(st, 4, now);
	return store_step_done(s, st, false, "instance", err);
}

ccm_code store_instance_stop_others(struct store *s, int64_t node_id, int64_t now,
                                    struct ccm_error *err)
{
	sqlite3_stmt *st;

	if (store_prepare(s,
	                  "UPDATE app_instances SET state = 'STOPPED', updated_at = ?2 WHERE"
	                  " node_id = ?1 AND state = 'RUNNING' AND updated_at < ?2",
	                  &st, "instance stop", err) != CCM_OK)
		return CCM_E_INTERNAL;
	sqlite3_bind_int64(st, 1, node_id);
	sqlite3_bind_int64(st, 2, now);
	return store_step_done(s, st, false, "instance", err);
}

static void inst_row(sqlite3_stmt *st, void *out)
{
	struct store_instance *i = out;

	memset(i, 0, sizeof(*i));
	i->node_id = sqlite3_column_int64(st, 0);
	i->app_id = sqlite3_column_int64(st, 1);
	store_text(st, 2, i->state, sizeof(i->state));
	i->updated_at = sqlite3_column_int64(st, 3);
}

static ccm_code inst_emit(void *ctx, const void *row)
{
	struct store_emit *e = ctx;

	return ((store_instance_cb)e->fn)(e->ctx, row);
}

ccm_code store_instance_list(struct store *s, int64_t node_id, store_instance_cb cb, void *ctx,
                             struct ccm_error *err)
{
	struct store_emit e = {(void (*)(void))cb, ctx};
	struct store_instance tmp;
	sqlite3_stmt *st;

	if (store_prepare(s,
	                  "SELECT node_id, app_id, state, updated_at FROM app_instances WHERE"
	                  " node_id = ? ORDER BY app_id",
	                  &st, "instance list", err) != CCM_OK)
		return CCM_E_INTERNAL;
	sqlite3_bind_int64(st, 1, node_id);
	return store_rows(s, st, inst_row, &tmp, inst_emit, &e, "instance list", err);
}

ccm_code store_instance_list_app(struct store *s, int64_t account_id, int64_t app_id,
                                 store_instance_cb cb, void *ctx, struct ccm_error *err)
{
	struct store_emit e = {(void (*)(void))cb, ctx};
	struct store_instance tmp;
	sqlite3_stmt *st;

	/* The join keeps the answer inside the account: app ids are global. */
	if (store_prepare(s,
	                  "SELECT i.node_id, i.app_id, i.state, i.updated_at FROM app_instances i"
	                  " JOIN nodes n ON n.id = i.node_id WHERE i.app_id = ? AND"
	                  " n.account_id = ? ORDER BY i.node_id",
	                  &st, "instance list", err) != CCM_OK)
		return CCM_E_INTERNAL;
	sqlite3_bind_int64(st, 1, app_id);
	sqlite3_bind_int64(st, 2, account_id);
	return store_rows(s, st, inst_row, &tmp, inst_emit, &e, "instance list", err);
}
