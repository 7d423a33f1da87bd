/*
 * DESIGN: lib/sgx against real public data. Every expectation comes from
 * ../shared/vectors (Fortanix rust-sgx streams and SIGSTRUCTs with their
 * expected.json), enumerated from the JSON rather than hard-coded, so new
 * vectors of the same shape are picked up without touching this file.
 * Negative cases mutate a real vector one byte at a time and check that the
 * error names the rule that broke.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "ccm/sgx.h"
#include "util/util.h"

static char vec_dir[1024];

static void vpath(char *out, size_t n, const char *rel)
{
	snprintf(out, n, "%s/fortanix-rust-sgx/%s", vec_dir, rel);
}

static uint8_t *load(const char *rel, size_t *len)
{
	char path[1200];
	uint8_t *buf = NULL;
	struct ccm_error err;

	vpath(path, sizeof(path), rel);
	if (util_read_file(path, 1u << 26, &buf, len, &err) != CCM_OK)
		fail_msg("%s", err.msg);
	return buf;
}

static json_t *load_json(const char *rel)
{
	char path[1200];
	json_error_t je;
	json_t *j;

	vpath(path, sizeof(path), rel);
	j = json_load_file(path, 0, &je);
	if (j == NULL)
		fail_msg("%s: %s", path, je.text);
	return j;
}

static void hex_of(const uint8_t *p, size_t n, char *out)
{
	util_hex(p, n, out);
}

static uint64_t jnum(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);

	if (json_is_integer(v))
		return (uint64_t)json_integer_value(v);
	assert_true(json_is_string(v));
	return strtoull(json_string_value(v), NULL, 0);
}

/* ---- SGXS streams ---------------------------------------------------- */

struct collect {
	size_t eadd, eextend;
	json_t *eadds;
	uint32_t ssa;
	uint64_t size;
	uint8_t *out; /* rewritten stream */
	size_t outlen;
	struct ccm_sgx_measure *m;
};

static ccm_code collect_visit(void *vctx, const struct ccm_sgxs_record *r, struct ccm_error *err)
{
	struct collect *c = vctx;
	size_t n = 0;
	ccm_code rc = ccm_sgxs_write_record(r, c->out + c->outlen, &n, err);

	c->outlen += n;
	switch (r->tag) {
	case CCM_SGXS_ECREATE:
		c->ssa = r->ssaframesize;
		c->size = r->size;
		return ccm_sgx_measure_ecreate(c->m, r->ssaframesize, r->size, err);
	case CCM_SGXS_EADD: {
		json_t *e = json_array_get(c->eadds, c->eadd++);
		assert_non_null(e);
		assert_int_equal(r->offset, jnum(e, "offset"));
		assert_int_equal(r->secinfo_flags, jnum(e, "secinfo_flags"));
		return ccm_sgx_measure_eadd(c->m, r->offset, r->secinfo_flags, err);
	}
	case CCM_SGXS_EEXTEND:
		c->eextend++;
		return ccm_sgx_measure_eextend(c->m, r->offset, r->data, err);
	default:
		break;
	}
	return rc;
}

