/*
 * DESIGN: opening the SQLite store and keeping its schema current.
 * WAL mode (readers never block the writer), synchronous=FULL (a commit
 * that was acknowledged survives kill -9 and power loss; ccmd relaxes
 * this to group commit, see sync.c, keeping that guarantee), foreign keys on,
 * a busy timeout for the CLI's sqlite3 or a backup reading alongside.
 * Migrations are numbered SQL texts; PRAGMA user_version records the last
 * applied, each applied in its own transaction, so a crash mid-migration
 * leaves the previous version. Later objects (apps, builds, tasks, nodes,
 * certificates) arrive as further migrations; nothing here needs to change.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store-int.h"

static const char *const store_migrations[] = {
        /* 1: users, sessions, accounts, memberships, API tokens, audit, PKI */
        "CREATE TABLE users ("
        " id INTEGER PRIMARY KEY,"
        " email TEXT NOT NULL UNIQUE,"
        " name TEXT NOT NULL,"
        " pw_hash TEXT NOT NULL,"
        " is_admin INTEGER NOT NULL DEFAULT 0,"
        " must_change_pw INTEGER NOT NULL DEFAULT 0,"
        " disabled INTEGER NOT NULL DEFAULT 0,"
        " created_at INTEGER NOT NULL,"
        " updated_at INTEGER NOT NULL);"
        "CREATE TABLE sessions ("
        " id INTEGER PRIMARY KEY,"
        " token_hash BLOB NOT NULL UNIQUE,"
        " user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
        " created_at INTEGER NOT NULL,"
        " expires_at INTEGER NOT NULL,"
        " revoked INTEGER NOT NULL DEFAULT 0);"
        "CREATE INDEX sessions_user ON sessions(user_id);"
        "CREATE TABLE accounts ("
        " id INTEGER PRIMARY KEY,"
        " name TEXT NOT NULL UNIQUE,"
        " description TEXT NOT NULL DEFAULT '',"
        " test_only INTEGER NOT NULL,"
        " approval_quorum INTEGER NOT NULL DEFAULT 1,"
        " accepted_tcb TEXT NOT NULL,"
        " ca_cert_pem TEXT NOT NULL,"
        " ca_key_sealed BLOB NOT NULL,"
        " signing_key_sealed BLOB NOT NULL,"
        " mrsigner TEXT NOT NULL,"
        " created_at INTEGER NOT NULL,"
        " updated_at INTEGER NOT NULL);"
        "CREATE TABLE memberships ("
        " account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,"
        " user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
        " role INTEGER NOT NULL CHECK (role BETWEEN 1 AND 3),"
        " created_at INTEGER NOT NULL,"
        " PRIMARY KEY (account_id, user_id));"
        "CREATE INDEX memberships_user ON memberships(user_id);"
        "CREATE TABLE api_tokens ("
        " id INTEGER PRIMARY KEY,"
        " name TEXT NOT NULL,"
        " token_hash BLOB NOT NULL UNIQUE,"
        " user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
        " account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,"
        " role INTEGER NOT NULL CHECK (role BETWEEN 1 AND 3),"
        " created_at INTEGER NOT NULL,"
        " expires_at INTEGER NOT NULL DEFAULT 0,"
        " revoked INTEGER NOT NULL DEFAULT 0,"
        " UNIQUE (account_id, name));"
        "CREATE TABLE audit ("
        " seq INTEGER PRIMARY KEY,"
        " time_ms INTEGER NOT NULL,"
        " actor TEXT NOT NULL,"
        " account_id INTEGER NOT NULL DEFAULT 0,"
        " action TEXT NOT NULL,"
        " object TEXT NOT NULL,"
        " result TEXT NOT NULL,"
        " reason TEXT NOT NULL,"
        " prev_hash TEXT NOT NULL,"
        " hash TEXT NOT NULL);"
        "CREATE INDEX audit_account ON audit(account_id, seq);"
        "CREATE TABLE pki ("
        " name TEXT PRIMARY KEY,"
        " cert_pem TEXT NOT NULL,"
        " key_sealed BLOB NOT NULL,"
        " note TEXT NOT NULL DEFAULT '');",
        /* 2: apps, builds, tasks, join tokens, nodes, certificates */
        "CREATE TABLE apps ("
        " id INTEGER PRIMARY KEY,"
        " account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,"
        " name TEXT NOT NULL, description TEXT NOT NULL,"
        " input_image TEXT NOT NULL, output_image TEXT NOT NULL,"
        " isvprodid INTEGER NOT NULL, isvsvn INTEGER NOT NULL, min_isvsvn INTEGER NOT NULL,"
        " mem_bytes INTEGER NOT NULL, mem_enclave INTEGER NOT NULL, threads INTEGER NOT NULL,"
        " allow_debug INTEGER NOT NULL, runtime TEXT NOT NULL, labels TEXT NOT NULL,"
        " domains_pending TEXT NOT NULL, whitelisted_domains TEXT NOT NULL,"
        " cert_subject TEXT NOT NULL, cert_key_type TEXT NOT NULL, cert_key_path TEXT NOT NULL,"
        " cert_cert_path TEXT NOT NULL, cert_chain_path TEXT NOT NULL, cert_days INTEGER NOT NULL,"
        " created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL,"
        " UNIQUE (account_id, name));"
        "CREATE TABLE builds ("
        " id INTEGER PRIMARY KEY,"
        " account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,"
        " app_id INTEGER NOT NULL REFERENCES apps(id) ON DELETE CASCADE,"
        " source TEXT NOT NULL, image_name TEXT NOT NULL, image_digest TEXT NOT NULL,"
        " mrenclave TEXT, mrsigner TEXT NOT NULL, isvprodid INTEGER NOT NULL,"
        " isvsvn INTEGER NOT NULL, debug INTEGER NOT NULL, mem_bytes INTEGER NOT NULL,"
        " threads INTEGER NOT NULL, status TEXT NOT NULL, revoked INTEGER NOT NULL DEFAULT 0,"
        " conv_status TEXT NOT NULL, conv_reason TEXT NOT NULL, bytes_done INTEGER NOT NULL,"
        " bytes_total INTEGER NOT NULL, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL,"
        " UNIQUE (account_id, mrenclave));"
        "CREATE INDEX builds_app ON builds(app_id);"
        "CREATE TABLE tasks ("
        " id INTEGER PRIMARY KEY,"
        " account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,"
        " type TEXT NOT NULL, status TEXT NOT NULL, app_id INTEGER NOT NULL,"
        " build_id INTEGER NOT NULL, domains TEXT NOT NULL, requester_id INTEGER NOT NULL,"
        " reason TEXT NOT NULL, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL);"
        "CREATE INDEX tasks_account ON tasks(account_id, status);"
        "CREATE TABLE task_votes ("
        " task_id INTEGER NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,"
        " user_id INTEGER NOT NULL, approve INTEGER NOT NULL, reason TEXT NOT NULL,"
        " at INTEGER NOT NULL, PRIMARY KEY (task_id, user_id));"
        "CREATE TABLE join_tokens ("
        " id INTEGER PRIMARY KEY,"
        " account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,"
        " name TEXT NOT NULL, token_hash BLOB NOT NULL UNIQUE, labels TEXT NOT NULL,"
        " uses_total INTEGER NOT NULL, uses_left INTEGER NOT NULL, expires_at INTEGER NOT NULL,"
        " revoked INTEGER NOT NULL DEFAULT 0, created_by INTEGER NOT NULL,"
        " created_at INTEGER NOT NULL, UNIQUE (account_id, name));"
        "CREATE TABLE nodes ("
        " id INTEGER PRIMARY KEY,"
        " account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,"
        " name TEXT NOT NULL, state TEXT NOT NULL, attestation TEXT NOT NULL,"
        " labels TEXT NOT NULL, sys_info TEXT NOT NULL, load TEXT NOT NULL,"
        " token_id INTEGER NOT NULL, last_seen INTEGER NOT NULL,"
        " created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL);"
        "CREATE INDEX nodes_state ON nodes(state, last_seen);"
        "CREATE TABLE app_instances ("
        " node_id INTEGER NOT NULL REFERENCES nodes(id) ON DELETE CASCADE,"
        " app_id INTEGER NOT NULL, state TEXT NOT NULL, updated_at INTEGER NOT NULL,"
        " PRIMARY KEY (node_id, app_id));"
        "CREATE TABLE certificates ("
        " id INTEGER PRIMARY KEY,"
        " account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,"
        " kind TEXT NOT NULL, serial TEXT NOT NULL, node_id INTEGER NOT NULL,"
        " app_id INTEGER NOT NULL, build_id INTEGER NOT NULL, not_after INTEGER NOT NULL,"
        " state TEXT NOT NULL, revoked_at INTEGER NOT NULL DEFAULT 0,"
        " created_at INTEGER NOT NULL, UNIQUE (account_id, serial));"
        "CREATE INDEX certificates_node ON certificates(node_id);"
        "CREATE INDEX certificates_app ON certificates(account_id, app_id);",
        /* 3: registry credentials per account (secret sealed by ccmd with the
         * master key), and the output reference each image build pushes to */
        "CREATE TABLE registries ("
        " id INTEGER PRIMARY KEY,"
        " account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,"
        " host TEXT NOT NULL, username TEXT NOT NULL, kind TEXT NOT NULL,"
        " secret_sealed BLOB NOT NULL, created_at INTEGER NOT NULL,"
        " updated_at INTEGER NOT NULL, UNIQUE (account_id, host));"
        "ALTER TABLE builds ADD COLUMN output_image TEXT NOT NULL DEFAULT '';",
        /* 4: accounts that approve each node before it may serve apps, and
         * the node a node_attestation task is about */
        ("ALTER TABLE accounts ADD COLUMN node_approval INTEGER NOT NULL DEFAULT 0;"
         "ALTER TABLE tasks ADD COLUMN node_id INTEGER NOT NULL DEFAULT 0;"),
};
#define STORE_NMIGRATIONS ((int)(sizeof(store_migrations) / sizeof(store_migrations[0])))

