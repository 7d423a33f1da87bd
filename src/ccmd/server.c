/*
 * DESIGN: the HTTPS front of ccmd. libevent's evhttp does all HTTP parsing
 * over OpenSSL bufferevents (TLS 1.2+, client certificates requested but
 * optional: nodes will present them, people do not). Every request goes
 * through server_handle, which applies the checks its route row declares
 * in a fixed order, cheapest and least revealing first: route, body size,
 * credentials, forced password change, administrator, account membership
 * (non-members get the same 404 as a missing account) and role, query
 * parameters, body shape. Only then does the handler run; mutating routes
 * run inside a store transaction that also appends the audit entry, and
 * the reply leaves only after the commit is on disk, so an acknowledged
 * write survives a crash: a request that committed anything waits for
 * the group commit's sync (durable.c) while the loop serves others, so
 * one disk sync acknowledges a whole batch. Refusals are audited too.
 *
 * libevent 2.1 answers bodies above evhttp's own cap with its HTML 413
 * before any callback runs; that cap is set to twice the largest route
 * limit, so everything between a route's limit and the cap gets the JSON
 * 413 (see docs/internals/manager.md).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/keyvalq_struct.h>
#include <openssl/crypto.h>
#include <openssl/ssl.h>

#include "ca-cache.h"
#include "ccmd.h"
#include "defer.h"
#include "durable.h"
#include "keypool.h"
#include "par.h"
#include "worker.h"
#include "util/util.h"

static const char *server_status_text(int status)
{
	switch (status) {
	case 200:
		return "OK";
	case 201:
		return "Created";
	case 204:
		return "No Content";
	case 400:
		return "Bad Request";
	case 401:
		return "Unauthorized";
	case 403:
		return "Forbidden";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 409:
		return "Conflict";
	case 413:
		return "Payload Too Large";
	case 429:
		return "Too Many Requests";
	case 503:
		return "Service Unavailable";
	default:
		return status >= 500 ? "Internal Server Error" : "Error";
	}
}

void server_reply(struct req *r, int status, json_t *body)
{
	json_decref(r->resp);
	r->resp = body;
	r->status = status;
}

void server_reply_list(struct req *r, json_t *items)
{
	server_reply(r, 200,
	             json_pack("{s:o,s:I,s:I}", "items", items, "limit", (json_int_t)r->page.limit,
	                       "offset", (json_int_t)r->page.offset));
}

void server_reply_text(struct req *r, int status, const char *ctype, char *text)
{
	free(r->resp_text);
	r->resp_text = text;
	r->resp_ct = ctype;
	r->status = status;
}

bool server_error(struct req *r, int status, const char *code, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(r->reason, sizeof(r->reason), "%.40s: %.200s", code, msg);
	server_reply(r, status, json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", msg));
	return false;
}

bool server_fail(struct req *r, const struct ccm_error *err)
{
	switch (err->code) {
	case CCM_E_NOTFOUND:
		return server_error(r, 404, "not_found", "%s", err->msg);
	case CCM_E_CONFLICT:
		return server_error(r, 409, "conflict", "%s", err->msg);
	case CCM_E_INPUT:
	case CCM_E_RANGE:
	case CCM_E_USAGE:
		return server_error(r, 400, "invalid_request", "%s", err->msg);
	case CCM_E_LIMIT:
		return server_error(r, 413, "too_large", "%s", err->msg);
	case CCM_E_AUTH:
		return server_error(r, 403, "forbidden", "%s", err->msg);
	case CCM_E_IO:
		log_error("store", err);
		return server_error(r, 503, "unavailable", "the store is unavailable");
	default:
		log_error("internal", err);
		return server_error(r, 500, "internal", "internal error");
	}
}

const char *server_query(struct req *r, const char *name)
{
	return evhttp_find_header(&r->query, name);
}

bool server_query_id(struct req *r, const char *name, const char *what, int64_t *out)
{
	const char *v = server_query(r, name);
	struct ccm_error err;
	uint64_t id = 0;

	if (v != NULL && (util_parse_u64(v, INT64_MAX, &id, name, &err) != CCM_OK || id == 0))
		return server_error(r, 400, "bad_parameter", "%s must be %s", name, what);
	*out = (int64_t)id;
	return true;
}

/* ---- audit ------------------------------------------------------------------ */

