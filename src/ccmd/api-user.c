/*
 * DESIGN: users as the system administrator sees them: list, create (with
 * a password, or a one-time password returned once and to be changed at
 * first login), show, update (name, disabled, admin). Disabling a user
 * revokes every session at once. The last enabled administrator cannot be
 * disabled or demoted. Also the JSON views shared by other handlers.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "ccmd.h"

char *api_user_time(int64_t t, char buf[32])
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (gmtime_r(&tt, &tm) == NULL || strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, 32, "invalid");
	return buf;
}

json_t *api_user_json(const struct store_user *u)
{
	char c[32];

	return json_pack("{s:I,s:s,s:s,s:b,s:b,s:b,s:s}", "id", (json_int_t)u->id, "email",
	                 u->email, "name", u->name, "is_admin", u->is_admin, "disabled",
	                 u->disabled, "must_change_password", u->must_change_pw, "created_at",
	                 api_user_time(u->created_at, c));
}

static ccm_code api_user_cb(void *ctx, const struct store_user *u)
{
	json_array_append_new(ctx, api_user_json(u));
	return CCM_OK;
}

void api_user_list(struct req *r)
{
	json_t *items = json_array();
	struct ccm_error err;

	if (store_user_list(r->d->store, &r->page, api_user_cb, items, &err) != CCM_OK) {
		json_decref(items);
		server_fail(r, &err);
		return;
	}
	server_reply_list(r, items);
}

void api_user_create(struct req *r)
{
	const char *email = json_string_value(json_object_get(r->body, "email"));
	const char *name = json_string_value(json_object_get(r->body, "name"));
	const char *pw = json_string_value(json_object_get(r->body, "password"));
	struct store_user u;
	struct ccm_error err;
	char otp[32] = "";
	json_t *o;

	char addr[STORE_EMAIL_MAX + 1];

	if (!auth_email(r, email, addr))
		return;
	if (pw != NULL && !auth_password_ok(r, pw))
		return;
	memset(&u, 0, sizeof(u));
	snprintf(u.email, sizeof(u.email), "%s", addr);
	snprintf(u.name, sizeof(u.name), "%s", name ? name : "");
	u.is_admin = json_is_true(json_object_get(r->body, "is_admin"));
	u.created_at = (int64_t)time(NULL);
	if (pw == NULL) {
		auth_random_password(otp);
		u.must_change_pw = true;
	}
	if (auth_hash_password(r->d, pw ? pw : otp, u.pw_hash, &err) != CCM_OK ||
	    store_user_create(r->d->store, &u, &err) != CCM_OK) {
		OPENSSL_cleanse(otp, sizeof(otp));
		if (err.code == CCM_E_CONFLICT)
			server_error(r, 409, "conflict", "a user with this e-mail address exists");
		else
			server_fail(r, &err);
		return;
	}
	snprintf(r->object, sizeof(r->object), "user:%" PRId64, u.id);
	o = api_user_json(&u);
	if (otp[0])
		json_object_set_new(o, "one_time_password", json_string(otp));
	OPENSSL_cleanse(otp, sizeof(otp));
	server_reply(r, 201, o);
}

static bool api_user_load(struct req *r, struct store_user *u)
{
	struct ccm_error err;

	snprintf(r->object, sizeof(r->object), "user:%" PRId64, r->params[0]);
	if (store_user_get(r->d->store, r->params[0], u, &err) != CCM_OK)
		return server_error(r, 404, "not_found", "user not found");
	return true;
}

void api_user_show(struct req *r)
{
	struct store_user u;

	if (api_user_load(r, &u))
		server_reply(r, 200, api_user_json(&u));
}

static ccm_code api_user_count_admin(void *ctx, const struct store_user *u)
{
	if (u->is_admin && !u->disabled)
		(*(int *)ctx)++;
	return CCM_OK;
}

void api_user_update(struct req *r)
{
	struct store_page pg = {-1, 0};
	struct store_user u;
	struct ccm_error err;
	json_t *v;
	int admins = 0;
	bool was_admin;

	if (!api_user_load(r, &u))
		return;
	was_admin = u.is_admin && !u.disabled;
	if ((v = json_object_get(r->body, "name")) != NULL)
		snprintf(u.name, sizeof(u.name), "%s", json_string_value(v));
	if ((v = json_object_get(r->body, "disabled")) != NULL)
		u.disabled = json_is_true(v);
	if ((v = json_object_get(r->body, "is_admin")) != NULL)
		u.is_admin = json_is_true(v);
	if (was_admin && (!u.is_admin || u.disabled)) {
		store_user_list(r->d->store, &pg, api_user_count_admin, &admins, &err);
		if (admins <= 1) {
			server_error(r, 409, "last_admin",
			             "this is the last enabled administrator");
			return;
		}
	}
	u.updated_at = (int64_t)time(NULL);
	if (store_user_update(r->d->store, &u, &err) != CCM_OK ||
	    (u.disabled && store_session_revoke_user(r->d->store, u.id, &err) != CCM_OK)) {
		server_fail(r, &err);
		return;
	}
	snprintf(r->reason, sizeof(r->reason), "disabled=%s is_admin=%s",
	         u.disabled ? "true" : "false", u.is_admin ? "true" : "false");
	server_reply(r, 200, api_user_json(&u));
}
