/*
 * DESIGN: the runtime's identity. The key is made here, in memory, of the
 * type the certificate config names, and never leaves the process except
 * into the one file the app is told to read (mode 0600). The report whose
 * data binds that key is computed from what was just verified: MRENCLAVE as
 * re-measured, the rest from the checked SIGSTRUCT, exactly as EINIT and
 * EREPORT would give them. The agent wraps it as evidence; the manager
 * decides. Files are written atomically (temp + rename) so the app never
 * reads a half-written certificate, at start or at renewal.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "ccm/attest.h"
#include "enclave.h"
#include "util/util.h"

#define MAX_NAMES 64

static const char *cfg_str(const json_t *cfg, const char *key)
{
	const char *v = json_string_value(json_object_get(cfg, key));

	return v != NULL && v[0] != '\0' ? v : NULL;
}

/* Host path of a path inside the app's root. */
static void in_root(const struct enclave *e, const char *path, char *out, size_t n)
{
	snprintf(out, n, "%s%s", strcmp(e->root, "/") ? e->root : "", path);
}

static ccm_code mkdirs(char *path, struct ccm_error *err)
{
	for (char *p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(path, 0755) != 0 && errno != EEXIST) {
			ccm_fail(err, CCM_E_IO, "mkdir %s: %s", path, strerror(errno));
			*p = '/';
			return err->code;
		}
		*p = '/';
	}
	return CCM_OK;
}

static ccm_code put_file(const struct enclave *e, const char *path, const char *data, size_t len,
                         mode_t mode, struct ccm_error *err)
{
	char host[4200];
	ccm_code rc;

	if (path[0] != '/' || strstr(path, "..") != NULL)
		return ccm_fail(err, CCM_E_INPUT,
		                "certificate config: path '%.200s' must be absolute", path);
	in_root(e, path, host, sizeof(host));
	if ((rc = mkdirs(host, err)) != CCM_OK)
		return rc;
	return util_write_file(host, data, len, mode, err);
}

static size_t cfg_names(const json_t *cfg, const char *names[MAX_NAMES])
{
	static char envbuf[4096];
	json_t *arr = json_object_get(cfg, "dns_names"), *v;
	const char *env = getenv("CCM_DNS_NAMES");
	char *save = NULL, *p;
	size_t i, n = 0;

	json_array_foreach(arr, i, v)
	{
		if (json_is_string(v) && n < MAX_NAMES)
			names[n++] = json_string_value(v);
	}
	if (n > 0 || env == NULL || env[0] == '\0')
		return n;
	snprintf(envbuf, sizeof(envbuf), "%s", env);
	for (p = strtok_r(envbuf, ",", &save); p != NULL && n < MAX_NAMES;
	     p = strtok_r(NULL, ",", &save))
		names[n++] = p;
	return n;
}

/* Report + CSR -> agent -> certificate and chain. */
static ccm_code attest(struct enclave *e, const json_t *cfg, char **cert, char **chain,
                       struct ccm_error *err)
{
	struct ccm_quote_report r;
	uint8_t rd[64], raw[CCM_REPORT_BODY_SIZE];
	const char *names[MAX_NAMES];
	size_t n = cfg_names(cfg, names);
	char *csr = NULL;
	ccm_code rc = ccm_report_data_for_key(e->key, NULL, rd, err);

	if (rc == CCM_OK)
		rc = ccm_report_from_sigstruct(&e->s, e->mrenclave, rd, &r, err);
	if (rc == CCM_OK)
		rc = ccm_attest_csr(e->key, n ? names[0] : cfg_str(cfg, "common_name"), &csr, err);
	if (rc != CCM_OK)
		return rc;
	ccm_quote_report_encode(&r, raw);
	/* The first grant's instance handle is kept for the runtime's life. */
	rc = ccm_attest_request_inst(e->agent_url, raw, csr, names, n,
	                             e->inst.keepalive_s ? NULL : &e->inst, cert, chain, err);
	free(csr);
	return rc;
}

static void note_validity(struct enclave *e, const char *cert_pem)
{
	BIO *bio = BIO_new_mem_buf(cert_pem, -1);
	X509 *x = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
	struct tm tm;

	e->not_before = e->not_after = 0;
	if (x != NULL && ASN1_TIME_to_tm(X509_get0_notBefore(x), &tm))
		e->not_before = timegm(&tm);
	if (x != NULL && ASN1_TIME_to_tm(X509_get0_notAfter(x), &tm))
		e->not_after = timegm(&tm);
	X509_free(x);
	BIO_free(bio);
}

static ccm_code write_identity(struct enclave *e, const json_t *cfg, const char *cert,
                               const char *chain, struct ccm_error *err)
{
	const char *kp = cfg_str(cfg, "key_path"), *cp = cfg_str(cfg, "cert_path");
	const char *chp = cfg_str(cfg, "chain_path");
	char *pem = NULL;
	size_t len = 0;
	ccm_code rc = util_key_pem(e->key, &pem, &len, err);

	if (rc == CCM_OK)
		rc = put_file(e, kp, pem, len, 0600, err);
	if (pem != NULL)
		OPENSSL_secure_clear_free(pem, len + 1);
	if (rc == CCM_OK)
		rc = put_file(e, cp, cert, strlen(cert), 0644, err);
	if (rc == CCM_OK && chp != NULL)
		rc = put_file(e, chp, chain, strlen(chain), 0644, err);
	return rc;
}

ccm_code provision_run(struct enclave *e, struct ccm_error *err)
{
	const json_t *cfg = json_object_get(e->m.root, "certificate");
	char *cert = NULL, *chain = NULL;
	ccm_code rc;

	if (cfg == NULL || json_is_null(cfg))
		return CCM_OK;
	if (!json_is_object(cfg) || cfg_str(cfg, "key_path") == NULL ||
	    cfg_str(cfg, "cert_path") == NULL)
		return ccm_fail(err, CCM_E_INPUT,
		                "manifest: the certificate config needs key_path and cert_path");
	e->agent_url = getenv("CCM_AGENT_URL");
	if (e->agent_url == NULL || e->agent_url[0] == '\0')
		e->agent_url = getenv("NODE_AGENT_BASE_URL");
	if (e->agent_url == NULL || e->agent_url[0] == '\0')
		return ccm_fail(err, CCM_E_USAGE,
		                "no node agent: set CCM_AGENT_URL (or NODE_AGENT_BASE_URL), e.g. "
		                "http://127.0.0.1:9092");
	if (e->key == NULL &&
	    (rc = ccm_attest_keygen(cfg_str(cfg, "key_type"), &e->key, err)) != CCM_OK)
		return rc;
	rc = attest(e, cfg, &cert, &chain, err);
	if (rc == CCM_OK)
		rc = write_identity(e, cfg, cert, chain, err);
	if (rc == CCM_OK)
		note_validity(e, cert);
	free(cert);
	free(chain);
	return rc;
}

long provision_renew_in(const struct enclave *e)
{
	time_t now = time(NULL), life, at;

	if (e->key == NULL || e->not_after <= e->not_before)
		return -1;
	/* Renew when two thirds of the lifetime have passed. */
	life = e->not_after - e->not_before;
	at = e->not_before + life * 2 / 3;
	return at > now ? (long)(at - now) : 0;
}
