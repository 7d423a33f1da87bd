/*
 * DESIGN: the glue between image builds in the store and the conversion
 * worker (worker.c). A build registered from an image is stored QUEUED;
 * builder_submit turns it into a job (app settings, the account's unsealed
 * signing key, registry options with the account's unsealed credentials
 * for the source and destination registries, the output reference the
 * build recorded), and the job's callbacks, run on the event
 * loop, write progress (PULLING/CONVERTING/PUSHING with bytes) and the
 * outcome: DONE with the enclave identity and a build_whitelist task, or
 * FAILED with the reason, each result in one transaction with its audit
 * entry. At start builder_resume requeues every conversion that a crash
 * or restart interrupted: conversion is deterministic and pushes are
 * idempotent (blobs by digest), so redoing it from the start is safe.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "ccmd.h"
#include "pki/pki.h"
#include "pki/seal.h"
#include "util/util.h"
#include "worker.h"

struct builder_ctx {
	struct ccmd *d;
	int64_t build_id;
	int64_t account_id;
};

static void builder_audit(struct ccmd *d, int64_t account, int64_t build, const char *action,
                          const char *result, const char *reason)
{
	struct store_audit e;
	struct timeval tv;
	struct ccm_error err;

	memset(&e, 0, sizeof(e));
	gettimeofday(&tv, NULL);
	e.time_ms = (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
	snprintf(e.actor, sizeof(e.actor), "system");
	e.account_id = account;
	snprintf(e.action, sizeof(e.action), "%s", action);
	snprintf(e.object, sizeof(e.object), "build:%" PRId64, build);
	snprintf(e.result, sizeof(e.result), "%s", result);
	snprintf(e.reason, sizeof(e.reason), "%s", reason);
	if (store_audit_append(d->store, &e, &err) != CCM_OK)
		log_error("audit append failed", &err);
}

/* One transaction: a progress or failure update plus, if given, its audit. */
static void builder_progress_tx(struct ccmd *d, const struct builder_ctx *c, const char *status,
                                const char *reason, uint64_t done, uint64_t total,
                                const char *action)
{
	struct ccm_error err;

	if (store_begin(d->store, &err) != CCM_OK) {
		log_error("build progress", &err);
		return;
	}
	if (store_build_progress(d->store, c->build_id, status, reason, (int64_t)done,
	                         (int64_t)total, (int64_t)time(NULL), &err) != CCM_OK) {
		store_rollback(d->store);
		if (err.code == CCM_E_NOTFOUND) /* no longer converting: not ours to write */
			ccm_fail(&err, CCM_E_NOTFOUND,
			         "build %" PRId64 " is not being converted; job update dropped",
			         c->build_id);
		log_error("build progress", &err);
		return;
	}
	if (action != NULL)
		builder_audit(d, c->account_id, c->build_id, action,
		              strcmp(status, "FAILED") == 0 ? "error" : "ok", reason);
	if (store_commit(d->store, &err) != CCM_OK)
		log_error("build progress", &err);
}

static void builder_on_progress(void *ctx, const char *phase, uint64_t done, uint64_t total)
{
	struct builder_ctx *c = ctx;
	const char *status = strcmp(phase, "pull") == 0      ? "PULLING"
	                     : strcmp(phase, "convert") == 0 ? "CONVERTING"
	                                                     : "PUSHING";

	builder_progress_tx(c->d, c, status, "", done, total, NULL);
}

/* A conversion is deterministic, so the same input and settings give an
 * enclave the account already has; name that build instead of the bare
 * UNIQUE conflict. The image was pushed (same digest), nothing is lost. */
static void builder_duplicate_reason(struct ccmd *d, const struct store_build *b,
                                     struct ccm_error *err)
{
	struct store_build old;
	struct ccm_error e2;

