/*
 * DESIGN: ccmd's entry: strict option parsing (every value checked, every
 * error names the flag), then bootstrap (data dir, keys, store, admin),
 * then the event loop until SIGTERM/SIGINT, then an orderly close: the
 * listener first, in-flight replies flushed, the store closed last so
 * its WAL is checkpointed. --check does everything but serve.
 */
#include <getopt.h>
#include <malloc.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <event2/thread.h>

#include <openssl/crypto.h>
#include <openssl/ssl.h>

#include "ccmd.h"
#include "util/util.h"

static const char main_usage[] =
        "usage: ccmd --data DIR [--listen ADDR:PORT] [--hostname NAME ...]\n"
        "            [--tls-cert FILE --tls-key FILE] [--open-signup] [--check]\n"
        "            [--max-body BYTES] [--session-ttl SECONDS]\n"
        "            [--argon2-memory KIB] [--argon2-passes N]\n"
        "            [--login-max-failures N] [--login-window SECONDS]\n"
        "            [--admin-email EMAIL]\n"
        "            [--collateral DIR ...] [--collateral-at RFC3339]\n"
        "            [--node-interval SECONDS] [--node-missed N] [--node-cert-days N]\n"
        "            [--insecure-registry HOST:PORT ...] [--runtime PATH] [--work-dir DIR]\n"
        "            [--check-threads N]\n"
        "  --check-threads: helper threads for the signature checks of batched\n"
        "  certificate requests (0-7; default one fewer than the online CPUs).\n"
        "  --collateral-at fixes the DCAP verification time (testing and offline use\n"
        "  only: collateral that expired since is then accepted as of that time).\n";

enum {
	O_DATA = 256,
	O_LISTEN,
	O_HOST,
	O_CERT,
	O_KEY,
	O_SIGNUP,
	O_CHECK,
	O_BODY,
	O_TTL,
	O_ARGM,
	O_ARGT,
	O_LMAX,
	O_LWIN,
	O_ADMIN,
	O_COLL,
	O_COLLAT,
	O_NIV,
	O_NMISS,
	O_NDAYS,
	O_INSECURE,
	O_RUNTIME,
	O_WORKDIR,
	O_PAR,
	O_HELP,
};

static const struct option main_opts[] = {
        {"data", required_argument, NULL, O_DATA},
        {"collateral", required_argument, NULL, O_COLL},
        {"collateral-at", required_argument, NULL, O_COLLAT},
        {"node-interval", required_argument, NULL, O_NIV},
        {"node-missed", required_argument, NULL, O_NMISS},
        {"node-cert-days", required_argument, NULL, O_NDAYS},
        {"insecure-registry", required_argument, NULL, O_INSECURE},
        {"runtime", required_argument, NULL, O_RUNTIME},
        {"work-dir", required_argument, NULL, O_WORKDIR},
        {"check-threads", required_argument, NULL, O_PAR},
        {"listen", required_argument, NULL, O_LISTEN},
        {"hostname", required_argument, NULL, O_HOST},
        {"tls-cert", required_argument, NULL, O_CERT},
        {"tls-key", required_argument, NULL, O_KEY},
        {"open-signup", no_argument, NULL, O_SIGNUP},
        {"check", no_argument, NULL, O_CHECK},
        {"max-body", required_argument, NULL, O_BODY},
        {"session-ttl", required_argument, NULL, O_TTL},
        {"argon2-memory", required_argument, NULL, O_ARGM},
        {"argon2-passes", required_argument, NULL, O_ARGT},
        {"login-max-failures", required_argument, NULL, O_LMAX},
        {"login-window", required_argument, NULL, O_LWIN},
        {"admin-email", required_argument, NULL, O_ADMIN},
        {"help", no_argument, NULL, O_HELP},
        {0},
};

static int main_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int main_usage_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "ccmd: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n%s", main_usage);
	return 2;
}

static bool main_listen(struct ccmd_config *c, const char *v)
{
	const char *colon = strrchr(v, ':');
	struct ccm_error err;
	uint64_t port;

	if (colon == NULL || colon == v || (size_t)(colon - v) >= sizeof(c->listen_addr) ||
	    util_parse_u64(colon + 1, 65535, &port, "port", &err) != CCM_OK || port == 0)
		return false;
	snprintf(c->listen_addr, sizeof(c->listen_addr), "%.*s", (int)(colon - v), v);
	c->port = (uint16_t)port;
	return true;
}

static bool main_num(const char *v, uint64_t min, uint64_t max, uint64_t *out)
{
	struct ccm_error err;

	return util_parse_u64(v, max, out, "value", &err) == CCM_OK && *out >= min;
}