static void check_stream(json_t *exp)
{
	const char *file = json_string_value(json_object_get(exp, "file"));
	char rel[256], hex[65];
	struct collect c = {0};
	struct ccm_error err;
	uint8_t mr[32], mr2[32];
	size_t len;
	uint8_t *buf;

	snprintf(rel, sizeof(rel), "sgxs/%s", file);
	buf = load(rel, &len);
	assert_int_equal(len, jnum(exp, "size"));
	assert_int_equal(ccm_sgxs_measure(buf, len, mr, &err), CCM_OK);
	hex_of(mr, 32, hex);
	assert_string_equal(
	        hex, json_string_value(json_object_get(exp, "sha256_of_file_equals_MRENCLAVE")));
	/* Parse, rewrite and re-measure through the incremental API. */
	c.eadds = json_object_get(exp, "eadd_records");
	c.out = malloc(len);
	assert_int_equal(ccm_sgx_measure_new(&c.m, &err), CCM_OK);
	assert_int_equal(ccm_sgxs_parse(buf, len, collect_visit, &c, &err), CCM_OK);
	assert_int_equal(ccm_sgx_measure_final(c.m, mr2, &err), CCM_OK);
	assert_memory_equal(mr, mr2, 32);
	assert_int_equal(c.outlen, len);
	assert_memory_equal(c.out, buf, len);
	assert_int_equal(c.eadd, json_array_size(c.eadds));
	assert_int_equal(c.eextend, jnum(exp, "eextend_records"));
	json_t *ec = json_object_get(exp, "ecreate");
	assert_int_equal(c.ssa, jnum(ec, "ssaframesize"));
	assert_int_equal(c.size, jnum(ec, "size"));
	ccm_sgx_measure_free(c.m);
	free(c.out);
	free(buf);
}

static void test_sgxs_vectors(void **state)
{
	json_t *j = load_json("sgxs/expected.json"), *s;
	size_t i;

	(void)state;
	json_array_foreach(json_object_get(j, "sgxs_streams"), i, s) check_stream(s);
	assert_true(i >= 2);
	json_decref(j);
}

/* Expect ccm_sgxs_measure(buf) to fail with a message containing want. */
static void expect_bad(const uint8_t *buf, size_t len, ccm_code code, const char *want)
{
	struct ccm_error err = {0};
	uint8_t mr[32];

	assert_int_equal(ccm_sgxs_measure(buf, len, mr, &err), code);
	if (strstr(err.msg, want) == NULL)
		fail_msg("message '%s' lacks '%s'", err.msg, want);
}

static void test_sgxs_bad(void **state)
{
	size_t len;
	uint8_t *orig = load("sgxs/report.sgxs", &len);
	uint8_t *b = malloc(len + 320);

	(void)state;
	expect_bad(orig, 0, CCM_E_INPUT, "empty stream");
	expect_bad(orig, 10, CCM_E_INPUT, "record 0 at byte 0: truncated");
	expect_bad(orig, 64 + 64 + 64 + 100, CCM_E_INPUT, "truncated: 100 of its 256 data bytes");
	expect_bad(orig, len - 1, CCM_E_INPUT, "truncated");
	/* First record not ECREATE. */
	expect_bad(orig + 64, len - 64, CCM_E_INPUT, "EADD before ECREATE");
	/* A second ECREATE. */
	memcpy(b, orig, len);
	memcpy(b + 64, orig, 64);
	expect_bad(b, len, CCM_E_INPUT, "record 1 at byte 64: ECREATE");
	/* Enclave size not a power of two. */
	memcpy(b, orig, len);
	b[12] = 0x01;
	b[13] = 0x30;
	expect_bad(b, len, CCM_E_INPUT, "not a power of two");
	/* Unknown tag. */
	memcpy(b, orig, len);
	b[64] = 'X';
	expect_bad(b, len, CCM_E_INPUT, "unknown record tag");
	/* Reserved byte in ECREATE. */
	memcpy(b, orig, len);
	b[40] = 1;
	expect_bad(b, len, CCM_E_INPUT, "reserved byte 40");
	/* EADD unaligned. */
	memcpy(b, orig, len);
	b[64 + 8] = 0x10;
	expect_bad(b, len, CCM_E_INPUT, "not page-aligned");
	/* EEXTEND outside the page of the EADD. */
	memcpy(b, orig, len);
	b[128 + 9] = 0x30;
	expect_bad(b, len, CCM_E_INPUT, "not in the page of the preceding EADD");
	/* EEXTEND not 256-aligned. */
	memcpy(b, orig, len);
	b[128 + 8] = 0x01;
	expect_bad(b, len, CCM_E_INPUT, "not 256-byte aligned");
	/* The same chunk measured twice: second EEXTEND gets the first's offset. */
	memcpy(b, orig, len);
	memcpy(b + 128 + 320 + 8, b + 128 + 8, 8);
	expect_bad(b, len, CCM_E_INPUT, "measured twice");
	/* EADD out of order: page 1's EADD (record after 16 EEXTENDs) set to 0. */
	memcpy(b, orig, len);
	memset(b + 128 + 16 * 320 + 8, 0, 8);
	expect_bad(b, len, CCM_E_INPUT, "not above the previous page");
	/* Oversized: an EADD beyond the enclave size (0x4000). */
	memcpy(b, orig, len);
	b[128 + 16 * 320 + 9] = 0x40;
	expect_bad(b, len, CCM_E_INPUT, "outside the enclave");
	/* TCS page (second EADD, flags 0x100) with permission bits. */
	memcpy(b, orig, len);
	b[128 + 16 * 320 + 16] = 0x03;
	expect_bad(b, len, CCM_E_INPUT, "TCS page at 0x1000 has permission bits set");
	/* Bad page type. */
	memcpy(b, orig, len);
	b[128 + 16 * 320 + 17] = 0x05;
	expect_bad(b, len, CCM_E_INPUT, "not a TCS or regular page");
	/* Trailing garbage record after a valid stream. */
	memcpy(b, orig, len);
	memset(b + len, 0, 64);
	expect_bad(b, len + 64, CCM_E_INPUT, "unknown record tag");
	free(b);
	free(orig);
}

