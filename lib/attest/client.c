/*
 * DESIGN: the runtime's side of attestation, usable from a statically
 * linked binary in an image without libc: one HTTP POST to the node agent
 * with libevent's HTTP client (libevent links statically with no further
 * dependencies, unlike libcurl), the answer capped and parsed with jansson.
 * The runtime makes its key in memory, builds the CSR and the report whose
 * data binds that key, and gets back its certificate chain or the
 * manager's refusal, which is returned word for word so the operator sees
 * the policy check that failed. A grant also carries the instance handle
 * with which the runtime then reports its app RUNNING (and keeps that
 * alive) or STOPPED: short calls, so a slow agent never holds up PID 1.
 *
 * A runtime makes one request per start; a load generator makes thousands,
 * and opening a TCP connection and an event base for each would measure its
 * own kernel time rather than the agent. So the requests go through a
 * client that keeps its event base and its HTTP/1.1 connection (keep-alive)
 * from one request to the next; the one-shot calls open one, use it once
 * and free it, so both share one code path.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "ccm/attest.h"
#include "util/util.h"

#define CLIENT_MAX_RESPONSE (256 * 1024)
#define CLIENT_DEFAULT_PORT 9092

struct ccm_attest_client {
	struct event_base *base;
	struct evhttp_connection *conn;
	char *url;     /* as given, for messages */
	char *host;    /* for the Host header */
	bool answered; /* conn carried an answer, so the agent may have closed it since */
};

struct exchange {
	int status;
	char *body;
	size_t len;
	bool over;
	enum evhttp_request_error error;
	struct event_base *base;
};

static void on_error(enum evhttp_request_error error, void *arg)
{
	struct exchange *x = arg;

	x->error = error;
}

static void on_done(struct evhttp_request *req, void *arg)
{
	struct exchange *x = arg;
	struct evbuffer *in;
	size_t n;

	if (req == NULL) {
		x->status = -1;
		event_base_loopexit(x->base, NULL);
		return;
	}
	x->status = evhttp_request_get_response_code(req);
	in = evhttp_request_get_input_buffer(req);
	n = evbuffer_get_length(in);
	if (n > CLIENT_MAX_RESPONSE) {
		x->over = true;
	} else if ((x->body = malloc(n + 1)) != NULL) {
		evbuffer_remove(in, x->body, n);
		x->body[n] = '\0';
		x->len = n;
	}
	event_base_loopexit(x->base, NULL);
}

/* ccm_attest_client_new, with the failure's code (err may be NULL). */
static ccm_code client_open(const char *agent_url, int timeout_s, struct ccm_attest_client **out,
                            struct ccm_error *err)
{
	struct evhttp_uri *uri = agent_url ? evhttp_uri_parse(agent_url) : NULL;
	const char *host = uri ? evhttp_uri_get_host(uri) : NULL;
	const char *scheme = uri ? evhttp_uri_get_scheme(uri) : NULL;
	int port = uri ? evhttp_uri_get_port(uri) : -1;
	struct ccm_attest_client *c = NULL;
	ccm_code rc = CCM_OK;

	*out = NULL;
	if (host == NULL || host[0] == '\0' || scheme == NULL || strcmp(scheme, "http") != 0 ||
	    port > 65535) {
		rc = ccm_fail(err, CCM_E_INPUT, "agent URL '%.100s': expected http://HOST:PORT",
		              agent_url ? agent_url : "");
		goto out;
	}
	c = calloc(1, sizeof(*c));
	if (c == NULL || (c->url = strdup(agent_url)) == NULL || (c->host = strdup(host)) == NULL ||
	    (c->base = event_base_new()) == NULL) {
		rc = ccm_fail(err, CCM_E_NOMEM, "agent: cannot set up the request");
		goto out;
	}
	c->conn = evhttp_connection_base_new(c->base, NULL, c->host,
	                                     (uint16_t)(port > 0 ? port : CLIENT_DEFAULT_PORT));
	if (c->conn == NULL)
		rc = ccm_fail(err, CCM_E_NOMEM, "agent: cannot set up the request");
	else
		evhttp_connection_set_timeout(c->conn, timeout_s);
out:
	if (rc == CCM_OK)
		*out = c;
	else
		ccm_attest_client_free(c);
	if (uri != NULL) /* evhttp_uri_free(NULL) crashes */
		evhttp_uri_free(uri);
	return rc;
}

