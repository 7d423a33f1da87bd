/*
 * DESIGN: compute nodes as people manage them, and their enrollment.
 * Join tokens are shown once and stored as SHA-256; enrollment looks the
 * token up by that hash, compares it again in constant time, and names
 * precisely why a token is unusable (unknown, revoked, expired, used up).
 * A test-only account accepts a node without evidence (recorded as "not
 * attested (test-only)"); any other needs a DCAP quote that verifies
 * against the configured collateral, with a TCB status the account
 * accepts and report data binding the CSR's key. Every refusal leaves the
 * store as it was but for its audit entry (the dispatcher rolls back).
 * Nodes that miss heartbeats are marked UNREACHABLE by a periodic sweep;
 * deactivation is final and puts the node's certificates on the CRL.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/x509.h>

#include "ccm/cert.h"
#include "ccmd.h"
#include "util/util.h"

/* ---- join tokens ---------------------------------------------------------- */

static json_t *api_node_token_json(const struct store_join_token *t)
{
	char c[32], e[32];
	int64_t now = (int64_t)time(NULL);
	const char *state = t->revoked             ? "REVOKED"
	                    : t->expires_at <= now ? "EXPIRED"
	                    : t->uses_left <= 0    ? "USED_UP"
	                                           : "ACTIVE";

	return json_pack("{s:I,s:I,s:s,s:o,s:I,s:I,s:s,s:s,s:I,s:s}", "id", (json_int_t)t->id,
	                 "account_id", (json_int_t)t->account_id, "name", t->name, "labels",
	                 api_app_parse(t->labels), "uses", (json_int_t)t->uses_total, "uses_left",
	                 (json_int_t)t->uses_left, "expires_at", api_user_time(t->expires_at, e),
	                 "state", state, "created_by", (json_int_t)t->created_by, "created_at",
	                 api_user_time(t->created_at, c));
}

void api_node_token_create(struct req *r)
{
	json_t *exp = json_object_get(r->body, "expires_in"),
	       *uses = json_object_get(r->body, "uses");
	json_t *labels = json_object_get(r->body, "labels");
	struct store_join_token t;
	struct ccm_error err;
	uint8_t hash[32];
	char tok[80];
	json_t *o;

	memset(&t, 0, sizeof(t));
	t.account_id = r->account.id;
	snprintf(t.name, sizeof(t.name), "%s", json_string_value(json_object_get(r->body, "name")));
	snprintf(t.labels, sizeof(t.labels), "[]");
	if (labels && !api_app_strings(r, "labels", labels, t.labels, sizeof(t.labels)))
		return;
	t.created_at = (int64_t)time(NULL);
	t.expires_at = t.created_at + (exp ? json_integer_value(exp) : 86400);
	t.uses_total = uses ? json_integer_value(uses) : 1;
	t.created_by = r->user.id;
	if (auth_new_token("ccmjoin", tok, hash, &err) != CCM_OK ||
	    store_join_token_create(r->d->store, &t, hash, &err) != CCM_OK) {
		server_fail(r, &err);
		return;
	}
	snprintf(r->object, sizeof(r->object), "join_token:%" PRId64, t.id);
	snprintf(r->reason, sizeof(r->reason), "name=%s uses=%" PRId64, t.name, t.uses_total);
	o = api_node_token_json(&t);
	json_object_set_new(o, "token", json_string(tok));
	json_object_set_new(o, "notice", json_string("the token is shown only once"));
	OPENSSL_cleanse(tok, sizeof(tok));
	server_reply(r, 201, o);
}

static ccm_code api_node_token_cb(void *ctx, const struct store_join_token *t)
{
	json_array_append_new(ctx, api_node_token_json(t));
	return CCM_OK;
}

void api_node_token_list(struct req *r)
{
	json_t *items = json_array();
	struct ccm_error err;

	if (store_join_token_list(r->d->store, r->account.id, &r->page, api_node_token_cb, items,
	                          &err) != CCM_OK) {
		json_decref(items);
		server_fail(r, &err);
		return;
	}
	server_reply_list(r, items);
}

void api_node_token_revoke(struct req *r)
{
	struct ccm_error err;

	snprintf(r->object, sizeof(r->object), "join_token:%" PRId64, r->params[1]);
	if (store_join_token_revoke(r->d->store, r->account.id, r->params[1], &err) != CCM_OK) {
		server_fail(r, &err);
		return;
	}
	server_reply(r, 200, json_pack("{s:I,s:b}", "id", (json_int_t)r->params[1], "revoked", 1));
}

/* ---- enrollment -------------------------------------------------------------- */

