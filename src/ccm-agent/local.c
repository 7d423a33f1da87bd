/*
 * DESIGN: the local API that runtimes on this node call (plain HTTP on
 * 9092, the seed's NODE_AGENT_BASE_URL). It is reachable by anything on the
 * node, so it trusts nothing it is sent: bodies are capped by evhttp before
 * they are read, parsed with the shared JSON gates (lib/api), and the report
 * must bind the CSR's key before the agent vouches for it with its own
 * signature. Requests that need the manager run on worker threads; the
 * event loop only parses and replies.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/keyvalq_struct.h>
#include <openssl/crypto.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "agent.h"
#include "api/apijson.h"
#include "ccm/attest.h"
#include "pki/pki.h"
#include "util/util.h"

struct agent_job {
	struct agent_job *next;
	struct agent *a;
	struct evhttp_request *req;
	json_t *body;
	int status;
	json_t *reply;
};

static void reply_json(struct evhttp_request *req, int status, json_t *obj)
{
	struct evbuffer *buf = evbuffer_new();
	char *s = json_dumps(obj, JSON_COMPACT);

	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
	                  "application/json");
	if (buf != NULL && s != NULL)
		evbuffer_add(buf, s, strlen(s));
	evhttp_send_reply(req, status, status < 300 ? "OK" : "Error", buf);
	evbuffer_free(buf);
	free(s);
}

static json_t *error_obj(const char *code, const char *msg)
{
	return json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", msg);
}

static void reply_error(struct evhttp_request *req, int status, const char *code, const char *msg)
{
	json_t *o = error_obj(code, msg);

	reply_json(req, status, o);
	json_decref(o);
}

static void on_version(struct evhttp_request *req, struct agent *a)
{
	json_t *o;

	pthread_mutex_lock(&a->lock);
	o = json_pack("{s:s,s:s,s:b,s:b,s:s,s:O}", "version", CCM_VERSION, "node_id", a->node_id,
	              "enrolled", a->enrolled, "test_only", a->test_only, "evidence",
	              platform_has_sgx(a->sysinfo) ? "dcap" : "simulated", "sgx",
	              json_object_get(a->sysinfo, "sgx"));
	pthread_mutex_unlock(&a->lock);
	reply_json(req, 200, o);
	json_decref(o);
}

static const struct apijson_field attest_fields[] = {
        {"report", APIJSON_STRING, true, 512, 512, "base64 of the 384-byte SGX report body"},
        {"csr", APIJSON_STRING, true, 64, 16384, "PEM certificate signing request"},
        {"dns_names", APIJSON_STRINGS, false, 0, 64, "DNS names to put in the certificate"},
        {NULL, 0, false, 0, 0, NULL},
};

/* SPKI of a PEM CSR whose self-signature verifies. */
static ccm_code csr_spki(const char *pem, uint8_t digest[32], struct ccm_error *err)
{
	BIO *bio = BIO_new_mem_buf(pem, -1);
	X509_REQ *req = bio ? PEM_read_bio_X509_REQ(bio, NULL, NULL, NULL) : NULL;
	unsigned char *der = NULL;
	EVP_PKEY *pk;
	int n = -1;
	ccm_code rc = CCM_OK;

	if (req == NULL) {
		rc = ccm_fail(err, CCM_E_INPUT, "csr: not a PEM certificate request");
		goto fail;
	}
	pk = X509_REQ_get0_pubkey(req);
	if (pk == NULL || X509_REQ_verify(req, pk) != 1) {
		rc = ccm_fail(err, CCM_E_INPUT, "csr: its self-signature does not verify");
		goto fail;
	}
	n = i2d_PUBKEY(pk, &der);
	if (n <= 0) {
		rc = ccm_fail(err, CCM_E_CRYPTO, "csr: cannot encode its public key");
		goto fail;
	}
	uint8_t rd[64];
	ccm_report_data_for_spki(der, (size_t)n, NULL, rd);
	memcpy(digest, rd, 32);
fail:
	OPENSSL_free(der);
	X509_REQ_free(req);
	BIO_free(bio);
	return rc;
}