struct ccm_attest_client *ccm_attest_client_new(const char *agent_url, int timeout_s,
                                                struct ccm_error *err)
{
	struct ccm_attest_client *c;

	client_open(agent_url, timeout_s, &c, err);
	return c;
}

void ccm_attest_client_free(struct ccm_attest_client *c)
{
	if (c == NULL)
		return;
	if (c->conn != NULL)
		evhttp_connection_free(c->conn);
	if (c->base != NULL)
		event_base_free(c->base);
	free(c->host);
	free(c->url);
	free(c);
}

/* One POST on c's connection (libevent connects it if it is not). */
static ccm_code client_send(struct ccm_attest_client *c, const char *path, const char *body,
                            struct exchange *x, struct ccm_error *err)
{
	struct evhttp_request *req = evhttp_request_new(on_done, x);
	struct evkeyvalq *h;

	memset(x, 0, sizeof(*x));
	x->base = c->base;
	if (req == NULL)
		return ccm_fail(err, CCM_E_NOMEM, "agent: cannot set up the request");
	evhttp_request_set_error_cb(req, on_error);
	h = evhttp_request_get_output_headers(req);
	evhttp_add_header(h, "Host", c->host);
	evhttp_add_header(h, "Content-Type", "application/json");
	evbuffer_add(evhttp_request_get_output_buffer(req), body, strlen(body));
	/* On failure libevent has freed req. */
	if (evhttp_make_request(c->conn, req, EVHTTP_REQ_POST, path) != 0)
		return ccm_fail(err, CCM_E_IO, "agent %s: cannot send the request", c->url);
	event_base_dispatch(c->base);
	return CCM_OK;
}

/* POST body to the agent's path; *x filled with status and body. An agent
 * may close a kept-alive connection while the client is idle (its idle
 * timeout, a restart), which the client only sees when its next request
 * finds the connection closed without an answer (EVREQ_HTTP_EOF; libevent's
 * own retries cover connecting only). libevent has then reset the
 * connection, so the request is sent once more, on a new one; repeating it
 * is harmless (another certificate for the same key, the same instance
 * state again). A timeout, or a failure on a new connection, is final. */
static ccm_code client_post(struct ccm_attest_client *c, const char *path, const char *body,
                            struct exchange *x, struct ccm_error *err)
{
	bool stale_possible = c->answered;
	ccm_code rc = client_send(c, path, body, x, err);

	if (rc == CCM_OK && x->status <= 0 && stale_possible && x->error == EVREQ_HTTP_EOF)
		rc = client_send(c, path, body, x, err);
	c->answered = rc == CCM_OK && x->status > 0;
	if (rc != CCM_OK)
		return rc;
	if (x->status <= 0)
		return ccm_fail(err, CCM_E_IO, "agent %s: no answer (is ccm-agent running there?)",
		                c->url);
	if (x->over)
		return ccm_fail(err, CCM_E_LIMIT, "agent %s: answer larger than %d bytes", c->url,
		                CLIENT_MAX_RESPONSE);
	return CCM_OK;
}

ccm_code ccm_attest_refusal(const char *body, size_t len, int status, struct ccm_error *err)
{
	json_t *resp = json_loadb(body ? body : "", body ? len : 0, 0, NULL);
	json_t *e = json_object_get(resp, "error");
	const char *code = json_string_value(json_object_get(e, "code"));
	const char *msg = json_string_value(json_object_get(e, "message"));
	ccm_code rc = ccm_fail(err, status == 403 ? CCM_E_VERIFY : CCM_E_IO,
	                       "certificate refused (HTTP %d): %s: %s", status,
	                       code ? code : "error", msg ? msg : "no reason given");

	json_decref(resp);
	return rc;
}

