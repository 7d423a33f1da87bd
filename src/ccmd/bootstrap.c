/*
 * DESIGN: what ccmd makes on its first start in an empty data directory,
 * and reuses on every later start: the master key (32 random bytes, file
 * mode 0600, the only plaintext secret on disk), the manager CA (ECDSA
 * P-256), the HTTPS server certificate for --hostname names (reissued when
 * the names change), and the bootstrap system administrator, whose
 * one-time password is written to a 0600 file and must be changed at
 * first login. Private keys live in the store sealed with the master key;
 * the manager CA certificate is also written to ca.pem for clients.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "ca-cache.h"
#include "ccmd.h"
#include "pki/pki.h"
#include "pki/seal.h"
#include "util/util.h"

static void bootstrap_path(struct ccmd *d, const char *name, char *out, size_t n)
{
	snprintf(out, n, "%s/%s", d->cfg.data_dir, name);
}

static ccm_code bootstrap_master_key(struct ccmd *d, struct ccm_error *err)
{
	char path[4096];
	struct stat st;
	uint8_t *buf = NULL;
	size_t len = 0;
	ccm_code rc;

	bootstrap_path(d, "master.key", path, sizeof(path));
	if (stat(path, &st) != 0) {
		if (errno != ENOENT)
			return ccm_fail(err, CCM_E_IO, "%s: %s", path, strerror(errno));
		if (RAND_bytes(d->master_key, sizeof(d->master_key)) != 1)
			return ccm_fail(err, CCM_E_CRYPTO, "no randomness for the master key");
		log_event("info", "created master key", json_pack("{s:s}", "path", path));
		return util_write_file(path, d->master_key, sizeof(d->master_key), 0600, err);
	}
	if ((st.st_mode & 077) != 0)
		return ccm_fail(err, CCM_E_VERIFY, "%s: mode %03o, must not be readable by others",
		                path, (unsigned)(st.st_mode & 0777));
	rc = util_read_file(path, 64, &buf, &len, err);
	if (rc != CCM_OK)
		return rc;
	if (len != sizeof(d->master_key))
		rc = ccm_fail(err, CCM_E_INPUT, "%s: must hold exactly 32 bytes", path);
	else
		memcpy(d->master_key, buf, len);
	OPENSSL_clear_free(buf, len);
	return rc;
}

ccm_code bootstrap_seal(struct ccmd *d, const char *purpose, EVP_PKEY *key, uint8_t **out,
                        size_t *len, struct ccm_error *err)
{
	uint8_t *der = NULL;
	size_t dlen = 0;
	ccm_code rc = pki_key_der(key, &der, &dlen, err);

	if (rc != CCM_OK)
		return rc;
	rc = seal_encrypt(d->master_key, purpose, der, dlen, out, len, err);
	OPENSSL_clear_free(der, dlen);
	return rc;
}

static ccm_code bootstrap_unseal(struct ccmd *d, const char *purpose, const uint8_t *sealed,
                                 size_t len, EVP_PKEY **key, struct ccm_error *err)
{
	uint8_t *der = NULL;
	size_t dlen = 0;
	ccm_code rc = seal_decrypt(d->master_key, purpose, sealed, len, &der, &dlen, err);

	if (rc != CCM_OK)
		return rc;
	rc = pki_key_from_der(der, dlen, key, err);
	OPENSSL_clear_free(der, dlen);
	return rc;
}

/* Load a sealed (cert, key) row; create it with make() when absent. */
static ccm_code bootstrap_load(struct ccmd *d, const char *name, X509 **cert, EVP_PKEY **key,
                               char **note, struct ccm_error *err)
{
	char *pem = NULL;
	uint8_t *sealed = NULL;
	size_t slen = 0;
	char purpose[64];
	ccm_code rc;

	snprintf(purpose, sizeof(purpose), "pki:%s", name);
	rc = store_pki_get(d->store, name, &pem, &sealed, &slen, note, err);
	if (rc != CCM_OK)
		return rc;
	rc = pki_cert_from_pem(pem, strlen(pem), cert, err);
	if (rc == CCM_OK)
		rc = bootstrap_unseal(d, purpose, sealed, slen, key, err);
	free(pem);
	free(sealed);
	return rc;
}

static ccm_code bootstrap_save(struct ccmd *d, const char *name, X509 *cert, EVP_PKEY *key,
                               const char *note, struct ccm_error *err)
{
	char *pem = NULL;
	uint8_t *sealed = NULL;
	size_t slen = 0;
	char purpose[64];
	ccm_code rc;

	snprintf(purpose, sizeof(purpose), "pki:%s", name);
	rc = pki_cert_pem(cert, &pem, err);
	if (rc == CCM_OK)
		rc = bootstrap_seal(d, purpose, key, &sealed, &slen, err);
	if (rc == CCM_OK)
		rc = store_pki_put(d->store, name, pem, sealed, slen, note, err);
	free(pem);
	free(sealed);
	return rc;
}