/* Wrap the runtime's report into evidence the manager can check. */
static ccm_code make_evidence(struct agent *a, const uint8_t report[384], json_t **out,
                              struct ccm_error *err)
{
	uint8_t q[CCM_SIMQ_SIZE_MAX];
	size_t qlen = 0;
	X509 *cert = NULL;
	char *b64;
	ccm_code rc;

	pthread_mutex_lock(&a->lock);
	rc = pki_cert_from_pem(a->cert_pem, strlen(a->cert_pem), &cert, err);
	pthread_mutex_unlock(&a->lock);
	if (rc != CCM_OK)
		return rc;
	rc = ccm_simquote_sign(report, cert, a->key, (int64_t)time(NULL), q, &qlen, err);
	X509_free(cert);
	if (rc != CCM_OK)
		return rc;
	b64 = util_b64_encode(q, qlen);
	*out = json_pack("{s:s,s:s}", "type", "simulated", "quote", b64 ? b64 : "");
	free(b64);
	return CCM_OK;
}

static void job_fail(struct agent_job *j, int status, const char *code, const char *msg)
{
	j->status = status;
	j->reply = error_obj(code, msg);
}

/* Worker side of POST /v1/attest: check, wrap, ask the manager. */
static void attest_run(struct agent_job *j, struct mgr_conn *c)
{
	const char *report_b64 = json_string_value(json_object_get(j->body, "report"));
	const char *csr = json_string_value(json_object_get(j->body, "csr"));
	uint8_t *report = NULL, spki[32];
	json_t *evidence = NULL, *body = NULL, *resp = NULL;
	struct ccm_error err;
	size_t rlen = 0;
	long status = 0;

	if (!j->a->enrolled) {
		job_fail(j, 503, "not_enrolled", "this node is not enrolled with a manager yet");
		return;
	}
	if (util_b64_decode(report_b64, strlen(report_b64), 384, &report, &rlen, "report", &err) !=
	            CCM_OK ||
	    rlen != 384) {
		job_fail(j, 400, "invalid_report",
		         rlen != 384 && report ? "report: not 384 bytes" : err.msg);
		goto out;
	}
	if (csr_spki(csr, spki, &err) != CCM_OK) {
		job_fail(j, 400, "invalid_csr", err.msg);
		goto out;
	}
	if (CRYPTO_memcmp(spki, report + 320, 32) != 0) {
		job_fail(j, 400, "key_binding",
		         "report data does not bind the CSR key (SHA-256 of its "
		         "SubjectPublicKeyInfo)");
		goto out;
	}
	if (make_evidence(j->a, report, &evidence, &err) != CCM_OK) {
		job_fail(j, 500, "evidence", err.msg);
		goto out;
	}
	body = json_pack("{s:s,s:O}", "csr", csr, "evidence", evidence);
	if (json_object_get(j->body, "dns_names"))
		json_object_set(body, "dns_names", json_object_get(j->body, "dns_names"));
	if (mgr_call(c, "POST", "/v1/node/issue", body, true, &status, &resp, &err) != CCM_OK) {
		job_fail(j, 502, "manager_unreachable", err.msg);
		goto out;
	}
	j->status = (int)status;
	j->reply = resp ? resp : error_obj("manager_error", "empty answer from the manager");
	resp = NULL;
out:
	free(report);
	json_decref(evidence);
	json_decref(body);
	json_decref(resp);
}

static void job_complete(evutil_socket_t fd, short what, void *arg)
{
	struct agent_job *j = arg;

	(void)fd;
	(void)what;
	reply_json(j->req, j->status, j->reply);
	json_decref(j->reply);
	json_decref(j->body);
	free(j);
}

