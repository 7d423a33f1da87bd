/*
 * DESIGN: `ccm bench issue` measures attest-and-issue round trips exactly as
 * runtimes make them: a report and CSR POSTed to the node agent, which
 * wraps the report as evidence and asks ccmd to verify it, apply the policy
 * and sign a certificate. N clients run for a fixed time; latencies give
 * p50/p99. The baseline, measured in the same run (on one core, before
 * and after the load, averaged), is the crypto the manager cannot avoid
 * per issue: two ECDSA P-256 verifications (evidence, CSR) and one
 * signature (the certificate).
 *
 * The load generator shares the CPUs with the agent and the manager it is
 * meant to measure, so every cycle it spends lowers the rate it reports.
 * It therefore costs as little as it can: N concurrent clients are N
 * keep-alive HTTP/1.1 connections to the agent, each with at most one
 * request in flight (64 clients = 64 requests in flight on 64
 * connections), driven by a few threads (--threads, default 1) that each
 * run one libevent event base, not N threads whose switching would cost
 * more kernel time than the requests. Each client has its own key, CSR
 * and report, set up before the clock starts, and its request body
 * encoded once; an answer's callback records the latency and sends the
 * client's next request at once, until the deadline. A request in flight
 * at the deadline is waited for and counted.
 *
 * What is checked of an answer: HTTP status 200 or 201, and a body that
 * contains "certificate":"-----BEGIN CERTIFICATE----- (an evbuffer search,
 * no copy), of at most 256 KB, within 60 s. Until one has passed, a
 * client's answers are also parsed with jansson and must be a JSON object
 * whose "certificate" is a string starting with -----BEGIN CERTIFICATE-----;
 * after that the search only, as parsing each ~3 KB answer would cost
 * ~40 us of the load generator's CPU per issue. Anything else is an error
 * (the first one's message kept, a refusal's code and message as the agent
 * gave them). An agent may close a kept-alive connection at any time (its
 * idle timeout, a restart). libevent reconnects by itself if it saw the
 * close first; if the next request found the connection closed without
 * an answer (EVREQ_HTTP_EOF), that request is sent once more on a new
 * connection, as lib/attest/client.c does, its latency counted from the
 * first send, and is an error if that fails too.
 */
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <openssl/evp.h>

#include "ccm/attest.h"
#include "cli.h"
#include "util/util.h"

#define BI_MAX_CLIENTS 256
#define BI_MAX_THREADS 16
#define BI_MAX_SAMPLES 1000000
#define BI_MAX_RESPONSE (256 * 1024)
#define BI_TIMEOUT_S 60
#define BI_CERT_MARK "\"certificate\":\"-----BEGIN CERTIFICATE-----"
#define BI_PEM_BEGIN "-----BEGIN CERTIFICATE-----"

struct bi_shared {
	const char *agent;
	char host[256];
	uint16_t port;
	const struct ccm_sgx_sigstruct *sig;
	double deadline;
	pthread_mutex_t lock;
	double *lat; /* milliseconds */
	size_t n, errors;
	char first_error[CCM_ERRMSG_MAX];
};

struct bi_worker {
	struct bi_shared *sh;
	struct event_base *base;
	struct bi_client *clients; /* all of them; this worker runs every nth */
	size_t n_clients, nth, step;
	size_t running; /* clients still making requests */
	pthread_t th;
	bool started;
};

struct bi_client {
	struct bi_worker *w;
	struct evhttp_connection *conn;
	struct event *next; /* sends the next request from the event loop */
	char *body;         /* the request, encoded once */
	size_t body_len;
	double t0;     /* when the request in flight was first sent */
	bool parsed;   /* an answer was parsed in full (the first one) */
	bool answered; /* conn carried an answer, so the agent may have closed it since */
	bool resend;   /* the request in flight is to be sent once more */
	bool resent;   /* it already was */
	bool eof;      /* it failed with the connection closed (EVREQ_HTTP_EOF) */
	bool timeout;
	bool too_long;
};