static void server_audit_fill(struct req *r, const char *result, struct store_audit *e)
{
	struct timeval tv;

	memset(e, 0, sizeof(*e));
	gettimeofday(&tv, NULL);
	e->time_ms = (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
	if (r->actor[0])
		snprintf(e->actor, sizeof(e->actor), "%s", r->actor);
	else if (r->authed && r->via_token)
		snprintf(e->actor, sizeof(e->actor), "user:%" PRId64 "/token:%" PRId64, r->user.id,
		         r->token.id);
	else if (r->authed)
		snprintf(e->actor, sizeof(e->actor), "user:%" PRId64, r->user.id);
	else
		snprintf(e->actor, sizeof(e->actor), "anonymous@%s", r->client);
	e->account_id = r->audit_account ? r->audit_account : r->account.id;
	if (r->route && r->route->action)
		snprintf(e->action, sizeof(e->action), "%s", r->route->action);
	else if (r->route)
		snprintf(e->action, sizeof(e->action), "%s %s", r->route->method, r->route->path);
	else
		snprintf(e->action, sizeof(e->action), "request");
	snprintf(e->object, sizeof(e->object), "%s", r->object);
	snprintf(e->result, sizeof(e->result), "%s", result);
	snprintf(e->reason, sizeof(e->reason), "%s", r->reason);
}

ccm_code server_audit_append(struct req *r, const char *result, struct ccm_error *err)
{
	struct store_audit e;

	server_audit_fill(r, result, &e);
	return store_audit_append(r->d->store, &e, err);
}

/* Append in its own transaction (refusals, after a rollback). */
static void server_audit_alone(struct req *r, const char *result)
{
	struct store_audit e;
	struct ccm_error err;

	server_audit_fill(r, result, &e);
	if (store_begin(r->d->store, &err) != CCM_OK ||
	    store_audit_append(r->d->store, &e, &err) != CCM_OK ||
	    store_commit(r->d->store, &err) != CCM_OK) {
		store_rollback(r->d->store);
		log_error("audit append failed", &err);
	}
}

/* ---- sending ------------------------------------------------------------------ */

static void server_send(struct req *r, int64_t t0_us)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(r->ev);
	struct evbuffer *buf = evbuffer_new();
	struct timeval tv;
	char ra[24];
	char *s = NULL;
	json_t *line;

	if (r->status == 0)
		server_error(r, 500, "internal", "no reply");
	if (r->resp_text != NULL) {
		evhttp_add_header(h, "Content-Type", r->resp_ct);
		evbuffer_add(buf, r->resp_text, strlen(r->resp_text));
	} else if (r->resp != NULL) {
		s = json_dumps(r->resp, JSON_COMPACT);
		evhttp_add_header(h, "Content-Type", "application/json");
		if (s)
			evbuffer_add(buf, s, strlen(s));
		if (s && r->route != NULL && (r->route->flags & ROUTE_SECRET))
			OPENSSL_cleanse(s, strlen(s)); /* a token being handed out */
		free(s);
	}
	evhttp_add_header(h, "Cache-Control", "no-store");
	evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
	evhttp_add_header(h, "Strict-Transport-Security", "max-age=31536000");
	if (r->has_account && r->account.test_only)
		evhttp_add_header(h, "CCM-Test-Only", "true");
	if (r->status == 401)
		evhttp_add_header(h, "WWW-Authenticate", "Bearer realm=\"ccm\"");
	if (r->retry_after > 0) {
		snprintf(ra, sizeof(ra), "%d", r->retry_after);
		evhttp_add_header(h, "Retry-After", ra);
	}
	if (r->d->stopping)
		evhttp_add_header(h, "Connection", "close");
	gettimeofday(&tv, NULL);
	/* Before the send: a request whose client has gone is freed by it. */
	line = json_pack("{s:s,s:s,s:i,s:I,s:s}", "method", r->route ? r->route->method : "-",
	                 "path", evhttp_request_get_uri(r->ev), "status", r->status, "us",
	                 (json_int_t)((int64_t)tv.tv_sec * 1000000 + tv.tv_usec - t0_us), "client",
	                 r->client);
	/* evhttp would send it: a reply to HEAD has no body (RFC 9110 9.3.2). */
	if (evhttp_request_get_command(r->ev) == EVHTTP_REQ_HEAD)
		evbuffer_drain(buf, evbuffer_get_length(buf));
	evhttp_send_reply(r->ev, r->status, server_status_text(r->status), buf);
	evbuffer_free(buf);
	log_event("info", "request", line);
}

