/*
 * DESIGN: accounts (tenants) and their members. An account is born with
 * its own CA (ECDSA P-256 root) and its own enclave signing key (RSA-3072,
 * e = 3), both sealed with the master key before they reach the store; its
 * MRSIGNER is kept in the clear for display and policy. test_only is fixed
 * at creation and changed only through its own audited route, never by a
 * general update. The last MANAGER of an account cannot be removed or
 * demoted, so no account is left unmanageable.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "ccm/sgx.h"
#include "ca-cache.h"
#include "ccmd.h"
#include "keypool.h"
#include "pki/pki.h"
#include "util/util.h"

static const char *const api_account_tcb_known[] = {
        "UpToDate",
        "SWHardeningNeeded",
        "ConfigurationNeeded",
        "ConfigurationAndSWHardeningNeeded",
        "OutOfDate",
        "OutOfDateConfigurationNeeded",
        "Revoked",
};

static bool api_account_name_ok(struct req *r, const char *name)
{
	size_t n = strlen(name);

	if (n == 0 ||
	    strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	                 "0123456789-_. ") != n ||
	    name[0] == ' ' || name[n - 1] == ' ')
		return server_error(r, 400, "invalid_field",
		                    "field 'name' may hold letters, digits, space, '-', '_' and '.'"
		                    " (no leading or trailing space)");
	return true;
}

/* Validate and join the TCB status list into out ("A,B"). */
static bool api_account_tcb(struct req *r, json_t *list, char *out, size_t max)
{
	size_t i, used = 0;
	json_t *v;

	out[0] = '\0';
	json_array_foreach(list, i, v)
	{
		const char *s = json_string_value(v);
		size_t k, nk = sizeof(api_account_tcb_known) / sizeof(api_account_tcb_known[0]);
		for (k = 0; k < nk; k++)
			if (strcmp(s, api_account_tcb_known[k]) == 0)
				break;
		if (k == nk)
			return server_error(r, 400, "invalid_field",
			                    "accepted_tcb_statuses: unknown TCB status '%.64s'", s);
		for (size_t j = 0; j < i; j++)
			if (strcmp(s, json_string_value(json_array_get(list, j))) == 0)
				return server_error(r, 400, "invalid_field",
				                    "accepted_tcb_statuses: '%s' twice", s);
		used += (size_t)snprintf(out + used, max - used, "%s%s", used ? "," : "", s);
	}
	return true;
}

json_t *api_account_json(const struct store_account *a, enum store_role role)
{
	json_t *tcb = json_array();
	char c[32], u[32];
	const char *p = a->accepted_tcb;
	json_t *o;

	while (*p) {
		size_t n = strcspn(p, ",");
		json_array_append_new(tcb, json_stringn(p, n));
		p += n + (p[n] == ',');
	}
	o = json_pack("{s:I,s:s,s:s,s:b,s:I,s:o,s:s,s:s,s:s}", "id", (json_int_t)a->id, "name",
	              a->name, "description", a->description, "test_only", a->test_only,
	              "approval_quorum", (json_int_t)a->approval_quorum, "accepted_tcb_statuses",
	              tcb, "mrsigner", a->mrsigner, "created_at", api_user_time(a->created_at, c),
	              "updated_at", api_user_time(a->updated_at, u));
	json_object_set_new(o, "node_approval", json_boolean(a->node_approval));
	if (role != STORE_ROLE_NONE)
		json_object_set_new(o, "role", json_string(store_role_name(role)));
	if (a->test_only)
		json_object_set_new(
		        o, "notice",
		        json_string("TEST-ONLY account: nodes may enroll without hardware "
		                    "attestation and apps may present simulated evidence"));
	return o;
}