static double bi_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A request's outcome: its latency, or an error (the first one kept). */
static void bi_record(struct bi_shared *sh, ccm_code rc, double ms, const struct ccm_error *err)
{
	pthread_mutex_lock(&sh->lock);
	if (rc != CCM_OK && sh->errors++ == 0)
		snprintf(sh->first_error, sizeof(sh->first_error), "%s", err->msg);
	else if (rc == CCM_OK && sh->n < BI_MAX_SAMPLES)
		sh->lat[sh->n++] = ms;
	pthread_mutex_unlock(&sh->lock);
}

/* The agent's host and port from its URL, as lib/attest/client.c takes it. */
static int bi_url(struct bi_shared *sh)
{
	struct evhttp_uri *uri = evhttp_uri_parse(sh->agent);
	const char *host = uri ? evhttp_uri_get_host(uri) : NULL;
	const char *scheme = uri ? evhttp_uri_get_scheme(uri) : NULL;
	int port = uri ? evhttp_uri_get_port(uri) : -1, rc = 0;

	if (host == NULL || host[0] == '\0' || strlen(host) >= sizeof(sh->host) || scheme == NULL ||
	    strcmp(scheme, "http") != 0 || port > 65535) {
		rc = cli_failf(CCM_E_INPUT, "agent URL '%.100s': expected http://HOST:PORT",
		               sh->agent);
	} else {
		snprintf(sh->host, sizeof(sh->host), "%s", host);
		sh->port = (uint16_t)(port > 0 ? port : 9092);
	}
	if (uri != NULL) /* evhttp_uri_free(NULL) crashes */
		evhttp_uri_free(uri);
	return rc;
}

/* A client's identity and request, as a runtime makes them: its own key,
 * the report whose data binds that key, and a CSR. */
static ccm_code bi_identity(struct bi_client *c, struct ccm_error *err)
{
	const struct ccm_sgx_sigstruct *sig = c->w->sh->sig;
	struct ccm_quote_report r;
	uint8_t rd[64], raw[CCM_REPORT_BODY_SIZE];
	EVP_PKEY *key = NULL;
	char *csr = NULL;
	ccm_code rc;

	if ((rc = ccm_attest_keygen("ec-p256", &key, err)) != CCM_OK ||
	    (rc = ccm_report_data_for_key(key, NULL, rd, err)) != CCM_OK ||
	    (rc = ccm_report_from_sigstruct(sig, sig->f.enclavehash, rd, &r, err)) != CCM_OK ||
	    (rc = ccm_attest_csr(key, "bench", &csr, err)) != CCM_OK)
		goto out;
	ccm_quote_report_encode(&r, raw);
	if ((c->body = ccm_attest_request_body(raw, csr, NULL, 0)) == NULL)
		rc = ccm_fail(err, CCM_E_NOMEM, "out of memory");
	else
		c->body_len = strlen(c->body);
out:
	free(csr);
	EVP_PKEY_free(key);
	return rc;
}

static void bi_on_error(enum evhttp_request_error error, void *arg)
{
	struct bi_client *c = arg;

	c->eof = error == EVREQ_HTTP_EOF;
	c->timeout = error == EVREQ_HTTP_TIMEOUT;
	c->too_long = error == EVREQ_HTTP_DATA_TOO_LONG;
}

static void bi_on_done(struct evhttp_request *req, void *arg);

/* POST the client's request on its connection (libevent connects it if it
 * is not). */
static ccm_code bi_post(struct bi_client *c, struct ccm_error *err)
{
	struct evhttp_request *req = evhttp_request_new(bi_on_done, c);
	struct evkeyvalq *h;

	c->eof = c->timeout = c->too_long = false;
	if (req == NULL)
		return ccm_fail(err, CCM_E_NOMEM, "agent: cannot set up the request");
	evhttp_request_set_error_cb(req, bi_on_error);
	h = evhttp_request_get_output_headers(req);
	evhttp_add_header(h, "Host", c->w->sh->host);
	evhttp_add_header(h, "Content-Type", "application/json");
	/* The body lives until the end of the run: no copy. */
	evbuffer_add_reference(evhttp_request_get_output_buffer(req), c->body, c->body_len, NULL,
	                       NULL);
	/* On failure libevent has freed req. */
	if (evhttp_make_request(c->conn, req, EVHTTP_REQ_POST, "/v1/attest") != 0)
		return ccm_fail(err, CCM_E_IO, "agent %s: cannot send the request",
		                c->w->sh->agent);
	return CCM_OK;
}