static void test_esgxs(void **state)
{
	size_t len;
	uint8_t *orig = load("sgxs/report.sgxs", &len);
	uint8_t *b = malloc(len);
	uint8_t mr[32], mr_skip[32];
	struct ccm_error err;

	(void)state;
	/* UNSIZED cannot be measured but parses. */
	memcpy(b, orig, len);
	memcpy(b, "UNSIZED", 8);
	assert_int_equal(ccm_sgxs_parse(b, len, NULL, NULL, &err), CCM_OK);
	expect_bad(b, len, CCM_E_INPUT, "UNSIZED");
	/* UNMEASRD in place of the first EEXTEND: skipped when measuring, so
	 * the result is the hash of the stream without that record. */
	memcpy(b, orig, len);
	memcpy(b + 128, "UNMEASRD", 8);
	assert_int_equal(ccm_sgxs_measure(b, len, mr, &err), CCM_OK);
	memcpy(b, orig, 128);
	memcpy(b + 128, orig + 128 + 320, len - 128 - 320);
	assert_true(EVP_Digest(b, len - 320, mr_skip, NULL, EVP_sha256(), NULL));
	assert_memory_equal(mr, mr_skip, 32);
	free(b);
	free(orig);
}

/* ---- spec edge cases not covered by the vectors ----------------------- */

struct sgxs_buf {
	uint8_t b[4096];
	size_t n;
};

static void put_rec(struct sgxs_buf *s, const char *tag, uint64_t a, uint64_t b, bool data)
{
	uint8_t *r = s->b + s->n;

	memset(r, 0, 64);
	memcpy(r, tag, strlen(tag));
	if (strcmp(tag, "ECREATE") == 0) {
		util_put_le32(r + 8, (uint32_t)a);
		util_put_le64(r + 12, b);
	} else {
		util_put_le64(r + 8, a);
		util_put_le64(r + 16, b);
	}
	s->n += 64;
	if (data) {
		for (size_t i = 0; i < 256; i++)
			s->b[s->n + i] = (uint8_t)(a + i);
		s->n += 256;
	}
}

/* Canonical streams the vectors do not exercise: EEXTENDs of a page out of
 * order and only some of them ([SGXS] only requires them unique and inside
 * the page), a page with no EEXTEND at all (unmeasured content,
 * SPEC-NOTES A.4), the last page of the enclave. Each must hash to the
 * SHA-256 of the stream; and the refusals must say what is wrong. */
