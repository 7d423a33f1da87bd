/*
 * DESIGN: accounts (tenants), who belongs to them with which role, and the
 * API tokens scoped to them. Key material is stored sealed by the caller
 * (the store never sees a plaintext private key) and is read only through
 * the two explicit getters, never with the account row, so that listing
 * accounts cannot drag keys through memory.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store-int.h"

#define ACCOUNT_COLS                                                                               \
	"a.id, a.name, a.description, a.test_only, a.approval_quorum, a.accepted_tcb,"             \
	" a.mrsigner, a.created_at, a.updated_at, a.node_approval"

static void account_row(sqlite3_stmt *st, struct store_account *a)
{
	memset(a, 0, sizeof(*a));
	a->id = sqlite3_column_int64(st, 0);
	store_text(st, 1, a->name, sizeof(a->name));
	store_text(st, 2, a->description, sizeof(a->description));
	a->test_only = sqlite3_column_int(st, 3) != 0;
	a->approval_quorum = sqlite3_column_int64(st, 4);
	store_text(st, 5, a->accepted_tcb, sizeof(a->accepted_tcb));
	store_text(st, 6, a->mrsigner, sizeof(a->mrsigner));
	a->created_at = sqlite3_column_int64(st, 7);
	a->updated_at = sqlite3_column_int64(st, 8);
	a->node_approval = sqlite3_column_int(st, 9) != 0;
}

ccm_code store_account_create(struct store *s, struct store_account *a,
                              const struct store_account_keys *k, struct ccm_error *err)
{
	sqlite3_stmt *st;
	ccm_code rc;

	if (store_prepare(
	            s,
	            "INSERT INTO accounts(name, description, test_only, approval_quorum,"
	            " accepted_tcb, ca_cert_pem, ca_key_sealed, signing_key_sealed, mrsigner,"
	            " created_at, updated_at, node_approval) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
	            &st, "account create", err) != CCM_OK)
		return CCM_E_INTERNAL;
	store_bind_text(st, 1, a->name);
	store_bind_text(st, 2, a->description);
	sqlite3_bind_int(st, 3, a->test_only);
	sqlite3_bind_int64(st, 4, a->approval_quorum);
	store_bind_text(st, 5, a->accepted_tcb);
	store_bind_text(st, 6, k->ca_cert_pem);
	sqlite3_bind_blob(st, 7, k->ca_key_sealed, (int)k->ca_key_len, SQLITE_TRANSIENT);
	sqlite3_bind_blob(st, 8, k->signing_key_sealed, (int)k->signing_key_len, SQLITE_TRANSIENT);
	store_bind_text(st, 9, a->mrsigner);
	sqlite3_bind_int64(st, 10, a->created_at);
	sqlite3_bind_int64(st, 11, a->created_at);
	sqlite3_bind_int(st, 12, a->node_approval);
	rc = store_step_done(s, st, false, "account name", err);
	if (rc == CCM_OK) {
		a->id = sqlite3_last_insert_rowid(s->db);
		a->updated_at = a->created_at;
	}
	return rc;
}

ccm_code store_account_get(struct store *s, int64_t id, struct store_account *a,
                           struct ccm_error *err)
{
	sqlite3_stmt *st;
	int rc;

	if (store_prepare(s, "SELECT " ACCOUNT_COLS " FROM accounts a WHERE a.id = ?", &st,
	                  "account get", err) != CCM_OK)
		return CCM_E_INTERNAL;
	sqlite3_bind_int64(st, 1, id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		account_row(st, a);
	sqlite3_finalize(st);
	if (rc == SQLITE_ROW)
		return CCM_OK;
	return ccm_fail(err, CCM_E_NOTFOUND, "account not found");
}

ccm_code store_account_update(struct store *s, const struct store_account *a, struct ccm_error *err)
{
	sqlite3_stmt *st;

	if (store_prepare(s,
	                  "UPDATE accounts SET name = ?, description = ?, approval_quorum = ?,"
	                  " accepted_tcb = ?, updated_at = ?, node_approval = ? WHERE id = ?",
	                  &st, "account update", err) != CCM_OK)
		return CCM_E_INTERNAL;
	store_bind_text(st, 1, a->name);
	store_bind_text(st, 2, a->description);
	sqlite3_bind_int64(st, 3, a->approval_quorum);
	store_bind_text(st, 4, a->accepted_tcb);
	sqlite3_bind_int64(st, 5, a->updated_at);
	sqlite3_bind_int(st, 6, a->node_approval);
	sqlite3_bind_int64(st, 7, a->id);
	return store_step_done(s, st, true, "account name", err);
}

ccm_code store_account_set_test_only(struct store *s, int64_t id, bool test_only,
                                     struct ccm_error *err)
{
	sqlite3_stmt *st;

	if (store_prepare(s, "UPDATE accounts SET test_only = ? WHERE id = ?", &st,
	                  "account test_only", err) != CCM_OK)
		return CCM_E_INTERNAL;
	sqlite3_bind_int(st, 1, test_only);
	sqlite3_bind_int64(st, 2, id);
	return store_step_done(s, st, true, "account", err);
}

/* Tables whose rows pin an account; a later migration creates them, so
 * absent ones count as empty. Names are constants, never input. */
