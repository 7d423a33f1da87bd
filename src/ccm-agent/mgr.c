/*
 * DESIGN: every call to ccmd goes through mgr_call: HTTPS with the manager's
 * CA pinned (--cacert), a response cap, JSON in and out, and, once
 * enrolled, the node certificate as the client identity (mTLS). Each thread
 * keeps its own connection (curl handles are not shared) so keep-alive
 * works, and the options that do not change (CA, key, certificate, limits)
 * are set once per connection, again only when the certificate is renewed.
 * The manager thread enrolls, then heartbeats at the interval the manager
 * sets (sooner when an app instance changed state), renews the certificate
 * before expiry, and backs off while the manager is unreachable: local
 * runtimes keep being served meanwhile.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/pem.h>

#include "agent.h"
#include "api/apiframe.h"
#include "util/util.h"
#include "ccm/attest.h"

struct mgr_conn {
	struct agent *a;
	CURL *curl;
	char *key_pem; /* the node key as PEM, for curl; wiped on free */
	size_t key_len;
	struct curl_slist *hdr;
	bool ready; /* the lasting options are set */
	char *cert; /* the client certificate they hold, NULL: no mTLS */
};

struct mgr_conn *mgr_conn_new(struct agent *a)
{
	struct mgr_conn *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	c->a = a;
	c->curl = curl_easy_init();
	c->hdr = curl_slist_append(NULL, "Content-Type: application/json");
	/* Issue batches may be answered as frames (api/apiframe.h); every
	 * other route answers JSON whatever this says. */
	if (c->hdr != NULL && !a->cfg.batch_json &&
	    curl_slist_append(c->hdr, "Accept: application/json, " APIFRAME_CT) == NULL) {
		mgr_conn_free(c);
		return NULL;
	}
	util_key_pem(a->key, &c->key_pem, &c->key_len, NULL);
	if (c->curl == NULL || c->key_pem == NULL || c->hdr == NULL) {
		mgr_conn_free(c);
		return NULL;
	}
	return c;
}

void mgr_conn_free(struct mgr_conn *c)
{
	if (c == NULL)
		return;
	if (c->curl != NULL)
		curl_easy_cleanup(c->curl);
	if (c->key_pem != NULL)
		OPENSSL_secure_clear_free(c->key_pem, c->key_len + 1);
	curl_slist_free_all(c->hdr);
	free(c->cert);
	free(c);
}

/* The options every call shares; cert (taken over) is the client
 * certificate, NULL for none. */
static void mgr_setup(struct mgr_conn *c, char *cert)
{
	struct curl_blob cb, kb;

	curl_easy_reset(c->curl);
	/* No --cacert nor CCM_CACERT: libcurl's default, the system store. */
	if (c->a->cfg.cacert != NULL)
		curl_easy_setopt(c->curl, CURLOPT_CAINFO, c->a->cfg.cacert);
	curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, c->hdr);
	curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, util_capbuf_write);
	curl_easy_setopt(c->curl, CURLOPT_TIMEOUT, 30L);
	curl_easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c->curl, CURLOPT_PROTOCOLS_STR, "https");
	free(c->cert);
	c->cert = cert;
	c->ready = true;
	if (cert == NULL)
		return;
	cb.data = cert;
	cb.len = strlen(cert);
	cb.flags = CURL_BLOB_COPY;
	kb.data = c->key_pem;
	kb.len = c->key_len;
	kb.flags = CURL_BLOB_COPY;
	curl_easy_setopt(c->curl, CURLOPT_SSLCERT_BLOB, &cb);
	curl_easy_setopt(c->curl, CURLOPT_SSLCERTTYPE, "PEM");
	curl_easy_setopt(c->curl, CURLOPT_SSLKEY_BLOB, &kb);
	curl_easy_setopt(c->curl, CURLOPT_SSLKEYTYPE, "PEM");
}

/* Set up again only when mTLS is switched or the certificate renewed. */
static void mgr_prepare(struct mgr_conn *c, bool mtls)
{
	const char *now;
	bool same;
	char *cert = NULL;

	pthread_mutex_lock(&c->a->lock);
	now = mtls ? c->a->cert_pem : NULL;
	same = c->ready &&
	       (now == NULL ? c->cert == NULL : c->cert != NULL && strcmp(c->cert, now) == 0);
	if (!same && now != NULL)
		cert = strdup(now);
	pthread_mutex_unlock(&c->a->lock);
	if (!same)
		mgr_setup(c, cert);
}

static ccm_code parse_response(struct util_capbuf *b, json_t **resp, struct ccm_error *err)
{
	json_error_t je;

	*resp = NULL;
	if (b->n == 0)
		return CCM_OK;
	*resp = json_loadb(b->p, b->n, JSON_REJECT_DUPLICATES, &je);
	if (*resp == NULL)
		return ccm_fail(err, CCM_E_INPUT, "manager: response is not JSON: %s", je.text);
	return CCM_OK;
}