/* ---- the checks ---------------------------------------------------------------- */

static bool server_scope(struct req *r)
{
	struct ccm_error err;
	enum store_role role = STORE_ROLE_NONE;
	enum store_role need = (enum store_role)(r->route->access - ACCESS_READER + 1);

	if (r->nparams == 0 ||
	    store_account_get(r->d->store, r->params[0], &r->account, &err) != CCM_OK)
		return server_error(r, 404, "not_found", "account not found");
	if (r->via_token)
		role = r->token.account_id == r->account.id ? r->token.role : STORE_ROLE_NONE;
	else if (r->user.is_admin)
		role = STORE_ROLE_MANAGER;
	if (!r->user.is_admin || r->via_token) {
		enum store_role m = store_member_role(r->d->store, r->account.id, r->user.id);
		role = r->via_token ? (m < role ? m : role) : m;
	}
	if (role == STORE_ROLE_NONE) {
		memset(&r->account, 0, sizeof(r->account));
		snprintf(r->object, sizeof(r->object), "account:%" PRId64, r->params[0]);
		return server_error(r, 404, "not_found", "account not found");
	}
	r->has_account = true;
	r->role = role;
	snprintf(r->object, sizeof(r->object), "account:%" PRId64, r->account.id);
	if (role < need)
		return server_error(r, 403, "forbidden", "this needs the %s role in the account",
		                    store_role_name(need));
	return true;
}

static bool server_query_ok(struct req *r)
{
	const char *allowed = r->route->query ? r->route->query : "";
	const char *lim, *off;
	struct ccm_error err;
	uint64_t v;

	for (struct evkeyval *kv = r->query.tqh_first; kv; kv = kv->next.tqe_next) {
		size_t n = strlen(kv->key);
		const char *p = strstr(allowed, kv->key);
		if (n == 0 || p == NULL || (p != allowed && p[-1] != ',') ||
		    (p[n] != ',' && p[n] != '\0'))
			return server_error(r, 400, "unknown_parameter",
			                    "unknown query parameter '%.64s'", kv->key);
	}
	r->page.limit = CCMD_LIST_DEFAULT;
	r->page.offset = 0;
	lim = server_query(r, "limit");
	off = server_query(r, "offset");
	if (lim != NULL) {
		if (util_parse_u64(lim, CCMD_LIST_MAX, &v, "limit", &err) != CCM_OK || v == 0)
			return server_error(r, 400, "bad_pagination",
			                    "limit must be an integer from 1 to %d", CCMD_LIST_MAX);
		r->page.limit = (int64_t)v;
	}
	if (off != NULL) {
		if (util_parse_u64(off, INT32_MAX, &v, "offset", &err) != CCM_OK)
			return server_error(r, 400, "bad_pagination",
			                    "offset must be an integer from 0 to %d", INT32_MAX);
		r->page.offset = (int64_t)v;
	}
	return true;
}