/* Account CA and enclave signing key, sealed; mrsigner filled in. */
static ccm_code api_account_keys(struct req *r, struct store_account *a, char **ca_pem,
                                 uint8_t **ca_sealed, size_t *ca_len, uint8_t **sk_sealed,
                                 size_t *sk_len, struct ccm_error *err)
{
	EVP_PKEY *cakey = NULL, *sk = NULL;
	X509 *ca = NULL;
	BIGNUM *n = NULL;
	uint8_t mod[CCM_SGX_KEY_BYTES], mr[CCM_SGX_HASH_SIZE];
	char cn[160];
	ccm_code rc;

	snprintf(cn, sizeof(cn), "ccm account %s CA", a->name);
	rc = pki_ca_create(cn, 3650, &cakey, &ca, err);
	if (rc == CCM_OK)
		rc = pki_cert_pem(ca, ca_pem, err);
	if (rc == CCM_OK)
		rc = bootstrap_seal(r->d, "account:ca", cakey, ca_sealed, ca_len, err);
	if (rc == CCM_OK)
		rc = keypool_take(r->d->keypool, &sk, err);
	if (rc == CCM_OK && (!EVP_PKEY_get_bn_param(sk, OSSL_PKEY_PARAM_RSA_N, &n) ||
	                     BN_bn2lebinpad(n, mod, sizeof(mod)) != (int)sizeof(mod)))
		rc = ccm_fail(err, CCM_E_CRYPTO, "cannot read the signing key modulus");
	if (rc == CCM_OK)
		rc = ccm_sgx_mrsigner(mod, mr, err);
	if (rc == CCM_OK) {
		util_hex(mr, sizeof(mr), a->mrsigner);
		rc = bootstrap_seal(r->d, "account:sgx", sk, sk_sealed, sk_len, err);
	}
	BN_free(n);
	X509_free(ca);
	EVP_PKEY_free(cakey);
	EVP_PKEY_free(sk);
	return rc;
}

void api_account_create(struct req *r)
{
	const char *name = json_string_value(json_object_get(r->body, "name"));
	const char *desc = json_string_value(json_object_get(r->body, "description"));
	json_t *tcb = json_object_get(r->body, "accepted_tcb_statuses");
	json_t *q = json_object_get(r->body, "approval_quorum");
	struct store_account_keys k = {0};
	struct store_account a;
	struct ccm_error err;
	char *pem = NULL;
	uint8_t *cas = NULL, *sks = NULL;

	memset(&a, 0, sizeof(a));
	if (!api_account_name_ok(r, name))
		return;
	snprintf(a.name, sizeof(a.name), "%s", name);
	snprintf(a.description, sizeof(a.description), "%s", desc ? desc : "");
	a.test_only = json_is_true(json_object_get(r->body, "test_only"));
	a.node_approval = json_is_true(json_object_get(r->body, "node_approval"));
	a.approval_quorum = q ? json_integer_value(q) : 1;
	snprintf(a.accepted_tcb, sizeof(a.accepted_tcb), "UpToDate,SWHardeningNeeded");
	if (tcb && !api_account_tcb(r, tcb, a.accepted_tcb, sizeof(a.accepted_tcb)))
		return;
	a.created_at = (int64_t)time(NULL);
	if (api_account_keys(r, &a, &pem, &cas, &k.ca_key_len, &sks, &k.signing_key_len, &err) !=
	    CCM_OK)
		goto fail;
	k.ca_cert_pem = pem;
	k.ca_key_sealed = cas;
	k.signing_key_sealed = sks;
	if (store_account_create(r->d->store, &a, &k, &err) != CCM_OK ||
	    store_member_set(r->d->store, a.id, r->user.id, STORE_ROLE_MANAGER, &err) != CCM_OK)
		goto fail;
	r->audit_account = a.id;
	r->has_account = true;
	r->account = a;
	snprintf(r->object, sizeof(r->object), "account:%" PRId64, a.id);
	snprintf(r->reason, sizeof(r->reason), "name=%s test_only=%s", a.name,
	         a.test_only ? "true" : "false");
	server_reply(r, 201, api_account_json(&a, STORE_ROLE_MANAGER));
	goto out;
fail:
	server_fail(r, &err);
out:
	free(pem);
	free(cas);
	free(sks);
}

struct api_account_list_ctx {
	json_t *items;
	int64_t only;
};

static ccm_code api_account_list_cb(void *ctx, const struct store_account *a, enum store_role role)
{
	struct api_account_list_ctx *c = ctx;

	if (c->only == 0 || c->only == a->id)
		json_array_append_new(c->items, api_account_json(a, role));
	return CCM_OK;
}

void api_account_list(struct req *r)
{
	struct api_account_list_ctx c = {NULL, r->via_token ? r->token.account_id : 0};
	const char *all = server_query(r, "all");
	int64_t uid = r->user.id;
	struct ccm_error err;

	if (all != NULL && strcmp(all, "true") != 0 && strcmp(all, "false") != 0) {
		server_error(r, 400, "bad_parameter", "all must be true or false");
		return;
	}
	if (all != NULL && strcmp(all, "true") == 0) {
		if (!r->user.is_admin || r->via_token) {
			server_error(r, 403, "forbidden", "all=true needs a system administrator");
			return;
		}
		uid = 0;
	}
	c.items = json_array();
	if (store_account_list(r->d->store, uid, &r->page, api_account_list_cb, &c, &err) !=
	    CCM_OK) {
		json_decref(c.items);
		server_fail(r, &err);
		return;
	}
	server_reply_list(r, c.items);
}