	if (err->code != CCM_E_CONFLICT ||
	    store_build_by_mrenclave(d->store, b->account_id, b->mrenclave, &old, &e2) != CCM_OK)
		return;
	ccm_fail(err, CCM_E_CONFLICT,
	         "identical to build %" PRId64 " (same input and settings give MRENCLAVE %s);"
	         " use that build, or change the app's settings (e.g. ISVSVN) for a new one",
	         old.id, b->mrenclave);
}

static void builder_record(struct ccmd *d, const struct builder_ctx *c,
                           const struct ccm_image_convert_result *res)
{
	struct store_build b;
	struct ccm_error err;
	int64_t task = 0;
	char reason[256];

	if (store_build_get(d->store, c->account_id, c->build_id, &b, &err) != CCM_OK) {
		log_error("converted build vanished", &err);
		return;
	}
	util_hex(res->mrenclave, 32, b.mrenclave);
	util_hex(res->mrsigner, 32, b.mrsigner);
	b.isvprodid = res->isvprodid;
	b.isvsvn = res->isvsvn;
	snprintf(b.image_digest, sizeof(b.image_digest), "%s", res->digest);
	snprintf(reason, sizeof(reason), "mrenclave=%s digest=%s", b.mrenclave, res->digest);
	if (store_begin(d->store, &err) != CCM_OK ||
	    store_build_converted(d->store, &b, (int64_t)time(NULL), &task, &err) != CCM_OK) {
		store_rollback(d->store);
		builder_duplicate_reason(d, &b, &err);
		builder_progress_tx(d, c, "FAILED", err.msg, 0, 0, "build.convert");
		return;
	}
	builder_audit(d, c->account_id, c->build_id, "build.convert", "ok", reason);
	if (store_commit(d->store, &err) != CCM_OK)
		log_error("build result", &err);
}

static void builder_on_done(void *ctx, struct worker_job *job)
{
	struct builder_ctx *c = ctx;
	char reason[sizeof(job->err.msg) + 48];

	/* Say "authentication" plainly: the registry's words vary. */
	snprintf(reason, sizeof(reason), "%s%s",
	         job->rc == CCM_E_AUTH ? "registry authentication failed: " : "", job->err.msg);
	if (job->rc == CCM_OK)
		builder_record(c->d, c, &job->res);
	else
		builder_progress_tx(c->d, c, "FAILED", reason, 0, 0, "build.convert");
	free(c);
}

static ccm_code builder_signing_key(struct ccmd *d, int64_t account, EVP_PKEY **key,
                                    struct ccm_error *err)
{
	uint8_t *sealed = NULL, *der = NULL;
	size_t slen = 0, dlen = 0;
	ccm_code rc = store_account_signing_key(d->store, account, &sealed, &slen, err);

	if (rc == CCM_OK)
		rc = seal_decrypt(d->master_key, "account:sgx", sealed, slen, &der, &dlen, err);
	if (rc == CCM_OK)
		rc = pki_key_from_der(der, dlen, key, err);
	if (der != NULL)
		OPENSSL_clear_free(der, dlen);
	free(sealed);
	return rc;
}

/* A JSON array of strings from the app's runtime object, or NULL. */
static json_t *builder_list(const json_t *rt, const char *key)
{
	json_t *v = json_object_get(rt, key);

	return json_is_array(v) && json_array_size(v) > 0 ? json_incref(v) : NULL;
}

static void builder_strings(struct worker_job *job, const json_t *arr, const char **out, size_t *n)
{
	size_t i;
	json_t *v;

	json_array_foreach(arr, i, v)
	{
		if (*n < CCM_IMAGE_MAX_LIST && json_is_string(v))
			out[(*n)++] = worker_job_keep(job, json_string_value(v));
	}
}