static void test_sgxs_spec_edges(void **state)
{
	struct sgxs_buf s = {0};
	struct ccm_error err;
	uint8_t mr[32], want[32];

	(void)state;
	put_rec(&s, "ECREATE", 2, 0x8000, false);
	put_rec(&s, "EADD", 0x1000, 0x203, false);
	put_rec(&s, "EEXTEND", 0x1f00, 0, true);
	put_rec(&s, "EEXTEND", 0x1000, 0, true);
	put_rec(&s, "EEXTEND", 0x1700, 0, true);
	put_rec(&s, "EADD", 0x2000, 0x100, false); /* TCS, content unmeasured */
	put_rec(&s, "EADD", 0x7000, 0x205, false); /* last page */
	put_rec(&s, "EEXTEND", 0x7f00, 0, true);
	assert_int_equal(ccm_sgxs_measure(s.b, s.n, mr, &err), CCM_OK);
	assert_true(EVP_Digest(s.b, s.n, want, NULL, EVP_sha256(), NULL));
	assert_memory_equal(mr, want, 32);

	s.n = 0;
	put_rec(&s, "ECREATE", 1, 0x4000, false);
	put_rec(&s, "EEXTEND", 0, 0, true);
	expect_bad(s.b, s.n, CCM_E_INPUT,
	           "record 1 at byte 64: EEXTEND: offset 0x0 comes before any EADD");
	s.n = 0;
	put_rec(&s, "ECREATE", 1, 0x4000, false);
	put_rec(&s, "EADD", 0, 0x209, false); /* PENDING on a regular page */
	expect_bad(s.b, s.n, CCM_E_INPUT, "set bits other than R/W/X and the page type");
	s.n = 0;
	put_rec(&s, "ECREATE", 1, 0x4000, false);
	put_rec(&s, "EADD", 0, 0x503, false); /* PT_SS_FIRST */
	expect_bad(s.b, s.n, CCM_E_INPUT, "not a TCS or regular page (page type 5)");
	s.n = 0;
	put_rec(&s, "ECREATE", 1, 0x1000, false);
	expect_bad(s.b, s.n, CCM_E_INPUT, "0x1000 is not a power of two >= 0x2000");
}

static void test_measure_api(void **state)
{
	struct ccm_sgx_measure *m;
	struct ccm_error err;
	uint8_t page[4096] = {0}, mr[32];

	(void)state;
	assert_int_equal(ccm_sgx_measure_new(&m, &err), CCM_OK);
	assert_int_equal(ccm_sgx_measure_eadd(m, 0, 0x201, &err), CCM_E_INPUT);
	assert_non_null(strstr(err.msg, "before ECREATE"));
	assert_int_equal(ccm_sgx_measure_ecreate(m, 0, 0x4000, &err), CCM_E_INPUT);
	assert_int_equal(ccm_sgx_measure_ecreate(m, 1, 0x4000, &err), CCM_OK);
	/* A TCS passed with permissions is hashed as 0x100, like the CPU does. */
	assert_int_equal(ccm_sgx_measure_page(m, 0, 0x107, page, true, &err), CCM_OK);
	assert_int_equal(ccm_sgx_measure_final(m, mr, &err), CCM_OK);
	assert_int_equal(ccm_sgx_measure_eadd(m, 0x1000, 0x201, &err), CCM_E_INPUT);
	assert_non_null(strstr(err.msg, "finalised"));
	ccm_sgx_measure_free(m);

	uint8_t mr2[32];
	assert_int_equal(ccm_sgx_measure_new(&m, &err), CCM_OK);
	assert_int_equal(ccm_sgx_measure_ecreate(m, 1, 0x4000, &err), CCM_OK);
	assert_int_equal(ccm_sgx_measure_page(m, 0, 0x100, page, true, &err), CCM_OK);
	assert_int_equal(ccm_sgx_measure_final(m, mr2, &err), CCM_OK);
	assert_memory_equal(mr, mr2, 32);
	ccm_sgx_measure_free(m);
}

/* ---- SIGSTRUCT ------------------------------------------------------- */

