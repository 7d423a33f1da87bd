/*
 * DESIGN: approval tasks. An account's quorum N means N distinct WRITER or
 * MANAGER users (the route's minimum role) approve; when N > 1 the
 * requester's own approval is recorded but not counted; one denial
 * denies. The vote, the state change and its effect (build WHITELISTED or
 * REJECTED, domains whitelisted or dropped) run in the request's one
 * transaction with its audit entry, so no approval is half applied.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ccmd.h"

static const char *const api_task_types[] = {"build_whitelist", "domain_whitelist",
                                             "node_attestation"};
static const char *const api_task_states[] = {"PENDING", "APPROVED", "DENIED", "FAILED"};

static ccm_code api_task_vote_cb(void *ctx, const struct store_vote *v)
{
	char at[32];

	json_array_append_new(ctx, json_pack("{s:I,s:s,s:s,s:s}", "user_id", (json_int_t)v->user_id,
	                                     "vote", v->approve ? "approve" : "deny", "reason",
	                                     v->reason, "at", api_user_time(v->at, at)));
	return CCM_OK;
}

static int64_t api_task_counted(struct req *r, const struct store_task *t)
{
	int64_t q = r->account.approval_quorum;

	return store_task_approvals(r->d->store, t->id, q > 1 ? t->requester_id : 0);
}

static json_t *api_task_json(struct req *r, const struct store_task *t, bool votes)
{
	char c[32], u[32];
	json_t *o, *v;
	struct ccm_error err;

	o = json_pack("{s:I,s:I,s:s,s:s,s:I,s:I,s:I,s:s,s:I,s:I,s:s,s:s}", "id", (json_int_t)t->id,
	              "account_id", (json_int_t)t->account_id, "type", t->type, "status", t->status,
	              "app_id", (json_int_t)t->app_id, "build_id", (json_int_t)t->build_id,
	              "requester_id", (json_int_t)t->requester_id, "reason", t->reason, "approvals",
	              (json_int_t)api_task_counted(r, t), "quorum",
	              (json_int_t)r->account.approval_quorum, "created_at",
	              api_user_time(t->created_at, c), "updated_at",
	              api_user_time(t->updated_at, u));
	if (strcmp(t->type, "domain_whitelist") == 0)
		json_object_set_new(o, "domains", api_app_parse(t->domains));
	if (strcmp(t->type, "node_attestation") == 0)
		json_object_set_new(o, "node_id", json_integer(t->node_id));
	if (votes) {
		v = json_array();
		if (store_task_votes(r->d->store, t->id, api_task_vote_cb, v, &err) != CCM_OK) {
			json_decref(v);
			v = json_null();
		}
		json_object_set_new(o, "votes", v);
	}
	return o;
}

static bool api_task_oneof(const char *v, const char *const *set, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(v, set[i]) == 0)
			return true;
	return false;
}

struct api_task_list_ctx {
	struct req *r;
	json_t *items;
};

static ccm_code api_task_list_cb(void *ctx, const struct store_task *t)
{
	struct api_task_list_ctx *c = ctx;

	json_array_append_new(c->items, api_task_json(c->r, t, false));
	return CCM_OK;
}

void api_task_list(struct req *r)
{
	const char *status = server_query(r, "status"), *type = server_query(r, "type");
	struct api_task_list_ctx c = {r, NULL};
	struct ccm_error err;

	if (status && !api_task_oneof(status, api_task_states, 4)) {
		server_error(r, 400, "bad_parameter",
		             "status must be PENDING, APPROVED, DENIED or FAILED");
		return;
	}
	if (type && !api_task_oneof(type, api_task_types, 3)) {
		server_error(r, 400, "bad_parameter",
		             "type must be build_whitelist, domain_whitelist or node_attestation");
		return;
	}
	c.items = json_array();
	if (store_task_list(r->d->store, r->account.id, status, type, &r->page, api_task_list_cb,
	                    &c, &err) != CCM_OK) {
		json_decref(c.items);
		server_fail(r, &err);
		return;
	}
	server_reply_list(r, c.items);
}

static struct store_task *api_task_load(struct req *r)
{
	struct store_task *t = malloc(sizeof(*t));
	struct ccm_error err;

	snprintf(r->object, sizeof(r->object), "task:%" PRId64, r->params[1]);
	if (t == NULL) {
		server_error(r, 500, "internal", "out of memory");
		return NULL;
	}
	if (store_task_get(r->d->store, r->account.id, r->params[1], t, &err) != CCM_OK) {
		server_fail(r, &err);
		free(t);
		return NULL;
	}
	return t;
}

void api_task_show(struct req *r)
{
	struct store_task *t = api_task_load(r);

	if (t != NULL)
		server_reply(r, 200, api_task_json(r, t, true));
	free(t);
}

/* An approved node goes from ENROLLING to ACTIVE; a denied one is
 * DEACTIVATED (final: it must enroll again with a new token). A node
 * deactivated meanwhile stays so. */
