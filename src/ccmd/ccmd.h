/*
 * DESIGN: what the parts of ccmd share. One process, one libevent loop,
 * one thread: a request is handled start to finish in one callback, so
 * the store needs no locking and a write transaction never interleaves
 * with another. Routes are rows of one table (route.c, tmux's cmd_entry
 * idea): method, path pattern, handler, minimum access, body fields and
 * limit, query parameters. The dispatcher (server.c) applies every check
 * a row declares before the handler runs: size, authentication, forced
 * password change, account membership and role, query and body shape.
 * Mutating routes run inside one store transaction that also appends
 * their audit entry; the reply is sent only after the commit.
 */
#ifndef CCMD_H
#define CCMD_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>
#include <openssl/types.h>
#include <openssl/x509.h>

#include "api/apijson.h"
#include "ccm/quote.h"
#include "ccm/store.h"

#define CCMD_MAX_HOSTNAMES 16
#define CCMD_DEFAULT_PORT 8443
#define CCMD_LIST_MAX 1000
#define CCMD_LIST_DEFAULT 100

struct ccmd_config {
	const char *data_dir;
	char listen_addr[64];
	uint16_t port;
	const char *hostnames[CCMD_MAX_HOSTNAMES];
	size_t nhostnames;
	const char *tls_cert, *tls_key;
	bool open_signup;
	bool check;
	size_t max_body;        /* default per-route body limit (bytes) */
	int64_t session_ttl;    /* seconds */
	uint32_t argon2_m_kib;  /* Argon2id memory cost */
	uint32_t argon2_t;      /* Argon2id passes */
	int login_max_failures; /* per user; per address it is 4x */
	int64_t login_window;   /* seconds */
	const char *admin_email;
	/* compute nodes (part 2) */
	const char *collateral[8]; /* --collateral DIR: DCAP collateral sets */
	size_t ncollateral;
	int64_t collateral_at;              /* --collateral-at: fixed verification time (0: now) */
	int node_interval;                  /* heartbeat interval given to agents, seconds */
	int node_missed;                    /* heartbeats missed before UNREACHABLE */
	int node_cert_days;                 /* node certificate validity */
	const char *insecure_registries[8]; /* --insecure-registry HOST:PORT (plain HTTP) */
	size_t n_insecure;
	const char *runtime;  /* --runtime: the static ccm-enclave put into images */
	const char *work_dir; /* --work-dir: conversion scratch space (default $TMPDIR) */
	int check_threads;    /* --check-threads: par.c helpers (-1: one per CPU but one) */
};

struct auth_limiter;
struct defer;
struct durable;
struct ca_cache;
struct keypool;
struct ccm_quote_verifier;
struct ccm_quote_collateral;

struct ccmd {
	struct ccmd_config cfg;
	struct store *store;
	uint8_t master_key[32];
	SSL_CTX *ssl;
	struct event_base *base;
	struct evhttp *http;
	struct evhttp_bound_socket *sock;
	struct event *ev_term, *ev_int, *ev_drain, *ev_purge, *ev_sweep;
	struct ccm_quote_verifier *verifier;
	struct ccm_quote_collateral *collateral[8];
	size_t ncollateral;
	struct auth_limiter *limiter;
	struct worker *worker;     /* image conversions (worker.c) */
	struct durable *durable;   /* group commit: replies wait for the sync (durable.c) */
	struct ca_cache *ca_cache; /* unsealed account CA keys (ca-cache.c) */
	struct keypool *keypool;   /* account signing keys made ahead (keypool.c) */
	struct par *par;           /* helpers for a batch's signature checks (par.c) */
	struct defer *defer;       /* password hashing off the loop (defer.c) */
	struct apijson_limits json_limits;
	char dummy_hash[STORE_HASH_MAX]; /* Argon2id of a random password */
	time_t started;
	uint64_t requests;
	int connections;
	bool stopping;
	int drain_waits; /* shutdown: grace periods spent waiting for deferred work */
};

enum route_access {
	ACCESS_PUBLIC,  /* no credentials */
	ACCESS_USER,    /* any authenticated user */
	ACCESS_READER,  /* role in the account named by the path's {id} */
	ACCESS_WRITER,  /* ... */
	ACCESS_MANAGER, /* ... */
	ACCESS_ADMIN,   /* system administrator (session only, never a token) */
	ACCESS_NODE,    /* an enrolled node: mTLS client certificate, no bearer token */
};

#define ROUTE_ACCOUNT 0x01u  /* path {id} is an account id */
#define ROUTE_PWCHANGE 0x02u /* allowed while a password change is forced */
#define ROUTE_NOAUDIT 0x04u  /* success is not audited (heartbeats); refusals are */
#define ROUTE_SECRET 0x08u   /* body or reply holds a secret: wiped, refused or not */
#define ROUTE_BATCH 0x10u    /* body is a batch of requests: more JSON values allowed */

struct req;

