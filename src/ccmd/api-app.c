/*
 * DESIGN: applications. Every field is validated here, before the store
 * sees it, with an error naming the field: OCI references by their
 * grammar, labels and DNS names with lib/policy's validators (the same
 * ones the issuance policy reasons with), the memory size with
 * ccm_mem_size_parse (the answer says what it rounds to), the certificate
 * subject with ccm_subject_parse. allowed_domains is the set the app
 * wants; names not yet whitelisted open a domain_whitelist task and stay
 * pending until it is approved, and while it is pending the set cannot
 * change again. Removing names takes effect at once.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/x509.h>

#include "ccm/cert.h"
#include "ccm/policy.h"
#include "ccmd.h"

json_t *api_app_parse(const char *text)
{
	json_t *v = json_loads(text, 0, NULL);

	if (v == NULL) {
		v = json_array();
	}
	return v;
}

/* [a-z0-9]+([._-]|__)... path component; a registry host may hold ':' port. */
static bool api_app_ref_component(const char *p, size_t n)
{
	if (n == 0 || p[0] == '.' || p[0] == '-' || p[0] == '_' || p[n - 1] == '.' ||
	    p[n - 1] == '-' || p[n - 1] == '_')
		return false;
	return strspn(p, "abcdefghijklmnopqrstuvwxyz0123456789._-") >= n;
}

