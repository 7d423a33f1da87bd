/*
 * DESIGN: the local API that runtimes on this node call (plain HTTP on
 * 9092, the seed's NODE_AGENT_BASE_URL). It is reachable by anything on the
 * node, so it trusts nothing it is sent: bodies are capped by evhttp before
 * they are read, parsed with the shared JSON gates (lib/api), and the report
 * must bind the CSR's key before the agent vouches for it with its own
 * signature. Requests that need the manager run on other threads (attest
 * requests on the batchers of attest.c, the rest on workers); the event
 * loop only parses and replies. Besides attest: GET /v1/apps/{id}/config
 * (forwarded to the manager, never cached) and /v1/instances, the runtimes'
 * own reports of their app instances (instance.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/keyvalq_struct.h>

#include "agent.h"
#include "api/apijson.h"

/* A JSON body already serialized. */
static void reply_text(struct evhttp_request *req, int status, const char *s, size_t len)
{
	struct evbuffer *buf = evbuffer_new();

	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
	                  "application/json");
	/* evhttp would send it: a reply to HEAD has no body. */
	if (buf != NULL && s != NULL && evhttp_request_get_command(req) != EVHTTP_REQ_HEAD)
		evbuffer_add(buf, s, len);
	evhttp_send_reply(req, status, status < 300 ? "OK" : "Error", buf);
	evbuffer_free(buf);
}

static void reply_json(struct evhttp_request *req, int status, json_t *obj)
{
	char *s = json_dumps(obj, JSON_COMPACT);

	reply_text(req, status, s, s ? strlen(s) : 0);
	free(s);
}

json_t *local_error(const char *code, const char *msg)
{
	return json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", msg);
}

static void reply_error(struct evhttp_request *req, int status, const char *code, const char *msg)
{
	json_t *o = local_error(code, msg);

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

void local_job_fail(struct agent_job *j, int status, const char *code, const char *msg)
{
	j->status = status;
	j->reply = local_error(code, msg);
}

static void jobs_complete(evutil_socket_t fd, short what, void *arg)
{
	struct agent_job *j = arg, *next;

	(void)fd;
	(void)what;
	for (; j != NULL; j = next) {
		next = j->next;
		if (j->reply_text != NULL)
			reply_text(j->req, j->status, j->reply_text, j->reply_len);
		else
			reply_json(j->req, j->status, j->reply);
		json_decref(j->reply);
		free(j->reply_text);
		json_decref(j->body);
		free(j->item);
		free(j);
	}
}

/* One wake-up of the loop for a whole batch. */
void local_done(struct agent *a, struct agent_job *list)
{
	struct timeval now = {0, 0};

	if (list != NULL)
		event_base_once(a->base, -1, EV_TIMEOUT, jobs_complete, list, &now);
}

static void *worker_main(void *arg)
{
	struct agent *a = arg;
	struct mgr_conn *c = mgr_conn_new(a);

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
		j->next = NULL;
		if (c == NULL)
			local_job_fail(j, 500, "internal", "no manager connection");
		else
			j->run(j, c);
		local_done(a, j);
	}
	mgr_conn_free(c);
	return NULL;
}

static json_t *read_body(struct evhttp_request *req, const struct apijson_field *fields,
                         struct apijson_result *r)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	size_t len = evbuffer_get_length(in);
	struct apijson_limits lim;
	json_t *obj = NULL;

	apijson_limits_default(&lim);
	apijson_limits_fit(&lim, fields); /* the CSR's 16 KiB */
	if (!apijson_parse((const char *)evbuffer_pullup(in, -1), len, &lim, &obj, r))
		return NULL;
	if (!apijson_check(obj, fields, r)) {
		json_decref(obj);
		return NULL;
	}
	return obj;
}

/* A job for a request; body (may be NULL) is taken over. NULL: the
 * request was answered. */
static struct agent_job *job_new(struct evhttp_request *req, struct agent *a, json_t *body)
{
	struct agent_job *j = calloc(1, sizeof(*j));