static const char *const account_pinning[] = {"apps", "nodes"};

ccm_code store_account_dependents(struct store *s, int64_t id, int64_t *count,
                                  struct ccm_error *err)
{
	char sql[128];
	sqlite3_stmt *st;

	*count = 0;
	for (size_t i = 0; i < sizeof(account_pinning) / sizeof(account_pinning[0]); i++) {
		snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s WHERE account_id = ?",
		         account_pinning[i]);
		if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
			continue; /* table not there yet */
		sqlite3_bind_int64(st, 1, id);
		if (sqlite3_step(st) == SQLITE_ROW)
			*count += sqlite3_column_int64(st, 0);
		sqlite3_finalize(st);
	}
	(void)err;
	return CCM_OK;
}

ccm_code store_account_delete(struct store *s, int64_t id, struct ccm_error *err)
{
	sqlite3_stmt *st;

	if (store_prepare(s, "DELETE FROM accounts WHERE id = ?", &st, "account delete", err) !=
	    CCM_OK)
		return CCM_E_INTERNAL;
	sqlite3_bind_int64(st, 1, id);
	return store_step_done(s, st, true, "account", err);
}

ccm_code store_account_ca(struct store *s, int64_t id, char **cert_pem, uint8_t **key_sealed,
                          size_t *key_len, struct ccm_error *err)
{
	sqlite3_stmt *st;
	ccm_code rc;

	*cert_pem = NULL;
	if (key_sealed)
		*key_sealed = NULL;
	if (store_prepare(s, "SELECT ca_cert_pem, ca_key_sealed FROM accounts WHERE id = ?", &st,
	                  "account ca", err) != CCM_OK)
		return CCM_E_INTERNAL;
	sqlite3_bind_int64(st, 1, id);
	if (sqlite3_step(st) != SQLITE_ROW) {
		sqlite3_finalize(st);
		return ccm_fail(err, CCM_E_NOTFOUND, "account not found");
	}
	rc = store_text_dup(st, 0, cert_pem, err);
	if (rc == CCM_OK && key_sealed)
		rc = store_blob_dup(st, 1, key_sealed, key_len, err);
	sqlite3_finalize(st);
	if (rc != CCM_OK) {
		free(*cert_pem);
		*cert_pem = NULL;
	}
	return rc;
}

ccm_code store_account_signing_key(struct store *s, int64_t id, uint8_t **sealed, size_t *len,
                                   struct ccm_error *err)
{
	sqlite3_stmt *st;
	ccm_code rc;

	*sealed = NULL;
	if (store_prepare(s, "SELECT signing_key_sealed FROM accounts WHERE id = ?", &st,
	                  "account key", err) != CCM_OK)
		return CCM_E_INTERNAL;
	sqlite3_bind_int64(st, 1, id);
	if (sqlite3_step(st) != SQLITE_ROW) {
		sqlite3_finalize(st);
		return ccm_fail(err, CCM_E_NOTFOUND, "account not found");
	}
	rc = store_blob_dup(st, 0, sealed, len, err);
	sqlite3_finalize(st);
	return rc;
}

ccm_code store_account_list(struct store *s, int64_t user_id, const struct store_page *pg,
                            store_account_cb cb, void *ctx, struct ccm_error *err)
{
	struct store_account a;
	sqlite3_stmt *st;
	ccm_code rc = CCM_OK;
	const char *sql = user_id ? "SELECT " ACCOUNT_COLS
	                            ", m.role FROM accounts a JOIN memberships m"
	                            " ON m.account_id = a.id WHERE m.user_id = ? ORDER BY a.id "
	                            "LIMIT ? OFFSET ?"
	                          : "SELECT " ACCOUNT_COLS ", 0 FROM accounts a WHERE ? = 0"
	                            " ORDER BY a.id LIMIT ? OFFSET ?";

	if (store_prepare(s, sql, &st, "account list", err) != CCM_OK)
		return CCM_E_INTERNAL;
	sqlite3_bind_int64(st, 1, user_id);
	store_page_bind(st, 2, pg);
	while (rc == CCM_OK && sqlite3_step(st) == SQLITE_ROW) {
		account_row(st, &a);
		rc = cb(ctx, &a, (enum store_role)sqlite3_column_int(st, 10));
	}
	sqlite3_finalize(st);
	return rc;
}