/* The join token of the body, usable now; false with the reply set. */
static bool api_node_join_token(struct req *r, struct store_join_token *t)
{
	const char *tok = json_string_value(json_object_get(r->body, "join_token"));
	int64_t now = (int64_t)time(NULL);
	struct ccm_error err;
	uint8_t hash[32];
	bool found;

	auth_token_hash(tok, strlen(tok), hash);
	found = store_join_token_find(r->d->store, hash, t, &err) == CCM_OK &&
	        CRYPTO_memcmp(hash, t->token_hash, sizeof(hash)) == 0;
	OPENSSL_cleanse(hash, sizeof(hash));
	if (!found)
		return server_error(r, 401, "invalid_join_token", "join_token: unknown");
	r->audit_account = t->account_id;
	snprintf(r->object, sizeof(r->object), "join_token:%" PRId64, t->id);
	if (t->revoked)
		return server_error(r, 401, "invalid_join_token", "join_token: revoked");
	if (t->expires_at <= now)
		return server_error(r, 401, "invalid_join_token", "join_token: expired");
	if (t->uses_left <= 0)
		return server_error(r, 401, "invalid_join_token", "join_token: used up");
	return true;
}

static bool api_node_tcb_accepted(const struct store_account *a, const char *name)
{
	const char *p = a->accepted_tcb;
	size_t n = strlen(name);

	while (*p) {
		size_t k = strcspn(p, ",");
		if (k == n && strncmp(p, name, n) == 0)
			return true;
		p += k + (p[k] == ',');
	}
	return false;
}

/* Evidence of an enrolling node; att gets what is recorded. */
static bool api_node_evidence(struct req *r, const uint8_t spki[32], char *att, size_t max)
{
	json_t *ev = json_object_get(r->body, "evidence");
	const char *type = json_string_value(json_object_get(ev, "type"));
	const char *q = json_string_value(json_object_get(ev, "quote"));
	struct ccm_quote_report rep;
	struct ccm_error err;
	uint8_t *raw = NULL;
	size_t len = 0;
	int tcb = 0;
	bool ok;

	if (ev == NULL) {
		if (!r->account.test_only)
			return server_error(
			        r, 403, "attestation_required",
			        "evidence: the account is not test-only, so enrollment needs"
			        " a DCAP quote");
		snprintf(att, max, "not attested (test-only)");
		return true;
	}
	if (type == NULL || strcmp(type, "dcap") != 0 || q == NULL)
		return server_error(r, 400, "invalid_field",
		                    "evidence: expected {\"type\":\"dcap\",\"quote\":base64}");
	if (util_b64_decode(q, strlen(q), 64 * 1024, &raw, &len, "evidence.quote", &err) != CCM_OK)
		return server_error(r, 400, "invalid_field", "evidence.quote: %s", err.msg);
	ok = api_nodechan_dcap(r, raw, len, "attestation_failed", &rep, &tcb);
	free(raw);
	if (!ok)
		return false;
	if (!api_node_tcb_accepted(&r->account, ccm_tcb_status_name(tcb)))
		return server_error(r, 403, "attestation_failed",
		                    "tcb_status: %s is not accepted by the account",
		                    ccm_tcb_status_name(tcb));
	if (CRYPTO_memcmp(rep.reportdata, spki, 32) != 0)
		return server_error(r, 403, "attestation_failed",
		                    "key_binding: the quote's report data does not bind the CSR's"
		                    " public key (SHA-256 of its SubjectPublicKeyInfo)");
	snprintf(att, max, "dcap: TCB %s", ccm_tcb_status_name(tcb));
	return true;
}

static bool api_node_name_ok(struct req *r, const char *name)
{
	if (strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") !=
	    strlen(name))
		return server_error(r, 400, "invalid_field",
		                    "name: letters, digits, '-', '_' and '.' only");
	return true;
}

static json_t *api_node_json(const struct store_node *n)
{
	char c[32], s[32];
	json_t *load = json_loads(n->load, 0, NULL);

	return json_pack("{s:I,s:I,s:s,s:s,s:s,s:o,s:o,s:o,s:s,s:s}", "id", (json_int_t)n->id,
	                 "account_id", (json_int_t)n->account_id, "name", n->name, "state",
	                 n->state, "attestation", n->attestation, "labels",
	                 api_app_parse(n->labels), "sys_info", api_app_parse(n->sys_info), "load",
	                 load ? load : json_null(), "last_seen", api_user_time(n->last_seen, s),
	                 "created_at", api_user_time(n->created_at, c));
}