/*
 * The statement cache. Per thread (a store handle lives on one thread), a
 * fixed table: no lock, no allocation. An entry is found by connection
 * and SQL text (pointer first, then the text itself, so a formatted SQL
 * buffer reused with other text never matches); a statement in use
 * (busy) is not handed out twice. Entries of a connection are finalised
 * when it is closed.
 */
#define STORE_STMT_CACHE 128

struct store_stmt_slot {
	sqlite3 *db;
	const char *sql;
	sqlite3_stmt *st;
	bool busy;
};

static _Thread_local struct store_stmt_slot store_stmts[STORE_STMT_CACHE];

static sqlite3_stmt *store_stmt_take(sqlite3 *db, const char *sql)
{
	for (size_t i = 0; i < STORE_STMT_CACHE; i++) {
		struct store_stmt_slot *c = &store_stmts[i];
		if (c->db == db && c->sql == sql && !c->busy &&
		    strcmp(sqlite3_sql(c->st), sql) == 0) {
			c->busy = true;
			return c->st;
		}
	}
	return NULL;
}

static void store_stmt_keep(sqlite3 *db, const char *sql, sqlite3_stmt *st)
{
	for (size_t i = 0; i < STORE_STMT_CACHE; i++) {
		struct store_stmt_slot *c = &store_stmts[i];
		if (c->db == NULL) {
			*c = (struct store_stmt_slot){db, sql, st, true};
			return;
		}
	}
}

