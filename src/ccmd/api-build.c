/*
 * DESIGN: enclave builds. Two sources: a SIGSTRUCT upload, whose identity
 * (MRENCLAVE, MRSIGNER from the modulus, ISVPRODID, ISVSVN, DEBUG from
 * the attributes) is read and whose signature is checked with lib/sgx
 * before anything is stored, and a build record (image name) that the
 * image converter fills in later through store_build_progress and
 * store_build_converted. A SIGSTRUCT build opens its build_whitelist task
 * in the same transaction; a record opens it when converted. ISVPRODID
 * must be the app's; MRENCLAVE is unique per account (the store's
 * constraint, reported as duplicate_mrenclave). A FAILED conversion can
 * be retried as the same build (api_build_retry).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ccm/oci.h"
#include "ccm/sgx.h"
#include "ccmd.h"
#include "util/util.h"

json_t *api_build_json(const struct store_build *b)
{
	char c[32], u[32];
	json_t *o;

	o = json_pack("{s:I,s:I,s:I,s:s,s:s,s:s,s:s,s:s,s:I,s:I,s:b,s:I,s:I,s:s,s:b}", "id",
	              (json_int_t)b->id, "account_id", (json_int_t)b->account_id, "app_id",
	              (json_int_t)b->app_id, "source", b->source, "image_name", b->image_name,
	              "image_digest", b->image_digest, "mrenclave", b->mrenclave, "mrsigner",
	              b->mrsigner, "isvprodid", (json_int_t)b->isvprodid, "isvsvn",
	              (json_int_t)b->isvsvn, "debug", b->debug, "memory_bytes",
	              (json_int_t)b->mem_bytes, "threads", (json_int_t)b->threads, "status",
	              b->status, "revoked", b->revoked);
	if (strcmp(b->source, "image") == 0 && b->output_image[0] != '\0')
		json_object_set_new(o, "output_image", json_string(b->output_image));
	if (strcmp(b->source, "image") == 0)
		json_object_set_new(o, "conversion",
		                    json_pack("{s:s,s:s,s:I,s:I}", "status", b->conv_status,
		                              "reason", b->conv_reason, "bytes_done",
		                              (json_int_t)b->bytes_done, "bytes_total",
		                              (json_int_t)b->bytes_total));
	json_object_set_new(o, "created_at", json_string(api_user_time(b->created_at, c)));
	json_object_set_new(o, "updated_at", json_string(api_user_time(b->updated_at, u)));
	return o;
}

/* Identity from a base64 SIGSTRUCT; false with the reply set. */
static bool api_build_sigstruct(struct req *r, const char *b64, struct store_build *b)
{
	struct ccm_sgx_sigstruct *ss = malloc(sizeof(*ss));
	struct ccm_sgx_sigcheck chk;
	struct ccm_error err;
	uint8_t *raw = NULL;
	size_t len = 0;
	bool ok = false;

	if (ss == NULL)
		return server_error(r, 500, "internal", "out of memory");
	if (util_b64_decode(b64, strlen(b64), CCM_SGX_SIGSTRUCT_SIZE, &raw, &len, "sigstruct",
	                    &err) != CCM_OK) {
		server_error(r, 400, "invalid_sigstruct", "sigstruct: %s", err.msg);
		goto out;
	}
	if (ccm_sgx_sigstruct_parse(raw, len, ss, &err) != CCM_OK ||
	    ccm_sgx_sigstruct_check(ss, &chk, &err) != CCM_OK) {
		server_error(r, 400, "invalid_sigstruct", "sigstruct: %s", err.msg);
		goto out;
	}
	util_hex(ss->f.enclavehash, 32, b->mrenclave);
	util_hex(chk.mrsigner, 32, b->mrsigner);
	b->isvprodid = ss->f.isvprodid;
	b->isvsvn = ss->f.isvsvn;
	b->debug = (ss->f.attributes[0] & 0x02) != 0;
	ok = true;
out:
	free(raw);
	free(ss);
	return ok;
}