struct route {
	const char *method; /* "GET", "POST", "PATCH", "DELETE" */
	const char *path;   /* "/v1/accounts/{id}"; params are positive integers */
	void (*handler)(struct req *r);
	enum route_access access;
	unsigned flags;
	const struct apijson_field *body; /* NULL: no body accepted */
	size_t max_body;                  /* 0: the configured default */
	const char *query;                /* allowed query parameters, comma-separated */
	const char *action;               /* audit action, e.g. "account.create" */
	const char *summary;
};

#define REQ_MAX_PARAMS 3

struct req {
	struct ccmd *d;
	struct evhttp_request *ev;
	const struct route *route;
	int64_t params[REQ_MAX_PARAMS]; /* path parameters in order */
	size_t nparams;
	struct evkeyvalq query;
	json_t *body;
	struct store_page page;
	char client[64];
	/* who */
	bool authed;
	struct store_user user;
	bool via_token;
	struct store_token token;
	uint8_t session_hash[32];
	/* which account (ROUTE_ACCOUNT) */
	bool has_account;
	struct store_account account;
	enum store_role role;
	/* which node (ACCESS_NODE) */
	bool has_node;
	struct store_node node;
	X509 *node_cert; /* the peer certificate (not owned) */
	/* outcome */
	int status;
	json_t *resp;        /* JSON reply, or NULL with resp_text */
	char *resp_text;     /* malloc'ed text reply (PEM) */
	const char *resp_ct; /* content type of resp_text */
	int64_t t0_us;       /* when it arrived (for the request log) */
	int retry_after;
	bool deferred; /* the handler handed on to server_defer: no reply yet */
	/* audit */
	char actor[128];
	char object[128];
	int64_t audit_account;
	char reason[256];
};

/* ---- server.c ---- */
ccm_code server_start(struct ccmd *d, struct ccm_error *err);
void server_stop(struct ccmd *d);
/* Set the reply: status and JSON body (reference stolen). */
void server_reply(struct req *r, int status, json_t *body);
/* 200 with {"items", "limit", "offset"} of the request's page (items stolen). */
void server_reply_list(struct req *r, json_t *items);
void server_reply_text(struct req *r, int status, const char *ctype, char *text);
/* Set an error reply {"error":{"code","message"}}; returns false. */
bool server_error(struct req *r, int status, const char *code, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));
/* Map a store/ccm error to a status and reply with it. */
bool server_fail(struct req *r, const struct ccm_error *err);
/* Append r's audit entry (result "ok", "refused" or "error") inside the
 * current transaction. */
ccm_code server_audit_append(struct req *r, const char *result, struct ccm_error *err);
const char *server_query(struct req *r, const char *name);
/* From a handler: work(arg) off the loop, then resume(r, arg) on the loop
 * as a handler of r's route (in its own transaction; r's reply is sent
 * after it). resume is called once whatever happens: with r's status
 * already an error (no transaction could begin) it only cleans up. False
 * with 503 set when the queue is full; without the thread, work and
 * resume run inline. */
bool server_defer(struct req *r, void (*work)(void *arg), void (*resume)(struct req *r, void *arg),
                  void *arg);
/* An optional positive id in the query (0 when absent); false with a 400
 * ("NAME must be WHAT") sent when it is not one. */
bool server_query_id(struct req *r, const char *name, const char *what, int64_t *out);

/* ---- route.c ---- */
extern const struct route route_table[];
/* Match method and path; *path_only set when the path matched another
 * method. */
const struct route *route_match(const char *method, const char *path, struct req *r,
                                bool *path_only);
/* The methods of every row whose template matches path, "GET, POST"
 * (for an Allow header); its length, 0 when none. */
size_t route_allowed(const char *path, char *out, size_t size);
/* The row of exactly this method and path template, or NULL. */
const struct route *route_find(const char *method, const char *path);
json_t *route_openapi(void);
const char *route_access_name(enum route_access a);

/* ---- auth.c ---- */
ccm_code auth_init(struct ccmd *d, struct ccm_error *err);
void auth_free(struct ccmd *d);
/* Authenticate the bearer token of r; false with the reply set. */
bool auth_request(struct req *r);
ccm_code auth_hash_password(struct ccmd *d, const char *pw, char out[STORE_HASH_MAX],
                            struct ccm_error *err);
bool auth_check_password(const char *encoded, const char *pw);
bool auth_password_ok(struct req *r, const char *pw);
/* A new random token "<prefix>_<64 hex>" and its SHA-256. */
ccm_code auth_new_token(const char *prefix, char out[80], uint8_t hash[32], struct ccm_error *err);
void auth_token_hash(const char *token, size_t len, uint8_t hash[32]);
/* Seconds until key may try again (0: now). */
int64_t auth_limit_wait(struct ccmd *d, const char *key, int64_t now);
void auth_limit_fail(struct ccmd *d, const char *key, int64_t now);
void auth_limit_clear(struct ccmd *d, const char *key);
void auth_random_password(char out[32]);
/* Check an e-mail address (one '@', no spaces, controls or ':') and
 * lowercase it into out; false with the reply set. */
bool auth_email(struct req *r, const char *in, char out[STORE_EMAIL_MAX + 1]);
void auth_email_lower(const char *in, char out[STORE_EMAIL_MAX + 1]);