int store_finalize(sqlite3_stmt *st)
{
	for (size_t i = 0; st != NULL && i < STORE_STMT_CACHE; i++) {
		struct store_stmt_slot *c = &store_stmts[i];
		if (c->st == st) {
			int rc = sqlite3_reset(st);
			sqlite3_clear_bindings(st);
			c->busy = false;
			return rc;
		}
	}
	return (sqlite3_finalize)(st);
}

/* Finalise every statement of db (before sqlite3_close). */
static void store_stmt_drop(sqlite3 *db)
{
	sqlite3_stmt *st;

	if (db == NULL)
		return;
	for (size_t i = 0; i < STORE_STMT_CACHE; i++) {
		if (store_stmts[i].db == db) {
			(sqlite3_finalize)(store_stmts[i].st);
			memset(&store_stmts[i], 0, sizeof(store_stmts[i]));
		}
	}
	while ((st = sqlite3_next_stmt(db, NULL)) != NULL)
		(sqlite3_finalize)(st);
}

ccm_code store_prepare(struct store *s, const char *sql, sqlite3_stmt **st, const char *what,
                       struct ccm_error *err)
{
	if ((*st = store_stmt_take(s->db, sql)) != NULL)
		return CCM_OK;
	if (sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, st, NULL) != SQLITE_OK)
		return ccm_fail(err, CCM_E_INTERNAL, "store: %s: %s", what, sqlite3_errmsg(s->db));
	store_stmt_keep(s->db, sql, *st);
	return CCM_OK;
}

