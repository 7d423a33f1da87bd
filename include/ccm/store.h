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
	bool node_approval; /* enrolled nodes wait for a node_attestation task */
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
/* Inside a transaction: mark a point, then keep (release) or undo
 * (rollback) what was written after it. One mark at a time. */
ccm_code store_savepoint(struct store *s, struct ccm_error *err);
ccm_code store_savepoint_release(struct store *s, struct ccm_error *err);
ccm_code store_savepoint_rollback(struct store *s, struct ccm_error *err);
/* How many transactions this handle has committed (tells a caller that
 * something it ran wrote to the store). */
uint64_t store_commit_count(const struct store *s);

/* ---- group commit (lib/store/sync.c) ---------------------------------- */

/* Switch s to group commit: its COMMITs stop waiting for the disk, and
 * nothing it commits is durable until a later store_sync_run returns
 * CCM_OK. store_sync_run and store_sync_checkpoint belong to ONE other
 * thread, which may run them while s is in use; store_sync_close (after
 * that thread ended) syncs a last time and restores the plain mode. */
struct store_sync;
ccm_code store_sync_open(struct store *s, struct store_sync **out, struct ccm_error *err);
/* Make every transaction committed before the call durable. */
ccm_code store_sync_run(struct store_sync *y, struct ccm_error *err);
/* A PASSIVE checkpoint when the WAL has grown large. */
void store_sync_checkpoint(struct store_sync *y);
void store_sync_close(struct store_sync *y);

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

/* ---- applications, builds, tasks (manager part 2) ------------------------ */

#define STORE_JSON_MAX 8192 /* JSON text columns (label lists, overrides) */
#define STORE_REF_MAX 512   /* OCI references */
#define STORE_PATH_MAX 255  /* file paths inside an app */
#define STORE_SUBJECT_MAX 512
#define STORE_SERIAL_MAX 80

/* An application. List fields are JSON text (arrays of strings; runtime
 * is an object {entrypoint, args, env, rw_dirs}); the API validates them. */
struct store_app {
	int64_t id;
	int64_t account_id;
	char name[STORE_NAME_MAX + 1];
	char description[STORE_TEXT_MAX + 1];
	char input_image[STORE_REF_MAX + 1];
	char output_image[STORE_REF_MAX + 1];
	int64_t isvprodid, isvsvn, min_isvsvn;
	int64_t mem_bytes, mem_enclave; /* asked, and the power of two it rounds to */
	int64_t threads;
	bool allow_debug;
	char runtime[STORE_JSON_MAX + 1];
	char labels[STORE_JSON_MAX + 1];
	char domains_pending[STORE_JSON_MAX + 1]; /* awaiting approval; "[]" none */
	char whitelisted_domains[STORE_JSON_MAX + 1];
	char cert_subject[STORE_SUBJECT_MAX + 1];
	char cert_key_type[16]; /* ec-p256, rsa-2048, rsa-3072 */
	char cert_key_path[STORE_PATH_MAX + 1];
	char cert_cert_path[STORE_PATH_MAX + 1];
	char cert_chain_path[STORE_PATH_MAX + 1];
	int64_t cert_days;
	int64_t created_at, updated_at;
};

/* CCM_E_CONFLICT for a duplicate name in the account. */
ccm_code store_app_create(struct store *s, struct store_app *a, struct ccm_error *err);
ccm_code store_app_get(struct store *s, int64_t account_id, int64_t id, struct store_app *a,
                       struct ccm_error *err);
/* Writes every field but id, account_id and created_at. */
ccm_code store_app_update(struct store *s, const struct store_app *a, struct ccm_error *err);
/* CCM_E_CONFLICT while builds or certificates refer to it. */
ccm_code store_app_delete(struct store *s, int64_t account_id, int64_t id, struct ccm_error *err);
typedef ccm_code (*store_app_cb)(void *ctx, const struct store_app *a);
/* label: NULL, or only apps whose labels hold this exact "k=v". */
ccm_code store_app_list(struct store *s, int64_t account_id, const char *label,
                        const struct store_page *pg, store_app_cb cb, void *ctx,
                        struct ccm_error *err);