/* The full check of a client's first answer: a JSON object whose
 * "certificate" is a PEM certificate. */
static bool bi_parse(struct evbuffer *in)
{
	size_t n = evbuffer_get_length(in);
	const char *p = (const char *)evbuffer_pullup(in, -1);
	json_t *resp = p ? json_loadb(p, n, 0, NULL) : NULL;
	const char *cert = json_string_value(json_object_get(resp, "certificate"));
	bool ok = cert != NULL && strncmp(cert, BI_PEM_BEGIN, strlen(BI_PEM_BEGIN)) == 0;

	json_decref(resp);
	return ok;
}

/* The outcome of an answer (req NULL or status 0: none), as the DESIGN
 * comment says. */
static ccm_code bi_check(struct bi_client *c, struct evhttp_request *req, struct ccm_error *err)
{
	const char *agent = c->w->sh->agent;
	int status = req ? evhttp_request_get_response_code(req) : 0;
	struct evbuffer *in;

	if (status <= 0 && c->too_long)
		return ccm_fail(err, CCM_E_LIMIT, "agent %s: answer larger than %d bytes", agent,
		                BI_MAX_RESPONSE);
	if (status <= 0)
		return ccm_fail(err, CCM_E_IO, "agent %s: %s", agent,
		                c->timeout ? "no answer in time"
		                           : "no answer (is ccm-agent running there?)");
	in = evhttp_request_get_input_buffer(req);
	if (status != 200 && status != 201)
		return ccm_attest_refusal((const char *)evbuffer_pullup(in, -1),
		                          evbuffer_get_length(in), status, err);
	if (evbuffer_search(in, BI_CERT_MARK, strlen(BI_CERT_MARK), NULL).pos < 0 ||
	    (!c->parsed && !bi_parse(in)))
		return ccm_fail(err, CCM_E_INPUT, "agent: the answer holds no certificate");
	c->parsed = true;
	return CCM_OK;
}

/* An answer, or none: record it, or send the request once more on a new
 * connection if the agent had closed the one it was sent on. The next
 * request goes from the event loop, not from here: a connection refused
 * at once would call back into this function from evhttp_make_request. */
static void bi_on_done(struct evhttp_request *req, void *arg)
{
	struct bi_client *c = arg;
	bool stale_possible = c->answered;
	struct ccm_error err;
	ccm_code rc = bi_check(c, req, &err);
	int status = req ? evhttp_request_get_response_code(req) : 0;

	c->answered = status > 0;
	if (status <= 0 && c->eof && stale_possible && !c->resent) {
		c->resend = true;
	} else {
		bi_record(c->w->sh, rc, (bi_now() - c->t0) * 1000.0, &err);
	}
	event_active(c->next, EV_TIMEOUT, 1);
}

/* Send the client's next request (or the current one again), or stop the
 * client at the deadline; the worker stops with its last client. */
static void bi_next(evutil_socket_t fd, short what, void *arg)
{
	struct bi_client *c = arg;
	struct bi_worker *w = c->w;
	struct ccm_error err;
	double now = bi_now();

	(void)fd;
	(void)what;
	if (c->resend) {
		c->resend = false;
		c->resent = true;
	} else if (now < w->sh->deadline) {
		c->t0 = now;
		c->resent = false;
	} else {
		if (--w->running == 0)
			event_base_loopbreak(w->base);
		return;
	}
	if (bi_post(c, &err) != CCM_OK) {
		bi_record(w->sh, err.code, 0, &err);
		if (--w->running == 0)
			event_base_loopbreak(w->base);
	}
}