/* ---- bootstrap.c ---- */
ccm_code bootstrap_run(struct ccmd *d, struct ccm_error *err);
ccm_code bootstrap_seal(struct ccmd *d, const char *purpose, EVP_PKEY *key, uint8_t **out,
                        size_t *len, struct ccm_error *err);

/* The account CA certificate and its unsealed key. */
ccm_code bootstrap_account_ca(struct ccmd *d, int64_t account_id, X509 **ca, EVP_PKEY **key,
                              struct ccm_error *err);

/* ---- builder.c: image builds through the conversion worker ---- */
struct store_build;
ccm_code builder_submit(struct ccmd *d, const struct store_build *b, struct ccm_error *err);
void builder_resume(struct ccmd *d);

/* ---- log.c ---- */
void log_event(const char *level, const char *msg, json_t *fields); /* steals fields */
void log_info(const char *msg);
void log_error(const char *msg, const struct ccm_error *err);

/* ---- handlers (api-*.c) ---- */
void api_sys_version(struct req *r);
void api_sys_health(struct req *r);
void api_sys_openapi(struct req *r);
void api_sys_auth(struct req *r);
void api_sys_logout(struct req *r);
void api_sys_whoami(struct req *r);
void api_sys_password(struct req *r);
void api_sys_signup(struct req *r);

void api_account_create(struct req *r);
void api_account_list(struct req *r);
void api_account_show(struct req *r);
void api_account_update(struct req *r);
void api_account_test_only(struct req *r);
void api_account_delete(struct req *r);
void api_account_ca(struct req *r);
void api_account_members(struct req *r);
void api_account_member_add(struct req *r);
void api_account_member_role(struct req *r);
void api_account_member_remove(struct req *r);

void api_user_list(struct req *r);
void api_user_create(struct req *r);
void api_user_show(struct req *r);
void api_user_update(struct req *r);

void api_token_create(struct req *r);
void api_token_list(struct req *r);
void api_token_revoke(struct req *r);

void api_audit_list(struct req *r);
void api_audit_account(struct req *r);

void api_app_create(struct req *r);
void api_app_list(struct req *r);
void api_app_show(struct req *r);
void api_app_update(struct req *r);
void api_app_delete(struct req *r);
json_t *api_app_json(const struct store_app *a);

void api_build_create(struct req *r);
void api_build_list(struct req *r);
void api_build_show(struct req *r);
void api_build_revoke(struct req *r);
void api_build_retry(struct req *r);
json_t *api_build_json(const struct store_build *b);

void api_task_list(struct req *r);
void api_task_show(struct req *r);
void api_task_approve(struct req *r);
void api_task_deny(struct req *r);
/* Open a task in the request's transaction (type, app, build, domains). */
bool api_task_open(struct req *r, struct store_task *t);

void api_node_token_create(struct req *r);
void api_node_token_list(struct req *r);
void api_node_token_revoke(struct req *r);
void api_node_enroll(struct req *r);
void api_node_list(struct req *r);
void api_node_show(struct req *r);
void api_node_label(struct req *r);
void api_node_deactivate(struct req *r);
/* Periodic: ACTIVE nodes that missed their heartbeats become UNREACHABLE. */
void api_node_sweep(struct ccmd *d);

/* Node channel (mTLS): identify the node from its client certificate. */
bool api_nodechan_auth(struct req *r);
void api_nodechan_status(struct req *r);
void api_nodechan_renew(struct req *r);
void api_nodechan_app_config(struct req *r);
/* Issue a node certificate for csr and record it (enroll and renew). */
bool api_nodechan_issue_node(struct req *r, X509_REQ *csr, const struct store_node *n,
                             json_t *reply);
/* Verify a DCAP quote with the configured collateral; false with the
 * reply set (check named). tcb gets the status. */
bool api_nodechan_dcap(struct req *r, const uint8_t *quote, size_t len, const char *code,
                       struct ccm_quote_report *report, int *tcb);

void api_registry_add(struct req *r);
void api_registry_list(struct req *r);
void api_registry_remove(struct req *r);
/* Check a registry HOST[:PORT] and write its normal form (lowercase,
 * Docker Hub's names as docker.io) to out; NULL when fine, else why not. */
const char *api_registry_host(const char *in, char out[STORE_HOST_MAX + 1]);
/* The sealing purpose (associated data) of an account's secret for host. */
const char *api_registry_purpose(int64_t account_id, const char *host, char *out, size_t n);

void api_cert_issue(struct req *r);
void api_cert_issue_batch(struct req *r);
void api_cert_list(struct req *r);
void api_cert_revoke(struct req *r);
void api_cert_crl(struct req *r);

/* Shared helpers (api-app.c): a JSON array of strings, each validated
 * ("labels": k=v, "domains": DNS names), serialised into out. */
bool api_app_strings(struct req *r, const char *field, json_t *arr, char *out, size_t max);
/* Parse stored JSON text (never fails: "[]" on error). */
json_t *api_app_parse(const char *text);

/* Shared JSON views (api-user.c). */
json_t *api_user_json(const struct store_user *u);
json_t *api_account_json(const struct store_account *a, enum store_role role);
char *api_user_time(int64_t t, char buf[32]);

#endif