ccm_code store_sqlfail(struct store *s, int rc, const char *what, struct ccm_error *err)
{
	if (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY)
		return ccm_fail(err, CCM_E_CONFLICT, "%s: already exists", what);
	if (rc == SQLITE_CONSTRAINT_FOREIGNKEY)
		return ccm_fail(err, CCM_E_NOTFOUND, "%s: a referenced object does not exist",
		                what);
	if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED)
		return ccm_fail(err, CCM_E_IO, "store: %s: database busy", what);
	return ccm_fail(err, CCM_E_IO, "store: %s: %s", what, sqlite3_errmsg(s->db));
}

ccm_code store_step_done(struct store *s, sqlite3_stmt *st, bool need_change, const char *what,
                         struct ccm_error *err)
{
	int rc = sqlite3_step(st);
	ccm_code code = CCM_OK;

	if (rc != SQLITE_DONE)
		code = store_sqlfail(s, sqlite3_extended_errcode(s->db), what, err);
	else if (need_change && sqlite3_changes(s->db) == 0)
		code = ccm_fail(err, CCM_E_NOTFOUND, "%s: not found", what);
	sqlite3_finalize(st);
	return code;
}

void store_text(sqlite3_stmt *st, int col, char *out, size_t max)
{
	const unsigned char *t = sqlite3_column_text(st, col);
	size_t n = t ? (size_t)sqlite3_column_bytes(st, col) : 0;

	if (n >= max)
		n = max - 1;
	if (n > 0)
		memcpy(out, t, n);
	out[n] = '\0';
}

int store_bind_text(sqlite3_stmt *st, int idx, const char *v)
{
	return sqlite3_bind_text(st, idx, v ? v : "", -1, SQLITE_TRANSIENT);
}

ccm_code store_blob_dup(sqlite3_stmt *st, int col, uint8_t **out, size_t *len,
                        struct ccm_error *err)
{
	const void *p = sqlite3_column_blob(st, col);
	size_t n = (size_t)sqlite3_column_bytes(st, col);

	*out = malloc(n ? n : 1);
	if (*out == NULL)
		return ccm_fail(err, CCM_E_NOMEM, "store: out of memory");
	if (n > 0)
		memcpy(*out, p, n);
	*len = n;
	return CCM_OK;
}

ccm_code store_text_dup(sqlite3_stmt *st, int col, char **out, struct ccm_error *err)
{
	const unsigned char *t = sqlite3_column_text(st, col);
	size_t n = t ? (size_t)sqlite3_column_bytes(st, col) : 0;

	*out = malloc(n + 1);
	if (*out == NULL)
		return ccm_fail(err, CCM_E_NOMEM, "store: out of memory");
	if (n > 0)
		memcpy(*out, t, n);
	(*out)[n] = '\0';
	return CCM_OK;
}

ccm_code store_row(struct store *s, sqlite3_stmt *st, void (*row)(sqlite3_stmt *, void *),
                   void *out, const char *what, struct ccm_error *err)
{
	int rc = sqlite3_step(st);

	if (rc == SQLITE_ROW)
		row(st, out);
	sqlite3_finalize(st);
	if (rc == SQLITE_ROW)
		return CCM_OK;
	if (rc == SQLITE_DONE)
		return ccm_fail(err, CCM_E_NOTFOUND, "%s not found", what);
	return store_sqlfail(s, sqlite3_extended_errcode(s->db), what, err);
}

ccm_code store_rows(struct store *s, sqlite3_stmt *st, void (*row)(sqlite3_stmt *, void *),
                    void *tmp, ccm_code (*cb)(void *, const void *), void *ctx, const char *what,
                    struct ccm_error *err)
{
	ccm_code rc = CCM_OK;
	int step;

	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		row(st, tmp);
		if ((rc = cb(ctx, tmp)) != CCM_OK) {
			ccm_fail(err, rc, "%s: listing stopped", what);
			break;
		}
	}
	if (rc == CCM_OK && step != SQLITE_DONE)
		rc = store_sqlfail(s, sqlite3_extended_errcode(s->db), what, err);
	sqlite3_finalize(st);
	return rc;
}

