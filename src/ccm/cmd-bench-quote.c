/*
 * DESIGN: `ccm bench quote` measures what the manager pays per quote once
 * collateral and the node's PCK chain are cached: parse + verify, looked
 * up by FMSPC in a shared ccm_quote_verifier, on N threads. The baseline,
 * run alternately in the same process on the same thread count, is
 * OpenSSL's raw ECDSA P-256 verification (one prepared EVP_PKEY_CTX, a
 * precomputed digest). A quote needs two such verifications (QE report,
 * quote), so the limit is half the raw rate; the ratio says how close
 * the rest of the work comes to free. Best of ten short rounds per side, alternating.
 */
#include <getopt.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "ccm/quote.h"
#include "cli.h"
#include "util/util.h"

#define BQ_ROUNDS 10
#define BQ_MAX_THREADS 64

struct bq_setup {
	uint8_t *quote;
	size_t qlen;
	struct ccm_quote_verifier *v;
	struct ccm_quote_verify_opts opts;
	EVP_PKEY *key;
	uint8_t sig[80];
	size_t siglen;
	uint8_t md[32];
};

struct bq_job {
	const struct bq_setup *s;
	bool ecdsa;
	atomic_bool *stop;
	uint64_t count;
	bool failed;
};

static double bq_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void bq_quote_loop(struct bq_job *j)
{
	struct ccm_quote_result *res = malloc(sizeof(*res));
	struct ccm_error err;

	while (res != NULL && !atomic_load_explicit(j->stop, memory_order_relaxed)) {
		struct ccm_quote *q = NULL;
		if (ccm_quote_parse(j->s->quote, j->s->qlen, &q, &err) != CCM_OK ||
		    ccm_quote_verify(j->s->v, q, NULL, &j->s->opts, res) != CCM_OK)
			j->failed = true;
		ccm_quote_free(q);
		j->count++;
	}
	j->failed |= res == NULL;
	free(res);
}

static void bq_ecdsa_loop(struct bq_job *j)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, j->s->key, NULL);

	if (ctx == NULL || EVP_PKEY_verify_init(ctx) <= 0)
		j->failed = true;
	while (!j->failed && !atomic_load_explicit(j->stop, memory_order_relaxed)) {
		if (EVP_PKEY_verify(ctx, j->s->sig, j->s->siglen, j->s->md, 32) != 1)
			j->failed = true;
		j->count++;
	}
	EVP_PKEY_CTX_free(ctx);
}

static void *bq_thread(void *arg)
{
	struct bq_job *j = arg;

	if (j->ecdsa)
		bq_ecdsa_loop(j);
	else
		bq_quote_loop(j);
	return NULL;
}

/* Operations per second over secs on n threads; < 0 on failure. */
static double bq_run(const struct bq_setup *s, bool ecdsa, int n, double secs)
{
	struct bq_job jobs[BQ_MAX_THREADS];
	pthread_t th[BQ_MAX_THREADS];
	atomic_bool stop;
	struct timespec ts = {(time_t)secs, (long)((secs - (double)(time_t)secs) * 1e9)};
	uint64_t total = 0;
	bool failed = false;
	double t0, dt;
	int started = 0;

	atomic_init(&stop, false);
	t0 = bq_now();
	for (int i = 0; i < n; i++) {
		jobs[i] = (struct bq_job){s, ecdsa, &stop, 0, false};
		if (pthread_create(&th[i], NULL, bq_thread, &jobs[i]) != 0)
			break;
		started++;
	}
	nanosleep(&ts, NULL);
	atomic_store(&stop, true);
	for (int i = 0; i < started; i++) {
		pthread_join(th[i], NULL);
		total += jobs[i].count;
		failed |= jobs[i].failed;
	}
	dt = bq_now() - t0;
	return failed || started != n ? -1.0 : (double)total / dt;
}