static void check_sigstruct(const char *rel, json_t *e)
{
	struct ccm_sgx_sigstruct s;
	struct ccm_sgx_sigcheck k;
	struct ccm_error err;
	char hex[65];
	size_t len;
	uint8_t *buf = load(rel, &len);

	assert_int_equal(ccm_sgx_sigstruct_parse(buf, len, &s, &err), CCM_OK);
	assert_int_equal(ccm_sgx_sigstruct_check(&s, &k, &err), CCM_OK);
	assert_true(k.header_ok && k.exponent_ok && k.signature_ok && k.q1q2_ok);
	assert_int_equal(s.f.vendor, jnum(e, "vendor"));
	assert_int_equal(s.f.date, jnum(e, "date"));
	assert_int_equal(s.f.swdefined, jnum(e, "swdefined"));
	assert_int_equal(s.exponent, jnum(e, "exponent"));
	assert_int_equal(s.f.miscselect, jnum(e, "miscselect"));
	assert_int_equal(s.f.miscmask, jnum(e, "miscmask"));
	assert_int_equal(s.f.cet_attributes, jnum(e, "cet_attributes"));
	assert_int_equal(s.f.isvprodid, jnum(e, "isvprodid"));
	assert_int_equal(s.f.isvsvn, jnum(e, "isvsvn"));
#define HEXF(field, n, key)                                                                        \
	hex_of(field, n, hex);                                                                     \
	assert_string_equal(hex, json_string_value(json_object_get(e, key)))
	HEXF(s.f.isvfamilyid, 16, "isvfamilyid");
	HEXF(s.f.attributes, 16, "attributes");
	HEXF(s.f.attributemask, 16, "attributemask");
	HEXF(s.f.enclavehash, 32, "enclavehash");
	HEXF(s.f.isvextprodid, 16, "isvextprodid");
	HEXF(k.mrsigner, 32, "mrsigner_sha256_of_modulus_field");
#undef HEXF
	free(buf);
}

static void test_sigstruct_vectors(void **state)
{
	json_t *a = load_json("sigstruct/expected.json");
	json_t *b = load_json("sgxs/expected.json");

	(void)state;
	check_sigstruct("sigstruct/sig1.sigstruct.bin", json_object_get(a, "sigstruct"));
	check_sigstruct("sgxs/test_enclave.sig", json_object_get(b, "test_enclave.sig"));
	json_decref(a);
	json_decref(b);
}

static void test_q1q2_lowlevel(void **state)
{
	size_t ln, ls, l1, l2;
	uint8_t *n = load("sigstruct/sig1.key_n.bin", &ln);
	uint8_t *s = load("sigstruct/sig1.sig.bin", &ls);
	uint8_t *q1 = load("sigstruct/sig1.q1.bin", &l1);
	uint8_t *q2 = load("sigstruct/sig1.q2.bin", &l2);
	uint8_t c1[384], c2[384], mrs[32];
	struct ccm_error err;
	char hex[65];

	(void)state;
	assert_int_equal(ln, 384);
	assert_int_equal(ccm_sgx_q1q2(s, n, c1, c2, &err), CCM_OK);
	assert_memory_equal(c1, q1, 384);
	assert_memory_equal(c2, q2, 384);
	assert_int_equal(ccm_sgx_mrsigner(n, mrs, &err), CCM_OK);
	hex_of(mrs, 32, hex);
	assert_string_equal(hex,
	                    "83d719e77deaca1470f6baf62a4d774303c899db69020f9c70ee1dfc08c7ce9e");
	free(n);
	free(s);
	free(q1);
	free(q2);
}