void api_account_show(struct req *r)
{
	server_reply(r, 200, api_account_json(&r->account, r->role));
}

void api_account_update(struct req *r)
{
	struct store_account a = r->account;
	json_t *v;
	struct ccm_error err;

	if ((v = json_object_get(r->body, "name")) != NULL) {
		if (!api_account_name_ok(r, json_string_value(v)))
			return;
		snprintf(a.name, sizeof(a.name), "%s", json_string_value(v));
	}
	if ((v = json_object_get(r->body, "description")) != NULL)
		snprintf(a.description, sizeof(a.description), "%s", json_string_value(v));
	if ((v = json_object_get(r->body, "approval_quorum")) != NULL)
		a.approval_quorum = json_integer_value(v);
	if ((v = json_object_get(r->body, "node_approval")) != NULL)
		a.node_approval = json_is_true(v);
	if ((v = json_object_get(r->body, "accepted_tcb_statuses")) != NULL &&
	    !api_account_tcb(r, v, a.accepted_tcb, sizeof(a.accepted_tcb)))
		return;
	a.updated_at = (int64_t)time(NULL);
	if (store_account_update(r->d->store, &a, &err) != CCM_OK) {
		server_fail(r, &err);
		return;
	}
	r->account = a;
	server_reply(r, 200, api_account_json(&a, r->role));
}

void api_account_test_only(struct req *r)
{
	bool to = json_is_true(json_object_get(r->body, "test_only"));
	const char *why = json_string_value(json_object_get(r->body, "reason"));
	struct ccm_error err;

	snprintf(r->reason, sizeof(r->reason), "test_only %s -> %s: %.200s",
	         r->account.test_only ? "true" : "false", to ? "true" : "false", why);
	if (store_account_set_test_only(r->d->store, r->account.id, to, &err) != CCM_OK) {
		server_fail(r, &err);
		return;
	}
	r->account.test_only = to;
	server_reply(r, 200, api_account_json(&r->account, r->role));
}

void api_account_delete(struct req *r)
{
	const char *f = server_query(r, "force");
	struct ccm_error err;
	int64_t deps = 0;

	if (f != NULL && strcmp(f, "true") != 0 && strcmp(f, "false") != 0) {
		server_error(r, 400, "bad_parameter", "force must be true or false");
		return;
	}
	if (store_account_dependents(r->d->store, r->account.id, &deps, &err) != CCM_OK) {
		server_fail(r, &err);
		return;
	}
	if (deps > 0 && (f == NULL || strcmp(f, "true") != 0)) {
		server_error(r, 409, "account_not_empty",
		             "the account holds %" PRId64 " apps or nodes (use force=true)", deps);
		return;
	}
	if (store_account_delete(r->d->store, r->account.id, &err) != CCM_OK) {
		server_fail(r, &err);
		return;
	}
	/* Its CA key leaves memory now (a rollback only costs a reload). */
	ca_cache_forget(r->d->ca_cache, r->account.id);
	snprintf(r->reason, sizeof(r->reason), "deleted '%s' (%" PRId64 " dependents)",
	         r->account.name, deps);
	server_reply(r, 200, json_pack("{s:I,s:b}", "id", (json_int_t)r->account.id, "deleted", 1));
}

void api_account_ca(struct req *r)
{
	struct ccm_error err;
	char *pem = NULL;

	if (store_account_ca(r->d->store, r->account.id, &pem, NULL, NULL, &err) != CCM_OK) {
		server_fail(r, &err);
		return;
	}
	server_reply_text(r, 200, "application/x-pem-file", pem);
}

/* ---- members ------------------------------------------------------------------- */

static ccm_code api_account_member_cb(void *ctx, const struct store_member *m)
{
	json_array_append_new(ctx,
	                      json_pack("{s:I,s:s,s:s,s:s,s:b}", "user_id", (json_int_t)m->user.id,
	                                "email", m->user.email, "name", m->user.name, "role",
	                                store_role_name(m->role), "disabled", m->user.disabled));
	return CCM_OK;
}

void api_account_members(struct req *r)
{
	json_t *items = json_array();
	struct ccm_error err;

	if (store_member_list(r->d->store, r->account.id, &r->page, api_account_member_cb, items,
	                      &err) != CCM_OK) {
		json_decref(items);
		server_fail(r, &err);
		return;
	}
	server_reply_list(r, items);
}

