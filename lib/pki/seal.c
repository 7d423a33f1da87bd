/*
 * DESIGN: see seal.h. One EVP cipher context per call; nothing cached, so
 * no key schedule outlives the call.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "seal.h"

static const uint8_t seal_magic[4] = {'c', 'c', 'm', '1'};

ccm_code seal_encrypt(const uint8_t key[SEAL_KEY_SIZE], const char *purpose, const uint8_t *pt,
                      size_t len, uint8_t **out, size_t *outlen, struct ccm_error *err)
{
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	uint8_t *buf = malloc(len + SEAL_OVERHEAD);
	uint8_t *nonce = buf + 4, *ct = buf + 16;
	int n = 0, fin = 0;

	*out = NULL;
	if (c == NULL || buf == NULL || len > INT32_MAX)
		goto fail;
	memcpy(buf, seal_magic, 4);
	if (RAND_bytes(nonce, 12) != 1 ||
	    EVP_EncryptInit_ex(c, EVP_aes_256_gcm(), NULL, key, nonce) != 1 ||
	    EVP_EncryptUpdate(c, NULL, &n, (const uint8_t *)purpose, (int)strlen(purpose)) != 1 ||
	    EVP_EncryptUpdate(c, ct, &n, pt, (int)len) != 1 ||
	    EVP_EncryptFinal_ex(c, ct + n, &fin) != 1 ||
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, 16, ct + len) != 1)
		goto fail;
	EVP_CIPHER_CTX_free(c);
	*out = buf;
	*outlen = len + SEAL_OVERHEAD;
	return CCM_OK;
fail:
	EVP_CIPHER_CTX_free(c);
	free(buf);
	return ccm_fail(err, CCM_E_CRYPTO, "seal: AES-256-GCM encryption failed");
}

ccm_code seal_decrypt(const uint8_t key[SEAL_KEY_SIZE], const char *purpose, const uint8_t *in,
                      size_t len, uint8_t **out, size_t *outlen, struct ccm_error *err)
{
	EVP_CIPHER_CTX *c = NULL;
	uint8_t *buf = NULL;
	size_t ctlen;
	int n = 0, fin = 0;

	*out = NULL;
	if (len < SEAL_OVERHEAD || memcmp(in, seal_magic, 4) != 0 || len > INT32_MAX)
		return ccm_fail(err, CCM_E_INPUT, "seal: %s: not a sealed blob", purpose);
	ctlen = len - SEAL_OVERHEAD;
	c = EVP_CIPHER_CTX_new();
	buf = malloc(ctlen ? ctlen : 1);
	if (c == NULL || buf == NULL)
		goto fail;
	if (EVP_DecryptInit_ex(c, EVP_aes_256_gcm(), NULL, key, in + 4) != 1 ||
	    EVP_DecryptUpdate(c, NULL, &n, (const uint8_t *)purpose, (int)strlen(purpose)) != 1 ||
	    EVP_DecryptUpdate(c, buf, &n, in + 16, (int)ctlen) != 1 ||
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, 16, (void *)(in + 16 + ctlen)) != 1 ||
	    EVP_DecryptFinal_ex(c, buf + n, &fin) != 1)
		goto fail;
	EVP_CIPHER_CTX_free(c);
	*out = buf;
	*outlen = ctlen;
	return CCM_OK;
fail:
	EVP_CIPHER_CTX_free(c);
	if (buf)
		OPENSSL_clear_free(buf, ctlen ? ctlen : 1);
	return ccm_fail(err, CCM_E_VERIFY,
	                "seal: %s: does not open with this master key (wrong key or altered)",
	                purpose);
}
