/*
 * DESIGN: the routes under /v1/sys and the caller's own password: version,
 * health, the OpenAPI document, login (HTTP Basic in, bearer token out),
 * logout, whoami, self sign-up when the operator allows it. Login answers
 * every failure with the same words and the same Argon2 cost (a dummy
 * verification for unknown users), so it tells nothing about which e-mail
 * addresses exist.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "ccmd.h"

void api_sys_version(struct req *r)
{
	server_reply(r, 200,
	             json_pack("{s:s,s:s,s:i}", "name", "ccmd", "version", CCM_VERSION, "api", 1));
}

void api_sys_health(struct req *r)
{
	int v = store_schema_version(r->d->store);

	if (v <= 0) {
		server_error(r, 503, "unavailable", "the store does not answer");
		return;
	}
	server_reply(r, 200,
	             json_pack("{s:s,s:i,s:I,s:I}", "status", "ok", "schema", v, "uptime_s",
	                       (json_int_t)(time(NULL) - r->d->started), "requests",
	                       (json_int_t)r->d->requests));
}

void api_sys_openapi(struct req *r)
{
	server_reply(r, 200, route_openapi());
}

/* Decode "Basic base64(email:password)" strictly. */
static bool api_sys_basic(struct req *r, const char *h, char *email, size_t emax, char *pw,
                          size_t pmax)
{
	uint8_t dec[1024];
	size_t n, pad = 0;
	int w;
	char *colon;

	if (h == NULL || strncmp(h, "Basic ", 6) != 0)
		return server_error(r, 401, "unauthorized", "HTTP Basic credentials are required");
	h += 6;
	n = strlen(h);
	if (n == 0 || n % 4 != 0 || n > 4 * (sizeof(dec) / 3) - 4 ||
	    strspn(h, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=") != n)
		return server_error(r, 400, "bad_authorization", "malformed Basic credentials");
	while (pad < 2 && h[n - 1 - pad] == '=')
		pad++;
	w = EVP_DecodeBlock(dec, (const uint8_t *)h, (int)n);
	if (w < 0 || (size_t)w < pad || memchr(h, '=', n - pad) != NULL)
		return server_error(r, 400, "bad_authorization", "malformed Basic credentials");
	n = (size_t)w - pad;
	dec[n] = '\0';
	colon = memchr(dec, ':', n);
	if (colon == NULL || memchr(dec, '\0', n) != NULL || colon == (char *)dec ||
	    (size_t)(colon - (char *)dec) >= emax || n - (size_t)(colon - (char *)dec) > pmax) {
		OPENSSL_cleanse(dec, sizeof(dec));
		return server_error(r, 400, "bad_authorization",
		                    "Basic credentials must be email:password");
	}
	memcpy(email, dec, (size_t)(colon - (char *)dec));
	email[colon - (char *)dec] = '\0';
	memcpy(pw, colon + 1, n - (size_t)(colon - (char *)dec));
	pw[n - (size_t)(colon - (char *)dec) - 1] = '\0';
	OPENSSL_cleanse(dec, sizeof(dec));
	return true;
}

static bool api_sys_limited(struct req *r, const char *ukey, const char *akey, int64_t now)
{
	int64_t wu = auth_limit_wait(r->d, ukey, now), wa = auth_limit_wait(r->d, akey, now);
	int64_t w = wu > wa ? wu : wa;

	if (w <= 0)
		return false;
	r->retry_after = (int)w;
	server_error(r, 429, "rate_limited", "too many failed logins; retry in %" PRId64 " s", w);
	return true;
}

static void api_sys_session(struct req *r, const struct store_user *u)
{
	struct ccm_error err;
	char tok[80];
	uint8_t hash[32];
	int64_t exp = (int64_t)time(NULL) + r->d->cfg.session_ttl;
	char ts[32];

	if (auth_new_token("ccms", tok, hash, &err) != CCM_OK ||
	    store_session_create(r->d->store, hash, u->id, exp, &err) != CCM_OK) {
		server_fail(r, &err);
		return;
	}
	server_reply(r, 200,
	             json_pack("{s:s,s:s,s:b,s:o}", "token", tok, "expires_at",
	                       api_user_time(exp, ts), "must_change_password", u->must_change_pw,
	                       "user", api_user_json(u)));
	OPENSSL_cleanse(tok, sizeof(tok));
}

/* A login's password check, made off the loop (server_defer): with the
 * production cost it takes tens of milliseconds. */
struct api_sys_login {
	char pw[260];
	char hash[STORE_HASH_MAX]; /* the user's, or the dummy one: same cost */
	char ukey[STORE_EMAIL_MAX + 4], akey[80];
	int64_t uid; /* 0: no such user */
	int64_t now;
	bool ok;
};

static void api_sys_login_free(struct api_sys_login *l)
{
	OPENSSL_cleanse(l, sizeof(*l));
	free(l);
}

static void api_sys_login_check(void *arg)
{
	struct api_sys_login *l = arg;

	l->ok = auth_check_password(l->hash, l->pw);
	OPENSSL_cleanse(l->pw, sizeof(l->pw));
}

/* Back on the loop: the user as stored now. A password changed while the
 * check ran makes the old one's success count for nothing. */
static void api_sys_login_done(struct req *r, void *arg)
{
	struct api_sys_login *l = arg;
	struct store_user u;
	struct ccm_error err;
	bool ok;

	if (r->status != 0) /* no transaction could begin: r has its error */
		goto out;
	ok = l->ok && l->uid > 0 && store_user_get(r->d->store, l->uid, &u, &err) == CCM_OK &&
	     strcmp(u.pw_hash, l->hash) == 0;
	if (!ok || u.disabled) {
		auth_limit_fail(r->d, l->ukey, l->now);
		auth_limit_fail(r->d, l->akey, l->now);
		server_error(r, 401, "bad_credentials",
		             ok ? "user disabled" : "wrong e-mail address or password");
		goto out;
	}
	auth_limit_clear(r->d, l->ukey);
	snprintf(r->actor, sizeof(r->actor), "user:%" PRId64, u.id);
	snprintf(r->object, sizeof(r->object), "user:%" PRId64, u.id);
	api_sys_session(r, &u);
out:
	api_sys_login_free(l);
}

void api_sys_auth(struct req *r)
{
	struct evkeyvalq *h = evhttp_request_get_input_headers(r->ev);
	char email[STORE_EMAIL_MAX + 1];
	struct api_sys_login *l = calloc(1, sizeof(*l));
	struct store_user u;
	struct ccm_error err;

	if (l == NULL) {
		server_error(r, 500, "internal", "out of memory");
		return;
	}
	if (!api_sys_basic(r, evhttp_find_header(h, "Authorization"), email, sizeof(email), l->pw,
	                   sizeof(l->pw)))
		goto fail;
	auth_email_lower(email, email);
	snprintf(r->actor, sizeof(r->actor), "login:%.100s", email);
	snprintf(l->ukey, sizeof(l->ukey), "u:%s", email);
	snprintf(l->akey, sizeof(l->akey), "a:%s", r->client);
	l->now = (int64_t)time(NULL);
	if (api_sys_limited(r, l->ukey, l->akey, l->now))
		goto fail;
	if (store_user_by_email(r->d->store, email, &u, &err) == CCM_OK)
		l->uid = u.id;
	snprintf(l->hash, sizeof(l->hash), "%s", l->uid > 0 ? u.pw_hash : r->d->dummy_hash);
	OPENSSL_cleanse(&u, sizeof(u));
	if (server_defer(r, api_sys_login_check, api_sys_login_done, l))
		return; /* l is api_sys_login_done's */
fail:
	api_sys_login_free(l);
}

void api_sys_logout(struct req *r)
{
	struct ccm_error err;

	if (r->via_token) {
		server_error(r, 400, "not_a_session", "API tokens are revoked, not logged out");
		return;
	}
	snprintf(r->object, sizeof(r->object), "user:%" PRId64, r->user.id);
	if (store_session_revoke(r->d->store, r->session_hash, &err) != CCM_OK) {
		server_fail(r, &err);
		return;
	}
	server_reply(r, 200, json_pack("{s:b}", "logged_out", 1));
}

static ccm_code api_sys_member_cb(void *ctx, const struct store_account *a, enum store_role role)
{
	json_array_append_new(ctx, api_account_json(a, role));
	return CCM_OK;
}

void api_sys_whoami(struct req *r)
{
	struct store_page pg = {CCMD_LIST_MAX, 0};
	struct ccm_error err;
	json_t *accts = json_array();
	json_t *o;

	if (store_account_list(r->d->store, r->user.id, &pg, api_sys_member_cb, accts, &err) !=
	    CCM_OK) {
		json_decref(accts);
		server_fail(r, &err);
		return;
	}
	o = json_pack("{s:o,s:o}", "user", api_user_json(&r->user), "accounts", accts);
	if (r->via_token)
		json_object_set_new(o, "token",
		                    json_pack("{s:I,s:s,s:I,s:s}", "id", (json_int_t)r->token.id,
		                              "name", r->token.name, "account_id",
		                              (json_int_t)r->token.account_id, "role",
		                              store_role_name(r->token.role)));
	server_reply(r, 200, o);
}

void api_sys_password(struct req *r)
{
	const char *old = json_string_value(json_object_get(r->body, "old_password"));
	const char *new = json_string_value(json_object_get(r->body, "new_password"));
	struct store_user u = r->user;
	struct ccm_error err;
	bool was_forced = u.must_change_pw;
	char path[4096];

	snprintf(r->object, sizeof(r->object), "user:%" PRId64, u.id);
	if (r->via_token) {
		server_error(r, 403, "forbidden", "log in with a password to change it");
		return;
	}
	if (!auth_check_password(u.pw_hash, old)) {
		server_error(r, 403, "bad_credentials", "the old password is wrong");
		return;
	}
	if (!auth_password_ok(r, new))
		return;
	if (strcmp(old, new) == 0) {
		server_error(r, 400, "weak_password", "the new password must differ from the old");
		return;
	}
	u.must_change_pw = false;
	u.updated_at = (int64_t)time(NULL);
	if (auth_hash_password(r->d, new, u.pw_hash, &err) != CCM_OK ||
	    store_user_update(r->d->store, &u, &err) != CCM_OK ||
	    store_session_revoke_user(r->d->store, u.id, &err) != CCM_OK) {
		server_fail(r, &err);
		return;
	}
	if (was_forced && u.is_admin) {
		snprintf(path, sizeof(path), "%s/admin.password", r->d->cfg.data_dir);
		unlink(path);
	}
	api_sys_session(r, &u);
}

void api_sys_signup(struct req *r)
{
	const char *email = json_string_value(json_object_get(r->body, "email"));
	const char *name = json_string_value(json_object_get(r->body, "name"));
	const char *pw = json_string_value(json_object_get(r->body, "password"));
	char addr[STORE_EMAIL_MAX + 1];
	struct store_user u;
	struct ccm_error err;

	if (!r->d->cfg.open_signup) {
		server_error(r, 403, "signup_disabled", "self sign-up is off on this manager");
		return;
	}
	if (!auth_email(r, email, addr))
		return;
	if (!auth_password_ok(r, pw))
		return;
	memset(&u, 0, sizeof(u));
	snprintf(u.email, sizeof(u.email), "%s", addr);
	snprintf(u.name, sizeof(u.name), "%s", name ? name : "");
	u.created_at = (int64_t)time(NULL);
	if (auth_hash_password(r->d, pw, u.pw_hash, &err) != CCM_OK ||
	    store_user_create(r->d->store, &u, &err) != CCM_OK) {
		server_fail(r, &err);
		return;
	}
	snprintf(r->actor, sizeof(r->actor), "user:%" PRId64, u.id);
	snprintf(r->object, sizeof(r->object), "user:%" PRId64, u.id);
	server_reply(r, 201, api_user_json(&u));
}