static void main_defaults(struct ccmd_config *c)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->listen_addr, sizeof(c->listen_addr), "127.0.0.1");
	c->port = CCMD_DEFAULT_PORT;
	c->max_body = 1024 * 1024;
	c->session_ttl = 12 * 3600;
	c->argon2_m_kib = 19 * 1024;
	c->argon2_t = 2;
	c->login_max_failures = 5;
	c->login_window = 300;
	c->admin_email = "admin@localhost";
	c->node_interval = 30;
	c->node_missed = 3;
	c->check_threads = -1; /* par_default_threads() */
	c->node_cert_days = 30;
}

/* Node and collateral options (part 2). */
static int main_option_node(struct ccmd_config *c, int opt, const char *v)
{
	struct ccm_error err;
	uint64_t n;

	switch (opt) {
	case O_INSECURE:
		if (c->n_insecure >= 8 || strchr(v, ':') == NULL)
			return main_usage_error(
			        "--insecure-registry: HOST:PORT, at most 8, got '%s'", v);
		c->insecure_registries[c->n_insecure++] = v;
		return 0;
	case O_RUNTIME:
		c->runtime = v;
		return 0;
	case O_WORKDIR:
		c->work_dir = v;
		return 0;
	case O_COLL:
		if (c->ncollateral >= sizeof(c->collateral) / sizeof(c->collateral[0]))
			return main_usage_error("--collateral: at most 8 directories");
		c->collateral[c->ncollateral++] = v;
		return 0;
	case O_COLLAT:
		if (ccm_quote_parse_time(v, &c->collateral_at, &err) != CCM_OK)
			return main_usage_error("--collateral-at: not an RFC 3339 time: '%s'", v);
		return 0;
	case O_NIV:
		if (!main_num(v, 1, 3600, &n))
			return main_usage_error("--node-interval: 1 to 3600 seconds, got '%s'", v);
		c->node_interval = (int)n;
		return 0;
	case O_NMISS:
		if (!main_num(v, 1, 100, &n))
			return main_usage_error("--node-missed: 1 to 100, got '%s'", v);
		c->node_missed = (int)n;
		return 0;
	case O_PAR:
		if (!main_num(v, 0, 7, &n))
			return main_usage_error("--check-threads: 0 to 7, got '%s'", v);
		c->check_threads = (int)n;
		return 0;
	default:
		if (!main_num(v, 1, 825, &n))
			return main_usage_error("--node-cert-days: 1 to 825, got '%s'", v);
		c->node_cert_days = (int)n;
		return 0;
	}
}

static int main_option(struct ccmd_config *c, int opt, const char *v)
{
	uint64_t n = 0;

	switch (opt) {
	case O_DATA:
		c->data_dir = v;
		return 0;
	case O_LISTEN:
		return main_listen(c, v)
		               ? 0
		               : main_usage_error("--listen: expected ADDR:PORT, got '%s'", v);
	case O_HOST:
		if (c->nhostnames >= CCMD_MAX_HOSTNAMES || strlen(v) == 0 || strlen(v) > 253 ||
		    strpbrk(v, ", /") != NULL)
			return main_usage_error("--hostname: bad or too many names ('%s')", v);
		c->hostnames[c->nhostnames++] = v;
		return 0;
	case O_CERT:
		c->tls_cert = v;
		return 0;
	case O_KEY:
		c->tls_key = v;
		return 0;
	case O_SIGNUP:
		c->open_signup = true;
		return 0;
	case O_CHECK:
		c->check = true;
		return 0;
	case O_BODY:
		if (!main_num(v, 1024, 64u << 20, &n))
			return main_usage_error("--max-body: 1024 to 67108864 bytes, got '%s'", v);
		c->max_body = (size_t)n;
		return 0;
	case O_TTL:
		if (!main_num(v, 1, 30 * 86400, &n))
			return main_usage_error("--session-ttl: 1 to 2592000 seconds, got '%s'", v);
		c->session_ttl = (int64_t)n;
		return 0;
	case O_ARGM:
		if (!main_num(v, 8, 4u << 20, &n))
			return main_usage_error("--argon2-memory: 8 to 4194304 KiB, got '%s'", v);
		c->argon2_m_kib = (uint32_t)n;
		return 0;
	case O_ARGT:
		if (!main_num(v, 1, 100, &n))
			return main_usage_error("--argon2-passes: 1 to 100, got '%s'", v);
		c->argon2_t = (uint32_t)n;
		return 0;
	case O_LMAX:
		if (!main_num(v, 1, 1000, &n))
			return main_usage_error("--login-max-failures: 1 to 1000, got '%s'", v);
		c->login_max_failures = (int)n;
		return 0;
	case O_LWIN:
		if (!main_num(v, 1, 86400, &n))
			return main_usage_error("--login-window: 1 to 86400 seconds, got '%s'", v);
		c->login_window = (int64_t)n;
		return 0;
	case O_ADMIN:
		if (strlen(v) < 3 || strlen(v) > STORE_EMAIL_MAX || strchr(v, '@') == NULL ||
		    strchr(v, ':') != NULL)
			return main_usage_error("--admin-email: not an e-mail address: '%s'", v);
		c->admin_email = v;
		return 0;
	case O_COLL:
	case O_COLLAT:
	case O_NIV:
	case O_NMISS:
	case O_NDAYS:
	case O_INSECURE:
	case O_RUNTIME:
	case O_WORKDIR:
	case O_PAR:
		return main_option_node(c, opt, v);
	case O_HELP:
		fputs(main_usage, stdout);
		exit(0);
	default:
		return main_usage_error("%s", "unknown option");
	}
}