void store_page_bind(sqlite3_stmt *st, int idx, const struct store_page *pg)
{
	sqlite3_bind_int64(st, idx, pg ? pg->limit : -1);
	sqlite3_bind_int64(st, idx + 1, pg ? pg->offset : 0);
}

static ccm_code store_exec(struct store *s, const char *sql, const char *what,
                           struct ccm_error *err)
{
	char *msg = NULL;

	if (sqlite3_exec(s->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		ccm_fail(err, CCM_E_IO, "store: %s: %s", what, msg ? msg : "failed");
		sqlite3_free(msg);
		return CCM_E_IO;
	}
	return CCM_OK;
}

int store_schema_version(struct store *s)
{
	sqlite3_stmt *st = NULL;
	int v = -1;

	if (sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return v;
}

static ccm_code store_migrate(struct store *s, struct ccm_error *err)
{
	char pragma[64];
	int v = store_schema_version(s);

	if (v < 0)
		return ccm_fail(err, CCM_E_IO, "store: cannot read the schema version");
	if (v > STORE_NMIGRATIONS)
		return ccm_fail(err, CCM_E_UNSUPPORTED,
		                "store: schema version %d is newer than this ccmd (%d)", v,
		                STORE_NMIGRATIONS);
	for (int i = v; i < STORE_NMIGRATIONS; i++) {
		snprintf(pragma, sizeof(pragma), "PRAGMA user_version = %d", i + 1);
		if (store_begin(s, err) != CCM_OK)
			return err ? err->code : CCM_E_IO;
		if (store_exec(s, store_migrations[i], "migration", err) != CCM_OK ||
		    store_exec(s, pragma, "migration", err) != CCM_OK) {
			store_rollback(s);
			ccm_error_prefix(err, "migration %d", i + 1);
			return CCM_E_IO;
		}
		if (store_commit(s, err) != CCM_OK)
			return CCM_E_IO;
	}
	return CCM_OK;
}

ccm_code store_open(const char *path, struct store **out, struct ccm_error *err)
{
	struct store *s = calloc(1, sizeof(*s));
	int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;

	*out = NULL;
	if (s == NULL)
		return ccm_fail(err, CCM_E_NOMEM, "store: out of memory");
	if (sqlite3_open_v2(path, &s->db, flags, NULL) != SQLITE_OK) {
		ccm_fail(err, CCM_E_IO, "store: %s: %s", path,
		         s->db ? sqlite3_errmsg(s->db) : "cannot open");
		goto fail;
	}
	sqlite3_extended_result_codes(s->db, 1);
	sqlite3_busy_timeout(s->db, 5000);
	if (store_exec(s, "PRAGMA journal_mode=WAL", "WAL", err) != CCM_OK ||
	    store_exec(s, "PRAGMA synchronous=FULL", "synchronous", err) != CCM_OK ||
	    store_exec(s, "PRAGMA foreign_keys=ON", "foreign keys", err) != CCM_OK ||
	    store_migrate(s, err) != CCM_OK)
		goto fail;
	*out = s;
	return CCM_OK;
fail:
	store_close(s);
	return err ? err->code : CCM_E_IO;
}

void store_close(struct store *s)
{
	if (s == NULL)
		return;
	if (s->in_tx)
		store_rollback(s);
	store_stmt_drop(s->db);
	sqlite3_close(s->db);
	free(s);
}

ccm_code store_begin(struct store *s, struct ccm_error *err)
{
	if (s->in_tx)
		return ccm_fail(err, CCM_E_INTERNAL, "store: nested transaction");
	if (store_exec(s, "BEGIN IMMEDIATE", "begin", err) != CCM_OK)
		return CCM_E_IO;
	s->in_tx = true;
	return CCM_OK;
}

ccm_code store_commit(struct store *s, struct ccm_error *err)
{
	if (!s->in_tx)
		return ccm_fail(err, CCM_E_INTERNAL, "store: commit outside a transaction");
	if (store_exec(s, "COMMIT", "commit", err) != CCM_OK) {
		store_rollback(s);
		return CCM_E_IO;
	}
	s->in_tx = false;
	s->commits++;
	return CCM_OK;
}

uint64_t store_commit_count(const struct store *s)
{
	return s->commits;
}

void store_rollback(struct store *s)
{
	if (!s->in_tx)
		return;
	sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	s->in_tx = false;
}

/* One savepoint at a time inside a transaction: a batch whose items each
 * succeed or leave nothing behind (POST /v1/node/issue/batch). */
static ccm_code store_run(struct store *s, const char *sql, const char *what, struct ccm_error *err)
{
	sqlite3_stmt *st;

	if (store_prepare(s, sql, &st, what, err) != CCM_OK)
		return CCM_E_INTERNAL;
	return store_step_done(s, st, false, what, err);
}

ccm_code store_savepoint(struct store *s, struct ccm_error *err)
{
	if (!s->in_tx)
		return ccm_fail(err, CCM_E_INTERNAL, "store: savepoint outside a transaction");
	return store_run(s, "SAVEPOINT item", "savepoint", err);
}

ccm_code store_savepoint_release(struct store *s, struct ccm_error *err)
{
	return store_run(s, "RELEASE item", "savepoint release", err);
}

ccm_code store_savepoint_rollback(struct store *s, struct ccm_error *err)
{
	if (store_run(s, "ROLLBACK TO item", "savepoint rollback", err) != CCM_OK)
		return CCM_E_IO;
	return store_savepoint_release(s, err);
}

const char *store_role_name(enum store_role r)
{
	switch (r) {
	case STORE_ROLE_READER:
		return "READER";
	case STORE_ROLE_WRITER:
		return "WRITER";
	case STORE_ROLE_MANAGER:
		return "MANAGER";
	default:
		return "NONE";
	}
}

bool store_role_parse(const char *s, enum store_role *out)
{
	static const enum store_role all[] = {STORE_ROLE_READER, STORE_ROLE_WRITER,
	                                      STORE_ROLE_MANAGER};

	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		if (s != NULL && strcmp(s, store_role_name(all[i])) == 0) {
			*out = all[i];
			return true;
		}
	}
	return false;
}

/* ---- manager PKI rows ------------------------------------------------------ */

ccm_code store_pki_put(struct store *s, const char *name, const char *cert_pem,
                       const uint8_t *key_sealed, size_t key_len, const char *note,
                       struct ccm_error *err)
{
	sqlite3_stmt *st;

