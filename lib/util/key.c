/*
 * DESIGN: private keys on disk and in PEM, in one place: every key file is
 * read with a cap and the PEM copy wiped, written PKCS#8 with mode 0600 from
 * a secure-memory BIO, and the PEM text handed to other libraries (curl,
 * files inside an app) lives in OpenSSL's secure heap.
 */
#include <string.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/pem.h>

#include "util.h"

ccm_code util_key_load(const char *path, EVP_PKEY **out, struct ccm_error *err)
{
	uint8_t *pem = NULL;
	size_t len = 0;
	BIO *bio;
	ccm_code rc = util_read_file(path, 64 * 1024, &pem, &len, err);

	if (rc != CCM_OK)
		return rc;
	bio = BIO_new_mem_buf(pem, (int)len);
	*out = bio ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;
	BIO_free(bio);
	OPENSSL_clear_free(pem, len);
	if (*out == NULL)
		return ccm_fail(err, CCM_E_INPUT, "%s: not a PEM private key", path);
	return CCM_OK;
}

ccm_code util_key_pem(EVP_PKEY *key, char **out, size_t *len, struct ccm_error *err)
{
	BIO *bio = BIO_new(BIO_s_secmem());
	char *data = NULL;
	long n;

	*out = NULL;
	if (bio == NULL || !PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL)) {
		BIO_free(bio);
		return ccm_fail(err, CCM_E_CRYPTO, "cannot encode the private key");
	}
	n = BIO_get_mem_data(bio, &data);
	*out = OPENSSL_secure_malloc((size_t)n + 1);
	if (*out != NULL) {
		memcpy(*out, data, (size_t)n);
		(*out)[n] = '\0';
		*len = (size_t)n;
	}
	BIO_free(bio); /* secure-memory BIO: wiped on free */
	return *out ? CCM_OK : ccm_fail(err, CCM_E_NOMEM, "out of memory");
}

ccm_code util_key_save(EVP_PKEY *key, const char *path, struct ccm_error *err)
{
	char *pem = NULL;
	size_t len = 0;
	ccm_code rc = util_key_pem(key, &pem, &len, err);

	if (rc == CCM_OK)
		rc = util_write_file(path, pem, len, 0600, err);
	else
		ccm_error_prefix(err, "%s", path);
	if (pem != NULL)
		OPENSSL_secure_clear_free(pem, len + 1);
	return rc;
}