struct store_build {
	int64_t id;
	int64_t account_id;
	int64_t app_id;
	char source[16]; /* "sigstruct" or "image" */
	char image_name[STORE_REF_MAX + 1];
	char image_digest[80];
	char mrenclave[2 * STORE_DIGEST + 1]; /* "" until known */
	char mrsigner[2 * STORE_DIGEST + 1];
	int64_t isvprodid, isvsvn;
	bool debug;
	int64_t mem_bytes, threads;
	char status[16]; /* PENDING, WHITELISTED, REJECTED */
	bool revoked;
	char conv_status[16]; /* QUEUED PULLING CONVERTING PUSHING DONE FAILED; "" for sigstruct */
	char conv_reason[STORE_TEXT_MAX + 1];
	int64_t bytes_done, bytes_total;
	int64_t created_at, updated_at;
	char output_image[STORE_REF_MAX + 1]; /* image builds: where the result goes */
};

/* CCM_E_CONFLICT when the MRENCLAVE is already registered in the account. */
ccm_code store_build_create(struct store *s, struct store_build *b, struct ccm_error *err);
ccm_code store_build_get(struct store *s, int64_t account_id, int64_t id, struct store_build *b,
                         struct ccm_error *err);
ccm_code store_build_by_mrenclave(struct store *s, int64_t account_id, const char *mrenclave_hex,
                                  struct store_build *b, struct ccm_error *err);
ccm_code store_build_set_status(struct store *s, int64_t id, const char *status, bool revoked,
                                int64_t now, struct ccm_error *err);
/* The build worker's progress report (conversion status, bytes). */
ccm_code store_build_progress(struct store *s, int64_t id, const char *conv_status,
                              const char *reason, int64_t done, int64_t total, int64_t now,
                              struct ccm_error *err);
/* A FAILED image conversion back to QUEUED (progress and reason cleared)
 * for a retry; CCM_E_NOTFOUND unless the build is exactly that. */
ccm_code store_build_requeue(struct store *s, int64_t account_id, int64_t id, int64_t now,
                             struct ccm_error *err);
/* The build worker's result: fills the identity of a converted build,
 * marks it DONE and opens its build_whitelist task (requester 0 =
 * system), all in the caller's transaction. *task_id receives the task. */
ccm_code store_build_converted(struct store *s, const struct store_build *b, int64_t now,
                               int64_t *task_id, struct ccm_error *err);
typedef ccm_code (*store_build_cb)(void *ctx, const struct store_build *b);
/* Image builds of every account whose conversion has not ended (not DONE
 * or FAILED): the build worker's queue after a restart. */
ccm_code store_build_list_unfinished(struct store *s, const struct store_page *pg,
                                     store_build_cb cb, void *ctx, struct ccm_error *err);
/* app_id 0: every app. */
ccm_code store_build_list(struct store *s, int64_t account_id, int64_t app_id,
                          const struct store_page *pg, store_build_cb cb, void *ctx,
                          struct ccm_error *err);

struct store_task {
	int64_t id;
	int64_t account_id;
	char type[24];   /* build_whitelist, domain_whitelist, node_attestation */
	char status[16]; /* PENDING, APPROVED, DENIED, FAILED */
	int64_t app_id;
	int64_t build_id;                 /* build_whitelist */
	int64_t node_id;                  /* node_attestation */
	char domains[STORE_JSON_MAX + 1]; /* domain_whitelist: the requested set */
	int64_t requester_id;             /* 0: the system */
	char reason[STORE_TEXT_MAX + 1];  /* of a denial or failure */
	int64_t created_at, updated_at;
};

struct store_vote {
	int64_t user_id;
	bool approve;
	char reason[STORE_TEXT_MAX + 1];
	int64_t at;
};

ccm_code store_task_create(struct store *s, struct store_task *t, struct ccm_error *err);
ccm_code store_task_get(struct store *s, int64_t account_id, int64_t id, struct store_task *t,
                        struct ccm_error *err);
ccm_code store_task_set_status(struct store *s, int64_t id, const char *status, const char *reason,
                               int64_t now, struct ccm_error *err);