/* One worker thread: its clients' first requests, then its event loop. */
static void *bi_worker_run(void *arg)
{
	struct bi_worker *w = arg;

	for (size_t i = w->nth; i < w->n_clients; i += w->step) {
		struct bi_client *c = &w->clients[i];
		if (c->next != NULL) {
			w->running++;
			event_active(c->next, EV_TIMEOUT, 1);
		}
	}
	if (w->running > 0)
		event_base_dispatch(w->base);
	return NULL;
}

/* A client's connection and event on its worker's base; a client whose
 * setup fails is an error and makes no request. */
static void bi_client_open(struct bi_client *c, struct bi_worker *w)
{
	struct bi_shared *sh = w->sh;
	struct ccm_error err;

	c->w = w;
	if (bi_identity(c, &err) != CCM_OK) {
		bi_record(sh, err.code, 0, &err);
		return;
	}
	if (w->base == NULL ||
	    (c->conn = evhttp_connection_base_new(w->base, NULL, sh->host, sh->port)) == NULL ||
	    (c->next = event_new(w->base, -1, 0, bi_next, c)) == NULL) {
		bi_record(sh, ccm_fail(&err, CCM_E_NOMEM, "agent: cannot set up the request"), 0,
		          &err);
		return;
	}
	evhttp_connection_set_timeout(c->conn, BI_TIMEOUT_S);
	evhttp_connection_set_max_body_size(c->conn, BI_MAX_RESPONSE);
}

static void bi_client_close(struct bi_client *c)
{
	if (c->next != NULL)
		event_free(c->next);
	if (c->conn != NULL)
		evhttp_connection_free(c->conn);
	free(c->body);
}

/* Operations per second of ECDSA P-256 sign (verify = false) or verify. */
static double bi_ecdsa_rate(bool verify)
{
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	unsigned char msg[64] = {1}, sig[80];
	size_t siglen = sizeof(sig);
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	double t0, n = 0;

	EVP_DigestSignInit_ex(md, NULL, "SHA256", NULL, NULL, k, NULL);
	EVP_DigestSign(md, sig, &siglen, msg, sizeof(msg));
	t0 = bi_now();
	while (bi_now() - t0 < 0.5) {
		for (int i = 0; i < 50; i++, n++) {
			size_t sl = sizeof(sig);
			EVP_MD_CTX_reset(md);
			if (verify) {
				EVP_DigestVerifyInit_ex(md, NULL, "SHA256", NULL, NULL, k, NULL);
				EVP_DigestVerify(md, sig, siglen, msg, sizeof(msg));
			} else {
				EVP_DigestSignInit_ex(md, NULL, "SHA256", NULL, NULL, k, NULL);
				EVP_DigestSign(md, sig, &sl, msg, sizeof(msg));
			}
		}
	}
	EVP_MD_CTX_free(md);
	EVP_PKEY_free(k);
	return n / (bi_now() - t0);
}

static int bi_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double bi_pct(const double *v, size_t n, double p)
{
	size_t i = (size_t)(p * (double)(n - 1));

	return n ? v[i] : 0.0;
}

static int bi_load(const char *path, struct ccm_sgx_sigstruct *s)
{
	struct ccm_error err;
	uint8_t *buf = NULL;
	size_t len = 0;
	ccm_code rc = util_read_file(path, 4096, &buf, &len, &err);

	if (rc == CCM_OK)
		rc = ccm_sgx_sigstruct_parse(buf, len, s, &err);
	free(buf);
	return rc == CCM_OK ? 0 : cli_fail(&err);
}

/* The crypto rates before[0..1] (verify, sign: measured before the load)
 * averaged with the same rates after it: this VM's speed drifts by a
 * third within minutes, and one side alone swings the ratio with it. */
