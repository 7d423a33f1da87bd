/*
 * DESIGN: users and their login sessions. A session is known only by the
 * SHA-256 of its bearer token, so a copy of the database gives no usable
 * token; lookups are by that hash (an indexed equality, the token itself
 * never reaches SQL).
 */
#include <string.h>

#include "store-int.h"

#define USER_COLS                                                                                  \
	"id, email, name, pw_hash, is_admin, must_change_pw, disabled, created_at, updated_at"

static void user_row(sqlite3_stmt *st, struct store_user *u)
{
	memset(u, 0, sizeof(*u));
	u->id = sqlite3_column_int64(st, 0);
	store_text(st, 1, u->email, sizeof(u->email));
	store_text(st, 2, u->name, sizeof(u->name));
	store_text(st, 3, u->pw_hash, sizeof(u->pw_hash));
	u->is_admin = sqlite3_column_int(st, 4) != 0;
	u->must_change_pw = sqlite3_column_int(st, 5) != 0;
	u->disabled = sqlite3_column_int(st, 6) != 0;
	u->created_at = sqlite3_column_int64(st, 7);
	u->updated_at = sqlite3_column_int64(st, 8);
}

ccm_code store_user_create(struct store *s, struct store_user *u, struct ccm_error *err)
{
	sqlite3_stmt *st;
	ccm_code rc;

	if (store_prepare(s,
	                  "INSERT INTO users(email, name, pw_hash, is_admin, must_change_pw,"
	                  " disabled, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?)",
	                  &st, "user create", err) != CCM_OK)
		return CCM_E_INTERNAL;
	store_bind_text(st, 1, u->email);
	store_bind_text(st, 2, u->name);
	store_bind_text(st, 3, u->pw_hash);
	sqlite3_bind_int(st, 4, u->is_admin);
	sqlite3_bind_int(st, 5, u->must_change_pw);
	sqlite3_bind_int(st, 6, u->disabled);
	sqlite3_bind_int64(st, 7, u->created_at);
	sqlite3_bind_int64(st, 8, u->created_at);
	rc = store_step_done(s, st, false, "user", err);
	if (rc == CCM_OK)
		u->id = sqlite3_last_insert_rowid(s->db);
	return rc;
}

static ccm_code user_get_by(struct store *s, const char *sql, int64_t id, const char *email,
                            struct store_user *u, struct ccm_error *err)
{
	sqlite3_stmt *st;
	int rc;

	if (store_prepare(s, sql, &st, "user get", err) != CCM_OK)
		return CCM_E_INTERNAL;
	if (email != NULL)
		store_bind_text(st, 1, email);
	else
		sqlite3_bind_int64(st, 1, id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		user_row(st, u);
	sqlite3_finalize(st);
	if (rc == SQLITE_ROW)
		return CCM_OK;
	if (rc == SQLITE_DONE)
		return ccm_fail(err, CCM_E_NOTFOUND, "user not found");
	return store_sqlfail(s, rc, "user get", err);
}

ccm_code store_user_get(struct store *s, int64_t id, struct store_user *u, struct ccm_error *err)
{
	return user_get_by(s, "SELECT " USER_COLS " FROM users WHERE id = ?", id, NULL, u, err);
}

ccm_code store_user_by_email(struct store *s, const char *email, struct store_user *u,
                             struct ccm_error *err)
{
	return user_get_by(s, "SELECT " USER_COLS " FROM users WHERE email = ?", 0, email, u, err);
}

ccm_code store_user_update(struct store *s, const struct store_user *u, struct ccm_error *err)
{
	sqlite3_stmt *st;

	if (store_prepare(s,
	                  "UPDATE users SET name = ?, pw_hash = ?, is_admin = ?,"
	                  " must_change_pw = ?, disabled = ?, updated_at = ? WHERE id = ?",
	                  &st, "user update", err) != CCM_OK)
		return CCM_E_INTERNAL;
	store_bind_text(st, 1, u->name);
	store_bind_text(st, 2, u->pw_hash);
	sqlite3_bind_int(st, 3, u->is_admin);
	sqlite3_bind_int(st, 4, u->must_change_pw);
	sqlite3_bind_int(st, 5, u->disabled);
	sqlite3_bind_int64(st, 6, u->updated_at);
	sqlite3_bind_int64(st, 7, u->id);
	return store_step_done(s, st, true, "user", err);
}

ccm_code store_user_list(struct store *s, const struct store_page *pg, store_user_cb cb, void *ctx,
                         struct ccm_error *err)
{
	struct store_user u;
	sqlite3_stmt *st;
	ccm_code rc = CCM_OK;
	int r;

