/*
 * DESIGN: `ccm bench issue` measures attest-and-issue round trips exactly as
 * runtimes make them: a report and CSR POSTed to the node agent, which
 * wraps the report as evidence and asks ccmd to verify it, apply the policy
 * and sign a certificate. N client threads run for a fixed time; latencies
 * give p50/p99. The baseline, measured in the same run, is the crypto the
 * manager cannot avoid per issue: two ECDSA P-256 verifications (evidence,
 * CSR) and one signature (the certificate).
 *
 * Each client keeps its connection to the agent (HTTP/1.1 keep-alive, see
 * ccm_attest_client_new) and encodes its request once: a runtime makes one
 * request per start, so a new TCP connection and event base per request
 * would only measure the load generator's own connection setup, which
 * shares the CPUs with the agent and the manager it is meant to measure.
 */
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "ccm/attest.h"
#include "cli.h"
#include "util/util.h"

#define BI_MAX_CLIENTS 256
#define BI_MAX_SAMPLES 1000000

struct bi_shared {
	const char *agent;
	const struct ccm_sgx_sigstruct *sig;
	double deadline;
	pthread_mutex_t lock;
	double *lat; /* milliseconds */
	size_t n, errors;
	char first_error[CCM_ERRMSG_MAX];
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

/* One client: its own key, CSR, report, request body and connection, then
 * requests until the deadline. */
static void *bi_client(void *arg)
{
	struct bi_shared *sh = arg;
	struct ccm_quote_report r;
	uint8_t rd[64], raw[CCM_REPORT_BODY_SIZE];
	struct ccm_error err;
	struct ccm_attest_client *c = NULL;
	EVP_PKEY *key = NULL;
	char *csr = NULL, *body = NULL;

	if ((c = ccm_attest_client_new(sh->agent, 60, &err)) == NULL ||
	    ccm_attest_keygen("ec-p256", &key, &err) != CCM_OK ||
	    ccm_report_data_for_key(key, NULL, rd, &err) != CCM_OK ||
	    ccm_report_from_sigstruct(sh->sig, sh->sig->f.enclavehash, rd, &r, &err) != CCM_OK ||
	    ccm_attest_csr(key, "bench", &csr, &err) != CCM_OK) {
		bi_record(sh, err.code, 0, &err); /* a client that never ran is an error */
		goto out;
	}
	ccm_quote_report_encode(&r, raw);
	if ((body = ccm_attest_request_body(raw, csr, NULL, 0)) == NULL) {
		bi_record(sh, ccm_fail(&err, CCM_E_NOMEM, "out of memory"), 0, &err);
		goto out;
	}
	while (bi_now() < sh->deadline) {
		char *cert = NULL, *chain = NULL;
		double t0 = bi_now();
		ccm_code rc = ccm_attest_client_request_body(c, body, NULL, &cert, &chain, &err);
		double ms = (bi_now() - t0) * 1000.0;
		free(cert);
		free(chain);
		bi_record(sh, rc, ms, &err);
	}
out:
	free(body);
	free(csr);
	EVP_PKEY_free(key);
	ccm_attest_client_free(c);
	return NULL;
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

static void bi_report(const struct bi_shared *sh, double secs, int clients, bool json)
{
	double verify = bi_ecdsa_rate(true), sign = bi_ecdsa_rate(false);
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
	printf("ECDSA P-256       %.0f verify/s, %.0f sign/s (same run)\n", verify, sign);
	printf("limit             %.0f/s (2 verifications + 1 signature per issue)\n", limit);
	printf("ratio             %.3f (target >= 0.5, p99 <= 20 ms)\n", rate / limit);
	if (sh->errors)
		printf("first error       %s\n", sh->first_error);
}

static int cmd_bench_issue(int argc, char **argv)
{
	static const struct option opts[] = {{"agent", required_argument, NULL, 'a'},
	                                     {"sigstruct", required_argument, NULL, 's'},
	                                     {"clients", required_argument, NULL, 'c'},
	                                     {"seconds", required_argument, NULL, 't'},
	                                     {"json", no_argument, NULL, 'j'},
	                                     {0}};
	struct bi_shared sh = {0};
	struct ccm_sgx_sigstruct sig;
	pthread_t th[BI_MAX_CLIENTS];
	uint64_t clients = 64, secs = 10;
	const char *sigpath = NULL;
	int c, json = 0, rc;
	double t0;

	optind = 0;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'a')
			sh.agent = optarg;
		else if (c == 's')
			sigpath = optarg;
		else if (c == 'c' && cli_u64("--clients", optarg, BI_MAX_CLIENTS, &clients) != 0)
			return 2;
		else if (c == 't' && cli_u64("--seconds", optarg, 3600, &secs) != 0)
			return 2;
		else if (c == 'j')
			json = 1;
		else if (c == '?')
			return cli_usage("bench issue", "unknown option");
	}
	if (sh.agent == NULL || sigpath == NULL || clients == 0 || secs == 0)
		return cli_usage("bench issue", "--agent URL and --sigstruct FILE are required");
	if ((rc = bi_load(sigpath, &sig)) != 0)
		return rc;
	sh.sig = &sig;
	sh.lat = malloc(BI_MAX_SAMPLES * sizeof(double));
	if (sh.lat == NULL)
		return cli_failf(CCM_E_NOMEM, "out of memory");
	pthread_mutex_init(&sh.lock, NULL);
	t0 = bi_now();
	sh.deadline = t0 + (double)secs;
	for (uint64_t i = 0; i < clients; i++)
		pthread_create(&th[i], NULL, bi_client, &sh);
	for (uint64_t i = 0; i < clients; i++)
		pthread_join(th[i], NULL);
	qsort(sh.lat, sh.n, sizeof(double), bi_cmp);
	bi_report(&sh, bi_now() - t0, (int)clients, json);
	free(sh.lat);
	return 0;
}

const struct cmd_entry cmd_bench_issue_entries[] = {
        {"bench issue", "--agent URL --sigstruct FILE [--clients N] [--seconds S] [--json]",
         "attest-and-issue round trips through the node agent against the crypto limit",
         "  --agent URL        the node agent, e.g. http://127.0.0.1:9092 (enrolled)\n"
         "  --sigstruct FILE   a whitelisted build's SIGSTRUCT (its ENCLAVEHASH is reported)\n"
         "  --clients N        concurrent clients (default 64, at most 256)\n"
         "  --seconds S        duration (default 10)\n"
         "  --json             {\"issues_per_s\", \"p50_ms\", \"p99_ms\", \"limit_per_s\",\n"
         "                     \"ratio\", \"errors\"}\n"
         "bench/issue.sh sets up ccmd, an account, a whitelisted build and an agent.\n",
         cmd_bench_issue},
        {NULL, NULL, NULL, NULL, NULL},
};