/* The node row of an enrollment (not yet stored). */
static bool api_node_row(struct req *r, const struct store_join_token *t, struct store_node *n)
{
	json_t *si = json_object_get(r->body, "sys_info");
	char *s = si ? json_dumps(si, JSON_COMPACT) : NULL;

	memset(n, 0, sizeof(*n));
	if (si && (s == NULL || strlen(s) >= sizeof(n->sys_info))) {
		free(s);
		return server_error(r, 413, "too_large", "sys_info: over %zu bytes",
		                    sizeof(n->sys_info) - 1);
	}
	snprintf(n->sys_info, sizeof(n->sys_info), "%s", s ? s : "{}");
	free(s);
	n->account_id = t->account_id;
	snprintf(n->name, sizeof(n->name), "%s",
	         json_string_value(json_object_get(r->body, "name")));
	/* An account that approves its nodes keeps a new one ENROLLING (it
	 * may heartbeat, never serve apps) until a node_attestation task
	 * closes. */
	snprintf(n->state, sizeof(n->state), "%s",
	         r->account.node_approval ? "ENROLLING" : "ACTIVE");
	snprintf(n->labels, sizeof(n->labels), "%s", t->labels);
	snprintf(n->load, sizeof(n->load), "null");
	n->token_id = t->id;
	n->created_at = n->last_seen = (int64_t)time(NULL);
	return true;
}

/* The approval a node of a node_approval account waits for; approvers
 * read the node's evidence summary in `node show` (its attestation). */
static ccm_code api_node_task(struct req *r, const struct store_node *n, int64_t *id,
                              struct ccm_error *err)
{
	struct store_task t;
	ccm_code rc;

	memset(&t, 0, sizeof(t));
	t.account_id = n->account_id;
	snprintf(t.type, sizeof(t.type), "node_attestation");
	snprintf(t.status, sizeof(t.status), "PENDING");
	t.node_id = n->id;
	snprintf(t.domains, sizeof(t.domains), "[]");
	t.created_at = n->created_at;
	rc = store_task_create(r->d->store, &t, err);
	*id = t.id;
	return rc;
}

void api_node_enroll(struct req *r)
{
	const char *pem = json_string_value(json_object_get(r->body, "csr"));
	struct store_join_token t;
	struct store_node *n = malloc(sizeof(*n));
	struct ccm_error err;
	X509_REQ *csr = NULL;
	uint8_t spki[32];
	json_t *o = NULL, *node;
	int64_t task = 0;
	char id[24];

	if (n == NULL || !api_node_join_token(r, &t))
		goto out;
	if (store_account_get(r->d->store, t.account_id, &r->account, &err) != CCM_OK) {
		server_fail(r, &err);
		goto out;
	}
	r->has_account = true;
	if (!api_node_name_ok(r, json_string_value(json_object_get(r->body, "name"))))
		goto out;
	if (ccm_csr_parse(pem, strlen(pem), &csr, spki, &err) != CCM_OK) {
		server_error(r, 400, "invalid_csr", "%s", err.msg);
		goto out;
	}
	if (!api_node_row(r, &t, n))
		goto out;
	if (!api_node_evidence(r, spki, n->attestation, sizeof(n->attestation)))
		goto out;
	if (store_join_token_use(r->d->store, t.id, &err) != CCM_OK ||
	    store_node_create(r->d->store, n, &err) != CCM_OK ||
	    (r->account.node_approval && api_node_task(r, n, &task, &err) != CCM_OK)) {
		server_fail(r, &err);
		goto out;
	}
	o = json_object();
	if (task != 0)
		json_object_set_new(o, "task_id", json_integer(task));
	if (!api_nodechan_issue_node(r, csr, n, o))
		goto out;
	node = api_node_json(n);
	snprintf(id, sizeof(id), "%" PRId64, n->id);
	json_object_set_new(node, "id", json_string(id));
	json_object_set_new(node, "test_only", json_boolean(r->account.test_only));
	json_object_set_new(o, "node", node);
	json_object_set_new(o, "interval_s", json_integer(r->d->cfg.node_interval));
	json_object_set_new(o, "renew_before_s",
	                    json_integer((json_int_t)r->d->cfg.node_cert_days * 86400 / 3));
	snprintf(r->object, sizeof(r->object), "node:%" PRId64, n->id);
	snprintf(r->reason, sizeof(r->reason), "name=%.64s token=%" PRId64 " %.100s", n->name, t.id,
	         n->attestation);
	server_reply(r, 201, o);
	o = NULL;
out:
	json_decref(o);
	X509_REQ_free(csr);
	free(n);
}

/* ---- nodes --------------------------------------------------------------------- */

static ccm_code api_node_list_cb(void *ctx, const struct store_node *n)
{
	json_array_append_new(ctx, api_node_json(n));
	return CCM_OK;
}

void api_node_list(struct req *r)
{
	json_t *items = json_array();
	struct ccm_error err;

	if (store_node_list(r->d->store, r->account.id, &r->page, api_node_list_cb, items, &err) !=
	    CCM_OK) {
		json_decref(items);
		server_fail(r, &err);
		return;
	}
	server_reply_list(r, items);
}