/* The string cap of a route: the default, raised to the longest string
 * its fields declare (a CSR), and for free-form members (evidence with a
 * quote) to 96 KiB, and the values in all for a batch route; the route's
 * body limit still bounds the whole. */
static void server_route_limits(const struct route *rt, const struct apijson_limits *def,
                                struct apijson_limits *out)
{
	*out = *def;
	if ((rt->flags & ROUTE_BATCH) && out->max_nodes < 16384)
		out->max_nodes = 16384; /* 64 issue requests, each with up to 64 names */
	apijson_limits_fit(out, rt->body);
	for (const struct apijson_field *f = rt->body; f && f->name; f++)
		if ((f->type == APIJSON_OBJECT || f->type == APIJSON_ARRAY) &&
		    out->max_string < 96 * 1024)
			out->max_string = 96 * 1024;
}

static bool server_body_ok(struct req *r)
{
	struct apijson_limits lim;
	struct evbuffer *in = evhttp_request_get_input_buffer(r->ev);
	size_t len = evbuffer_get_length(in);
	struct apijson_result res;
	const char *data;

	if (r->route->body == NULL) {
		if (len > 0)
			return server_error(r, 400, "unexpected_body", "this route takes no body");
		return true;
	}
	data = len ? (const char *)evbuffer_pullup(in, -1) : "{}";
	if (len == 0)
		len = 2;
	server_route_limits(r->route, &r->d->json_limits, &lim);
	if (!apijson_parse(data, len, &lim, &r->body, &res) ||
	    !apijson_check(r->body, r->route->body, &res))
		return server_error(r, res.status == APIJSON_TOO_LONG ? 413 : 400,
		                    apijson_status_code(res.status), "%s", res.msg);
	return true;
}

static bool server_checks(struct req *r)
{
	size_t limit = r->route->max_body ? r->route->max_body : r->d->cfg.max_body;
	size_t len = evbuffer_get_length(evhttp_request_get_input_buffer(r->ev));

	if (len > limit)
		return server_error(r, 413, "too_large", "request body over the %zu-byte limit",
		                    limit);
	if (r->route->access == ACCESS_NODE) {
		if (!api_nodechan_auth(r))
			return false;
	} else if (r->route->access != ACCESS_PUBLIC && !auth_request(r))
		return false;
	if (r->authed && r->user.must_change_pw && !(r->route->flags & ROUTE_PWCHANGE))
		return server_error(r, 403, "password_change_required",
		                    "change your password first (POST /v1/users/me/password)");
	if (r->route->access == ACCESS_ADMIN && (!r->user.is_admin || r->via_token))
		return server_error(r, 403, "forbidden", "this needs a system administrator");
	if (r->via_token && !(r->route->flags & ROUTE_ACCOUNT) &&
	    r->route->access != ACCESS_PUBLIC && strcmp(r->route->method, "GET") != 0)
		return server_error(r, 403, "forbidden",
		                    "an API token acts only inside its account");
	if ((r->route->flags & ROUTE_ACCOUNT) && !server_scope(r))
		return false;
	return server_query_ok(r) && server_body_ok(r);
}

/* The route's handler, or the second half of a deferred one (fn), in a
 * transaction for a write; a handler that deferred wrote nothing yet. */