/* ---- memberships ------------------------------------------------------------ */

ccm_code store_member_set(struct store *s, int64_t account_id, int64_t user_id,
                          enum store_role role, struct ccm_error *err)
{
	sqlite3_stmt *st;

	if (store_prepare(s,
	                  "INSERT INTO memberships(account_id, user_id, role, created_at)"
	                  " VALUES (?,?,?,strftime('%s','now')) ON CONFLICT(account_id, user_id)"
	                  " DO UPDATE SET role = excluded.role",
	                  &st, "member set", err) != CCM_OK)
		return CCM_E_INTERNAL;
	sqlite3_bind_int64(st, 1, account_id);
	sqlite3_bind_int64(st, 2, user_id);
	sqlite3_bind_int(st, 3, (int)role);
	return store_step_done(s, st, false, "membership", err);
}

enum store_role store_member_role(struct store *s, int64_t account_id, int64_t user_id)
{
	sqlite3_stmt *st = NULL;
	enum store_role r = STORE_ROLE_NONE;

	if (sqlite3_prepare_v2(s->db,
	                       "SELECT role FROM memberships WHERE account_id = ? AND user_id = ?",
	                       -1, &st, NULL) != SQLITE_OK)
		return STORE_ROLE_NONE;
	sqlite3_bind_int64(st, 1, account_id);
	sqlite3_bind_int64(st, 2, user_id);
	if (sqlite3_step(st) == SQLITE_ROW)
		r = (enum store_role)sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return r;
}

ccm_code store_member_remove(struct store *s, int64_t account_id, int64_t user_id,
                             struct ccm_error *err)
{
	sqlite3_stmt *st;

	if (store_prepare(s, "DELETE FROM memberships WHERE account_id = ? AND user_id = ?", &st,
	                  "member remove", err) != CCM_OK)
		return CCM_E_INTERNAL;
	sqlite3_bind_int64(st, 1, account_id);
	sqlite3_bind_int64(st, 2, user_id);
	return store_step_done(s, st, true, "membership", err);
}

