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

struct exchange {
	int status;
	char *body;
	size_t len;
	bool over;
	struct event_base *base;
};

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

/* POST body to url+path; *x filled with status and body. */
static ccm_code http_post(const char *url, const char *path, const char *body, int timeout_s,
                          struct exchange *x, struct ccm_error *err)
{
	struct evhttp_uri *uri = evhttp_uri_parse(url);
	struct evhttp_connection *conn = NULL;
	struct evhttp_request *req;
	const char *host = uri ? evhttp_uri_get_host(uri) : NULL;
	int port = uri ? evhttp_uri_get_port(uri) : -1;
	ccm_code rc = CCM_OK;

	memset(x, 0, sizeof(*x));
	if (host == NULL || uri == NULL || evhttp_uri_get_scheme(uri) == NULL ||
	    strcmp(evhttp_uri_get_scheme(uri), "http") != 0) {
		rc = ccm_fail(err, CCM_E_INPUT, "agent URL '%.100s': expected http://HOST:PORT",
		              url);
		goto fail;
	}
	x->base = event_base_new();
	conn = x->base ? evhttp_connection_base_new(x->base, NULL, host,
	                                            (uint16_t)(port > 0 ? port : 9092))
	               : NULL;
	req = conn ? evhttp_request_new(on_done, x) : NULL;
	if (req == NULL) {
		rc = ccm_fail(err, CCM_E_NOMEM, "agent: cannot set up the request");
		goto fail;
	}
	evhttp_connection_set_timeout(conn, timeout_s);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Host", host);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
	                  "application/json");
	evbuffer_add(evhttp_request_get_output_buffer(req), body, strlen(body));
	if (evhttp_make_request(conn, req, EVHTTP_REQ_POST, path) != 0) {
		rc = ccm_fail(err, CCM_E_IO, "agent %s: cannot send the request", url);
		goto fail;
	}
	event_base_dispatch(x->base);
	if (x->status <= 0)
		rc = ccm_fail(err, CCM_E_IO, "agent %s: no answer (is ccm-agent running there?)",
		              url);
	else if (x->over)
		rc = ccm_fail(err, CCM_E_LIMIT, "agent %s: answer larger than %d bytes", url,
		              CLIENT_MAX_RESPONSE);
fail:
	if (conn != NULL)
		evhttp_connection_free(conn);
	if (x->base != NULL)
		event_base_free(x->base);
	x->base = NULL;
	evhttp_uri_free(uri);
	return rc;
}

static ccm_code refusal(json_t *resp, int status, struct ccm_error *err)
{
	json_t *e = json_object_get(resp, "error");
	const char *code = json_string_value(json_object_get(e, "code"));
	const char *msg = json_string_value(json_object_get(e, "message"));

	return ccm_fail(err, status == 403 ? CCM_E_VERIFY : CCM_E_IO,
	                "certificate refused (HTTP %d): %s: %s", status, code ? code : "error",
	                msg ? msg : "no reason given");
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
	char *b64 = util_b64_encode(report, CCM_REPORT_BODY_SIZE), *body = NULL;
	json_t *req = json_pack("{s:s,s:s}", "report", b64 ? b64 : "", "csr", csr_pem);
	json_t *names = json_array(), *resp = NULL;
	struct exchange x;
	ccm_code rc;

	for (size_t i = 0; i < n_dns; i++)
		json_array_append_new(names, json_string(dns_names[i]));
	json_object_set_new(req, "dns_names", names);
	body = json_dumps(req, JSON_COMPACT);
	rc = body ? http_post(agent_url, "/v1/attest", body, 60, &x, err)
	          : ccm_fail(err, CCM_E_NOMEM, "out of memory");
	if (rc == CCM_OK) {
		resp = json_loadb(x.body ? x.body : "", x.len, 0, NULL);
		if (x.status != 200 && x.status != 201)
			rc = refusal(resp, x.status, err);
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
	json_decref(req);
	free(body);
	free(b64);
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
	json_t *resp = NULL;
	struct exchange x = {0};
	ccm_code rc = body ? http_post(agent_url, "/v1/instances", body, timeout_s, &x, err)
	                   : ccm_fail(err, CCM_E_NOMEM, "out of memory");

	if (rc == CCM_OK && x.status != 200) {
		json_t *e;
		resp = json_loadb(x.body ? x.body : "", x.len, 0, NULL);
		e = json_object_get(resp, "error");
		rc = ccm_fail(
		        err, CCM_E_IO, "agent refused the instance report (HTTP %d): %s", x.status,
		        json_string_value(json_object_get(e, "message")) ?: "no reason given");
	}
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