static void server_run(struct req *r, void (*fn)(struct req *r, void *arg), void *arg)
{
	struct store_audit e;
	struct ccm_error err;
	bool mutating = strcmp(r->route->method, "GET") != 0;

	if (!mutating) {
		fn(r, arg);
		return;
	}
	if (store_begin(r->d->store, &err) != CCM_OK) {
		server_fail(r, &err);
		server_audit_alone(r, "error");
		return;
	}
	fn(r, arg);
	if (r->deferred) {
		store_rollback(r->d->store);
		return;
	}
	if (r->status >= 400) {
		store_rollback(r->d->store);
		server_audit_alone(r, r->status >= 500 ? "error" : "refused");
		return;
	}
	if (r->route->flags & ROUTE_NOAUDIT) {
		if (store_commit(r->d->store, &err) != CCM_OK) {
			server_fail(r, &err);
			server_audit_alone(r, "error");
		}
		return;
	}
	server_audit_fill(r, "ok", &e);
	if (store_audit_append(r->d->store, &e, &err) != CCM_OK ||
	    store_commit(r->d->store, &err) != CCM_OK) {
		store_rollback(r->d->store);
		server_fail(r, &err);
		server_audit_alone(r, "error");
	}
}

static void server_peer(struct req *r)
{
	struct evhttp_connection *c = evhttp_request_get_connection(r->ev);
	char *addr = NULL;
	uint16_t port = 0;

	if (c != NULL) {
		int one = 1;
		evhttp_connection_get_peer(c, &addr, &port);
		setsockopt(bufferevent_getfd(evhttp_connection_get_bufferevent(c)), IPPROTO_TCP,
		           TCP_NODELAY, &one, sizeof(one));
	}
	snprintf(r->client, sizeof(r->client), "%s", addr ? addr : "?");
}

static const char *server_method(struct evhttp_request *ev)
{
	switch (evhttp_request_get_command(ev)) {
	case EVHTTP_REQ_GET:
		return "GET";
	case EVHTTP_REQ_POST:
		return "POST";
	case EVHTTP_REQ_PATCH:
		return "PATCH";
	case EVHTTP_REQ_DELETE:
		return "DELETE";
	case EVHTTP_REQ_PUT:
		return "PUT";
	case EVHTTP_REQ_HEAD:
		return "HEAD";
	case EVHTTP_REQ_OPTIONS:
		return "OPTIONS";
	default:
		return "OTHER";
	}
}

/* Send the reply and free the request. */
/* Top-level strings of a body or reply (passwords, tokens) before free. */
static void server_wipe_strings(json_t *o)
{
	const char *k;
	json_t *v;

	json_object_foreach(o, k, v)
	{
		if (json_is_string(v))
			OPENSSL_cleanse((char *)json_string_value(v), json_string_length(v));
	}
}

/* A secret route's received bytes and parsed body, whether the handler
 * ran or the request was refused before it (schema, size, auth); before
 * the reply is sent, which frees the request. The reply's copies are
 * wiped after sending; buffers inside libevent and OpenSSL are not reached. */
static void server_wipe_input(struct req *r)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(r->ev);
	size_t len = in ? evbuffer_get_length(in) : 0;
	unsigned char *p = len ? evbuffer_pullup(in, -1) : NULL;

	if (p != NULL)
		OPENSSL_cleanse(p, len);
	server_wipe_strings(r->body);
}

static bool server_secret(const struct req *r)
{
	return r->route != NULL && (r->route->flags & ROUTE_SECRET) != 0;
}

static void server_finish(struct req *r)
{
	bool secret = server_secret(r);

	if (secret)
		server_wipe_input(r);
	server_send(r, r->t0_us);
	evhttp_clear_headers(&r->query);
	if (secret)
		server_wipe_strings(r->resp);
	json_decref(r->body);
	json_decref(r->resp);
	if (r->resp_text != NULL && secret)
		OPENSSL_cleanse(r->resp_text, strlen(r->resp_text));
	free(r->resp_text);
	OPENSSL_cleanse(r, sizeof(*r));
	free(r);
}

/* The commit behind this reply is on disk (or cannot be made so). */
static void server_durable(void *arg, bool ok)
{
	struct req *r = arg;

	if (!ok) {
		free(r->resp_text);
		r->resp_text = NULL;
		server_error(r, 503, "unavailable",
		             "the store could not make this change durable; see the ccmd log");
	}
	server_finish(r);
}