/* CCM_E_CONFLICT when the user already voted on the task. */
ccm_code store_task_vote(struct store *s, int64_t task_id, const struct store_vote *v,
                         struct ccm_error *err);
/* Approvals by distinct users, not counting exclude_user (0: none). */
int64_t store_task_approvals(struct store *s, int64_t task_id, int64_t exclude_user);
typedef ccm_code (*store_vote_cb)(void *ctx, const struct store_vote *v);
ccm_code store_task_votes(struct store *s, int64_t task_id, store_vote_cb cb, void *ctx,
                          struct ccm_error *err);
/* Any PENDING task of this type on this app (0 when none). */
int64_t store_task_pending_for_app(struct store *s, int64_t app_id, const char *type);
typedef ccm_code (*store_task_cb)(void *ctx, const struct store_task *t);
/* status, type: NULL for any. */
ccm_code store_task_list(struct store *s, int64_t account_id, const char *status, const char *type,
                         const struct store_page *pg, store_task_cb cb, void *ctx,
                         struct ccm_error *err);

/* ---- compute nodes --------------------------------------------------------- */

struct store_join_token {
	int64_t id;
	int64_t account_id;
	char name[STORE_NAME_MAX + 1];
	char labels[STORE_JSON_MAX + 1];
	int64_t uses_total, uses_left;
	int64_t expires_at;
	bool revoked;
	int64_t created_by;
	int64_t created_at;
	uint8_t token_hash[STORE_DIGEST]; /* filled by store_join_token_find */
};

ccm_code store_join_token_create(struct store *s, struct store_join_token *t,
                                 const uint8_t hash[STORE_DIGEST], struct ccm_error *err);
/* By hash, whatever its state (the caller says why it is unusable). */
ccm_code store_join_token_find(struct store *s, const uint8_t hash[STORE_DIGEST],
                               struct store_join_token *t, struct ccm_error *err);
ccm_code store_join_token_use(struct store *s, int64_t id, struct ccm_error *err);
ccm_code store_join_token_revoke(struct store *s, int64_t account_id, int64_t id,
                                 struct ccm_error *err);
typedef ccm_code (*store_join_token_cb)(void *ctx, const struct store_join_token *t);
ccm_code store_join_token_list(struct store *s, int64_t account_id, const struct store_page *pg,
                               store_join_token_cb cb, void *ctx, struct ccm_error *err);

struct store_node {
	int64_t id;
	int64_t account_id;
	char name[STORE_NAME_MAX + 1];
	char state[16]; /* ENROLLING ACTIVE UNREACHABLE DEACTIVATED */
	char attestation[STORE_TEXT_MAX + 1];
	char labels[STORE_JSON_MAX + 1];
	char sys_info[STORE_JSON_MAX + 1];
	char load[256];
	int64_t token_id;
	int64_t last_seen;
	int64_t created_at, updated_at;
};

ccm_code store_node_create(struct store *s, struct store_node *n, struct ccm_error *err);
ccm_code store_node_get(struct store *s, int64_t account_id, int64_t id, struct store_node *n,
                        struct ccm_error *err);
ccm_code store_node_set_state(struct store *s, int64_t id, const char *state, int64_t now,
                              struct ccm_error *err);
ccm_code store_node_set_labels(struct store *s, int64_t id, const char *labels, int64_t now,
                               struct ccm_error *err);
/* Heartbeat: last_seen, load, state ACTIVE. */
ccm_code store_node_seen(struct store *s, int64_t id, const char *load, int64_t now,
                         struct ccm_error *err);
/* ACTIVE nodes not seen since `before` become UNREACHABLE; cb is called
 * for each (inside the caller's transaction). */
typedef ccm_code (*store_node_cb)(void *ctx, const struct store_node *n);
ccm_code store_node_sweep(struct store *s, int64_t before, int64_t now, store_node_cb cb, void *ctx,
                          struct ccm_error *err);
ccm_code store_node_list(struct store *s, int64_t account_id, const struct store_page *pg,
                         store_node_cb cb, void *ctx, struct ccm_error *err);
/* App instances reported by a node: the listed ones get their state, the
 * other RUNNING ones of the node become STOPPED. */