/* OCI reference: [host[:port]/]path[:tag][@sha256:<64 hex>]. */
static bool api_app_ref_ok(const char *ref)
{
	char buf[STORE_REF_MAX + 1];
	char *at, *tag, *p, *slash, *last;
	size_t n = strlen(ref);

	if (n == 0 || n > STORE_REF_MAX)
		return false;
	memcpy(buf, ref, n + 1);
	if ((at = strchr(buf, '@')) != NULL) {
		*at++ = '\0';
		if (strncmp(at, "sha256:", 7) != 0 || strlen(at + 7) != 64 ||
		    strspn(at + 7, "0123456789abcdef") != 64)
			return false;
	}
	last = strrchr(buf, '/');
	tag = strchr(last ? last : buf, ':');
	if (tag != NULL) {
		*tag++ = '\0';
		if (*tag == '\0' || strlen(tag) > 128 || *tag == '.' || *tag == '-' ||
		    strspn(tag,
		           "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-") !=
		            strlen(tag))
			return false;
	}
	p = buf;
	if ((slash = strchr(p, '/')) != NULL &&
	    (memchr(p, '.', (size_t)(slash - p)) || memchr(p, ':', (size_t)(slash - p)) ||
	     strncmp(p, "localhost/", 10) == 0)) {
		size_t hl = strcspn(p, ":/");
		if (hl == 0 ||
		    strspn(p, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-") <
		            hl)
			return false;
		if (p[hl] == ':' &&
		    (strspn(p + hl + 1, "0123456789") != (size_t)(slash - p) - hl - 1 ||
		     slash == p + hl + 1))
			return false;
		p = slash + 1;
	}
	while (*p) {
		size_t cl = strcspn(p, "/");
		if (!api_app_ref_component(p, cl))
			return false;
		p += cl;
		if (*p == '/' && *++p == '\0')
			return false;
	}
	return p != buf;
}

static bool api_app_path_ok(const char *s)
{
	if (s[0] != '/' || strstr(s, "/../") || strstr(s, "/./") || strstr(s, "//"))
		return false;
	for (const char *p = s; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return false;
	size_t n = strlen(s);
	return !(n >= 3 && strcmp(s + n - 3, "/..") == 0);
}

/* One item of a string list; false with the reply set. */
static bool api_app_item(struct req *r, const char *field, size_t i, const char *v)
{
	struct ccm_error err;

	if (strcmp(field, "labels") == 0 && ccm_label_validate(v, &err) != CCM_OK)
		return server_error(r, 400, "invalid_field", "%s[%zu]: %s", field, i, err.msg);
	if (strcmp(field, "allowed_domains") == 0 && ccm_dns_name_validate(v, true, &err) != CCM_OK)
		return server_error(r, 400, "invalid_field", "%s[%zu]: %s", field, i, err.msg);
	if (strcmp(field, "env") == 0 &&
	    (strchr(v, '=') == NULL || v[0] == '=' ||
	     strspn(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_") !=
	             (size_t)(strchr(v, '=') - v)))
		return server_error(r, 400, "invalid_field",
		                    "%s[%zu]: expected NAME=VALUE with NAME of [A-Za-z0-9_]", field,
		                    i);
	if (strcmp(field, "rw_dirs") == 0 && !api_app_path_ok(v))
		return server_error(r, 400, "invalid_field",
		                    "%s[%zu]: expected an absolute path without '..'", field, i);
	return true;
}

bool api_app_strings(struct req *r, const char *field, json_t *arr, char *out, size_t max)
{
	json_t *v, *w;
	size_t i, j;
	char *s;

	json_array_foreach(arr, i, v)
	{
		if (!api_app_item(r, field, i, json_string_value(v)))
			return false;
		if (strcmp(field, "args") == 0 || strcmp(field, "entrypoint") == 0)
			continue;
		json_array_foreach(arr, j, w)
		{
			if (j < i && strcmp(json_string_value(v), json_string_value(w)) == 0)
				return server_error(r, 400, "invalid_field", "%s: '%s' twice",
				                    field, json_string_value(v));
		}
	}
	s = json_dumps(arr, JSON_COMPACT);
	if (s == NULL || strlen(s) >= max) {
		free(s);
		return server_error(r, 413, "too_large", "%s: too long", field);
	}
	snprintf(out, max, "%s", s);
	free(s);
	return true;
}

json_t *api_app_json(const struct store_app *a)
{
	char c[32], u[32], note[96];
	json_t *rt = api_app_parse(a->runtime), *pend = api_app_parse(a->domains_pending);
	json_t *wl = api_app_parse(a->whitelisted_domains);
	json_t *o;

	snprintf(note, sizeof(note), "%" PRId64 " bytes asked, enclave size %" PRId64 " MiB",
	         a->mem_bytes, a->mem_enclave >> 20);
	o = json_pack("{s:I,s:I,s:s,s:s,s:s,s:s,s:I,s:I,s:I,s:{s:I,s:I,s:s},s:I,s:b,s:o,s:o}", "id",
	              (json_int_t)a->id, "account_id", (json_int_t)a->account_id, "name", a->name,
	              "description", a->description, "input_image", a->input_image, "output_image",
	              a->output_image, "isvprodid", (json_int_t)a->isvprodid, "isvsvn",
	              (json_int_t)a->isvsvn, "min_isvsvn", (json_int_t)a->min_isvsvn, "memory",
	              "bytes", (json_int_t)a->mem_bytes, "enclave_size", (json_int_t)a->mem_enclave,
	              "note", note, "threads", (json_int_t)a->threads, "allow_debug",
	              a->allow_debug, "labels", api_app_parse(a->labels), "whitelisted_domains",
	              wl);
	json_object_set_new(o, "allowed_domains",
	                    json_array_size(pend) ? json_deep_copy(pend) : json_deep_copy(wl));
	json_object_set_new(o, "domains_pending", pend);
	json_object_update(o, rt);
	json_decref(rt);
	json_object_set_new(o, "certificate",
	                    json_pack("{s:s,s:s,s:s,s:s,s:s,s:I}", "subject", a->cert_subject,
	                              "key_type", a->cert_key_type, "key_path", a->cert_key_path,
	                              "cert_path", a->cert_cert_path, "chain_path",
	                              a->cert_chain_path, "validity_days",
	                              (json_int_t)a->cert_days));
	json_object_set_new(o, "created_at", json_string(api_user_time(a->created_at, c)));
	json_object_set_new(o, "updated_at", json_string(api_user_time(a->updated_at, u)));
	return o;
}

static bool api_app_text(struct req *r, const char *field, char *out, size_t max)
{
	const char *v = json_string_value(json_object_get(r->body, field));

	if (v == NULL)
		return true;
	if (strcmp(field, "input_image") == 0 || strcmp(field, "output_image") == 0) {
		if (!api_app_ref_ok(v))
			return server_error(r, 400, "invalid_field",
			                    "%s: not an OCI reference ([host[:port]/]name[:tag]"
			                    "[@sha256:...])",
			                    field);
	} else if (strncmp(field, "cert_", 5) == 0 && strstr(field, "_path") != NULL &&
	           !api_app_path_ok(v)) {
		return server_error(r, 400, "invalid_field",
		                    "%s: expected an absolute path without '..'", field);
	}
	snprintf(out, max, "%s", v);
	return true;
}

static bool api_app_cert(struct req *r, struct store_app *a)
{
	const char *kt = json_string_value(json_object_get(r->body, "cert_key_type"));
	json_t *days = json_object_get(r->body, "cert_validity_days");
	struct ccm_error err;
	X509_NAME *nm = NULL;

	if (kt != NULL && strcmp(kt, "ec-p256") != 0 && strcmp(kt, "rsa-2048") != 0 &&
	    strcmp(kt, "rsa-3072") != 0)
		return server_error(r, 400, "invalid_field",
		                    "cert_key_type: ec-p256, rsa-2048 or rsa-3072");
	if (kt)
		snprintf(a->cert_key_type, sizeof(a->cert_key_type), "%s", kt);
	if (days)
		a->cert_days = json_integer_value(days);
	if (!api_app_text(r, "cert_subject", a->cert_subject, sizeof(a->cert_subject)) ||
	    !api_app_text(r, "cert_key_path", a->cert_key_path, sizeof(a->cert_key_path)) ||
	    !api_app_text(r, "cert_cert_path", a->cert_cert_path, sizeof(a->cert_cert_path)) ||
	    !api_app_text(r, "cert_chain_path", a->cert_chain_path, sizeof(a->cert_chain_path)))
		return false;
	if (a->cert_subject[0] && ccm_subject_parse(a->cert_subject, &nm, &err) != CCM_OK)
		return server_error(r, 400, "invalid_field", "cert_subject: %s", err.msg);
	X509_NAME_free(nm);
	return true;
}

static bool api_app_numbers(struct req *r, struct store_app *a)
{
	const char *mem = json_string_value(json_object_get(r->body, "memory"));
	struct ccm_error err;
	uint64_t bytes, encl;
	json_t *v;

	if ((v = json_object_get(r->body, "isvprodid")) != NULL)
		a->isvprodid = json_integer_value(v);
	if ((v = json_object_get(r->body, "isvsvn")) != NULL)
		a->isvsvn = json_integer_value(v);
	if ((v = json_object_get(r->body, "min_isvsvn")) != NULL)
		a->min_isvsvn = json_integer_value(v);
	if ((v = json_object_get(r->body, "threads")) != NULL)
		a->threads = json_integer_value(v);
	if ((v = json_object_get(r->body, "allow_debug")) != NULL)
		a->allow_debug = json_is_true(v);
	if (mem != NULL) {
		if (ccm_mem_size_parse(mem, &bytes, &encl, &err) != CCM_OK)
			return server_error(r, 400, "invalid_field", "memory: %s", err.msg);
		a->mem_bytes = (int64_t)bytes;
		a->mem_enclave = (int64_t)encl;
	}
	return true;
}

/* entrypoint, args, env, rw_dirs into the runtime object. */
static bool api_app_runtime(struct req *r, struct store_app *a)
{
	static const char *const f[] = {"entrypoint", "args", "env", "rw_dirs"};
	json_t *rt = api_app_parse(a->runtime), *v;
	char buf[STORE_JSON_MAX + 1];
	char *s;

	if (!json_is_object(rt)) {
		json_decref(rt);
		rt = json_object();
	}
	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
		if ((v = json_object_get(r->body, f[i])) == NULL) {
			if (json_object_get(rt, f[i]) == NULL)
				json_object_set_new(rt, f[i], json_array());
			continue;
		}
		if (!api_app_strings(r, f[i], v, buf, sizeof(buf))) {
			json_decref(rt);
			return false;
		}
		json_object_set(rt, f[i], v);
	}
	s = json_dumps(rt, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(rt);
	if (s == NULL || strlen(s) >= sizeof(a->runtime)) {
		free(s);
		return server_error(r, 413, "too_large", "entrypoint/args/env/rw_dirs: too long");
	}
	snprintf(a->runtime, sizeof(a->runtime), "%s", s);
	free(s);
	return true;
}

/* Every field of the body into a (create and update). */
static bool api_app_fields(struct req *r, struct store_app *a)
{
	json_t *v;

	if ((v = json_object_get(r->body, "name")) != NULL) {
		const char *n = json_string_value(v);
		if (strspn(n,
		           "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") !=
		    strlen(n))
			return server_error(r, 400, "invalid_field",
			                    "name: letters, digits, '-', '_' and '.' only");
		snprintf(a->name, sizeof(a->name), "%s", n);
	}
	if (!api_app_text(r, "description", a->description, sizeof(a->description)) ||
	    !api_app_text(r, "input_image", a->input_image, sizeof(a->input_image)) ||
	    !api_app_text(r, "output_image", a->output_image, sizeof(a->output_image)) ||
	    !api_app_numbers(r, a) || !api_app_runtime(r, a) || !api_app_cert(r, a))
		return false;
	if ((v = json_object_get(r->body, "labels")) != NULL &&
	    !api_app_strings(r, "labels", v, a->labels, sizeof(a->labels)))
		return false;
	if (a->min_isvsvn > a->isvsvn && json_object_get(r->body, "min_isvsvn"))
		return server_error(r, 400, "invalid_field",
		                    "min_isvsvn: %" PRId64 " is above the app's isvsvn %" PRId64,
		                    a->min_isvsvn, a->isvsvn);
	return true;
}

bool api_task_open(struct req *r, struct store_task *t)
{
	struct ccm_error err;

	t->account_id = r->account.id;
	t->requester_id = r->user.id;
	t->created_at = (int64_t)time(NULL);
	if (store_task_create(r->d->store, t, &err) != CCM_OK)
		return server_fail(r, &err);
	return true;
}

/* allowed_domains: removals now, additions through a task. */
static bool api_app_domains(struct req *r, struct store_app *a, int64_t *task_id)
{
	json_t *want = json_object_get(r->body, "allowed_domains");
	json_t *wl, *kept, *v;
	struct store_task t;
	bool adds = false;
	size_t i;

	*task_id = 0;
	if (want == NULL)
		return true;
	if (a->id && store_task_pending_for_app(r->d->store, a->id, "domain_whitelist"))
		return server_error(
		        r, 409, "domain_task_pending",
		        "allowed_domains: a domain_whitelist task of this app is pending;"
		        " approve or deny it first");
	memset(&t, 0, sizeof(t));
	if (!api_app_strings(r, "allowed_domains", want, t.domains, sizeof(t.domains)))
		return false;
	wl = api_app_parse(a->whitelisted_domains);
	kept = json_array();
	json_array_foreach(want, i, v)
	{
		bool have = false;
		size_t j;
		json_t *w;
		json_array_foreach(wl, j, w) have |=
		        strcmp(json_string_value(v), json_string_value(w)) == 0;
		if (have)
			json_array_append(kept, v);
		else
			adds = true;
	}
	json_decref(wl);
	api_app_strings(r, "whitelisted", kept, a->whitelisted_domains,
	                sizeof(a->whitelisted_domains));
	json_decref(kept);
	snprintf(a->domains_pending, sizeof(a->domains_pending), "%s", adds ? t.domains : "[]");
	if (!adds)
		return true;
	snprintf(t.type, sizeof(t.type), "domain_whitelist");
	t.app_id = a->id;
	if (!api_task_open(r, &t))
		return false;
	*task_id = t.id;
	return true;
}

static void api_app_defaults(struct store_app *a)
{
	memset(a, 0, sizeof(*a));
	a->mem_bytes = a->mem_enclave = 256 << 20;
	a->threads = 4;
	snprintf(a->runtime, sizeof(a->runtime), "{}");
	snprintf(a->labels, sizeof(a->labels), "[]");
	snprintf(a->domains_pending, sizeof(a->domains_pending), "[]");
	snprintf(a->whitelisted_domains, sizeof(a->whitelisted_domains), "[]");
	snprintf(a->cert_key_type, sizeof(a->cert_key_type), "ec-p256");
	snprintf(a->cert_key_path, sizeof(a->cert_key_path), "/run/ccm/tls/key.pem");
	snprintf(a->cert_cert_path, sizeof(a->cert_cert_path), "/run/ccm/tls/cert.pem");
	snprintf(a->cert_chain_path, sizeof(a->cert_chain_path), "/run/ccm/tls/chain.pem");
	a->cert_days = 30;
}

static void api_app_reply(struct req *r, int status, const struct store_app *a, int64_t task)
{
	json_t *o = api_app_json(a);

	if (task)
		json_object_set_new(o, "domain_task_id", json_integer((json_int_t)task));
	snprintf(r->object, sizeof(r->object), "app:%" PRId64, a->id);
	server_reply(r, status, o);
}

void api_app_create(struct req *r)
{
	struct store_app *a = malloc(sizeof(*a));
	struct ccm_error err;
	int64_t task = 0;

	if (a == NULL) {
		server_error(r, 500, "internal", "out of memory");
		return;
	}
	api_app_defaults(a);
	a->account_id = r->account.id;
	a->created_at = a->updated_at = (int64_t)time(NULL);
	if (!api_app_fields(r, a))
		goto out;
	if (store_app_create(r->d->store, a, &err) != CCM_OK) {
		server_fail(r, &err);
		goto out;
	}
	if (!api_app_domains(r, a, &task))
		goto out;
	if (task && store_app_update(r->d->store, a, &err) != CCM_OK) {
		server_fail(r, &err);
		goto out;
	}
	snprintf(r->reason, sizeof(r->reason), "name=%s isvprodid=%" PRId64, a->name, a->isvprodid);
	api_app_reply(r, 201, a, task);
out:
	free(a);
}

struct api_app_list_ctx {
	json_t *items;
};

static ccm_code api_app_list_cb(void *ctx, const struct store_app *a)
{
	json_array_append_new(((struct api_app_list_ctx *)ctx)->items, api_app_json(a));
	return CCM_OK;
}

void api_app_list(struct req *r)
{
	const char *label = server_query(r, "label");
	struct api_app_list_ctx c = {NULL};
	struct ccm_error err;

	if (label != NULL && ccm_label_validate(label, &err) != CCM_OK) {
		server_error(r, 400, "bad_parameter", "label: %s", err.msg);
		return;
	}
	c.items = json_array();
	if (store_app_list(r->d->store, r->account.id, label, &r->page, api_app_list_cb, &c,
	                   &err) != CCM_OK) {
		json_decref(c.items);
		server_fail(r, &err);
		return;
	}
	server_reply_list(r, c.items);
}

/* Load the app named by the path into a malloc'ed struct; NULL with the
 * reply set. */
static struct store_app *api_app_load(struct req *r)
{
	struct store_app *a = malloc(sizeof(*a));
	struct ccm_error err;

	snprintf(r->object, sizeof(r->object), "app:%" PRId64, r->params[1]);
	if (a == NULL) {
		server_error(r, 500, "internal", "out of memory");
		return NULL;
	}
	if (store_app_get(r->d->store, r->account.id, r->params[1], a, &err) != CCM_OK) {
		server_fail(r, &err);
		free(a);
		return NULL;
	}
	return a;
}

static ccm_code api_app_inst_cb(void *ctx, const struct store_instance *i)
{
	char u[32];

	json_array_append_new(ctx,
	                      json_pack("{s:I,s:s,s:s}", "node_id", (json_int_t)i->node_id, "state",
	                                i->state, "updated_at", api_user_time(i->updated_at, u)));
	return CCM_OK;
}

void api_app_show(struct req *r)
{
	struct store_app *a = api_app_load(r);
	json_t *o, *inst = json_array();
	struct ccm_error err;

	if (a == NULL)
		goto out;
	/* Where it runs: the instances the nodes' agents report. */
	if (store_instance_list_app(r->d->store, r->account.id, a->id, api_app_inst_cb, inst,
	                            &err) != CCM_OK) {
		server_fail(r, &err);
		goto out;
	}
	o = api_app_json(a);
	json_object_set(o, "instances", inst);
	snprintf(r->object, sizeof(r->object), "app:%" PRId64, a->id);
	server_reply(r, 200, o);
out:
	json_decref(inst);
	free(a);
}

static ccm_code api_app_count_cb(void *ctx, const struct store_build *b)
{
	(void)b;
	(*(int64_t *)ctx)++;
	return CCM_OK;
}

void api_app_update(struct req *r)
{
	struct store_app *a = api_app_load(r);
	struct ccm_error err;
	int64_t task = 0, prodid;

	if (a == NULL)
		return;
	prodid = a->isvprodid;
	if (!api_app_fields(r, a) || !api_app_domains(r, a, &task))
		goto out;
	if (a->isvprodid != prodid) {
		struct store_page pg = {1, 0};
		int64_t n = 0;
		if (store_build_list(r->d->store, r->account.id, a->id, &pg, api_app_count_cb, &n,
		                     &err) != CCM_OK) {
			server_fail(r, &err);
			goto out;
		}
		if (n > 0) {
			server_error(r, 409, "conflict",
			             "isvprodid: the app has builds, so it cannot change");
			goto out;
		}
	}
	a->updated_at = (int64_t)time(NULL);
	if (store_app_update(r->d->store, a, &err) != CCM_OK) {
		server_fail(r, &err);
		goto out;
	}
	api_app_reply(r, 200, a, task);
out:
	free(a);
}

void api_app_delete(struct req *r)
{
	struct ccm_error err;

	snprintf(r->object, sizeof(r->object), "app:%" PRId64, r->params[1]);
	if (store_app_delete(r->d->store, r->account.id, r->params[1], &err) != CCM_OK) {
		server_fail(r, &err);
		return;
	}
	server_reply(r, 200, json_pack("{s:I,s:b}", "id", (json_int_t)r->params[1], "deleted", 1));
}