static ccm_code bootstrap_ca(struct ccmd *d, X509 **ca, EVP_PKEY **ca_key, struct ccm_error *err)
{
	char path[4096];
	char *pem = NULL;
	ccm_code rc = bootstrap_load(d, "manager-ca", ca, ca_key, NULL, err);

	if (rc == CCM_E_NOTFOUND) {
		rc = pki_ca_create("ccm manager CA", 3650, ca_key, ca, err);
		if (rc == CCM_OK)
			rc = bootstrap_save(d, "manager-ca", *ca, *ca_key, "", err);
		if (rc == CCM_OK)
			log_info("created the manager CA");
	}
	if (rc != CCM_OK)
		return rc;
	bootstrap_path(d, "ca.pem", path, sizeof(path));
	rc = pki_cert_pem(*ca, &pem, err);
	if (rc == CCM_OK)
		rc = util_write_file(path, pem, strlen(pem), 0644, err);
	free(pem);
	return rc;
}

static void bootstrap_names(struct ccmd *d, char *out, size_t n)
{
	size_t used = 0;

	out[0] = '\0';
	for (size_t i = 0; i < d->cfg.nhostnames && used < n; i++) {
		int w = snprintf(out + used, n - used, "%s%s", i ? "," : "", d->cfg.hostnames[i]);
		if (w < 0)
			break;
		used += (size_t)w;
	}
}

static ccm_code bootstrap_server(struct ccmd *d, X509 **cert, EVP_PKEY **key, struct ccm_error *err)
{
	char names[2048];
	char *note = NULL;
	X509 *ca = NULL;
	EVP_PKEY *ca_key = NULL;
	ccm_code rc = bootstrap_ca(d, &ca, &ca_key, err);

	if (rc != CCM_OK)
		goto out;
	bootstrap_names(d, names, sizeof(names));
	rc = bootstrap_load(d, "server", cert, key, &note, err);
	if (rc == CCM_OK && strcmp(note, names) == 0)
		goto out;
	if (rc != CCM_OK && rc != CCM_E_NOTFOUND)
		goto out;
	X509_free(*cert);
	EVP_PKEY_free(*key);
	*cert = NULL;
	*key = NULL;
	rc = pki_server_issue(ca, ca_key, d->cfg.hostnames, d->cfg.nhostnames, 825, key, cert, err);
	if (rc == CCM_OK)
		rc = bootstrap_save(d, "server", *cert, *key, names, err);
	if (rc == CCM_OK)
		log_event("info", "issued the server certificate",
		          json_pack("{s:s}", "names", names));
out:
	free(note);
	X509_free(ca);
	EVP_PKEY_free(ca_key);
	return rc;
}

/* Any client certificate (or none) completes the handshake; routes that
 * need one (the node channel) check it against the account CA. */
static int bootstrap_verify_any(int ok, X509_STORE_CTX *ctx)
{
	(void)ok;
	(void)ctx;
	return 1;
}