ccm_code store_instance_set(struct store *s, int64_t node_id, int64_t app_id, const char *state,
                            int64_t now, struct ccm_error *err);
ccm_code store_instance_stop_others(struct store *s, int64_t node_id, int64_t now,
                                    struct ccm_error *err);
struct store_instance {
	int64_t node_id, app_id;
	char state[16];
	int64_t updated_at;
};
typedef ccm_code (*store_instance_cb)(void *ctx, const struct store_instance *i);
ccm_code store_instance_list(struct store *s, int64_t node_id, store_instance_cb cb, void *ctx,
                             struct ccm_error *err);
/* The instances of one app, on the nodes of its account. */
ccm_code store_instance_list_app(struct store *s, int64_t account_id, int64_t app_id,
                                 store_instance_cb cb, void *ctx, struct ccm_error *err);

/* ---- certificates (node and app) ------------------------------------------ */

struct store_cert {
	int64_t id;
	int64_t account_id;
	char kind[8]; /* "node" or "app" */
	char serial[STORE_SERIAL_MAX + 1];
	int64_t node_id, app_id, build_id;
	int64_t not_after;
	char state[16]; /* ISSUED, REVOKED (EXPIRED is derived from not_after) */
	int64_t revoked_at;
	int64_t created_at;
};

ccm_code store_cert_create(struct store *s, struct store_cert *c, struct ccm_error *err);
ccm_code store_cert_get(struct store *s, int64_t account_id, int64_t id, struct store_cert *c,
                        struct ccm_error *err);
ccm_code store_cert_by_serial(struct store *s, int64_t account_id, const char *serial,
                              struct store_cert *c, struct ccm_error *err);
ccm_code store_cert_revoke(struct store *s, int64_t id, int64_t now, struct ccm_error *err);
/* Revoke every ISSUED certificate of a node. */
ccm_code store_cert_revoke_node(struct store *s, int64_t node_id, int64_t now,
                                struct ccm_error *err);
typedef ccm_code (*store_cert_cb)(void *ctx, const struct store_cert *c);
/* app_id 0: all; revoked_only: the CRL's entries. */
ccm_code store_cert_list(struct store *s, int64_t account_id, int64_t app_id, bool revoked_only,
                         const struct store_page *pg, store_cert_cb cb, void *ctx,
                         struct ccm_error *err);

/* ---- registry credentials ------------------------------------------------ */

#define STORE_HOST_MAX 261     /* registry HOST[:PORT] as in image references */
#define STORE_USERNAME_MAX 256 /* registry user name */

/* Credentials for one registry of an account. The secret (password or
 * token) is stored sealed by the caller and never read back by listings. */
struct store_registry {
	int64_t id;
	int64_t account_id;
	char host[STORE_HOST_MAX + 1]; /* normalised by the caller */
	char username[STORE_USERNAME_MAX + 1];
	char kind[16]; /* "password" (username + password) or "token" */
	int64_t created_at, updated_at;
};

/* Add, or replace the credentials of the same (account, host): r->id,
 * created_at and updated_at are set; *replaced says which happened. */
ccm_code store_registry_put(struct store *s, struct store_registry *r, const uint8_t *sealed,
                            size_t sealed_len, bool *replaced, struct ccm_error *err);
ccm_code store_registry_get(struct store *s, int64_t account_id, int64_t id,
                            struct store_registry *r, struct ccm_error *err);
/* By host, with the sealed secret (malloc'ed); CCM_E_NOTFOUND when none. */
ccm_code store_registry_by_host(struct store *s, int64_t account_id, const char *host,
                                struct store_registry *r, uint8_t **sealed, size_t *sealed_len,
                                struct ccm_error *err);
ccm_code store_registry_delete(struct store *s, int64_t account_id, int64_t id,
                               struct ccm_error *err);
typedef ccm_code (*store_registry_cb)(void *ctx, const struct store_registry *r);
ccm_code store_registry_list(struct store *s, int64_t account_id, const struct store_page *pg,
                             store_registry_cb cb, void *ctx, struct ccm_error *err);

#ifdef __cplusplus
}
#endif
#endif