static void bi_report(const struct bi_shared *sh, double secs, int clients, bool json,
                      const double before[2])
{
	double verify = (before[0] + bi_ecdsa_rate(true)) / 2;
	double sign = (before[1] + bi_ecdsa_rate(false)) / 2;
	double limit = 1.0 / (2.0 / verify + 1.0 / sign), rate = (double)sh->n / secs;
	double p50 = bi_pct(sh->lat, sh->n, 0.50), p99 = bi_pct(sh->lat, sh->n, 0.99);

	if (json) {
		cli_json_print(json_pack("{s:f,s:f,s:f,s:f,s:f,s:I,s:i,s:f,s:f}", "issues_per_s",
		                         rate, "p50_ms", p50, "p99_ms", p99, "limit_per_s", limit,
		                         "ratio", rate / limit, "errors", (json_int_t)sh->errors,
		                         "clients", clients, "ecdsa_verify_per_s", verify,
		                         "ecdsa_sign_per_s", sign));
		return;
	}
	printf("clients           %d for %.1f s\n", clients, secs);
	printf("issued            %zu (%.1f/s), errors %zu\n", sh->n, rate, sh->errors);
	printf("latency           p50 %.2f ms, p99 %.2f ms\n", p50, p99);
	printf("ECDSA P-256       %.0f verify/s, %.0f sign/s (same run: mean of before and "
	       "after)\n",
	       verify, sign);
	printf("limit             %.0f/s (2 verifications + 1 signature per issue)\n", limit);
	printf("ratio             %.3f (target >= 0.5, p99 <= 20 ms)\n", rate / limit);
	if (sh->errors)
		printf("first error       %s\n", sh->first_error);
}

/* A worker's event base. Only its thread uses it: no locks. An evhttp
 * request turns its socket's write and read interest on and off, an
 * epoll_ctl each without the changelist, which coalesces the changes of a
 * loop iteration into at most one per socket. */
static struct event_base *bi_base(void)
{
	struct event_config *cfg = event_config_new();
	struct event_base *base = NULL;

	if (cfg != NULL && event_config_set_flag(cfg, EVENT_BASE_FLAG_NOLOCK) == 0 &&
	    event_config_set_flag(cfg, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST) == 0)
		base = event_base_new_with_config(cfg);
	if (cfg != NULL)
		event_config_free(cfg);
	return base;
}

/* A worker whose thread did not start: each client it was to run is an
 * error (one whose setup failed already is). */
static void bi_worker_fail(struct bi_worker *w)
{
	struct ccm_error err;

	for (size_t i = w->nth; i < w->n_clients; i += w->step) {
		if (w->clients[i].next != NULL)
			bi_record(w->sh, ccm_fail(&err, CCM_E_NOMEM, "cannot start a thread"), 0,
			          &err);
	}
}

/* Set up the workers and their clients, run them until the deadline and
 * the last answer, free them. Returns the seconds the requests ran, or -1
 * out of memory. */
static double bi_run(struct bi_shared *sh, size_t n_clients, size_t n_threads, uint64_t secs)
{
	struct bi_worker w[BI_MAX_THREADS] = {0};
	struct bi_client *cl = calloc(n_clients, sizeof(*cl));
	double t0;

	for (size_t i = 0; i < n_threads; i++) {
		w[i] = (struct bi_worker){.sh = sh,
		                          .clients = cl,
		                          .n_clients = n_clients,
		                          .nth = i,
		                          .step = n_threads,
		                          .base = bi_base()};
	}
	if (cl == NULL)
		n_clients = 0;
	for (size_t i = 0; i < n_clients; i++)
		bi_client_open(&cl[i], &w[i % n_threads]);
	t0 = bi_now();
	sh->deadline = t0 + (double)secs;
	for (size_t i = 0; i < n_threads && cl != NULL; i++) {
		w[i].started = w[i].base != NULL &&
		               pthread_create(&w[i].th, NULL, bi_worker_run, &w[i]) == 0;
		if (!w[i].started)
			bi_worker_fail(&w[i]);
	}
	for (size_t i = 0; i < n_threads; i++) {
		if (w[i].started)
			pthread_join(w[i].th, NULL);
	}
	t0 = bi_now() - t0;
	for (size_t i = 0; i < n_clients && cl != NULL; i++)
		bi_client_close(&cl[i]);
	for (size_t i = 0; i < n_threads; i++) {
		if (w[i].base != NULL)
			event_base_free(w[i].base);
	}
	if (cl == NULL)
		return -1.0;
	free(cl);
	return t0;
}