static int main_parse(int argc, char **argv, struct ccmd_config *c)
{
	int opt, rc;

	main_defaults(c);
	while ((opt = getopt_long(argc, argv, "", main_opts, NULL)) != -1)
		if ((rc = main_option(c, opt, optarg)) != 0)
			return rc;
	if (optind != argc)
		return main_usage_error("unexpected argument '%s'", argv[optind]);
	if (c->data_dir == NULL)
		return main_usage_error("%s", "--data DIR is required");
	if ((c->tls_cert == NULL) != (c->tls_key == NULL))
		return main_usage_error("%s", "--tls-cert and --tls-key go together");
	if (c->nhostnames == 0) {
		c->hostnames[c->nhostnames++] = "localhost";
		c->hostnames[c->nhostnames++] = "127.0.0.1";
	}
	return 0;
}

/* Load and check every --collateral set into the quote verifier. */
static ccm_code main_collateral(struct ccmd *d, struct ccm_error *err)
{
	ccm_code rc = ccm_quote_verifier_new(&d->verifier, err);

	for (size_t i = 0; rc == CCM_OK && i < d->cfg.ncollateral; i++) {
		rc = ccm_quote_collateral_load(d->cfg.collateral[i], &d->collateral[i], err);
		if (rc == CCM_OK) {
			d->ncollateral = i + 1;
			rc = ccm_quote_verifier_add(d->verifier, d->collateral[i], err);
		}
		if (rc != CCM_OK)
			ccm_error_prefix(err, "--collateral %s", d->cfg.collateral[i]);
	}
	return rc;
}

/* The runtime put into converted images: --runtime, else ccm-enclave next
 * to this program (build/bin or the install directory). */
static void main_default_runtime(struct ccmd_config *c)
{
	static char path[4096];
	ssize_t n;
	char *slash;

	if (c->runtime != NULL)
		return;
	n = readlink("/proc/self/exe", path, sizeof(path) - 32);
	if (n <= 0)
		return;
	path[n] = '\0';
	slash = strrchr(path, '/');
	if (slash != NULL) {
		snprintf(slash + 1, 32, "ccm-enclave");
		c->runtime = path;
	}
}

int main(int argc, char **argv)
{
	static struct ccmd d;
	struct ccm_error err;
	int status = 0;
	ccm_code rc;

	if ((status = main_parse(argc, argv, &d.cfg)) != 0)
		return status;
	umask(077); /* the store, WAL and key files are for ccmd alone */
	/* Argon2's large blocks (19 MiB by default) go straight back to the
	 * kernel after each password check instead of staying in the heap
	 * (idle RSS); an issue batch's buffers (a body of up to 1 MiB, its
	 * answer) are reused from the heap rather than mapped, faulted in
	 * and unmapped per batch. */
	mallopt(M_MMAP_THRESHOLD, 2 * 1024 * 1024);
	mallopt(M_TRIM_THRESHOLD, 8 * 1024 * 1024);
	/* A peer gone mid-reply must not kill the server (TLS writes use write()). */
	signal(SIGPIPE, SIG_IGN);
	apijson_limits_default(&d.json_limits);
	evthread_use_pthreads(); /* the conversion worker posts back to the loop */
	main_default_runtime(&d.cfg);
	d.started = time(NULL);
	rc = auth_init(&d, &err);
	if (rc == CCM_OK)
		rc = main_collateral(&d, &err);
	if (rc == CCM_OK)
		rc = bootstrap_run(&d, &err);
	if (rc == CCM_OK)
		rc = server_start(&d, &err);
	if (rc != CCM_OK) {
		log_error("startup failed", &err);
		status = ccm_code_exit(rc) == 1 ? 1 : 2;
		goto out;
	}
	if (d.cfg.check) {
		log_info("configuration ok");
		goto out;
	}
	log_event("info", "listening",
	          json_pack("{s:s,s:i,s:s,s:s}", "address", d.cfg.listen_addr, "port",
	                    (int)d.cfg.port, "version", CCM_VERSION, "data", d.cfg.data_dir));
	event_base_dispatch(d.base);
out:
	server_stop(&d);
	store_close(d.store);
	SSL_CTX_free(d.ssl);
	auth_free(&d);
	for (size_t i = 0; i < d.ncollateral; i++)
		ccm_quote_collateral_free(d.collateral[i]);
	ccm_quote_verifier_free(d.verifier);
	OPENSSL_cleanse(d.master_key, sizeof(d.master_key));
	if (status == 0 && !d.cfg.check)
		log_info("stopped");
	return status;
}
