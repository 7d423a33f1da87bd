/*
 * DESIGN: registry credentials of an account, used by the build worker to
 * pull input images and push output images. The secret (a password with a
 * username, or a bearer token alone) is sealed with the master key before
 * it reaches the store, with "registry:ACCOUNT:HOST" as associated data so
 * a sealed secret moved to another account's or host's row does not open.
 * Nothing ever gives it back: replies say `has_secret`, the audit entry
 * names the host, the user name and the kind, and the request's copies
 * (the JSON strings and the received body) are wiped before the handler
 * returns. Hosts are compared in the form image references use
 * (HOST[:PORT], lowercase), Docker Hub's aliases folded into docker.io, so
 * the worker finds the credentials from a reference's registry part.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <openssl/crypto.h>

#include "ccmd.h"
#include "pki/seal.h"

static bool registry_label_ok(const char *s, size_t n)
{
	if (n == 0 || n > 63 || s[0] == '-' || s[n - 1] == '-')
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
			return false;
	return true;
}

static bool registry_name_ok(const char *s, size_t n)
{
	size_t i = 0;

	if (n >= 2 && s[0] == '[') /* an IPv6 literal */
		return s[n - 1] == ']' && n <= 47 && strspn(s + 1, "0123456789abcdef:.") == n - 2;
	if (n == 0 || n > 253)
		return false;
	while (i < n) {
		size_t l = 0;
		while (i + l < n && s[i + l] != '.')
			l++;
		if (!registry_label_ok(s + i, l))
			return false;
		i += l + 1;
		if (i == n) /* a trailing dot */
			return false;
	}
	return true;
}

const char *api_registry_host(const char *in, char out[STORE_HOST_MAX + 1])
{
	static const char *const hub[] = {"docker.io", "index.docker.io", "registry-1.docker.io",
	                                  "registry.hub.docker.com"};
	const char *colon;
	size_t n = in ? strlen(in) : 0, name_n;

	if (n == 0 || n > STORE_HOST_MAX)
		return "expected HOST[:PORT] of 1 to 261 bytes";
	if (strstr(in, "://") != NULL)
		return "give HOST[:PORT] as in image references, without a scheme";
	if (strpbrk(in, "/@ ") != NULL)
		return "give HOST[:PORT] only (no path, user or spaces)";
	for (size_t i = 0; i <= n; i++)
		out[i] = (char)(in[i] >= 'A' && in[i] <= 'Z' ? in[i] + 32 : in[i]);
	colon = strrchr(out, ':');
	if (colon != NULL && strchr(colon, ']') != NULL)
		colon = NULL; /* inside an IPv6 literal */
	name_n = colon ? (size_t)(colon - out) : n;
	if (colon != NULL) {
		size_t pl = strlen(colon + 1);
		long port = 0;
		if (pl == 0 || pl > 5 || colon[1] == '0' || strspn(colon + 1, "0123456789") != pl)
			return "the port must be a number from 1 to 65535";
		for (size_t i = 1; i <= pl; i++)
			port = port * 10 + (colon[i] - '0');
		if (port > 65535)
			return "the port must be a number from 1 to 65535";
	}
	if (!registry_name_ok(out, name_n))
		return "not a host name (letters, digits, '-' and '.' labels) or [IPv6] address";
	for (size_t i = 0; colon == NULL && i < sizeof(hub) / sizeof(hub[0]); i++)
		if (strcmp(out, hub[i]) == 0)
			snprintf(out, STORE_HOST_MAX + 1, "docker.io");
	return NULL;
}

const char *api_registry_purpose(int64_t account_id, const char *host, char *out, size_t n)
{
	snprintf(out, n, "registry:%" PRId64 ":%s", account_id, host);
	return out;
}

static json_t *api_registry_json(const struct store_registry *g)
{
	char c[32], u[32];

	return json_pack("{s:I,s:I,s:s,s:s,s:s,s:b,s:s,s:s}", "id", (json_int_t)g->id, "account_id",
	                 (json_int_t)g->account_id, "host", g->host, "username", g->username,
	                 "kind", g->kind, "has_secret", 1, "created_at",
	                 api_user_time(g->created_at, c), "updated_at",
	                 api_user_time(g->updated_at, u));
}

/* Printable ASCII; a user name has no ':' (Basic splits on it), a token no
 * space (it goes into a header as is). */
static bool api_registry_chars(const char *s, const char *banned)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f || strchr(banned, *s))
			return false;
	return true;
}