/* Certificate chain and key from --tls-cert/--tls-key, or the store. */
static ccm_code bootstrap_tls(struct ccmd *d, struct ccm_error *err)
{
	X509 *cert = NULL;
	EVP_PKEY *key = NULL;
	ccm_code rc = bootstrap_server(d, &cert, &key, err);

	if (rc != CCM_OK)
		goto out;
	d->ssl = SSL_CTX_new(TLS_server_method());
	if (d->ssl == NULL || !SSL_CTX_set_min_proto_version(d->ssl, TLS1_2_VERSION)) {
		rc = ccm_fail(err, CCM_E_CRYPTO, "cannot create the TLS context");
		goto out;
	}
	SSL_CTX_set_options(d->ssl, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
	/* Client certificates requested, not required; verified per route. */
	SSL_CTX_set_verify(d->ssl, SSL_VERIFY_PEER, bootstrap_verify_any);
	if (d->cfg.tls_cert != NULL) {
		if (SSL_CTX_use_certificate_chain_file(d->ssl, d->cfg.tls_cert) != 1 ||
		    SSL_CTX_use_PrivateKey_file(d->ssl, d->cfg.tls_key, SSL_FILETYPE_PEM) != 1 ||
		    SSL_CTX_check_private_key(d->ssl) != 1)
			rc = ccm_fail(err, CCM_E_INPUT, "%s / %s: not a usable certificate and key",
			              d->cfg.tls_cert, d->cfg.tls_key);
	} else if (SSL_CTX_use_certificate(d->ssl, cert) != 1 ||
	           SSL_CTX_use_PrivateKey(d->ssl, key) != 1 ||
	           SSL_CTX_check_private_key(d->ssl) != 1) {
		rc = ccm_fail(err, CCM_E_CRYPTO, "the server certificate does not match its key");
	}
out:
	X509_free(cert);
	EVP_PKEY_free(key);
	return rc;
}

static ccm_code bootstrap_admin(struct ccmd *d, struct ccm_error *err)
{
	struct store_user u;
	struct store_audit e;
	char pw[32], path[4096], line[64];
	ccm_code rc;

	if (store_user_count(d->store) != 0)
		return CCM_OK;
	memset(&u, 0, sizeof(u));
	auth_random_password(pw);
	auth_email_lower(d->cfg.admin_email, u.email);
	snprintf(u.name, sizeof(u.name), "system administrator");
	u.is_admin = u.must_change_pw = true;
	u.created_at = (int64_t)time(NULL);
	rc = auth_hash_password(d, pw, u.pw_hash, err);
	bootstrap_path(d, "admin.password", path, sizeof(path));
	snprintf(line, sizeof(line), "%s\n", pw);
	OPENSSL_cleanse(pw, sizeof(pw));
	if (rc == CCM_OK)
		rc = store_begin(d->store, err);
	if (rc != CCM_OK)
		goto out;
	memset(&e, 0, sizeof(e));
	e.time_ms = (int64_t)time(NULL) * 1000;
	snprintf(e.actor, sizeof(e.actor), "system");
	snprintf(e.action, sizeof(e.action), "user.bootstrap");
	snprintf(e.result, sizeof(e.result), "ok");
	snprintf(e.reason, sizeof(e.reason), "first start: system administrator %s", u.email);
	rc = store_user_create(d->store, &u, err);
	snprintf(e.object, sizeof(e.object), "user:%lld", (long long)u.id);
	if (rc == CCM_OK)
		rc = store_audit_append(d->store, &e, err);
	if (rc == CCM_OK)
		rc = util_write_file(path, line, strlen(line), 0600, err);
	if (rc == CCM_OK)
		rc = store_commit(d->store, err);
	else
		store_rollback(d->store);
	if (rc == CCM_OK)
		log_event("info", "created the system administrator",
		          json_pack("{s:s,s:s}", "email", u.email, "password_file", path));
out:
	OPENSSL_cleanse(line, sizeof(line));
	return rc;
}

ccm_code bootstrap_run(struct ccmd *d, struct ccm_error *err)
{
	char path[4096];
	ccm_code rc;

	if (mkdir(d->cfg.data_dir, 0700) != 0 && errno != EEXIST)
		return ccm_fail(err, CCM_E_IO, "%s: %s", d->cfg.data_dir, strerror(errno));
	rc = bootstrap_master_key(d, err);
	if (rc != CCM_OK)
		return rc;
	bootstrap_path(d, "ccmd.db", path, sizeof(path));
	rc = store_open(path, &d->store, err);
	if (rc == CCM_OK)
		rc = bootstrap_tls(d, err);
	if (rc == CCM_OK)
		rc = bootstrap_admin(d, err);
	return rc;
}

static ccm_code bootstrap_unseal_account(void *ctx, const uint8_t *sealed, size_t len,
                                         EVP_PKEY **key, struct ccm_error *err)
{
	return bootstrap_unseal(ctx, "account:ca", sealed, len, key, err);
}

ccm_code bootstrap_account_ca(struct ccmd *d, int64_t account_id, X509 **ca, EVP_PKEY **key,
                              struct ccm_error *err)
{
	char *pem = NULL;
	uint8_t *sealed = NULL;
	size_t slen = 0;
	ccm_code rc;

	*ca = NULL;
	if (key)
		*key = NULL;
	rc = store_account_ca(d->store, account_id, &pem, key ? &sealed : NULL, &slen, err);
	if (rc == CCM_OK && d->ca_cache != NULL) { /* the usual path: parsed and unsealed once */
		rc = ca_cache_get(d->ca_cache, account_id, pem, sealed, slen,
		                  bootstrap_unseal_account, d, ca, key, err);
		free(pem);
		free(sealed);
		return rc;
	}
	if (rc == CCM_OK)
		rc = pki_cert_from_pem(pem, strlen(pem), ca, err);
	if (rc == CCM_OK && key)
		rc = bootstrap_unseal(d, "account:ca", sealed, slen, key, err);
	if (rc != CCM_OK) {
		X509_free(*ca);
		*ca = NULL;
	}
	free(pem);
	free(sealed);
	return rc;
}