	if (j == NULL) {
		json_decref(body);
		reply_error(req, 500, "internal", "out of memory");
		return NULL;
	}
	j->a = a;
	j->req = req;
	j->body = body;
	return j;
}

/* Hand a request to the workers. */
static void enqueue(struct evhttp_request *req, struct agent *a,
                    void (*run)(struct agent_job *, struct mgr_conn *), int64_t app_id)
{
	struct agent_job *j = job_new(req, a, NULL);

	if (j == NULL)
		return;
	j->run = run;
	j->app_id = app_id;
	pthread_mutex_lock(&a->lock);
	if (a->queue_tail != NULL)
		a->queue_tail->next = j;
	else
		a->queue_head = j;
	a->queue_tail = j;
	pthread_cond_signal(&a->cond);
	pthread_mutex_unlock(&a->lock);
}

static void on_attest(struct evhttp_request *req, struct agent *a)
{
	struct apijson_result r;
	json_t *body = read_body(req, attest_fields, &r);
	struct agent_job *j;

	if (body == NULL)
		reply_error(req, 400, apijson_status_code(r.status), r.msg);
	else if ((j = job_new(req, a, body)) != NULL)
		attest_enqueue(a, j);
}

/* Worker side of GET /v1/apps/{id}/config: the manager's answer as is
 * (another account's app is its 404). Nothing is cached. */
static void config_run(struct agent_job *j, struct mgr_conn *c)
{
	struct ccm_error err;
	json_t *resp = NULL;
	long status = 0;
	char path[96];

	if (!j->a->enrolled) {
		local_job_fail(j, 503, "not_enrolled",
		               "this node is not enrolled with a manager yet");
		return;
	}
	snprintf(path, sizeof(path), "/v1/node/apps/%lld/config", (long long)j->app_id);
	if (mgr_call(c, "GET", path, NULL, true, &status, &resp, &err) != CCM_OK) {
		local_job_fail(j, 502, "manager_unreachable", err.msg);
		return;
	}
	j->status = (int)status;
	j->reply = resp ? resp : local_error("manager_error", "empty answer from the manager");
}

/* "/v1/apps/{id}/config" -> id; 0 when the id is not a positive decimal
 * (at most 2^53, no leading zero), -1 when the path is another one. */
static int64_t app_config_id(const char *path)
{
	const char *p;
	size_t n;
	int64_t v = 0;

	/* The prefix first: a shorter path must not be read past its end. */
	if (strncmp(path, "/v1/apps/", strlen("/v1/apps/")) != 0)
		return -1;
	p = path + strlen("/v1/apps/");
	n = strcspn(p, "/");
	if (strcmp(p + n, "/config") != 0)
		return -1;
	if (n == 0 || n > 16 || p[0] == '0')
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return 0;
		v = v * 10 + (p[i] - '0');
	}
	return v <= ((int64_t)1 << 53) ? v : 0;
}

static void on_app_config(struct evhttp_request *req, struct agent *a, int64_t id)
{
	if (evhttp_request_get_command(req) != EVHTTP_REQ_GET)
		reply_error(req, 405, "method_not_allowed", "use GET");
	else if (evbuffer_get_length(evhttp_request_get_input_buffer(req)) != 0)
		reply_error(req, 400, "invalid_json", "GET takes no body");
	else if (id == 0)
		reply_error(req, 400, "invalid_id", "app id: expected a positive decimal integer");
	else
		enqueue(req, a, config_run, id);
}

static const struct apijson_field instance_fields[] = {
        {"id", APIJSON_STRING, true, 32, 32, "instance id from the certificate grant"},
        {"token", APIJSON_STRING, true, 64, 64, "instance token from the certificate grant"},
        {"app_id", APIJSON_INT, true, 1, (int64_t)1 << 53, "app_id of the grant"},
        {"build_id", APIJSON_INT, true, 1, (int64_t)1 << 53, "build_id of the grant"},
        {"state", APIJSON_STRING, true, 7, 7, "RUNNING (also the keepalive) or STOPPED"},
        {"pid", APIJSON_INT, false, 0, 1 << 30, "the app's process id, as the runtime sees it"},
        {NULL, 0, false, 0, 0, NULL},
};