static void test_sign_reproduces(void **state)
{
	char path[1200];
	struct ccm_sgx_sigfields f;
	struct ccm_error err;
	EVP_PKEY *key;
	uint8_t out[1808];
	size_t len;
	uint8_t *want = load("sigstruct/sig1.sigstruct.bin", &len);

	(void)state;
	vpath(path, sizeof(path), "sigstruct/sig1.key.pem");
	assert_int_equal(ccm_sgx_key_load(path, &key, &err), CCM_OK);
	ccm_sgx_sigfields_default(&f);
	assert_int_equal(ccm_sgx_parse_date("20160109", &f.date, &err), CCM_OK);
	assert_int_equal(util_parse_hex_exact(
	                         "c50673624a6cb17c1c6c2a4e6906f47a170c4629b8723781d1017ef376f1a75d",
	                         f.enclavehash, 32, "hash", &err),
	                 CCM_OK);
	assert_int_equal(ccm_sgx_sign(&f, key, out, &err), CCM_OK);
	assert_memory_equal(out, want, 1808);
	EVP_PKEY_free(key);
	free(want);
}

static void expect_check_fail(const uint8_t *buf, const char *want)
{
	struct ccm_sgx_sigstruct s;
	struct ccm_sgx_sigcheck k;
	struct ccm_error err = {0};

	assert_int_equal(ccm_sgx_sigstruct_parse(buf, 1808, &s, &err), CCM_OK);
	assert_int_equal(ccm_sgx_sigstruct_check(&s, &k, &err), CCM_E_VERIFY);
	if (strstr(err.msg, want) == NULL)
		fail_msg("message '%s' lacks '%s'", err.msg, want);
}

static void test_sigstruct_bad(void **state)
{
	struct ccm_sgx_sigstruct s;
	struct ccm_error err;
	size_t len;
	uint8_t *orig = load("sigstruct/sig1.sigstruct.bin", &len);
	uint8_t b[1808];

	(void)state;
	assert_int_equal(ccm_sgx_sigstruct_parse(orig, 1807, &s, &err), CCM_E_INPUT);
	assert_non_null(strstr(err.msg, "1807 bytes"));
	assert_int_equal(ccm_sgx_sigstruct_parse(orig, 1809, &s, &err), CCM_E_INPUT);
	memcpy(b, orig, 1808);
	b[1024] ^= 1; /* isvprodid: a signed field */
	expect_check_fail(b, "signature does not verify");
	memcpy(b, orig, 1808);
	b[600] ^= 1; /* the signature itself */
	expect_check_fail(b, "signature does not verify");
	memcpy(b, orig, 1808);
	b[512] = 0x01;
	b[514] = 0x01; /* exponent 65537 */
	expect_check_fail(b, "EXPONENT is 65537");
	memcpy(b, orig, 1808);
	b[0] = 0x07;
	expect_check_fail(b, "HEADER is not");
	memcpy(b, orig, 1808);
	b[1100] ^= 1; /* q1 */
	expect_check_fail(b, "Q1/Q2");
	memcpy(b, orig, 1808);
	b[1030] = 1; /* unsigned reserved */
	expect_check_fail(b, "reserved bytes 1028-1039");
	free(orig);
}

/* Every settable signed field (SPEC-NOTES B.1 "Y" rows, B.2: the message is
 * bytes 0-127 then 900-1027) is covered by the signature: one flipped bit in
 * any of them, first and last byte, breaks it. */
static void test_sigstruct_signed_fields(void **state)
{
	static const size_t offs[] = {16,  19,  20,  23,  40,   43,   900,  903,
	                              904, 907, 908, 909, 912,  927,  928,  943,
	                              944, 959, 960, 991, 1008, 1023, 1024, 1027};
	size_t len;
	uint8_t *orig = load("sigstruct/sig1.sigstruct.bin", &len);
	uint8_t b[1808];

	(void)state;
	for (size_t i = 0; i < sizeof(offs) / sizeof(offs[0]); i++) {
		memcpy(b, orig, 1808);
		b[offs[i]] ^= 0x10;
		/* VENDOR must stay 0 or 0x8086 to reach the signature check. */
		if (offs[i] == 16 || offs[i] == 19)
			util_put_le32(b + 16, 0x8086);
		expect_check_fail(b, "signature does not verify");
	}
	free(orig);
}