/* frames (may be NULL) takes a framed answer over unparsed; anything
 * else is parsed as JSON into *resp. */
static ccm_code mgr_perform(struct mgr_conn *c, const char *method, const char *path,
                            const char *payload, size_t len, bool mtls, size_t max, long *status,
                            json_t **resp, struct util_capbuf *frames, struct ccm_error *err)
{
	const char *ct = NULL;
	struct util_capbuf b = {.max = max};
	char url[2048];
	CURLcode cc;
	ccm_code rc = CCM_OK;

	*resp = NULL;
	snprintf(url, sizeof(url), "%s%s", c->a->cfg.manager_url, path);
	mgr_prepare(c, mtls);
	curl_easy_setopt(c->curl, CURLOPT_URL, url);
	curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, &b);
	if (payload != NULL) {
		curl_easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
		curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, payload);
	} else {
		curl_easy_setopt(c->curl, CURLOPT_HTTPGET, 1L);
	}
	curl_easy_setopt(c->curl, CURLOPT_CUSTOMREQUEST, method);
	cc = curl_easy_perform(c->curl);
	if (cc == CURLE_PEER_FAILED_VERIFICATION)
		rc = ccm_fail(err, CCM_E_IO,
		              "manager %s: %s (the manager's certificate is not trusted: give its "
		              "CA, ccmd's DATA/ca.pem, with --cacert FILE or CCM_CACERT)",
		              url, curl_easy_strerror(cc));
	else if (cc != CURLE_OK)
		rc = ccm_fail(err, CCM_E_IO, "manager %s: %s", url,
		              b.over ? "response too large" : curl_easy_strerror(cc));
	else {
		curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, status);
		curl_easy_getinfo(c->curl, CURLINFO_CONTENT_TYPE, &ct);
	}
	if (rc == CCM_OK && frames != NULL && ct != NULL &&
	    strncmp(ct, APIFRAME_CT, sizeof(APIFRAME_CT) - 1) == 0) {
		*frames = b;
		return CCM_OK;
	}
	if (rc == CCM_OK)
		rc = parse_response(&b, resp, err);
	free(b.p);
	return rc;
}

ccm_code mgr_call(struct mgr_conn *c, const char *method, const char *path, json_t *body, bool mtls,
                  long *status, json_t **resp, struct ccm_error *err)
{
	char *payload = body != NULL ? json_dumps(body, JSON_COMPACT) : NULL;
	ccm_code rc;

	if (body != NULL && payload == NULL)
		return ccm_fail(err, CCM_E_NOMEM, "out of memory");
	rc = mgr_perform(c, method, path, payload, payload ? strlen(payload) : 0, mtls,
	                 MGR_MAX_RESPONSE, status, resp, NULL, err);
	free(payload);
	return rc;
}

ccm_code mgr_post(struct mgr_conn *c, const char *path, const char *payload, size_t len, size_t max,
                  long *status, json_t **resp, struct util_capbuf *frames, struct ccm_error *err)
{
	return mgr_perform(c, "POST", path, payload, len, true, max, status, resp, frames, err);
}

/* "code: message" of an API error body, for logs and refusals. */
static void api_error(json_t *resp, long status, struct ccm_error *err, const char *what)
{
	json_t *e = json_object_get(resp, "error");
	const char *code = json_string_value(json_object_get(e, "code"));
	const char *msg = json_string_value(json_object_get(e, "message"));

	ccm_fail(err, status == 401 || status == 403 ? CCM_E_AUTH : CCM_E_VERIFY,
	         "%s refused (HTTP %ld): %s: %s", what, status, code ? code : "error",
	         msg ? msg : "no message");
}