static bool api_account_role(struct req *r, enum store_role *role)
{
	const char *s = json_string_value(json_object_get(r->body, "role"));

	if (!store_role_parse(s, role))
		return server_error(r, 400, "invalid_field",
		                    "field 'role' must be READER, WRITER or MANAGER");
	return true;
}

/* Create an invited user with a one-time password (returned once). */
static bool api_account_invite(struct req *r, const char *email, struct store_user *u, char pw[32])
{
	const char *name = json_string_value(json_object_get(r->body, "name"));
	struct ccm_error err;

	memset(u, 0, sizeof(*u));
	snprintf(u->email, sizeof(u->email), "%s", email);
	snprintf(u->name, sizeof(u->name), "%s", name ? name : "");
	u->must_change_pw = true;
	u->created_at = (int64_t)time(NULL);
	auth_random_password(pw);
	if (auth_hash_password(r->d, pw, u->pw_hash, &err) != CCM_OK ||
	    store_user_create(r->d->store, u, &err) != CCM_OK)
		return server_fail(r, &err);
	return true;
}

void api_account_member_add(struct req *r)
{
	const char *raw = json_string_value(json_object_get(r->body, "email"));
	char email[STORE_EMAIL_MAX + 1];
	enum store_role role;
	struct store_user u;
	struct ccm_error err;
	char pw[32] = "";
	json_t *o;

	if (!api_account_role(r, &role) || !auth_email(r, raw, email))
		return;
	if (store_user_by_email(r->d->store, email, &u, &err) != CCM_OK &&
	    !api_account_invite(r, email, &u, pw))
		return;
	if (store_member_role(r->d->store, r->account.id, u.id) != STORE_ROLE_NONE) {
		server_error(r, 409, "conflict", "already a member (change the role instead)");
		return;
	}
	if (store_member_set(r->d->store, r->account.id, u.id, role, &err) != CCM_OK) {
		server_fail(r, &err);
		return;
	}
	snprintf(r->object, sizeof(r->object), "user:%" PRId64, u.id);
	snprintf(r->reason, sizeof(r->reason), "role %s%s", store_role_name(role),
	         pw[0] ? ", invited" : "");
	o = json_pack("{s:I,s:s,s:s}", "user_id", (json_int_t)u.id, "email", u.email, "role",
	              store_role_name(role));
	if (pw[0])
		json_object_set_new(o, "one_time_password", json_string(pw));
	OPENSSL_cleanse(pw, sizeof(pw));
	server_reply(r, 201, o);
}

/* Refuse leaving the account without an active MANAGER. */
static bool api_account_keeps_manager(struct req *r, int64_t uid, enum store_role cur)
{
	if (cur == STORE_ROLE_MANAGER &&
	    store_member_count_role(r->d->store, r->account.id, STORE_ROLE_MANAGER) <= 1)
		return server_error(r, 409, "last_manager",
		                    "user %" PRId64 " is the account's last MANAGER", uid);
	return true;
}

void api_account_member_role(struct req *r)
{
	int64_t uid = r->params[1];
	enum store_role role, cur = store_member_role(r->d->store, r->account.id, uid);
	struct ccm_error err;

	snprintf(r->object, sizeof(r->object), "user:%" PRId64, uid);
	if (cur == STORE_ROLE_NONE) {
		server_error(r, 404, "not_found", "no such member");
		return;
	}
	if (!api_account_role(r, &role))
		return;
	if (role != STORE_ROLE_MANAGER && !api_account_keeps_manager(r, uid, cur))
		return;
	if (store_member_set(r->d->store, r->account.id, uid, role, &err) != CCM_OK) {
		server_fail(r, &err);
		return;
	}
	snprintf(r->reason, sizeof(r->reason), "role %s -> %s", store_role_name(cur),
	         store_role_name(role));
	server_reply(
	        r, 200,
	        json_pack("{s:I,s:s}", "user_id", (json_int_t)uid, "role", store_role_name(role)));
}

void api_account_member_remove(struct req *r)
{
	int64_t uid = r->params[1];
	enum store_role cur = store_member_role(r->d->store, r->account.id, uid);
	struct ccm_error err;

	snprintf(r->object, sizeof(r->object), "user:%" PRId64, uid);
	if (cur == STORE_ROLE_NONE) {
		server_error(r, 404, "not_found", "no such member");
		return;
	}
	if (!api_account_keeps_manager(r, uid, cur))
		return;
	if (store_member_remove(r->d->store, r->account.id, uid, &err) != CCM_OK) {
		server_fail(r, &err);
		return;
	}
	server_reply(r, 200, json_pack("{s:I,s:b}", "user_id", (json_int_t)uid, "removed", 1));
}