	if (store_prepare(s,
	                  "INSERT INTO pki(name, cert_pem, key_sealed, note) VALUES (?,?,?,?)"
	                  " ON CONFLICT(name) DO UPDATE SET cert_pem = excluded.cert_pem,"
	                  " key_sealed = excluded.key_sealed, note = excluded.note",
	                  &st, "pki put", err) != CCM_OK)
		return CCM_E_INTERNAL;
	store_bind_text(st, 1, name);
	store_bind_text(st, 2, cert_pem);
	sqlite3_bind_blob(st, 3, key_sealed, (int)key_len, SQLITE_TRANSIENT);
	store_bind_text(st, 4, note);
	return store_step_done(s, st, false, "pki", err);
}

ccm_code store_pki_get(struct store *s, const char *name, char **cert_pem, uint8_t **key_sealed,
                       size_t *key_len, char **note, struct ccm_error *err)
{
	sqlite3_stmt *st;
	ccm_code rc;

	*cert_pem = NULL;
	*key_sealed = NULL;
	if (note)
		*note = NULL;
	if (store_prepare(s, "SELECT cert_pem, key_sealed, note FROM pki WHERE name = ?", &st,
	                  "pki get", err) != CCM_OK)
		return CCM_E_INTERNAL;
	store_bind_text(st, 1, name);
	if (sqlite3_step(st) != SQLITE_ROW) {
		sqlite3_finalize(st);
		return ccm_fail(err, CCM_E_NOTFOUND, "store: no %s key", name);
	}
	rc = store_text_dup(st, 0, cert_pem, err);
	if (rc == CCM_OK)
		rc = store_blob_dup(st, 1, key_sealed, key_len, err);
	if (rc == CCM_OK && note)
		rc = store_text_dup(st, 2, note, err);
	sqlite3_finalize(st);
	if (rc != CCM_OK) {
		free(*cert_pem);
		free(*key_sealed);
		*cert_pem = NULL;
		*key_sealed = NULL;
	}
	return rc;
}