ccm_code mgr_enroll(struct agent *a, struct ccm_error *err)
{
	struct mgr_conn *c = mgr_conn_new(a);
	json_t *body = NULL, *resp = NULL, *node;
	char *csr = NULL;
	long status = 0;
	ccm_code rc;

	if (c == NULL)
		return ccm_fail(err, CCM_E_NOMEM, "enroll: cannot set up a connection");
	if (a->cfg.join_token == NULL) {
		rc = ccm_fail(err, CCM_E_USAGE, "enroll: not enrolled and no --join-token given");
		goto fail;
	}
	if ((rc = ccm_attest_csr(a->key, a->cfg.name, &csr, err)) != CCM_OK)
		goto fail;
	/* No hardware quote: this machine cannot make one (see platform.c). */
	body = json_pack("{s:s,s:s,s:s,s:O}", "join_token", a->cfg.join_token, "name", a->cfg.name,
	                 "csr", csr, "sys_info", a->sysinfo);
	if ((rc = mgr_call(c, "POST", "/v1/nodes/enroll", body, false, &status, &resp, err)) !=
	    CCM_OK)
		goto fail;
	if (status != 201 && status != 200) {
		api_error(resp, status, err, "enrollment");
		rc = err->code;
		goto fail;
	}
	node = json_object_get(resp, "node");
	if (!json_is_string(json_object_get(resp, "certificate")) ||
	    !json_is_string(json_object_get(resp, "ca_chain")) ||
	    !json_is_string(json_object_get(node, "id"))) {
		rc = ccm_fail(err, CCM_E_INPUT,
		              "enrollment: the manager's answer lacks the certificate");
		goto fail;
	}
	rc = identity_store(a, json_string_value(json_object_get(resp, "certificate")),
	                    json_string_value(json_object_get(resp, "ca_chain")),
	                    json_string_value(json_object_get(node, "id")),
	                    json_is_true(json_object_get(node, "test_only")), err);
fail:
	free(csr);
	json_decref(body);
	json_decref(resp);
	mgr_conn_free(c);
	return rc;
}

static void apply_intervals(struct agent *a, json_t *resp)
{
	json_int_t iv = json_integer_value(json_object_get(resp, "interval_s"));
	json_int_t rb = json_integer_value(json_object_get(resp, "renew_before_s"));

	if (iv >= 1 && iv <= 3600)
		a->interval_s = (int)iv;
	if (a->cfg.renew_before_s > 0)
		a->renew_before_s = a->cfg.renew_before_s;
	else if (rb >= 60)
		a->renew_before_s = (int)rb;
}

static ccm_code renew(struct agent *a, struct mgr_conn *c, struct ccm_error *err)
{
	json_t *body, *resp = NULL;
	char *csr = NULL;
	long status = 0;
	ccm_code rc = ccm_attest_csr(a->key, a->cfg.name, &csr, err);

	if (rc != CCM_OK)
		return rc;
	body = json_pack("{s:s}", "csr", csr);
	rc = mgr_call(c, "POST", "/v1/node/renew", body, true, &status, &resp, err);
	if (rc == CCM_OK && status != 200) {
		api_error(resp, status, err, "renewal");
		rc = err->code;
	}
	if (rc == CCM_OK) {
		pthread_rwlock_wrlock(&a->cert_rw); /* no attest round in flight */
		rc = identity_store(a,
		                    json_string_value(json_object_get(resp, "certificate")) ?: "",
		                    json_string_value(json_object_get(resp, "ca_chain")) ?: "",
		                    a->node_id, a->test_only, err);
		pthread_rwlock_unlock(&a->cert_rw);
	}
	free(csr);
	json_decref(body);
	json_decref(resp);
	return rc;
}

static ccm_code heartbeat(struct agent *a, struct mgr_conn *c, struct ccm_error *err)
{
	double load[3] = {0};
	json_t *body, *resp = NULL, *apps = instance_heartbeat(a);
	long status = 0;
	ccm_code rc;

	getloadavg(load, 3);
	body = json_pack("{s:[f,f,f]}", "load", load[0], load[1], load[2]);
	if (apps != NULL) /* absent: the manager keeps the instances it has */
		json_object_set_new(body, "apps", apps);
	rc = mgr_call(c, "POST", "/v1/node/status", body, true, &status, &resp, err);
	if (rc == CCM_OK && status != 200) {
		api_error(resp, status, err, "heartbeat");
		rc = err->code;
	}
	if (rc == CCM_OK)
		apply_intervals(a, resp);
	json_decref(body);
	json_decref(resp);
	if (rc == CCM_OK && identity_cert_remaining(a) < a->renew_before_s)
		rc = renew(a, c, err);
	return rc;
}

/* Until the next heartbeat, or sooner when an app changed state. */
static void nap(struct agent *a, int seconds)
{
	for (int i = 0; i < seconds * 10 && !a->stopping && !(a->report_now && a->enrolled); i++)
		usleep(100000);
}

void *mgr_thread_main(void *arg)
{
	struct agent *a = arg;
	struct mgr_conn *c = mgr_conn_new(a);
	struct ccm_error err;
	int backoff = 1;

	while (!a->stopping && c != NULL) {
		ccm_code rc = a->enrolled ? heartbeat(a, c, &err) : mgr_enroll(a, &err);
		if (rc == CCM_OK) {
			backoff = 1;
			nap(a, a->interval_s);
			continue;
		}
		agent_log("warn", a->enrolled ? "heartbeat failed" : "enrollment failed", err.msg);
		if (rc == CCM_E_AUTH && a->enrolled) /* deactivated: stop calling */
			break;
		nap(a, backoff);
		backoff = backoff < 60 ? backoff * 2 : 60;
	}
	mgr_conn_free(c);
	return NULL;
}