/* Which secret, and is the combination right? false with the reply set. */
static bool api_registry_check(struct req *r, const char *user, const char *pw, const char *tok)
{
	if (pw == NULL && tok == NULL)
		return server_error(r, 400, "missing_field",
		                    "missing field 'password' or 'token': the registry secret is"
		                    " required");
	if (pw != NULL && tok != NULL)
		return server_error(r, 400, "invalid_field",
		                    "field 'token': give 'password' or 'token', not both");
	if (pw != NULL && (user == NULL || user[0] == '\0'))
		return server_error(r, 400, "missing_field",
		                    "missing field 'username': a password goes with a user name");
	if (tok != NULL && user != NULL)
		return server_error(r, 400, "invalid_field",
		                    "field 'username': a token is sent alone as a bearer token;"
		                    " for a token the registry wants with a user name, give"
		                    " 'username' and the token as 'password'");
	if (user != NULL && !api_registry_chars(user, ":"))
		return server_error(r, 400, "invalid_field",
		                    "field 'username': printable ASCII without ':'");
	if (pw != NULL && !api_registry_chars(pw, ""))
		return server_error(
		        r, 400, "invalid_field",
		        "field 'password': printable ASCII only (no control characters)");
	if (tok != NULL && !api_registry_chars(tok, " "))
		return server_error(r, 400, "invalid_field",
		                    "field 'token': printable ASCII without spaces");
	return true;
}

static void api_registry_put(struct req *r, struct store_registry *g, const char *secret)
{
	char purpose[STORE_HOST_MAX + 48];
	struct ccm_error err;
	uint8_t *sealed = NULL;
	size_t slen = 0;
	bool replaced = false;

	api_registry_purpose(r->account.id, g->host, purpose, sizeof(purpose));
	if (seal_encrypt(r->d->master_key, purpose, (const uint8_t *)secret, strlen(secret),
	                 &sealed, &slen, &err) != CCM_OK ||
	    store_registry_put(r->d->store, g, sealed, slen, &replaced, &err) != CCM_OK) {
		free(sealed);
		server_fail(r, &err);
		return;
	}
	free(sealed);
	snprintf(r->object, sizeof(r->object), "registry:%" PRId64, g->id);
	snprintf(r->reason, sizeof(r->reason), "host=%.100s kind=%s%s%.100s%s", g->host, g->kind,
	         g->username[0] ? " username=" : "", g->username, replaced ? " replaced" : "");
	server_reply(r, replaced ? 200 : 201, api_registry_json(g));
}

void api_registry_add(struct req *r)
{
	const char *host = json_string_value(json_object_get(r->body, "host"));
	const char *user = json_string_value(json_object_get(r->body, "username"));
	const char *pw = json_string_value(json_object_get(r->body, "password"));
	const char *tok = json_string_value(json_object_get(r->body, "token"));
	struct store_registry g;
	const char *why;

	memset(&g, 0, sizeof(g));
	if ((why = api_registry_host(host, g.host)) != NULL)
		server_error(r, 400, "invalid_field", "field 'host': %s", why);
	else if (api_registry_check(r, user, pw, tok)) {
		g.account_id = r->account.id;
		snprintf(g.username, sizeof(g.username), "%s", user ? user : "");
		snprintf(g.kind, sizeof(g.kind), "%s", pw ? "password" : "token");
		g.created_at = (int64_t)time(NULL);
		api_registry_put(r, &g, pw ? pw : tok);
	}
}

static ccm_code api_registry_cb(void *ctx, const struct store_registry *g)
{
	json_array_append_new(ctx, api_registry_json(g));
	return CCM_OK;
}

void api_registry_list(struct req *r)
{
	json_t *items = json_array();
	struct ccm_error err;

	if (store_registry_list(r->d->store, r->account.id, &r->page, api_registry_cb, items,
	                        &err) != CCM_OK) {
		json_decref(items);
		server_fail(r, &err);
		return;
	}
	server_reply_list(r, items);
}

void api_registry_remove(struct req *r)
{
	struct store_registry g;
	struct ccm_error err;
	json_t *o;

	snprintf(r->object, sizeof(r->object), "registry:%" PRId64, r->params[1]);
	if (store_registry_get(r->d->store, r->account.id, r->params[1], &g, &err) != CCM_OK ||
	    store_registry_delete(r->d->store, r->account.id, g.id, &err) != CCM_OK) {
		server_fail(r, &err);
		return;
	}
	snprintf(r->reason, sizeof(r->reason), "host=%.200s", g.host);
	o = api_registry_json(&g);
	json_object_set_new(o, "has_secret", json_false());
	json_object_set_new(o, "removed", json_true());
	server_reply(r, 200, o);
}