/* Answered on the loop: no manager call, the heartbeat carries it. */
static void on_instances(struct evhttp_request *req, struct agent *a)
{
	struct apijson_result r;
	json_t *body, *reply = NULL;
	int status;

	if (evhttp_request_get_command(req) != EVHTTP_REQ_GET &&
	    evhttp_request_get_command(req) != EVHTTP_REQ_POST) {
		reply_error(req, 405, "method_not_allowed", "use GET or POST");
		return;
	}
	if (evhttp_request_get_command(req) == EVHTTP_REQ_GET) {
		reply = instance_list(a);
		reply_json(req, 200, reply);
		json_decref(reply);
		return;
	}
	if ((body = read_body(req, instance_fields, &r)) == NULL) {
		reply_error(req, 400, apijson_status_code(r.status), r.msg);
		return;
	}
	status = instance_report(a, body, &reply);
	reply_json(req, status, reply);
	json_decref(reply);
	json_decref(body);
}

static void on_request(struct evhttp_request *req, void *arg)
{
	struct agent *a = arg;
	const char *path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));
	enum evhttp_cmd_type m = evhttp_request_get_command(req);
	int64_t id;

	/* evhttp's own cap is twice this, so a body in between gets JSON. */
	if (evbuffer_get_length(evhttp_request_get_input_buffer(req)) > AGENT_MAX_BODY) {
		char msg[64];
		snprintf(msg, sizeof(msg), "request body over the %d-byte limit", AGENT_MAX_BODY);
		reply_error(req, 413, "too_large", msg);
		return;
	}
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
	if (path != NULL && strcmp(path, "/v1/instances") == 0) {
		on_instances(req, a);
		return;
	}
	if (path != NULL && (id = app_config_id(path)) >= 0) {
		on_app_config(req, a, id);
		return;
	}
	reply_error(req, 404, "not_found", "no such path (see docs/internals/agent.md)");
}

ccm_code local_start(struct agent *a, struct ccm_error *err)
{
	a->http = evhttp_new(a->base);
	if (a->http == NULL)
		return ccm_fail(err, CCM_E_NOMEM, "local API: cannot create the HTTP server");
	evhttp_set_max_body_size(a->http, 2 * AGENT_MAX_BODY);
	evhttp_set_max_headers_size(a->http, 16 * 1024);
	evhttp_set_timeout(a->http, 30);
	/* All that evhttp parses reach on_request: a wrong one gets JSON 405,
	 * not evhttp's HTML 501. */
	evhttp_set_allowed_methods(a->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_PUT |
	                                            EVHTTP_REQ_DELETE | EVHTTP_REQ_PATCH |
	                                            EVHTTP_REQ_OPTIONS | EVHTTP_REQ_TRACE |
	                                            EVHTTP_REQ_HEAD | EVHTTP_REQ_CONNECT);
	evhttp_set_gencb(a->http, on_request, a);
	if (evhttp_bind_socket(a->http, a->cfg.listen_addr, a->cfg.port) != 0)
		return ccm_fail(err, CCM_E_IO, "local API: cannot listen on %s:%u",
		                a->cfg.listen_addr, a->cfg.port);
	for (int i = 0; i < AGENT_WORKERS; i++)
		pthread_create(&a->workers[i], NULL, worker_main, a);
	return attest_start(a, err);
}

void local_stop(struct agent *a)
{
	pthread_mutex_lock(&a->lock);
	a->stopping = 1;
	pthread_cond_broadcast(&a->cond);
	pthread_mutex_unlock(&a->lock);
	for (int i = 0; i < AGENT_WORKERS; i++)
		pthread_join(a->workers[i], NULL);
	attest_stop(a);
	if (a->http != NULL)
		evhttp_free(a->http);
}