static EVP_PKEY *gen_rsa(unsigned bits, unsigned e)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
	BIGNUM *bn = BN_new();
	EVP_PKEY *k = NULL;

	BN_set_word(bn, e);
	EVP_PKEY_keygen_init(ctx);
	EVP_PKEY_CTX_set_rsa_keygen_bits(ctx, (int)bits);
	EVP_PKEY_CTX_set1_rsa_keygen_pubexp(ctx, bn);
	EVP_PKEY_keygen(ctx, &k);
	BN_free(bn);
	EVP_PKEY_CTX_free(ctx);
	return k;
}

static void test_keys(void **state)
{
	struct ccm_sgx_sigfields f;
	struct ccm_error err;
	uint8_t out[1808];
	EVP_PKEY *k = gen_rsa(2048, 3);

	(void)state;
	ccm_sgx_sigfields_default(&f);
	assert_int_equal(ccm_sgx_sign(&f, k, out, &err), CCM_E_INPUT);
	assert_non_null(strstr(err.msg, "RSA-2048"));
	EVP_PKEY_free(k);
	k = gen_rsa(3072, 65537);
	assert_int_equal(ccm_sgx_key_check(k, &err), CCM_E_INPUT);
	assert_non_null(strstr(err.msg, "exponent is not 3"));
	EVP_PKEY_free(k);
	k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	assert_int_equal(ccm_sgx_key_check(k, &err), CCM_E_INPUT);
	assert_non_null(strstr(err.msg, "not an RSA key"));
	EVP_PKEY_free(k);
	/* A fresh key signs and the result verifies on its own. */
	assert_int_equal(ccm_sgx_keygen(&k, &err), CCM_OK);
	f.isvprodid = 7;
	assert_int_equal(ccm_sgx_sign(&f, k, out, &err), CCM_OK);
	struct ccm_sgx_sigstruct s;
	struct ccm_sgx_sigcheck c;
	assert_int_equal(ccm_sgx_sigstruct_parse(out, sizeof(out), &s, &err), CCM_OK);
	assert_int_equal(ccm_sgx_sigstruct_check(&s, &c, &err), CCM_OK);
	assert_int_equal(s.f.isvprodid, 7);
	EVP_PKEY_free(k);
}

static void test_dates(void **state)
{
	struct ccm_error err;
	uint32_t d;

	(void)state;
	assert_int_equal(ccm_sgx_parse_date("20240229", &d, &err), CCM_OK);
	assert_int_equal(d, 0x20240229);
	assert_int_equal(ccm_sgx_parse_date("20230229", &d, &err), CCM_E_RANGE);
	assert_int_equal(ccm_sgx_parse_date("20231301", &d, &err), CCM_E_RANGE);
	assert_int_equal(ccm_sgx_parse_date("2023-01-01", &d, &err), CCM_E_INPUT);
	assert_int_equal(ccm_sgx_parse_date("2023011", &d, &err), CCM_E_INPUT);
	assert_true(ccm_sgx_date_today() > 0x20250000);
}

int main(void)
{
	const char *v = getenv("CCM_VECTORS");
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_sgxs_vectors),
	        cmocka_unit_test(test_sgxs_bad),
	        cmocka_unit_test(test_esgxs),
	        cmocka_unit_test(test_sgxs_spec_edges),
	        cmocka_unit_test(test_measure_api),
	        cmocka_unit_test(test_sigstruct_vectors),
	        cmocka_unit_test(test_q1q2_lowlevel),
	        cmocka_unit_test(test_sign_reproduces),
	        cmocka_unit_test(test_sigstruct_bad),
	        cmocka_unit_test(test_sigstruct_signed_fields),
	        cmocka_unit_test(test_keys),
	        cmocka_unit_test(test_dates),
	};

	snprintf(vec_dir, sizeof(vec_dir), "%s", v ? v : "../shared/vectors");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