/* A public-only P-256 key (as verification keys are) and a signature. */
static ccm_code bq_baseline_key(struct bq_setup *s, struct ccm_error *err)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	EVP_PKEY *priv = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	static const uint8_t msg[432] = {1};
	uint8_t *spki = NULL;
	const uint8_t *p;
	int n = priv ? i2d_PUBKEY(priv, &spki) : -1;
	ccm_code rc = CCM_OK;

	p = spki;
	s->key = n > 0 ? d2i_PUBKEY(NULL, &p, n) : NULL;
	s->siglen = sizeof(s->sig);
	if (md == NULL || s->key == NULL ||
	    EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, priv) <= 0 ||
	    EVP_DigestSign(md, s->sig, &s->siglen, msg, sizeof(msg)) <= 0 ||
	    EVP_Digest(msg, sizeof(msg), s->md, NULL, EVP_sha256(), NULL) <= 0)
		rc = ccm_fail(err, CCM_E_CRYPTO, "bench quote: cannot make the baseline key");
	OPENSSL_free(spki);
	EVP_PKEY_free(priv);
	EVP_MD_CTX_free(md);
	return rc;
}

/* The `at` of the vector's expected.json, when there is one. */
static bool bq_vector_at(const char *qpath, int64_t *at)
{
	char path[4096];
	const char *slash = strrchr(qpath, '/');
	int dlen = slash ? (int)(slash - qpath) : 1;
	json_t *root, *v;
	struct ccm_error err;
	bool ok = false;

	snprintf(path, sizeof(path), "%.*s/expected.json", dlen, slash ? qpath : ".");
	root = json_load_file(path, 0, NULL);
	v = json_object_get(root, "at");
	if (json_is_string(v))
		ok = ccm_quote_parse_time(json_string_value(v), at, &err) == CCM_OK;
	json_decref(root);
	return ok;
}

static ccm_code bq_setup(struct bq_setup *s, const char *qpath, const char *cdir, const char *at,
                         struct ccm_error *err)
{
	struct ccm_quote_collateral *c = NULL;
	ccm_code rc;

	s->opts.at = (int64_t)time(NULL);
	if (at != NULL && (rc = ccm_quote_parse_time(at, &s->opts.at, err)) != CCM_OK)
		return rc;
	if (at == NULL && !bq_vector_at(qpath, &s->opts.at))
		s->opts.allow_expired = true;
	if ((rc = util_read_file(qpath, CCM_QUOTE_MAX_BYTES, &s->quote, &s->qlen, err)) != CCM_OK ||
	    (rc = ccm_quote_collateral_load(cdir, &c, err)) != CCM_OK ||
	    (rc = ccm_quote_verifier_new(&s->v, err)) != CCM_OK ||
	    (rc = ccm_quote_verifier_add(s->v, c, err)) != CCM_OK)
		goto out;
	rc = bq_baseline_key(s, err);
out:
	ccm_quote_collateral_free(c);
	return rc;
}

static void bq_teardown(struct bq_setup *s)
{
	free(s->quote);
	ccm_quote_verifier_free(s->v);
	EVP_PKEY_free(s->key);
}

struct bq_args {
	const char *quote, *collateral, *at;
	uint64_t threads;
	double secs;
	bool json;
};

