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
        "            [--admin-email EMAIL]\n";

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
	O_HELP,
};

static const struct option main_opts[] = {
        {"data", required_argument, NULL, O_DATA},
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

int main(int argc, char **argv)
{
	static struct ccmd d;
	struct ccm_error err;
	int status = 0;
	ccm_code rc;

	if ((status = main_parse(argc, argv, &d.cfg)) != 0)
		return status;
	umask(077); /* the store, WAL and key files are for ccmd alone */
	/* Argon2's large blocks go straight back to the kernel after each
	 * password check instead of staying in the heap (idle RSS). */
	mallopt(M_MMAP_THRESHOLD, 256 * 1024);
	mallopt(M_TRIM_THRESHOLD, 1024 * 1024);
	/* A peer gone mid-reply must not kill the server (TLS writes use write()). */
	signal(SIGPIPE, SIG_IGN);
	apijson_limits_default(&d.json_limits);
	d.started = time(NULL);
	rc = auth_init(&d, &err);
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
	OPENSSL_cleanse(d.master_key, sizeof(d.master_key));
	if (status == 0 && !d.cfg.check)
		log_info("stopped");
	return status;
}