/* An OCI tag: [A-Za-z0-9_][A-Za-z0-9._-]{0,127}. */
static bool api_build_tag_ok(const char *t)
{
	size_t n = strlen(t);
	const char *first = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_";

	return n >= 1 && n <= 128 && strchr(first, t[0]) != NULL &&
	       strspn(t, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-") == n;
}

/* Where an image build pushes: the app's output image, with its tag
 * replaced by output_tag when given. false with the reply set. */
static bool api_build_output(struct req *r, const struct store_app *app, const char *tag,
                             struct store_build *b)
{
	struct ccm_oci_ref ref;
	struct ccm_error err;

	if (tag != NULL && !api_build_tag_ok(tag))
		return server_error(r, 400, "invalid_field",
		                    "field 'output_tag': an OCI tag ([A-Za-z0-9_][A-Za-z0-9._-],"
		                    " at most 128 characters)");
	if (app->output_image[0] == '\0')
		return tag == NULL || server_error(r, 400, "invalid_field",
		                                   "field 'output_tag': app %" PRId64
		                                   " has no output_image to tag",
		                                   app->id);
	if (tag == NULL) {
		snprintf(b->output_image, sizeof(b->output_image), "%s", app->output_image);
		return true;
	}
	if (ccm_oci_ref_parse(app->output_image, &ref, &err) != CCM_OK)
		return server_error(r, 400, "invalid_field",
		                    "field 'output_tag': app output_image: %s", err.msg);
	snprintf(ref.tag, sizeof(ref.tag), "%s", tag);
	ref.digest[0] = '\0';
	ccm_oci_ref_format(&ref, b->output_image, sizeof(b->output_image));
	return true;
}

static bool api_build_fill(struct req *r, const struct store_app *app, struct store_build *b)
{
	const char *out_tag = json_string_value(json_object_get(r->body, "output_tag"));
	const char *sig = json_string_value(json_object_get(r->body, "sigstruct"));
	const char *img = json_string_value(json_object_get(r->body, "image_name"));
	const char *dig = json_string_value(json_object_get(r->body, "image_digest"));

	if ((sig == NULL) == (img == NULL))
		return server_error(r, 400, "invalid_request",
		                    "give exactly one of 'sigstruct' and 'image_name'");
	b->account_id = r->account.id;
	b->app_id = app->id;
	b->mem_bytes = app->mem_enclave;
	b->threads = app->threads;
	b->created_at = (int64_t)time(NULL);
	snprintf(b->status, sizeof(b->status), "PENDING");
	if (dig != NULL && (strncmp(dig, "sha256:", 7) != 0 || strlen(dig) != 71 ||
	                    strspn(dig + 7, "0123456789abcdef") != 64))
		return server_error(r, 400, "invalid_field",
		                    "image_digest: expected sha256:<64 hex>");
	snprintf(b->image_digest, sizeof(b->image_digest), "%s", dig ? dig : "");
	if (img != NULL) {
		snprintf(b->source, sizeof(b->source), "image");
		snprintf(b->image_name, sizeof(b->image_name), "%s", img);
		snprintf(b->conv_status, sizeof(b->conv_status), "QUEUED");
		b->isvprodid = app->isvprodid;
		b->isvsvn = app->isvsvn;
		return api_build_output(r, app, out_tag, b);
	}
	if (out_tag != NULL)
		return server_error(r, 400, "invalid_field",
		                    "field 'output_tag': only for a build converted from an image");
	snprintf(b->source, sizeof(b->source), "sigstruct");
	if (!api_build_sigstruct(r, sig, b))
		return false;
	if (b->isvprodid != app->isvprodid)
		return server_error(r, 400, "isvprodid_mismatch",
		                    "isvprodid: the SIGSTRUCT says %" PRId64 ", app %" PRId64
		                    " has %" PRId64,
		                    b->isvprodid, app->id, app->isvprodid);
	if (b->debug && !app->allow_debug)
		return server_error(
		        r, 400, "debug_not_allowed",
		        "debug: the SIGSTRUCT allows a debug enclave and the app does not"
		        " (allow_debug)");
	return true;
}

void api_build_create(struct req *r)
{
	int64_t app_id = json_integer_value(json_object_get(r->body, "app_id"));
	struct store_app *app = malloc(sizeof(*app));
	struct store_build b;
	struct store_task t;
	struct ccm_error err;
	json_t *o;

	memset(&b, 0, sizeof(b));
	if (app == NULL || store_app_get(r->d->store, r->account.id, app_id, app, &err) != CCM_OK) {
		server_error(r, app ? 404 : 500, app ? "not_found" : "internal",
		             "app_id: no app %" PRId64 " in this account", app_id);
		goto out;
	}
	if (!api_build_fill(r, app, &b))
		goto out;
	if (store_build_create(r->d->store, &b, &err) != CCM_OK) {
		if (err.code == CCM_E_CONFLICT)
			server_error(r, 409, "duplicate_mrenclave",
			             "mrenclave: %s is already registered in this account",
			             b.mrenclave);
		else
			server_fail(r, &err);
		goto out;
	}
	snprintf(r->object, sizeof(r->object), "build:%" PRId64, b.id);
	o = api_build_json(&b);
	if (b.mrenclave[0]) {
		memset(&t, 0, sizeof(t));
		snprintf(t.type, sizeof(t.type), "build_whitelist");
		t.app_id = app->id;
		t.build_id = b.id;
		if (!api_task_open(r, &t)) {
			json_decref(o);
			goto out;
		}
		json_object_set_new(o, "task_id", json_integer((json_int_t)t.id));
	}
	if (strcmp(b.source, "image") == 0 && builder_submit(r->d, &b, &err) != CCM_OK) {
		json_decref(o);
		server_fail(r, &err);
		goto out;
	}
	snprintf(r->reason, sizeof(r->reason), "app:%" PRId64 " source=%s mrenclave=%s", app->id,
	         b.source, b.mrenclave);
	server_reply(r, 201, o);
out:
	free(app);
}

static ccm_code api_build_list_cb(void *ctx, const struct store_build *b)
{
	json_array_append_new(ctx, api_build_json(b));
	return CCM_OK;
}

void api_build_list(struct req *r)
{
	struct ccm_error err;
	int64_t app_id = 0;
	json_t *items;

	if (!server_query_id(r, "app", "an app id", &app_id))
		return;
	items = json_array();
	if (store_build_list(r->d->store, r->account.id, app_id, &r->page, api_build_list_cb, items,
	                     &err) != CCM_OK) {
		json_decref(items);
		server_fail(r, &err);
		return;
	}
	server_reply_list(r, items);
}

/* The build the path names, in the caller's account; false with the reply
 * sent when there is none. */
static bool api_build_load(struct req *r, struct store_build *b)
{
	struct ccm_error err;

	snprintf(r->object, sizeof(r->object), "build:%" PRId64, r->params[1]);
	if (store_build_get(r->d->store, r->account.id, r->params[1], b, &err) != CCM_OK)
		return server_fail(r, &err);
	return true;
}

void api_build_show(struct req *r)
{
	struct store_build b;

	if (!api_build_load(r, &b))
		return;
	server_reply(r, 200, api_build_json(&b));
}

void api_build_revoke(struct req *r)
{
	const char *why = json_string_value(json_object_get(r->body, "reason"));
	struct store_build b;
	struct ccm_error err;

	if (!api_build_load(r, &b))
		return;
	if (strcmp(b.status, "WHITELISTED") != 0 || b.revoked) {
		server_error(r, 409, "not_whitelisted",
		             "build %" PRId64 " is %s%s: only a whitelisted build can be revoked",
		             b.id, b.status, b.revoked ? " and revoked" : "");
		return;
	}
	b.updated_at = (int64_t)time(NULL);
	if (store_build_set_status(r->d->store, b.id, b.status, true, b.updated_at, &err) !=
	    CCM_OK) {
		server_fail(r, &err);
		return;
	}
	b.revoked = true;
	snprintf(r->reason, sizeof(r->reason), "revoked: %.200s", why ? why : "");
	server_reply(r, 200, api_build_json(&b));
}

/* Run a FAILED conversion again from the start: pulls and pushes are
 * idempotent (blobs by digest) and the conversion deterministic, so a
 * rerun after a registry outage gives the image a first run would have.
 * The requeue commits with the audit entry; a job that cannot be made
 * (no output image, key unreadable) leaves the build FAILED as it was. */
void api_build_retry(struct req *r)
{
	struct store_build b;
	struct ccm_error err;

	if (!api_build_load(r, &b))
		return;
	if (strcmp(b.source, "image") != 0 || strcmp(b.conv_status, "FAILED") != 0) {
		server_error(r, 409, "not_failed",
		             "build %" PRId64 " is %s: only a FAILED conversion can be retried",
		             b.id,
		             strcmp(b.source, "image") != 0 ? "a SIGSTRUCT build" : b.conv_status);
		return;
	}
	snprintf(r->reason, sizeof(r->reason), "after: %.200s", b.conv_reason);
	b.updated_at = (int64_t)time(NULL);
	if (store_build_requeue(r->d->store, r->account.id, b.id, b.updated_at, &err) != CCM_OK ||
	    builder_submit(r->d, &b, &err) != CCM_OK) {
		server_fail(r, &err);
		return;
	}
	snprintf(b.conv_status, sizeof(b.conv_status), "QUEUED");
	b.conv_reason[0] = '\0';
	b.bytes_done = b.bytes_total = 0;
	server_reply(r, 200, api_build_json(&b));
}