static void *worker_main(void *arg)
{
	struct agent *a = arg;
	struct mgr_conn *c = mgr_conn_new(a);
	struct timeval now = {0, 0};

	for (;;) {
		struct agent_job *j;
		pthread_mutex_lock(&a->lock);
		while (a->queue_head == NULL && !a->stopping)
			pthread_cond_wait(&a->cond, &a->lock);
		j = a->queue_head;
		if (j != NULL && (a->queue_head = j->next) == NULL)
			a->queue_tail = NULL;
		pthread_mutex_unlock(&a->lock);
		if (j == NULL)
			break;
		if (c == NULL)
			job_fail(j, 500, "internal", "no manager connection");
		else
			attest_run(j, c);
		event_base_once(a->base, -1, EV_TIMEOUT, job_complete, j, &now);
	}
	mgr_conn_free(c);
	return NULL;
}

static json_t *read_body(struct evhttp_request *req, struct apijson_result *r)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	size_t len = evbuffer_get_length(in);
	struct apijson_limits lim;
	json_t *obj = NULL;

	apijson_limits_default(&lim);
	if (!apijson_parse((const char *)evbuffer_pullup(in, -1), len, &lim, &obj, r))
		return NULL;
	if (!apijson_check(obj, attest_fields, r)) {
		json_decref(obj);
		return NULL;
	}
	return obj;
}

static void on_attest(struct evhttp_request *req, struct agent *a)
{
	struct apijson_result r;
	struct agent_job *j;
	json_t *body = read_body(req, &r);

	if (body == NULL) {
		reply_error(req, 400, apijson_status_code(r.status), r.msg);
		return;
	}
	j = calloc(1, sizeof(*j));
	if (j == NULL) {
		json_decref(body);
		reply_error(req, 500, "internal", "out of memory");
		return;
	}
	j->a = a;
	j->req = req;
	j->body = body;
	pthread_mutex_lock(&a->lock);
	if (a->queue_tail != NULL)
		a->queue_tail->next = j;
	else
		a->queue_head = j;
	a->queue_tail = j;
	pthread_cond_signal(&a->cond);
	pthread_mutex_unlock(&a->lock);
}

static void on_request(struct evhttp_request *req, void *arg)
{
	struct agent *a = arg;
	const char *path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));
	enum evhttp_cmd_type m = evhttp_request_get_command(req);

	if (path != NULL && strcmp(path, "/v1/version") == 0) {
		if (m != EVHTTP_REQ_GET)
			reply_error(req, 405, "method_not_allowed", "use GET");
		else
			on_version(req, a);
		return;
	}
	if (path != NULL && strcmp(path, "/v1/attest") == 0) {
		if (m != EVHTTP_REQ_POST)
			reply_error(req, 405, "method_not_allowed", "use POST");
		else
			on_attest(req, a);
		return;
	}
	reply_error(req, 404, "not_found", "no such path (see docs/internals/agent.md)");
}

ccm_code local_start(struct agent *a, struct ccm_error *err)
{
	a->http = evhttp_new(a->base);
	if (a->http == NULL)
		return ccm_fail(err, CCM_E_NOMEM, "local API: cannot create the HTTP server");
	evhttp_set_max_body_size(a->http, AGENT_MAX_BODY);
	evhttp_set_max_headers_size(a->http, 16 * 1024);
	evhttp_set_timeout(a->http, 30);
	evhttp_set_allowed_methods(a->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST);
	evhttp_set_gencb(a->http, on_request, a);
	if (evhttp_bind_socket(a->http, a->cfg.listen_addr, a->cfg.port) != 0)
		return ccm_fail(err, CCM_E_IO, "local API: cannot listen on %s:%u",
		                a->cfg.listen_addr, a->cfg.port);
	for (int i = 0; i < AGENT_WORKERS; i++)
		pthread_create(&a->workers[i], NULL, worker_main, a);
	return CCM_OK;
}

void local_stop(struct agent *a)
{
	pthread_mutex_lock(&a->lock);
	a->stopping = 1;
	pthread_cond_broadcast(&a->cond);
	pthread_mutex_unlock(&a->lock);
	for (int i = 0; i < AGENT_WORKERS; i++)
		pthread_join(a->workers[i], NULL);
	if (a->http != NULL)
		evhttp_free(a->http);
}