static json_t *builder_cert_config(const struct store_app *a)
{
	json_t *c;

	if (a->cert_key_path[0] == '\0' || a->cert_cert_path[0] == '\0')
		return NULL;
	c = json_pack("{s:s,s:s,s:s}", "key_type",
	              a->cert_key_type[0] ? a->cert_key_type : "ec-p256", "key_path",
	              a->cert_key_path, "cert_path", a->cert_cert_path);
	if (a->cert_chain_path[0] != '\0')
		json_object_set_new(c, "chain_path", json_string(a->cert_chain_path));
	return c;
}

/* A job-owned C string of a secret's bytes; the temporary copy is wiped. */
static const char *builder_keep_secret(struct worker_job *job, const uint8_t *pt, size_t n)
{
	char *tmp = malloc(n + 1);
	const char *kept;

	if (tmp == NULL)
		return NULL;
	memcpy(tmp, pt, n);
	tmp[n] = '\0';
	kept = strlen(tmp) == n ? worker_job_keep(job, tmp) : NULL;
	OPENSSL_clear_free(tmp, n + 1);
	return kept;
}

/* The account's credentials for the registry of ref, unsealed into
 * strings the job owns (wiped when the job is freed). None registered:
 * anonymous access. A password goes with its user name (HTTP Basic, or
 * to the Bearer token realm); a token alone is sent as a bearer token. */
static ccm_code builder_registry_creds(struct ccmd *d, struct worker_job *job, int64_t account,
                                       const char *ref, struct ccm_oci_opts *o,
                                       struct ccm_error *err)
{
	char host[STORE_HOST_MAX + 1], purpose[STORE_HOST_MAX + 48];
	struct store_registry g;
	struct ccm_oci_ref r;
	struct ccm_error ignore;
	uint8_t *sealed = NULL, *pt = NULL;
	size_t slen = 0, plen = 0;
	const char *secret = NULL;
	ccm_code rc;

	/* A bad reference is the conversion's to report (FAILED, with why). */
	if (ccm_oci_ref_parse(ref, &r, &ignore) != CCM_OK || r.kind != CCM_OCI_REF_REGISTRY ||
	    api_registry_host(r.registry, host) != NULL)
		return CCM_OK;
	rc = store_registry_by_host(d->store, account, host, &g, &sealed, &slen, err);
	if (rc == CCM_E_NOTFOUND)
		return CCM_OK;
	api_registry_purpose(account, host, purpose, sizeof(purpose));
	if (rc == CCM_OK)
		rc = seal_decrypt(d->master_key, purpose, sealed, slen, &pt, &plen, err);
	free(sealed);
	if (rc != CCM_OK) {
		ccm_error_prefix(err, "registry credentials for %s", host);
		return rc;
	}
	secret = builder_keep_secret(job, pt, plen);
	OPENSSL_clear_free(pt, plen ? plen : 1);
	if (secret == NULL)
		return ccm_fail(err, CCM_E_NOMEM, "build job: cannot keep the registry secret");
	if (strcmp(g.kind, "token") == 0) {
		o->token = secret;
		return CCM_OK;
	}
	o->username = worker_job_keep(job, g.username);
	o->password = secret;
	return o->username ? CCM_OK : ccm_fail(err, CCM_E_LIMIT, "build job: too many strings");
}

static ccm_code builder_registry_opts(struct ccmd *d, struct worker_job *job, int64_t account,
                                      const char *ref, struct ccm_oci_opts *o,
                                      struct ccm_error *err)
{
	for (size_t i = 0; i < d->cfg.n_insecure && i < 8; i++)
		o->insecure[o->n_insecure++] = d->cfg.insecure_registries[i];
	return builder_registry_creds(d, job, account, ref, o, err);
}

static ccm_code builder_job(struct ccmd *d, const struct store_build *b, const struct store_app *a,
                            struct worker_job *job, struct ccm_error *err)
{
	struct ccm_image_convert_opts *o = &job->opts;
	json_t *rt = json_loads(a->runtime, 0, NULL);
	char id[32];
	ccm_code rc = CCM_OK;