/* The grant's instance handle (instance.c of the agent), if it has one. */
static void grant_instance(json_t *resp, struct ccm_attest_instance *inst)
{
	json_t *h = json_object_get(resp, "instance");
	const char *id = json_string_value(json_object_get(h, "id"));
	const char *token = json_string_value(json_object_get(h, "token"));
	json_int_t ka = json_integer_value(json_object_get(h, "keepalive_s"));

	memset(inst, 0, sizeof(*inst));
	if (id == NULL || token == NULL || strlen(id) != 32 || strlen(token) != 64 || ka < 1 ||
	    ka > 3600)
		return;
	memcpy(inst->id, id, 33);
	memcpy(inst->token, token, 65);
	inst->app_id = json_integer_value(json_object_get(resp, "app_id"));
	inst->build_id = json_integer_value(json_object_get(resp, "build_id"));
	inst->keepalive_s = (int)ka;
}

char *ccm_attest_request_body(const uint8_t report[CCM_REPORT_BODY_SIZE], const char *csr_pem,
                              const char *const *dns_names, size_t n_dns)
{
	char *b64 = util_b64_encode(report, CCM_REPORT_BODY_SIZE), *body = NULL;
	json_t *req = json_pack("{s:s,s:s}", "report", b64 ? b64 : "", "csr", csr_pem);
	json_t *names = json_array();

	for (size_t i = 0; i < n_dns; i++)
		json_array_append_new(names, json_string(dns_names[i]));
	if (b64 == NULL || req == NULL)
		json_decref(names);
	else if (json_object_set_new(req, "dns_names", names) == 0) /* takes names */
		body = json_dumps(req, JSON_COMPACT);
	json_decref(req);
	free(b64);
	return body;
}

/* POST a request body made by ccm_attest_request_body; the grant's parts. */
static ccm_code client_request_body(struct ccm_attest_client *c, const char *body,
                                    struct ccm_attest_instance *inst, char **cert_pem,
                                    char **chain_pem, struct ccm_error *err)
{
	json_t *resp = NULL;
	struct exchange x = {0};
	ccm_code rc = client_post(c, "/v1/attest", body, &x, err);

	if (rc == CCM_OK) {
		resp = json_loadb(x.body ? x.body : "", x.len, 0, NULL);
		if (x.status != 200 && x.status != 201)
			rc = ccm_attest_refusal(x.body, x.len, x.status, err);
		else if (!json_is_string(json_object_get(resp, "certificate")))
			rc = ccm_fail(err, CCM_E_INPUT, "agent: the answer holds no certificate");
	}
	if (rc == CCM_OK) {
		*cert_pem = strdup(json_string_value(json_object_get(resp, "certificate")));
		*chain_pem = strdup(json_string_value(json_object_get(resp, "chain")) ?: "");
		if (inst != NULL)
			grant_instance(resp, inst);
	}
	free(x.body);
	json_decref(resp);
	return rc;
}

ccm_code ccm_attest_client_request(struct ccm_attest_client *c,
                                   const uint8_t report[CCM_REPORT_BODY_SIZE], const char *csr_pem,
                                   const char *const *dns_names, size_t n_dns,
                                   struct ccm_attest_instance *inst, char **cert_pem,
                                   char **chain_pem, struct ccm_error *err)
{
	char *body = ccm_attest_request_body(report, csr_pem, dns_names, n_dns);
	ccm_code rc = body ? client_request_body(c, body, inst, cert_pem, chain_pem, err)
	                   : ccm_fail(err, CCM_E_NOMEM, "out of memory");

	free(body);
	return rc;
}

ccm_code ccm_attest_request(const char *agent_url, const uint8_t report[CCM_REPORT_BODY_SIZE],
                            const char *csr_pem, const char *const *dns_names, size_t n_dns,
                            char **cert_pem, char **chain_pem, struct ccm_error *err)
{
	return ccm_attest_request_inst(agent_url, report, csr_pem, dns_names, n_dns, NULL, cert_pem,
	                               chain_pem, err);
}