/* Send r's reply, after the disk has its commit when it made one. */
static void server_complete(struct req *r, uint64_t commits)
{
	if (r->d->durable != NULL && store_commit_count(r->d->store) != commits) {
		/* Not queued (out of memory): not known durable, so not a success. */
		if (!durable_wait(r->d->durable, server_durable, r))
			server_durable(r, false);
		return;
	}
	server_finish(r);
}

static void server_call_route(struct req *r, void *arg)
{
	(void)arg;
	r->route->handler(r);
}

/* 405 with the Allow header RFC 9110 asks for. */
static void server_method_not_allowed(struct req *r, const char *path)
{
	char allow[64];
	size_t len = route_allowed(path, allow, sizeof(allow));

	if (len > 0)
		evhttp_add_header(evhttp_request_get_output_headers(r->ev), "Allow", allow);
	server_error(r, 405, "method_not_allowed", "method not allowed on this path (allowed: %s)",
	             len ? allow : "none");
}

static void server_handle(struct evhttp_request *ev, void *arg)
{
	struct ccmd *d = arg;
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(ev);
	const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
	const char *q = uri ? evhttp_uri_get_query(uri) : NULL;
	const char *method;
	struct req *r = calloc(1, sizeof(*r));
	uint64_t commits = store_commit_count(d->store);
	struct timeval tv;
	bool path_only = false;

	gettimeofday(&tv, NULL);
	if (r == NULL) {
		evhttp_send_error(ev, 500, NULL);
		return;
	}
	r->d = d;
	r->ev = ev;
	TAILQ_INIT(&r->query);
	d->requests++;
	server_peer(r);
	method = server_method(ev);
	r->route = path ? route_match(method, path, r, &path_only) : NULL;
	if (r->route == NULL && path_only)
		server_method_not_allowed(r, path);
	else if (r->route == NULL)
		server_error(r, 404, "not_found", "no such route");
	else if (q != NULL && evhttp_parse_query_str(q, &r->query) != 0)
		server_error(r, 400, "bad_query", "malformed query string");
	else if (strcmp(method, "GET") != 0 && d->durable != NULL && durable_failed(d->durable))
		/* After a failed sync nothing more is written: a write that
		 * committed but was answered 503 would invite a duplicate. */
		server_error(r, 503, "unavailable",
		             "the store could not make a change durable; writes are refused"
		             " until ccmd restarts (see the ccmd log)");
	else if (!server_checks(r)) {
		if (strcmp(method, "GET") != 0 || r->status == 401 || r->status == 403 ||
		    r->has_account || r->object[0])
			server_audit_alone(r, "refused");
	} else
		server_run(r, server_call_route, NULL);
	r->t0_us = (int64_t)tv.tv_sec * 1000000 + tv.tv_usec;
	if (!r->deferred)
		server_complete(r, commits);
}

/* A deferred request's second half, on the loop. */
struct server_deferred {
	struct req *r;
	void (*work)(void *arg);
	void (*resume)(struct req *r, void *arg);
	void *arg;
	bool resumed;
};

static void server_deferred_resume(struct req *r, void *arg)
{
	struct server_deferred *x = arg;

	x->resumed = true;
	x->resume(r, x->arg);
}

static void server_deferred_done(void *arg)
{
	struct server_deferred *x = arg;
	struct req *r = x->r;
	uint64_t commits = store_commit_count(r->d->store);

	r->deferred = false;
	server_run(r, server_deferred_resume, x);
	if (!x->resumed) /* no transaction: r has its error, resume cleans up */
		x->resume(r, x->arg);
	free(x);
	server_complete(r, commits);
}

static void server_deferred_work(void *arg)
{
	struct server_deferred *x = arg;

	x->work(x->arg);
}

