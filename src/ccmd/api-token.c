/*
 * DESIGN: named API tokens for automation. A token belongs to one user,
 * one account and one role no higher than the creator's role there; it is
 * shown once at creation and kept only as a SHA-256. When used, its
 * effective role is the lower of its own and its user's current role in
 * the account, so demoting or removing the user demotes the token too.
 * A MANAGER sees and revokes every token of the account; others only
 * their own (another user's token answers 404, like a missing one).
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "ccmd.h"

#define API_TOKEN_DEFAULT_TTL (90 * 86400)

static json_t *api_token_json(const struct store_token *t)
{
	char c[32], e[32];

	return json_pack("{s:I,s:s,s:I,s:I,s:s,s:s,s:s?,s:b}", "id", (json_int_t)t->id, "name",
	                 t->name, "user_id", (json_int_t)t->user_id, "account_id",
	                 (json_int_t)t->account_id, "role", store_role_name(t->role), "created_at",
	                 api_user_time(t->created_at, c), "expires_at",
	                 t->expires_at ? api_user_time(t->expires_at, e) : NULL, "revoked",
	                 t->revoked);
}

void api_token_create(struct req *r)
{
	const char *name = json_string_value(json_object_get(r->body, "name"));
	json_t *exp = json_object_get(r->body, "expires_in");
	struct store_token t;
	struct ccm_error err;
	uint8_t hash[32];
	char tok[80];
	json_t *o;

	memset(&t, 0, sizeof(t));
	if (!store_role_parse(json_string_value(json_object_get(r->body, "role")), &t.role)) {
		server_error(r, 400, "invalid_field",
		             "field 'role' must be READER, WRITER or MANAGER");
		return;
	}
	if (t.role > r->role) {
		server_error(r, 403, "forbidden", "a token cannot have more than your role (%s)",
		             store_role_name(r->role));
		return;
	}
	snprintf(t.name, sizeof(t.name), "%s", name);
	t.user_id = r->user.id;
	t.account_id = r->account.id;
	t.created_at = (int64_t)time(NULL);
	t.expires_at = t.created_at + (exp ? json_integer_value(exp) : API_TOKEN_DEFAULT_TTL);
	if (auth_new_token("ccmt", tok, hash, &err) != CCM_OK ||
	    store_token_create(r->d->store, &t, hash, &err) != CCM_OK) {
		if (err.code == CCM_E_CONFLICT)
			server_error(r, 409, "conflict",
			             "a token named '%s' exists in this account", t.name);
		else
			server_fail(r, &err);
		return;
	}
	snprintf(r->object, sizeof(r->object), "token:%" PRId64, t.id);
	snprintf(r->reason, sizeof(r->reason), "name=%s role=%s", t.name, store_role_name(t.role));
	o = api_token_json(&t);
	json_object_set_new(o, "token", json_string(tok));
	OPENSSL_cleanse(tok, sizeof(tok));
	server_reply(r, 201, o);
}

static ccm_code api_token_cb(void *ctx, const struct store_token *t)
{
	json_array_append_new(ctx, api_token_json(t));
	return CCM_OK;
}

void api_token_list(struct req *r)
{
	int64_t only = r->role == STORE_ROLE_MANAGER ? 0 : r->user.id;
	json_t *items = json_array();
	struct ccm_error err;

	if (store_token_list(r->d->store, r->account.id, only, &r->page, api_token_cb, items,
	                     &err) != CCM_OK) {
		json_decref(items);
		server_fail(r, &err);
		return;
	}
	server_reply_list(r, items);
}

void api_token_revoke(struct req *r)
{
	struct store_token t;
	struct ccm_error err;

	snprintf(r->object, sizeof(r->object), "token:%" PRId64, r->params[1]);
	if (store_token_get(r->d->store, r->account.id, r->params[1], &t, &err) != CCM_OK ||
	    (r->role != STORE_ROLE_MANAGER && t.user_id != r->user.id)) {
		server_error(r, 404, "not_found", "token not found");
		return;
	}
	if (store_token_revoke(r->d->store, r->account.id, t.id, &err) != CCM_OK) {
		server_fail(r, &err);
		return;
	}
	t.revoked = true;
	server_reply(r, 200, api_token_json(&t));
}
