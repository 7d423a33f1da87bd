/*
 * DESIGN: the node identity lives in the data directory: node.key (EC P-256,
 * PKCS#8 PEM, created 0600 and never rewritten), node.crt and ca.pem from the
 * manager, node.json (id, test-only flag). A restart reuses all of it, so
 * a node enrolls once per data directory; the join token is only read when
 * there is no certificate yet.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "agent.h"
#include "pki/pki.h"
#include "util/util.h"

static void path_of(const struct agent *a, const char *name, char *out, size_t n)
{
	snprintf(out, n, "%s/%s", a->cfg.data_dir, name);
}

static ccm_code key_create(const char *path, EVP_PKEY **out, struct ccm_error *err)
{
	ccm_code rc = pki_ec_keygen(out, err);

	return rc != CCM_OK ? rc : util_key_save(*out, path, err);
}

static char *read_text(const char *path)
{
	uint8_t *buf = NULL;
	size_t len = 0;

	if (util_read_file(path, 256 * 1024, &buf, &len, NULL) != CCM_OK)
		return NULL;
	return (char *)buf;
}

static void state_load(struct agent *a)
{
	char path[4096];
	json_t *j;

	path_of(a, "node.json", path, sizeof(path));
	j = json_load_file(path, 0, NULL);
	if (j == NULL)
		return;
	snprintf(a->node_id, sizeof(a->node_id), "%s",
	         json_string_value(json_object_get(j, "node_id")) ?: "");
	a->test_only = json_is_true(json_object_get(j, "test_only"));
	json_decref(j);
	path_of(a, "node.crt", path, sizeof(path));
	a->cert_pem = read_text(path);
	path_of(a, "ca.pem", path, sizeof(path));
	a->chain_pem = read_text(path);
	a->enrolled = a->cert_pem != NULL && a->chain_pem != NULL && a->node_id[0] != '\0';
}

ccm_code identity_load(struct agent *a, struct ccm_error *err)
{
	char path[4096];
	struct stat st;

	if (mkdir(a->cfg.data_dir, 0700) != 0 && stat(a->cfg.data_dir, &st) != 0)
		return ccm_fail(err, CCM_E_IO, "%s: cannot create the data directory",
		                a->cfg.data_dir);
	path_of(a, "node.key", path, sizeof(path));
	if (stat(path, &st) == 0) {
		if ((st.st_mode & 077) != 0)
			return ccm_fail(err, CCM_E_INPUT,
			                "%s: mode %03o, the node key must be 0600", path,
			                (unsigned)(st.st_mode & 0777));
		if (util_key_load(path, &a->key, err) != CCM_OK)
			return err->code;
	} else if (key_create(path, &a->key, err) != CCM_OK) {
		return err->code;
	}
	state_load(a);
	return CCM_OK;
}

ccm_code identity_store(struct agent *a, const char *cert, const char *chain, const char *node_id,
                        bool test_only, struct ccm_error *err)
{
	char path[4096];
	json_t *j = json_pack("{s:s,s:b}", "node_id", node_id, "test_only", test_only);
	char *s = json_dumps(j, JSON_COMPACT);
	ccm_code rc;

	json_decref(j);
	path_of(a, "node.crt", path, sizeof(path));
	rc = util_write_file(path, cert, strlen(cert), 0644, err);
	path_of(a, "ca.pem", path, sizeof(path));
	if (rc == CCM_OK)
		rc = util_write_file(path, chain, strlen(chain), 0644, err);
	path_of(a, "node.json", path, sizeof(path));
	if (rc == CCM_OK)
		rc = util_write_file(path, s, strlen(s), 0600, err);
	free(s);
	if (rc != CCM_OK)
		return rc;
	pthread_mutex_lock(&a->lock);
	free(a->cert_pem);
	free(a->chain_pem);
	a->cert_pem = strdup(cert);
	a->chain_pem = strdup(chain);
	snprintf(a->node_id, sizeof(a->node_id), "%s", node_id);
	a->test_only = test_only;
	a->enrolled = true;
	pthread_mutex_unlock(&a->lock);
	return CCM_OK;
}

long identity_cert_remaining(struct agent *a)
{
	X509 *x = NULL;
	int days = 0, secs = 0;
	long left = -1;

	pthread_mutex_lock(&a->lock);
	if (a->cert_pem != NULL)
		pki_cert_from_pem(a->cert_pem, strlen(a->cert_pem), &x, NULL);
	pthread_mutex_unlock(&a->lock);
	if (x != NULL && ASN1_TIME_diff(&days, &secs, NULL, X509_get0_notAfter(x)))
		left = (long)days * 86400 + secs;
	X509_free(x);
	return left;
}