bool server_defer(struct req *r, void (*work)(void *arg), void (*resume)(struct req *r, void *arg),
                  void *arg)
{
	struct server_deferred *x;

	if (r->d->defer == NULL) { /* no thread: inline, as before it existed */
		work(arg);
		resume(r, arg);
		return true;
	}
	if ((x = malloc(sizeof(*x))) == NULL)
		return server_error(r, 500, "internal", "out of memory");
	*x = (struct server_deferred){r, work, resume, arg, false};
	if (!defer_submit(r->d->defer, server_deferred_work, server_deferred_done, x)) {
		free(x);
		r->retry_after = 1;
		return server_error(r, 503, "busy", "too many password checks queued; retry");
	}
	r->deferred = true;
	return true;
}

/* ---- TLS and lifecycle -------------------------------------------------------- */

static struct bufferevent *server_bevcb(struct event_base *base, void *arg)
{
	struct ccmd *d = arg;
	SSL *ssl = SSL_new(d->ssl);
	struct bufferevent *bev;

	if (ssl == NULL)
		return NULL;
	bev = bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING,
	                                     BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
	if (bev != NULL)
		bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	return bev;
}

static void server_drained(evutil_socket_t fd, short what, void *arg)
{
	struct ccmd *d = arg;
	struct timeval again = {0, 100000};

	(void)fd;
	(void)what;
	/* Queued password checks are answered before the loop stops (up to
	 * 10 s: 16 checks at a dear cost); their replies need the loop. */
	if (d->defer != NULL && defer_queued(d->defer) > 0 && d->drain_waits++ < 100 &&
	    evtimer_add(d->ev_drain, &again) == 0)
		return;
	event_base_loopexit(d->base, NULL);
}

static void server_signal(evutil_socket_t sig, short what, void *arg)
{
	struct ccmd *d = arg;
	struct timeval grace = {0, 300000};

	(void)what;
	if (d->stopping)
		return;
	d->stopping = true;
	log_event("info", "shutting down", json_pack("{s:i}", "signal", (int)sig));
	if (d->sock != NULL)
		evhttp_del_accept_socket(d->http, d->sock);
	d->sock = NULL;
	d->ev_drain = evtimer_new(d->base, server_drained, d);
	if (d->ev_drain == NULL || evtimer_add(d->ev_drain, &grace) != 0)
		event_base_loopexit(d->base, NULL);
}

/* Hourly: drop sessions that expired or were revoked a day ago, so the
 * table does not grow with every login. */
static void server_purge(evutil_socket_t fd, short what, void *arg)
{
	struct ccmd *d = arg;
	struct ccm_error err;
	int64_t n = 0;

	(void)fd;
	(void)what;
	if (store_session_purge(d->store, (int64_t)time(NULL) - 86400, &n, &err) != CCM_OK)
		log_error("session purge failed", &err);
	else if (n > 0)
		log_event("info", "purged sessions", json_pack("{s:I}", "count", (json_int_t)n));
}

/* Every few seconds: nodes that missed their heartbeats. */
static void server_sweep(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	api_node_sweep(arg);
}