	if (store_prepare(s, "SELECT " USER_COLS " FROM users ORDER BY id LIMIT ? OFFSET ?", &st,
	                  "user list", err) != CCM_OK)
		return CCM_E_INTERNAL;
	store_page_bind(st, 1, pg);
	while (rc == CCM_OK && (r = sqlite3_step(st)) == SQLITE_ROW) {
		user_row(st, &u);
		rc = cb(ctx, &u);
	}
	sqlite3_finalize(st);
	return rc;
}

int64_t store_user_count(struct store *s)
{
	sqlite3_stmt *st = NULL;
	int64_t n = -1;

	if (sqlite3_prepare_v2(s->db, "SELECT count(*) FROM users", -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return n;
}

/* ---- sessions -------------------------------------------------------------- */

ccm_code store_session_create(struct store *s, const uint8_t hash[STORE_DIGEST], int64_t user_id,
                              int64_t expires_at, struct ccm_error *err)
{
	sqlite3_stmt *st;

	if (store_prepare(s,
	                  "INSERT INTO sessions(token_hash, user_id, created_at, expires_at)"
	                  " VALUES (?, ?, strftime('%s','now'), ?)",
	                  &st, "session create", err) != CCM_OK)
		return CCM_E_INTERNAL;
	sqlite3_bind_blob(st, 1, hash, STORE_DIGEST, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 2, user_id);
	sqlite3_bind_int64(st, 3, expires_at);
	return store_step_done(s, st, false, "session", err);
}

ccm_code store_session_find(struct store *s, const uint8_t hash[STORE_DIGEST], int64_t now,
                            struct store_session *out, struct ccm_error *err)
{
	sqlite3_stmt *st;
	int rc;

	if (store_prepare(s,
	                  "SELECT id, user_id, created_at, expires_at, token_hash FROM sessions"
	                  " WHERE token_hash = ? AND revoked = 0 AND expires_at > ?",
	                  &st, "session find", err) != CCM_OK)
		return CCM_E_INTERNAL;
	sqlite3_bind_blob(st, 1, hash, STORE_DIGEST, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 2, now);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		out->id = sqlite3_column_int64(st, 0);
		out->user_id = sqlite3_column_int64(st, 1);
		out->created_at = sqlite3_column_int64(st, 2);
		out->expires_at = sqlite3_column_int64(st, 3);
		if (sqlite3_column_bytes(st, 4) == STORE_DIGEST)
			memcpy(out->token_hash, sqlite3_column_blob(st, 4), STORE_DIGEST);
	}
	sqlite3_finalize(st);
	if (rc == SQLITE_ROW)
		return CCM_OK;
	return ccm_fail(err, CCM_E_AUTH, "session unknown, expired or revoked");
}

ccm_code store_session_revoke(struct store *s, const uint8_t hash[STORE_DIGEST],
                              struct ccm_error *err)
{
	sqlite3_stmt *st;

	if (store_prepare(s, "UPDATE sessions SET revoked = 1 WHERE token_hash = ?", &st,
	                  "session revoke", err) != CCM_OK)
		return CCM_E_INTERNAL;
	sqlite3_bind_blob(st, 1, hash, STORE_DIGEST, SQLITE_TRANSIENT);
	return store_step_done(s, st, true, "session", err);
}

ccm_code store_session_revoke_user(struct store *s, int64_t user_id, struct ccm_error *err)
{
	sqlite3_stmt *st;

	if (store_prepare(s, "UPDATE sessions SET revoked = 1 WHERE user_id = ?", &st,
	                  "session revoke", err) != CCM_OK)
		return CCM_E_INTERNAL;
	sqlite3_bind_int64(st, 1, user_id);
	return store_step_done(s, st, false, "session", err);
}

ccm_code store_session_purge(struct store *s, int64_t before, int64_t *n, struct ccm_error *err)
{
	sqlite3_stmt *st;
	ccm_code rc;

	*n = 0;
	if (store_prepare(
	            s,
	            "DELETE FROM sessions WHERE expires_at < ? OR (revoked = 1 AND created_at < ?)",
	            &st, "session purge", err) != CCM_OK)
		return CCM_E_INTERNAL;
	sqlite3_bind_int64(st, 1, before);
	sqlite3_bind_int64(st, 2, before);
	rc = store_step_done(s, st, false, "session", err);
	if (rc == CCM_OK)
		*n = sqlite3_changes(s->db);
	return rc;
}