	if (a->output_image[0] == '\0' && b->output_image[0] == '\0') {
		json_decref(rt);
		return ccm_fail(err, CCM_E_INPUT, "app %" PRId64 " has no output_image", a->id);
	}
	o->from = worker_job_keep(job, b->image_name);
	/* The build's own output reference (its output tag); builds made
	 * before it was recorded push to the app's output image. */
	o->to = worker_job_keep(job, b->output_image[0] ? b->output_image : a->output_image);
	o->isvprodid = (uint16_t)a->isvprodid;
	o->isvsvn = (uint16_t)a->isvsvn;
	o->mem = (uint64_t)a->mem_bytes;
	o->threads = (uint32_t)a->threads;
	o->entrypoint = builder_list(rt, "entrypoint");
	o->cmd = builder_list(rt, "args");
	builder_strings(job, json_object_get(rt, "env"), o->env, &o->n_env);
	builder_strings(job, json_object_get(rt, "rw_dirs"), o->rw_dirs, &o->n_rw);
	snprintf(id, sizeof(id), "%" PRId64, a->id);
	o->app_id = worker_job_keep(job, id);
	snprintf(id, sizeof(id), "%" PRId64, a->account_id);
	o->account_id = worker_job_keep(job, id);
	o->certificate = builder_cert_config(a);
	o->runtime = d->cfg.runtime;
	o->tmpdir = d->cfg.work_dir;
	json_decref(rt);
	if (o->from == NULL || o->to == NULL)
		return ccm_fail(err, CCM_E_INPUT, "build %" PRId64 ": no image to convert", b->id);
	if ((rc = builder_registry_opts(d, job, a->account_id, o->from, &o->src, err)) != CCM_OK ||
	    (rc = builder_registry_opts(d, job, a->account_id, o->to, &o->dst, err)) != CCM_OK)
		return rc;
	rc = builder_signing_key(d, a->account_id, &o->key, err);
	return rc;
}

ccm_code builder_submit(struct ccmd *d, const struct store_build *b, struct ccm_error *err)
{
	struct worker_job *job = worker_job_new();
	struct builder_ctx *c = calloc(1, sizeof(*c));
	struct store_app a;
	ccm_code rc;

	if (job == NULL || c == NULL || d->worker == NULL) {
		worker_job_free(job);
		free(c);
		return ccm_fail(err, CCM_E_NOMEM, "build worker unavailable");
	}
	rc = store_app_get(d->store, b->account_id, b->app_id, &a, err);
	if (rc == CCM_OK)
		rc = builder_job(d, b, &a, job, err);
	if (rc != CCM_OK) {
		worker_job_free(job);
		free(c);
		return rc;
	}
	c->d = d;
	c->build_id = b->id;
	c->account_id = b->account_id;
	job->ctx = c;
	job->on_progress = builder_on_progress;
	job->on_done = builder_on_done;
	worker_submit(d->worker, job);
	return CCM_OK;
}

static ccm_code builder_resume_cb(void *ctx, const struct store_build *b)
{
	struct ccmd *d = ctx;
	struct builder_ctx c = {d, b->id, b->account_id};
	struct ccm_error err;

	if (strcmp(b->source, "image") != 0 || b->conv_status[0] == '\0' ||
	    strcmp(b->conv_status, "DONE") == 0 || strcmp(b->conv_status, "FAILED") == 0)
		return CCM_OK;
	if (builder_submit(d, b, &err) != CCM_OK)
		builder_progress_tx(d, &c, "FAILED", err.msg, 0, 0, "build.convert");
	else
		log_info("requeued an interrupted build conversion");
	return CCM_OK;
}

void builder_resume(struct ccmd *d)
{
	struct store_page pg = {1000, 0};
	struct ccm_error err;

	if (store_build_list_unfinished(d->store, &pg, builder_resume_cb, d, &err) != CCM_OK)
		log_error("requeue interrupted builds", &err);
}