ccm_code server_start(struct ccmd *d, struct ccm_error *err)
{
	struct timeval hour = {3600, 0};
	struct timeval sweep = {d->cfg.node_interval < 5 ? 1 : 5, 0};
	size_t cap = d->cfg.max_body;
	struct ccm_error derr;
	int one = 1;

	for (const struct route *rt = route_table; rt->method; rt++)
		if (rt->max_body > cap)
			cap = rt->max_body;
	d->base = event_base_new();
	d->http = d->base ? evhttp_new(d->base) : NULL;
	if (d->http == NULL)
		return ccm_fail(err, CCM_E_NOMEM, "cannot create the event loop");
	evhttp_set_bevcb(d->http, server_bevcb, d);
	evhttp_set_gencb(d->http, server_handle, d);
	evhttp_set_max_body_size(d->http, (ev_ssize_t)(2 * cap));
	evhttp_set_max_headers_size(d->http, 16 * 1024);
	evhttp_set_timeout(d->http, 30);
	/* Every method evhttp parses reaches server_handle, so one the API
	 * does not use still gets the JSON 405 rather than evhttp's HTML 501. */
	evhttp_set_allowed_methods(d->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_PATCH |
	                                            EVHTTP_REQ_DELETE | EVHTTP_REQ_PUT |
	                                            EVHTTP_REQ_HEAD | EVHTTP_REQ_OPTIONS |
	                                            EVHTTP_REQ_TRACE | EVHTTP_REQ_CONNECT);
	d->sock = evhttp_bind_socket_with_handle(d->http, d->cfg.listen_addr, d->cfg.port);
	if (d->sock == NULL)
		return ccm_fail(err, CCM_E_IO, "cannot listen on %s:%u", d->cfg.listen_addr,
		                (unsigned)d->cfg.port);
	/* Accepted sockets inherit it: a reply leaves in one go instead of
	 * waiting out Nagle against the client's delayed ACK. */
	setsockopt(evhttp_bound_socket_get_fd(d->sock), IPPROTO_TCP, TCP_NODELAY, &one,
	           sizeof(one));
	d->ev_term = evsignal_new(d->base, SIGTERM, server_signal, d);
	d->ev_int = evsignal_new(d->base, SIGINT, server_signal, d);
	d->ev_purge = event_new(d->base, -1, EV_PERSIST, server_purge, d);
	d->ev_sweep = event_new(d->base, -1, EV_PERSIST, server_sweep, d);
	if (d->ev_term == NULL || d->ev_int == NULL || d->ev_purge == NULL || d->ev_sweep == NULL ||
	    event_add(d->ev_sweep, &sweep) != 0 || evsignal_add(d->ev_term, NULL) != 0 ||
	    evsignal_add(d->ev_int, NULL) != 0 || event_add(d->ev_purge, &hour) != 0)
		return ccm_fail(err, CCM_E_INTERNAL, "cannot install signal handlers");
	d->worker = worker_new(d->base);
	if (d->worker == NULL)
		return ccm_fail(err, CCM_E_NOMEM, "cannot start the conversion worker");
	/* Group commit; without it (no WAL file to sync) every commit syncs. */
	d->ca_cache = ca_cache_new(); /* NULL: every issuance unseals the key again */
	if (!d->cfg.check)            /* NULL: account creation makes its key in the request */
		d->keypool = keypool_new(2);
	d->par = par_new(d->cfg.check_threads >= 0 ? d->cfg.check_threads
	                                           : par_default_threads()); /* NULL: on the loop */
	/* 16 password checks of ~50 ms at the default cost: under a second
	 * of queue; NULL: they run on the loop. */
	d->defer = defer_new(d->base, 16);
	d->durable = durable_new(d->base, d->store, &derr);
	if (d->durable == NULL)
		log_error("group commit unavailable, each commit waits for the disk", &derr);
	builder_resume(d);
	return CCM_OK;
}

void server_stop(struct ccmd *d)
{
	worker_free(d->worker); /* waits for a running conversion */
	d->worker = NULL;
	defer_free(d->defer); /* queued checks end, their commits wait for the sync */
	d->defer = NULL;
	durable_free(d->durable); /* last sync; waiting replies are released */
	d->durable = NULL;
	ca_cache_free(d->ca_cache);
	d->ca_cache = NULL;
	keypool_free(d->keypool);
	d->keypool = NULL;
	par_free(d->par);
	d->par = NULL;
	if (d->ev_term)
		event_free(d->ev_term);
	if (d->ev_int)
		event_free(d->ev_int);
	if (d->ev_drain)
		event_free(d->ev_drain);
	if (d->ev_purge)
		event_free(d->ev_purge);
	if (d->ev_sweep)
		event_free(d->ev_sweep);
	if (d->http)
		evhttp_free(d->http);
	if (d->base)
		event_base_free(d->base);
	d->http = NULL;
	d->base = NULL;
}