static struct store_node *api_node_load(struct req *r)
{
	struct store_node *n = malloc(sizeof(*n));
	struct ccm_error err;

	snprintf(r->object, sizeof(r->object), "node:%" PRId64, r->params[1]);
	if (n == NULL) {
		server_error(r, 500, "internal", "out of memory");
		return NULL;
	}
	if (store_node_get(r->d->store, r->account.id, r->params[1], n, &err) != CCM_OK) {
		server_fail(r, &err);
		free(n);
		return NULL;
	}
	return n;
}

static ccm_code api_node_inst_cb(void *ctx, const struct store_instance *i)
{
	char u[32];

	json_array_append_new(ctx,
	                      json_pack("{s:I,s:s,s:s}", "app_id", (json_int_t)i->app_id, "state",
	                                i->state, "updated_at", api_user_time(i->updated_at, u)));
	return CCM_OK;
}

void api_node_show(struct req *r)
{
	struct store_node *n = api_node_load(r);
	struct ccm_error err;
	json_t *o, *inst;

	if (n == NULL)
		return;
	o = api_node_json(n);
	inst = json_array();
	if (store_instance_list(r->d->store, n->id, api_node_inst_cb, inst, &err) != CCM_OK) {
		json_decref(inst);
		json_decref(o);
		server_fail(r, &err);
		free(n);
		return;
	}
	json_object_set_new(o, "apps", inst);
	server_reply(r, 200, o);
	free(n);
}

void api_node_label(struct req *r)
{
	struct store_node *n = api_node_load(r);
	struct ccm_error err;

	if (n == NULL)
		return;
	if (!api_app_strings(r, "labels", json_object_get(r->body, "labels"), n->labels,
	                     sizeof(n->labels)))
		goto out;
	n->updated_at = (int64_t)time(NULL);
	if (store_node_set_labels(r->d->store, n->id, n->labels, n->updated_at, &err) != CCM_OK) {
		server_fail(r, &err);
		goto out;
	}
	snprintf(r->reason, sizeof(r->reason), "labels %.200s", n->labels);
	server_reply(r, 200, api_node_json(n));
out:
	free(n);
}

void api_node_deactivate(struct req *r)
{
	const char *why = json_string_value(json_object_get(r->body, "reason"));
	struct store_node *n = api_node_load(r);
	int64_t now = (int64_t)time(NULL);
	struct ccm_error err;

	if (n == NULL)
		return;
	if (strcmp(n->state, "DEACTIVATED") == 0) {
		server_error(r, 409, "already_deactivated",
		             "node %" PRId64 " is already deactivated", n->id);
		goto out;
	}
	if (store_node_set_state(r->d->store, n->id, "DEACTIVATED", now, &err) != CCM_OK ||
	    store_cert_revoke_node(r->d->store, n->id, now, &err) != CCM_OK) {
		server_fail(r, &err);
		goto out;
	}
	snprintf(n->state, sizeof(n->state), "DEACTIVATED");
	snprintf(r->reason, sizeof(r->reason), "deactivated: %.200s", why ? why : "");
	server_reply(r, 200, api_node_json(n));
out:
	free(n);
}

/* ---- the sweep --------------------------------------------------------------------- */

static ccm_code api_node_sweep_cb(void *ctx, const struct store_node *n)
{
	struct ccmd *d = ctx;
	struct store_audit e;
	struct timeval tv;
	struct ccm_error err;

	memset(&e, 0, sizeof(e));
	gettimeofday(&tv, NULL);
	e.time_ms = (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
	snprintf(e.actor, sizeof(e.actor), "system");
	e.account_id = n->account_id;
	snprintf(e.action, sizeof(e.action), "node.unreachable");
	snprintf(e.object, sizeof(e.object), "node:%" PRId64, n->id);
	snprintf(e.result, sizeof(e.result), "ok");
	snprintf(e.reason, sizeof(e.reason), "no heartbeat for %d intervals of %d s",
	         d->cfg.node_missed, d->cfg.node_interval);
	return store_audit_append(d->store, &e, &err);
}

void api_node_sweep(struct ccmd *d)
{
	int64_t now = (int64_t)time(NULL);
	int64_t before = now - (int64_t)d->cfg.node_interval * d->cfg.node_missed;
	struct ccm_error err;

	if (store_begin(d->store, &err) != CCM_OK) {
		log_error("node sweep", &err);
		return;
	}
	if (store_node_sweep(d->store, before, now, api_node_sweep_cb, d, &err) != CCM_OK ||
	    store_commit(d->store, &err) != CCM_OK) {
		store_rollback(d->store);
		log_error("node sweep", &err);
	}
}
