/*
 * DESIGN: the manager's store, spoken in domain objects. Handlers never see
 * a database type: they pass and receive the structs below, so that the
 * SQLite backend (lib/store/) can later be joined by a PostgreSQL one with
 * the same interface and several ccmd replicas can share a database.
 *
 * Rules every backend keeps: numbered schema migrations applied at open;
 * only parameterised statements; a change touching several rows happens
 * inside store_begin()/store_commit(); the audit log is a SHA-256 hash
 * chain appended in the same transaction as the change it records.
 * Listings are pushed row by row to a callback (no allocation per row),
 * with limit/offset paging.
 */
#ifndef CCM_STORE_H
#define CCM_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ccm/ccm.h"

#ifdef __cplusplus
extern "C" {
#endif

struct store; /* opaque */

#define STORE_EMAIL_MAX 254
#define STORE_NAME_MAX 128
#define STORE_TEXT_MAX 1024
#define STORE_HASH_MAX 256
#define STORE_AUDIT_FIELD_MAX 512
#define STORE_TCB_MAX 256
#define STORE_DIGEST 32

/* Roles inside one account, ordered: a higher value includes the lower. */
enum store_role {
	STORE_ROLE_NONE = 0,
	STORE_ROLE_READER = 1,
	STORE_ROLE_WRITER = 2,
	STORE_ROLE_MANAGER = 3,
};

const char *store_role_name(enum store_role r);
/* Exact, case-sensitive names "READER", "WRITER", "MANAGER". */
bool store_role_parse(const char *s, enum store_role *out);

struct store_page {
	int64_t limit; /* 1..1000 */
	int64_t offset;
};

struct store_user {
	int64_t id;
	char email[STORE_EMAIL_MAX + 1];
	char name[STORE_NAME_MAX + 1];
	char pw_hash[STORE_HASH_MAX]; /* Argon2id encoded string */
	bool is_admin;
	bool must_change_pw;
	bool disabled;
	int64_t created_at; /* unix seconds */
	int64_t updated_at;
};

struct store_account {
	int64_t id;
	char name[STORE_NAME_MAX + 1];
	char description[STORE_TEXT_MAX + 1];
	bool test_only;
	int64_t approval_quorum;
	char accepted_tcb[STORE_TCB_MAX + 1]; /* comma-separated TCB statuses */
	char mrsigner[2 * STORE_DIGEST + 1];  /* of the enclave signing key */
	int64_t created_at;
	int64_t updated_at;
};

/* Key material created with an account; keys are sealed by the caller. */
struct store_account_keys {
	const char *ca_cert_pem;
	const uint8_t *ca_key_sealed;
	size_t ca_key_len;
	const uint8_t *signing_key_sealed;
	size_t signing_key_len;
};

struct store_member {
	int64_t account_id;
	enum store_role role;
	struct store_user user;
};

struct store_session {
	int64_t id;
	uint8_t token_hash[STORE_DIGEST];
	int64_t user_id;
	int64_t created_at;
	int64_t expires_at;
};

/* A named API token: bound to one user, one account and one role. */
struct store_token {
	int64_t id;
	uint8_t token_hash[STORE_DIGEST]; /* filled by store_token_find */
	char name[STORE_NAME_MAX + 1];
	int64_t user_id;
	int64_t account_id;
	enum store_role role;
	int64_t created_at;
	int64_t expires_at; /* 0: never */
	bool revoked;
};

struct store_audit {
	int64_t seq;
	int64_t time_ms;
	char actor[STORE_AUDIT_FIELD_MAX + 1];  /* "user:3", "system", ... */
	int64_t account_id;                     /* 0: none */
	char action[STORE_AUDIT_FIELD_MAX + 1]; /* "account.create" */
	char object[STORE_AUDIT_FIELD_MAX + 1]; /* "account:5" */
	char result[16];                        /* "ok", "refused", "error" */
	char reason[STORE_AUDIT_FIELD_MAX + 1];
	char prev_hash[2 * STORE_DIGEST + 1];
	char hash[2 * STORE_DIGEST + 1];
};

struct store_audit_filter {
	int64_t account_id; /* 0: any */
	const char *actor;  /* NULL: any */
	const char *action; /* NULL: any; exact match */
	const char *result; /* NULL: any */
	int64_t since_seq;  /* only seq > since_seq */
};

/* ---- open, transactions ---------------------------------------------- */

/* Open (creating if needed) and migrate the database at path. */
ccm_code store_open(const char *path, struct store **out, struct ccm_error *err);
void store_close(struct store *s);
int store_schema_version(struct store *s);

/* BEGIN IMMEDIATE / COMMIT / ROLLBACK. Nesting is refused. */
ccm_code store_begin(struct store *s, struct ccm_error *err);
ccm_code store_commit(struct store *s, struct ccm_error *err);
void store_rollback(struct store *s);

/* ---- manager key material (manager CA, server certificate) ------------ */

/* names: "manager-ca", "server". cert_pem and note are text. */
ccm_code store_pki_put(struct store *s, const char *name, const char *cert_pem,
                       const uint8_t *key_sealed, size_t key_len, const char *note,
                       struct ccm_error *err);
/* Outputs malloc'ed; CCM_E_NOTFOUND when absent. note may be NULL. */
ccm_code store_pki_get(struct store *s, const char *name, char **cert_pem, uint8_t **key_sealed,
                       size_t *key_len, char **note, struct ccm_error *err);

/* ---- users and sessions -------------------------------------------------- */

/* u->id is set on success; CCM_E_CONFLICT for a duplicate email. */
ccm_code store_user_create(struct store *s, struct store_user *u, struct ccm_error *err);
ccm_code store_user_get(struct store *s, int64_t id, struct store_user *u, struct ccm_error *err);
ccm_code store_user_by_email(struct store *s, const char *email, struct store_user *u,
                             struct ccm_error *err);
/* Writes name, pw_hash, is_admin, must_change_pw, disabled. */
ccm_code store_user_update(struct store *s, const struct store_user *u, struct ccm_error *err);
typedef ccm_code (*store_user_cb)(void *ctx, const struct store_user *u);
ccm_code store_user_list(struct store *s, const struct store_page *pg, store_user_cb cb, void *ctx,
                         struct ccm_error *err);
int64_t store_user_count(struct store *s);

ccm_code store_session_create(struct store *s, const uint8_t hash[STORE_DIGEST], int64_t user_id,
                              int64_t expires_at, struct ccm_error *err);
/* Valid (not revoked, not expired at now) session by token hash. */
ccm_code store_session_find(struct store *s, const uint8_t hash[STORE_DIGEST], int64_t now,
                            struct store_session *out, struct ccm_error *err);
ccm_code store_session_revoke(struct store *s, const uint8_t hash[STORE_DIGEST],
                              struct ccm_error *err);
/* Delete sessions expired or revoked before `before`; *n gets the count. */
ccm_code store_session_purge(struct store *s, int64_t before, int64_t *n, struct ccm_error *err);
/* Revoke every session of a user (password change, disable). */
ccm_code store_session_revoke_user(struct store *s, int64_t user_id, struct ccm_error *err);

/* ---- accounts and memberships ------------------------------------------- */

/* a->id set on success; CCM_E_CONFLICT for a duplicate name. */
ccm_code store_account_create(struct store *s, struct store_account *a,
                              const struct store_account_keys *k, struct ccm_error *err);
ccm_code store_account_get(struct store *s, int64_t id, struct store_account *a,
                           struct ccm_error *err);
/* Writes name, description, approval_quorum, accepted_tcb. */
ccm_code store_account_update(struct store *s, const struct store_account *a,
                              struct ccm_error *err);
ccm_code store_account_set_test_only(struct store *s, int64_t id, bool test_only,
                                     struct ccm_error *err);
/* Objects that pin an account (apps, nodes; none before part 2 of the
 * manager). */
ccm_code store_account_dependents(struct store *s, int64_t id, int64_t *count,
                                  struct ccm_error *err);
ccm_code store_account_delete(struct store *s, int64_t id, struct ccm_error *err);
ccm_code store_account_ca(struct store *s, int64_t id, char **cert_pem, uint8_t **key_sealed,
                          size_t *key_len, struct ccm_error *err);
ccm_code store_account_signing_key(struct store *s, int64_t id, uint8_t **sealed, size_t *len,
                                   struct ccm_error *err);
typedef ccm_code (*store_account_cb)(void *ctx, const struct store_account *a,
                                     enum store_role role);
/* user_id 0: every account (role NONE); else the user's accounts. */
ccm_code store_account_list(struct store *s, int64_t user_id, const struct store_page *pg,
                            store_account_cb cb, void *ctx, struct ccm_error *err);

ccm_code store_member_set(struct store *s, int64_t account_id, int64_t user_id,
                          enum store_role role, struct ccm_error *err);
/* STORE_ROLE_NONE when not a member. */
enum store_role store_member_role(struct store *s, int64_t account_id, int64_t user_id);
ccm_code store_member_remove(struct store *s, int64_t account_id, int64_t user_id,
                             struct ccm_error *err);
int64_t store_member_count_role(struct store *s, int64_t account_id, enum store_role role);
typedef ccm_code (*store_member_cb)(void *ctx, const struct store_member *m);
ccm_code store_member_list(struct store *s, int64_t account_id, const struct store_page *pg,
                           store_member_cb cb, void *ctx, struct ccm_error *err);

/* ---- API tokens -------------------------------------------------------- */

ccm_code store_token_create(struct store *s, struct store_token *t,
                            const uint8_t hash[STORE_DIGEST], struct ccm_error *err);
/* Valid token (not revoked, not expired) by hash. */
ccm_code store_token_find(struct store *s, const uint8_t hash[STORE_DIGEST], int64_t now,
                          struct store_token *out, struct ccm_error *err);
ccm_code store_token_get(struct store *s, int64_t account_id, int64_t id, struct store_token *out,
                         struct ccm_error *err);
ccm_code store_token_revoke(struct store *s, int64_t account_id, int64_t id, struct ccm_error *err);
typedef ccm_code (*store_token_cb)(void *ctx, const struct store_token *t);
/* user_id 0: all tokens of the account. */
ccm_code store_token_list(struct store *s, int64_t account_id, int64_t user_id,
                          const struct store_page *pg, store_token_cb cb, void *ctx,
                          struct ccm_error *err);

/* ---- audit ---------------------------------------------------------------- */

/* Fills seq, prev_hash and hash of e, then appends it. Call inside the
 * transaction of the change it records. */
ccm_code store_audit_append(struct store *s, struct store_audit *e, struct ccm_error *err);
typedef ccm_code (*store_audit_cb)(void *ctx, const struct store_audit *e);
ccm_code store_audit_list(struct store *s, const struct store_audit_filter *f,
                          const struct store_page *pg, store_audit_cb cb, void *ctx,
                          struct ccm_error *err);
/* The chain hash of an entry: SHA-256 over a length-prefixed encoding of
 * every field but hash (prev_hash included). Shared by ccmd and
 * `ccm audit verify`, so both compute the same thing. */
ccm_code store_audit_hash(const struct store_audit *e, uint8_t out[STORE_DIGEST],
                          struct ccm_error *err);

#ifdef __cplusplus
}
#endif
#endif
