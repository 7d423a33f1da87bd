/*
 * DESIGN: the report a simulated runtime presents must equal, field for
 * field, what EINIT would derive from the same SIGSTRUCT; and a simulated
 * quote must verify only with the node certificate that signed it and only
 * while unmodified. Real data: the Fortanix test enclave and its SIGSTRUCT.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "ccm/attest.h"
#include "util/util.h"

static X509 *self_signed(EVP_PKEY *key)
{
	X509 *x = X509_new();

	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
	                           (const unsigned char *)"node", -1, -1, 0);
	X509_set_issuer_name(x, X509_get_subject_name(x));
	X509_set_pubkey(x, key);
	X509_sign(x, key, EVP_sha256());
	return x;
}

static void load_sig(struct ccm_sgx_sigstruct *s)
{
	char path[1200];
	uint8_t *buf;
	size_t len;
	struct ccm_error err;
	const char *v = getenv("CCM_VECTORS");

	snprintf(path, sizeof(path), "%s/fortanix-rust-sgx/sgxs/test_enclave.sig",
	         v ? v : "../shared/vectors");
	assert_int_equal(util_read_file(path, 4096, &buf, &len, &err), CCM_OK);
	assert_int_equal(ccm_sgx_sigstruct_parse(buf, len, s, &err), CCM_OK);
	free(buf);
}

static void test_report(void **state)
{
	struct ccm_sgx_sigstruct s;
	struct ccm_quote_report r, back;
	struct ccm_error err;
	uint8_t rd[64], raw[384], mrs[32];
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");

	(void)state;
	load_sig(&s);
	assert_int_equal(ccm_report_data_for_key(k, NULL, rd, &err), CCM_OK);
	assert_true(util_is_zero(rd + 32, 32));
	assert_int_equal(ccm_report_from_sigstruct(&s, s.f.enclavehash, rd, &r, &err), CCM_OK);
	assert_memory_equal(r.mrenclave, s.f.enclavehash, 32);
	ccm_sgx_mrsigner(s.modulus, mrs, NULL);
	assert_memory_equal(r.mrsigner, mrs, 32);
	assert_int_equal(r.isvprodid, 65535);
	assert_int_equal(r.attributes[0], CCM_SGX_FLAG_MODE64BIT | CCM_SGX_FLAG_INIT);
	ccm_quote_report_encode(&r, raw);
	assert_memory_equal(raw + 320, rd, 64);
	assert_int_equal(raw[256], 0xff);
	ccm_quote_report_decode(raw, &back);
	assert_memory_equal(&back, &r, sizeof(r));
	EVP_PKEY_free(k);
}

static void test_simquote(void **state)
{
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	EVP_PKEY *k2 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	X509 *c = self_signed(k), *c2 = self_signed(k2);
	uint8_t report[384], q[CCM_SIMQ_SIZE_MAX], b[CCM_SIMQ_SIZE_MAX];
	struct ccm_simquote sq;
	struct ccm_error err;
	size_t len;

	(void)state;
	memset(report, 0x5a, sizeof(report));
	assert_int_equal(ccm_simquote_sign(report, c, k, 1700000000, q, &len, &err), CCM_OK);
	assert_true(ccm_simquote_is(q, len));
	assert_int_equal(ccm_simquote_verify(q, len, c, &sq, &err), CCM_OK);
	assert_int_equal(sq.issued_at, 1700000000);
	assert_memory_equal(sq.report_raw, report, 384);
	/* Another node's certificate. */
	assert_int_equal(ccm_simquote_verify(q, len, c2, &sq, &err), CCM_E_VERIFY);
	assert_non_null(strstr(err.msg, "another node certificate"));
	/* A changed report byte. */
	memcpy(b, q, len);
	b[64 + 320] ^= 1;
	assert_int_equal(ccm_simquote_verify(b, len, c, &sq, &err), CCM_E_VERIFY);
	assert_non_null(strstr(err.msg, "does not verify"));
	/* Flags without SIMULATED, unknown version, bad magic, bad lengths. */
	memcpy(b, q, len);
	b[20] = 0;
	assert_int_equal(ccm_simquote_parse(b, len, &sq, &err), CCM_E_INPUT);
	assert_non_null(strstr(err.msg, "offset 20"));
	memcpy(b, q, len);
	b[16] = 2;
	assert_int_equal(ccm_simquote_parse(b, len, &sq, &err), CCM_E_UNSUPPORTED);
	memcpy(b, q, len);
	b[0] = 3; /* looks like a DCAP v3 quote */
	assert_false(ccm_simquote_is(b, len));
	assert_int_equal(ccm_simquote_parse(b, len, &sq, &err), CCM_E_INPUT);
	assert_non_null(strstr(err.msg, "bad magic"));
	assert_int_equal(ccm_simquote_parse(q, len - 1, &sq, &err), CCM_E_INPUT);
	assert_int_equal(ccm_simquote_parse(q, 100, &sq, &err), CCM_E_INPUT);
	assert_non_null(strstr(err.msg, "shorter"));
	X509_free(c);
	X509_free(c2);
	EVP_PKEY_free(k);
	EVP_PKEY_free(k2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_report),
	        cmocka_unit_test(test_simquote),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