static int cmd_bench_issue(int argc, char **argv)
{
	static const struct option opts[] = {{"agent", required_argument, NULL, 'a'},
	                                     {"sigstruct", required_argument, NULL, 's'},
	                                     {"clients", required_argument, NULL, 'c'},
	                                     {"threads", required_argument, NULL, 'T'},
	                                     {"seconds", required_argument, NULL, 't'},
	                                     {"json", no_argument, NULL, 'j'},
	                                     {0}};
	struct bi_shared sh = {0};
	struct ccm_sgx_sigstruct sig;
	uint64_t clients = 64, threads = 1, secs = 10;
	const char *sigpath = NULL;
	int c, json = 0, rc;
	double ran, before[2];

	optind = 0;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'a')
			sh.agent = optarg;
		else if (c == 's')
			sigpath = optarg;
		else if (c == 'c' && cli_u64("--clients", optarg, BI_MAX_CLIENTS, &clients) != 0)
			return 2;
		else if (c == 'T' && cli_u64("--threads", optarg, BI_MAX_THREADS, &threads) != 0)
			return 2;
		else if (c == 't' && cli_u64("--seconds", optarg, 3600, &secs) != 0)
			return 2;
		else if (c == 'j')
			json = 1;
		else if (c == '?')
			return cli_usage("bench issue", "unknown option");
	}
	if (sh.agent == NULL || sigpath == NULL)
		return cli_usage("bench issue", "--agent URL and --sigstruct FILE are required");
	if (clients == 0 || threads == 0 || secs == 0)
		return cli_usage("bench issue", "--clients, --threads and --seconds start at 1");
	if ((rc = bi_url(&sh)) != 0 || (rc = bi_load(sigpath, &sig)) != 0)
		return rc;
	sh.sig = &sig;
	sh.lat = malloc(BI_MAX_SAMPLES * sizeof(double));
	if (sh.lat == NULL)
		return cli_failf(CCM_E_NOMEM, "out of memory");
	/* A request written to a connection the agent has just closed fails
	 * with EPIPE (and is sent again), it does not end the bench. */
	signal(SIGPIPE, SIG_IGN);
	pthread_mutex_init(&sh.lock, NULL);
	before[0] = bi_ecdsa_rate(true);
	before[1] = bi_ecdsa_rate(false);
	ran = bi_run(&sh, clients, threads < clients ? threads : clients, secs);
	if (ran < 0) {
		free(sh.lat);
		return cli_failf(CCM_E_NOMEM, "out of memory");
	}
	qsort(sh.lat, sh.n, sizeof(double), bi_cmp);
	bi_report(&sh, ran, (int)clients, json, before);
	free(sh.lat);
	return 0;
}

const struct cmd_entry cmd_bench_issue_entries[] = {
        {"bench issue",
         "--agent URL --sigstruct FILE [--clients N] [--threads T] [--seconds S] [--json]",
         "attest-and-issue round trips through the node agent against the crypto limit",
         "  --agent URL        the node agent, e.g. http://127.0.0.1:9092 (enrolled)\n"
         "  --sigstruct FILE   a whitelisted build's SIGSTRUCT (its ENCLAVEHASH is reported)\n"
         "  --clients N        concurrent clients: keep-alive connections, each with one\n"
         "                     request in flight (default 64, at most 256)\n"
         "  --threads T        event-loop threads driving them (default 1, at most 16)\n"
         "  --seconds S        duration (default 10)\n"
         "  --json             {\"issues_per_s\", \"p50_ms\", \"p99_ms\", \"limit_per_s\",\n"
         "                     \"ratio\", \"errors\"}\n"
         "The limit is the crypto ccmd cannot avoid per issue (2 ECDSA P-256\n"
         "verifications, 1 signature), measured on one core before and after the run\n"
         "(the mean); ratio = issues/s / limit. Target: ratio >= 0.5, p99 <= 20 ms.\n"
         "bench/issue.sh sets up ccmd, an account, a whitelisted build and an agent.\n",
         cmd_bench_issue},
        {NULL, NULL, NULL, NULL, NULL},
};