int64_t store_member_count_role(struct store *s, int64_t account_id, enum store_role role)
{
	sqlite3_stmt *st = NULL;
	int64_t n = -1;

	if (sqlite3_prepare_v2(s->db,
	                       "SELECT count(*) FROM memberships m JOIN users u ON u.id = m.user_id"
	                       " WHERE m.account_id = ? AND m.role = ? AND u.disabled = 0",
	                       -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_int64(st, 1, account_id);
		sqlite3_bind_int(st, 2, (int)role);
		if (sqlite3_step(st) == SQLITE_ROW)
			n = sqlite3_column_int64(st, 0);
	}
	sqlite3_finalize(st);
	return n;
}

ccm_code store_member_list(struct store *s, int64_t account_id, const struct store_page *pg,
                           store_member_cb cb, void *ctx, struct ccm_error *err)
{
	struct store_member m;
	sqlite3_stmt *st;
	ccm_code rc = CCM_OK;

	if (store_prepare(s,
	                  "SELECT m.role, u.id, u.email, u.name, u.disabled FROM memberships m"
	                  " JOIN users u ON u.id = m.user_id WHERE m.account_id = ?"
	                  " ORDER BY u.id LIMIT ? OFFSET ?",
	                  &st, "member list", err) != CCM_OK)
		return CCM_E_INTERNAL;
	sqlite3_bind_int64(st, 1, account_id);
	store_page_bind(st, 2, pg);
	while (rc == CCM_OK && sqlite3_step(st) == SQLITE_ROW) {
		memset(&m, 0, sizeof(m));
		m.account_id = account_id;
		m.role = (enum store_role)sqlite3_column_int(st, 0);
		m.user.id = sqlite3_column_int64(st, 1);
		store_text(st, 2, m.user.email, sizeof(m.user.email));
		store_text(st, 3, m.user.name, sizeof(m.user.name));
		m.user.disabled = sqlite3_column_int(st, 4) != 0;
		rc = cb(ctx, &m);
	}
	sqlite3_finalize(st);
	return rc;
}

/* ---- API tokens ----------------------------------------------------------------- */

#define TOKEN_COLS "id, name, user_id, account_id, role, created_at, expires_at, revoked"

static void token_row(sqlite3_stmt *st, struct store_token *t)
{
	memset(t, 0, sizeof(*t));
	t->id = sqlite3_column_int64(st, 0);
	store_text(st, 1, t->name, sizeof(t->name));
	t->user_id = sqlite3_column_int64(st, 2);
	t->account_id = sqlite3_column_int64(st, 3);
	t->role = (enum store_role)sqlite3_column_int(st, 4);
	t->created_at = sqlite3_column_int64(st, 5);
	t->expires_at = sqlite3_column_int64(st, 6);
	t->revoked = sqlite3_column_int(st, 7) != 0;
}

ccm_code store_token_create(struct store *s, struct store_token *t,
                            const uint8_t hash[STORE_DIGEST], struct ccm_error *err)
{
	sqlite3_stmt *st;
	ccm_code rc;

	if (store_prepare(s,
	                  "INSERT INTO api_tokens(name, token_hash, user_id, account_id, role,"
	                  " created_at, expires_at) VALUES (?,?,?,?,?,?,?)",
	                  &st, "token create", err) != CCM_OK)
		return CCM_E_INTERNAL;
	store_bind_text(st, 1, t->name);
	sqlite3_bind_blob(st, 2, hash, STORE_DIGEST, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 3, t->user_id);
	sqlite3_bind_int64(st, 4, t->account_id);
	sqlite3_bind_int(st, 5, (int)t->role);
	sqlite3_bind_int64(st, 6, t->created_at);
	sqlite3_bind_int64(st, 7, t->expires_at);
	rc = store_step_done(s, st, false, "token name", err);
	if (rc == CCM_OK)
		t->id = sqlite3_last_insert_rowid(s->db);
	return rc;
}

ccm_code store_token_find(struct store *s, const uint8_t hash[STORE_DIGEST], int64_t now,
                          struct store_token *out, struct ccm_error *err)
{
	sqlite3_stmt *st;
	int rc;

	if (store_prepare(s,
	                  "SELECT " TOKEN_COLS ", token_hash FROM api_tokens WHERE token_hash = ?"
	                  " AND revoked = 0 AND (expires_at = 0 OR expires_at > ?)",
	                  &st, "token find", err) != CCM_OK)
		return CCM_E_INTERNAL;
	sqlite3_bind_blob(st, 1, hash, STORE_DIGEST, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 2, now);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		token_row(st, out);
		if (sqlite3_column_bytes(st, 8) == STORE_DIGEST)
			memcpy(out->token_hash, sqlite3_column_blob(st, 8), STORE_DIGEST);
	}
	sqlite3_finalize(st);
	if (rc == SQLITE_ROW)
		return CCM_OK;
	return ccm_fail(err, CCM_E_AUTH, "token unknown, expired or revoked");
}

ccm_code store_token_get(struct store *s, int64_t account_id, int64_t id, struct store_token *out,
                         struct ccm_error *err)
{
	sqlite3_stmt *st;
	int rc;

	if (store_prepare(s,
	                  "SELECT " TOKEN_COLS " FROM api_tokens WHERE id = ? AND account_id = ?",
	                  &st, "token get", err) != CCM_OK)
		return CCM_E_INTERNAL;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, account_id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		token_row(st, out);
	sqlite3_finalize(st);
	if (rc == SQLITE_ROW)
		return CCM_OK;
	return ccm_fail(err, CCM_E_NOTFOUND, "token not found");
}

ccm_code store_token_revoke(struct store *s, int64_t account_id, int64_t id, struct ccm_error *err)
{
	sqlite3_stmt *st;

	if (store_prepare(s, "UPDATE api_tokens SET revoked = 1 WHERE id = ? AND account_id = ?",
	                  &st, "token revoke", err) != CCM_OK)
		return CCM_E_INTERNAL;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, account_id);
	return store_step_done(s, st, true, "token", err);
}

ccm_code store_token_list(struct store *s, int64_t account_id, int64_t user_id,
                          const struct store_page *pg, store_token_cb cb, void *ctx,
                          struct ccm_error *err)
{
	struct store_token t;
	sqlite3_stmt *st;
	ccm_code rc = CCM_OK;

	if (store_prepare(s,
	                  "SELECT " TOKEN_COLS " FROM api_tokens WHERE account_id = ?"
	                  " AND (? = 0 OR user_id = ?) ORDER BY id LIMIT ? OFFSET ?",
	                  &st, "token list", err) != CCM_OK)
		return CCM_E_INTERNAL;
	sqlite3_bind_int64(st, 1, account_id);
	sqlite3_bind_int64(st, 2, user_id);
	sqlite3_bind_int64(st, 3, user_id);
	store_page_bind(st, 4, pg);
	while (rc == CCM_OK && sqlite3_step(st) == SQLITE_ROW) {
		token_row(st, &t);
		rc = cb(ctx, &t);
	}
	sqlite3_finalize(st);
	return rc;
}