static int bq_args(int argc, char **argv, struct bq_args *a, char *qbuf, char *cbuf, size_t n)
{
	static const struct option opts[] = {{"quote", required_argument, NULL, 'q'},
	                                     {"collateral", required_argument, NULL, 'c'},
	                                     {"at", required_argument, NULL, 'a'},
	                                     {"threads", required_argument, NULL, 't'},
	                                     {"millis", required_argument, NULL, 'm'},
	                                     {"json", no_argument, NULL, 'j'},
	                                     {0}};
	const char *vec = getenv("CCM_VECTORS");
	uint64_t ms = 200;
	int c;

	*a = (struct bq_args){NULL, NULL, NULL, 1, 1.0, false};
	optind = 0;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'q')
			a->quote = optarg;
		else if (c == 'c')
			a->collateral = optarg;
		else if (c == 'a')
			a->at = optarg;
		else if (c == 't' && cli_u64("--threads", optarg, BQ_MAX_THREADS, &a->threads) != 0)
			return 2;
		else if (c == 'm' && cli_u64("--millis", optarg, 600000, &ms) != 0)
			return 2;
		else if (c == 'j')
			a->json = true;
		else if (c != 't' && c != 'm')
			return cli_usage("bench quote", "unknown option");
	}
	if (optind != argc || a->threads == 0 || ms < 10)
		return cli_usage("bench quote", "bad arguments");
	a->secs = (double)ms / 1000.0;
	if (a->quote == NULL && vec != NULL) {
		snprintf(qbuf, n, "%s/quotes/phala-sgx-v3-00a067110000/quote.dat", vec);
		snprintf(cbuf, n, "%s/quotes/phala-sgx-v3-00a067110000/collateral", vec);
		a->quote = qbuf;
		a->collateral = a->collateral ? a->collateral : cbuf;
	}
	if (a->quote == NULL || a->collateral == NULL)
		return cli_usage("bench quote",
		                 "give --quote and --collateral (or set CCM_VECTORS)");
	return 0;
}

static void bq_print(const struct bq_args *a, double qps, double eps)
{
	double limit = eps / 2.0;

	if (a->json) {
		cli_json_print(json_pack("{s:f,s:f,s:f,s:f,s:I}", "quotes_per_s", qps,
		                         "ecdsa_verify_per_s", eps, "limit_per_s", limit, "ratio",
		                         qps / limit, "threads", (json_int_t)a->threads));
		return;
	}
	printf("threads           %llu\n", (unsigned long long)a->threads);
	printf("quote verify      %.0f quotes/s (parse + verify, collateral cached)\n", qps);
	printf("raw ECDSA P-256   %.0f verifies/s (OpenSSL EVP, same run)\n", eps);
	printf("limit             %.0f quotes/s (raw / 2: two signatures per quote)\n", limit);
	printf("ratio             %.3f (target >= 0.8)\n", qps / limit);
}

static int cmd_bench_quote(int argc, char **argv)
{
	char qbuf[4096], cbuf[4096];
	struct bq_setup s = {0};
	struct bq_args a;
	struct ccm_error err;
	double best_q = 0, best_e = 0;
	int st = bq_args(argc, argv, &a, qbuf, cbuf, sizeof(qbuf));

	if (st != 0)
		return st;
	if (bq_setup(&s, a.quote, a.collateral, a.at, &err) != CCM_OK) {
		bq_teardown(&s);
		return cli_fail(&err);
	}
	for (int r = 0; r < BQ_ROUNDS; r++) {
		double e = bq_run(&s, true, (int)a.threads, a.secs);
		double q = bq_run(&s, false, (int)a.threads, a.secs);
		if (q < 0 || e < 0) {
			bq_teardown(&s);
			return cli_failf(CCM_E_VERIFY,
			                 "bench quote: the quote does not verify (see "
			                 "'ccm quote verify')");
		}
		best_q = q > best_q ? q : best_q;
		best_e = e > best_e ? e : best_e;
	}
	bq_teardown(&s);
	bq_print(&a, best_q, best_e);
	return 0;
}

const struct cmd_entry cmd_bench_quote_entries[] = {
        {"bench quote",
         "[--quote FILE --collateral DIR] [--at RFC3339] [--threads N] [--millis MS] [--json]",
         "verify a real quote in a loop (collateral cached) against the raw ECDSA rate",
         "  --quote FILE       quote (default: $CCM_VECTORS/quotes/phala-sgx-v3-00a067110000)\n"
         "  --collateral DIR   its collateral directory\n"
         "  --at RFC3339       verification time (default: the vector's expected.json)\n"
         "  --threads N        worker threads for both sides (default 1)\n"
         "  --millis MS        duration of each round and side (default 200)\n"
         "  --json             {\"quotes_per_s\", \"ecdsa_verify_per_s\", \"limit_per_s\",\n"
         "                      \"ratio\", \"threads\"}\n",
         cmd_bench_quote},
        {NULL, NULL, NULL, NULL, NULL},
};