static bool api_task_node(struct req *r, const struct store_task *t, bool approved, int64_t now)
{
	struct store_node *n = malloc(sizeof(*n));
	struct ccm_error err;
	bool ok = false;

	if (n == NULL)
		return server_error(r, 500, "internal", "out of memory");
	if (store_node_get(r->d->store, r->account.id, t->node_id, n, &err) != CCM_OK) {
		server_fail(r, &err);
		goto out;
	}
	ok = true;
	if (strcmp(n->state, "ENROLLING") == 0 &&
	    store_node_set_state(r->d->store, n->id, approved ? "ACTIVE" : "DEACTIVATED", now,
	                         &err) != CCM_OK)
		ok = server_fail(r, &err);
out:
	free(n);
	return ok;
}

/* The effect of closing a task, in the current transaction. */
static bool api_task_effect(struct req *r, const struct store_task *t, bool approved, int64_t now)
{
	struct store_app *a;
	struct ccm_error err;
	bool ok = false;

	if (strcmp(t->type, "build_whitelist") == 0) {
		if (store_build_set_status(r->d->store, t->build_id,
		                           approved ? "WHITELISTED" : "REJECTED", false, now,
		                           &err) != CCM_OK)
			return server_fail(r, &err);
		return true;
	}
	if (strcmp(t->type, "node_attestation") == 0)
		return api_task_node(r, t, approved, now);
	if (strcmp(t->type, "domain_whitelist") != 0)
		return true;
	if ((a = malloc(sizeof(*a))) == NULL)
		return server_error(r, 500, "internal", "out of memory");
	if (store_app_get(r->d->store, r->account.id, t->app_id, a, &err) != CCM_OK) {
		server_fail(r, &err);
		goto out;
	}
	if (approved)
		snprintf(a->whitelisted_domains, sizeof(a->whitelisted_domains), "%s", t->domains);
	snprintf(a->domains_pending, sizeof(a->domains_pending), "[]");
	a->updated_at = now;
	if (store_app_update(r->d->store, a, &err) != CCM_OK) {
		server_fail(r, &err);
		goto out;
	}
	ok = true;
out:
	free(a);
	return ok;
}

/* Record the caller's vote on a pending task; false with the reply set. */
static bool api_task_vote(struct req *r, const struct store_task *t, bool approve, const char *why,
                          int64_t now)
{
	struct store_vote v;
	struct ccm_error err;

	if (strcmp(t->status, "PENDING") != 0)
		return server_error(r, 409, "task_closed", "task %" PRId64 " is already %s", t->id,
		                    t->status);
	memset(&v, 0, sizeof(v));
	v.user_id = r->user.id;
	v.approve = approve;
	v.at = now;
	snprintf(v.reason, sizeof(v.reason), "%s", why ? why : "");
	if (store_task_vote(r->d->store, t->id, &v, &err) != CCM_OK) {
		if (err.code == CCM_E_CONFLICT)
			return server_error(r, 409, "already_voted",
			                    "you already voted on task %" PRId64, t->id);
		return server_fail(r, &err);
	}
	return true;
}

void api_task_approve(struct req *r)
{
	const char *why = json_string_value(json_object_get(r->body, "reason"));
	struct store_task *t = api_task_load(r);
	int64_t now = (int64_t)time(NULL), n;
	struct ccm_error err;

	if (t == NULL || !api_task_vote(r, t, true, why, now))
		goto out;
	n = api_task_counted(r, t);
	snprintf(r->reason, sizeof(r->reason), "approval %" PRId64 "/%" PRId64 "%s", n,
	         r->account.approval_quorum,
	         r->account.approval_quorum > 1 && r->user.id == t->requester_id
	                 ? " (the requester's own approval does not count)"
	                 : "");
	if (n >= r->account.approval_quorum) {
		if (store_task_set_status(r->d->store, t->id, "APPROVED", "", now, &err) !=
		    CCM_OK) {
			server_fail(r, &err);
			goto out;
		}
		if (!api_task_effect(r, t, true, now))
			goto out;
		snprintf(t->status, sizeof(t->status), "APPROVED");
		t->updated_at = now;
	}
	server_reply(r, 200, api_task_json(r, t, true));
out:
	free(t);
}

void api_task_deny(struct req *r)
{
	const char *why = json_string_value(json_object_get(r->body, "reason"));
	struct store_task *t = api_task_load(r);
	int64_t now = (int64_t)time(NULL);
	struct ccm_error err;

	if (t == NULL || !api_task_vote(r, t, false, why, now))
		goto out;
	if (store_task_set_status(r->d->store, t->id, "DENIED", why, now, &err) != CCM_OK) {
		server_fail(r, &err);
		goto out;
	}
	if (!api_task_effect(r, t, false, now))
		goto out;
	snprintf(t->status, sizeof(t->status), "DENIED");
	snprintf(t->reason, sizeof(t->reason), "%s", why);
	t->updated_at = now;
	snprintf(r->reason, sizeof(r->reason), "denied: %.200s", why);
	server_reply(r, 200, api_task_json(r, t, true));
out:
	free(t);
}