ccm_code ccm_attest_request_inst(const char *agent_url, const uint8_t report[CCM_REPORT_BODY_SIZE],
                                 const char *csr_pem, const char *const *dns_names, size_t n_dns,
                                 struct ccm_attest_instance *inst, char **cert_pem,
                                 char **chain_pem, struct ccm_error *err)
{
	struct ccm_attest_client *c;
	ccm_code rc = client_open(agent_url, 60, &c, err);

	if (rc == CCM_OK)
		rc = ccm_attest_client_request(c, report, csr_pem, dns_names, n_dns, inst, cert_pem,
		                               chain_pem, err);
	ccm_attest_client_free(c);
	return rc;
}

ccm_code ccm_attest_instance_report(const char *agent_url, const struct ccm_attest_instance *inst,
                                    const char *state, int64_t pid, int timeout_s,
                                    struct ccm_error *err)
{
	json_t *req = json_pack("{s:s,s:s,s:I,s:I,s:s,s:I}", "id", inst->id, "token", inst->token,
	                        "app_id", (json_int_t)inst->app_id, "build_id",
	                        (json_int_t)inst->build_id, "state", state, "pid", (json_int_t)pid);
	char *body = req ? json_dumps(req, JSON_COMPACT) : NULL;
	struct ccm_attest_client *c = NULL;
	json_t *resp = NULL;
	struct exchange x = {0};
	ccm_code rc = body ? client_open(agent_url, timeout_s, &c, err)
	                   : ccm_fail(err, CCM_E_NOMEM, "out of memory");

	if (rc == CCM_OK)
		rc = client_post(c, "/v1/instances", body, &x, err);
	if (rc == CCM_OK && x.status != 200) {
		json_t *e;
		resp = json_loadb(x.body ? x.body : "", x.len, 0, NULL);
		e = json_object_get(resp, "error");
		rc = ccm_fail(
		        err, CCM_E_IO, "agent refused the instance report (HTTP %d): %s", x.status,
		        json_string_value(json_object_get(e, "message")) ?: "no reason given");
	}
	ccm_attest_client_free(c);
	free(x.body);
	json_decref(resp);
	json_decref(req);
	free(body);
	return rc;
}

ccm_code ccm_attest_keygen(const char *type, EVP_PKEY **out, struct ccm_error *err)
{
	if (type == NULL || strcmp(type, "ec-p256") == 0 || strcmp(type, "EC") == 0)
		*out = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	else if (strcmp(type, "rsa-2048") == 0)
		*out = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	else if (strcmp(type, "rsa-3072") == 0)
		*out = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)3072);
	else
		return ccm_fail(err, CCM_E_INPUT,
		                "key type '%.40s': expected ec-p256, rsa-2048 or rsa-3072", type);
	if (*out == NULL)
		return ccm_fail(err, CCM_E_CRYPTO, "key generation (%s) failed", type);
	return CCM_OK;
}

ccm_code ccm_attest_csr(EVP_PKEY *key, const char *cn, char **pem, struct ccm_error *err)
{
	X509_REQ *req = X509_REQ_new();
	BIO *bio = BIO_new(BIO_s_mem());
	ccm_code rc = CCM_OK;
	char *data = NULL;
	long n;

	if (req == NULL || bio == NULL || !X509_REQ_set_pubkey(req, key) ||
	    !X509_NAME_add_entry_by_txt(X509_REQ_get_subject_name(req), "CN", MBSTRING_UTF8,
	                                (const unsigned char *)(cn ? cn : "enclave"), -1, -1, 0) ||
	    !X509_REQ_sign(req, key, EVP_sha256()) || !PEM_write_bio_X509_REQ(bio, req)) {
		rc = ccm_fail(err, CCM_E_CRYPTO, "CSR: cannot build or sign");
		goto fail;
	}
	n = BIO_get_mem_data(bio, &data);
	*pem = strndup(data, (size_t)n);
	if (*pem == NULL)
		rc = ccm_fail(err, CCM_E_NOMEM, "CSR: out of memory");
fail:
	BIO_free(bio);
	X509_REQ_free(req);
	return rc;
}
