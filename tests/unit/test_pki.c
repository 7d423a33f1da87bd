/*
 * DESIGN: lib/pki and its sealing: a CA that verifies itself and is a CA,
 * a server certificate that chains to it and names every DNS/IP SAN asked
 * for, keys that survive DER round trips, and sealed blobs that open only
 * with the same master key and purpose and refuse any flipped byte.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "pki/pki.h"
#include "pki/seal.h"

static void test_seal(void **state)
{
	uint8_t key[SEAL_KEY_SIZE] = {1}, other[SEAL_KEY_SIZE] = {2};
	const uint8_t msg[] = "private key bytes";
	uint8_t *box = NULL, *out = NULL;
	size_t blen = 0, olen = 0;
	struct ccm_error err;

	(void)state;
	assert_int_equal(seal_encrypt(key, "p", msg, sizeof(msg), &box, &blen, &err), CCM_OK);
	assert_int_equal(blen, sizeof(msg) + SEAL_OVERHEAD);
	assert_memory_equal(box, "ccm1", 4);
	assert_null(memmem(box, blen, "private", 7));
	assert_int_equal(seal_decrypt(key, "p", box, blen, &out, &olen, &err), CCM_OK);
	assert_int_equal(olen, sizeof(msg));
	assert_memory_equal(out, msg, olen);
	OPENSSL_clear_free(out, olen);
	assert_int_equal(seal_decrypt(other, "p", box, blen, &out, &olen, &err), CCM_E_VERIFY);
	assert_int_equal(seal_decrypt(key, "q", box, blen, &out, &olen, &err), CCM_E_VERIFY);
	for (size_t i = 4; i < blen; i++) {
		box[i] ^= 0x40;
		assert_int_equal(seal_decrypt(key, "p", box, blen, &out, &olen, &err),
		                 CCM_E_VERIFY);
		box[i] ^= 0x40;
	}
	assert_int_equal(seal_decrypt(key, "p", box, 10, &out, &olen, &err), CCM_E_INPUT);
	free(box);
}

static void test_ca_and_server(void **state)
{
	const char *names[] = {"localhost", "127.0.0.1", "::1"};
	EVP_PKEY *cakey = NULL, *key = NULL, *back = NULL, *back2 = NULL;
	X509 *ca = NULL, *srv = NULL, *parsed = NULL, *srv2 = NULL;
	X509_STORE *st = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	struct ccm_error err;
	uint8_t *der = NULL;
	size_t dlen = 0;
	char *pem = NULL;

	(void)state;
	assert_int_equal(pki_ca_create("test CA", 30, &cakey, &ca, &err), CCM_OK);
	assert_int_equal(X509_check_ca(ca), 1);
	assert_int_equal(X509_verify(ca, cakey), 1);
	assert_int_equal(pki_server_issue(ca, cakey, names, 3, 30, &key, &srv, &err), CCM_OK);
	assert_int_equal(X509_check_host(srv, "localhost", 0, 0, NULL), 1);
	assert_int_equal(X509_check_ip_asc(srv, "127.0.0.1", 0), 1);
	assert_int_equal(X509_check_ip_asc(srv, "::1", 0), 1);
	assert_int_equal(X509_check_host(srv, "example.org", 0, 0, NULL), 0);
	X509_STORE_add_cert(st, ca);
	X509_STORE_CTX_init(ctx, st, srv, NULL);
	assert_int_equal(X509_verify_cert(ctx), 1);
	assert_int_equal(pki_cert_pem(srv, &pem, &err), CCM_OK);
	assert_int_equal(pki_cert_from_pem(pem, strlen(pem), &parsed, &err), CCM_OK);
	assert_int_equal(X509_cmp(parsed, srv), 0);
	X509_free(parsed);
	assert_int_equal(pki_cert_from_pem("junk", 4, &parsed, &err), CCM_E_INPUT);
	assert_int_equal(pki_key_der(key, &der, &dlen, &err), CCM_OK);
	assert_int_equal(pki_key_from_der(der, dlen, &back, &err), CCM_OK);
	assert_int_equal(EVP_PKEY_eq(back, key), 1);
	assert_int_equal(pki_server_issue(ca, cakey, names, 0, 30, &back2, &srv2, &err),
	                 CCM_E_USAGE);
	OPENSSL_clear_free(der, dlen);
	free(pem);
	EVP_PKEY_free(back);
	X509_free(parsed);
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(st);
	EVP_PKEY_free(key);
	X509_free(srv);
	EVP_PKEY_free(cakey);
	X509_free(ca);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_seal),
	        cmocka_unit_test(test_ca_and_server),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
