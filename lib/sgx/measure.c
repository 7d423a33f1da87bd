/*
 * DESIGN: MRENCLAVE is one SHA-256 over 64-byte records, so the context is
 * an EVP digest plus just enough state to refuse what no real loader could
 * produce (a second ECREATE, descending pages, a chunk outside its page, a
 * chunk measured twice). Checking as we go means the SGXS reader and the
 * converter's layout builder share one set of rules.
 *
 * Speed: a whole measured page is 64 + 16 * 320 = 5184 bytes of records. The
 * fast path builds them in one buffer and hands the digest a single update,
 * so per-call overhead vanishes and the rate approaches raw SHA-256.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "ccm/sgx.h"
#include "layout.h"
#include "util/util.h"

#define PAGE_RECORDS_LEN (64 + 16 * (64 + 256))

struct ccm_sgx_measure {
	EVP_MD_CTX *md;
	EVP_MD *sha256;
	struct sgx_layout l;
	ccm_sgx_record_sink sink;
	void *sink_ctx;
	uint8_t buf[PAGE_RECORDS_LEN];
};

static const uint8_t TAG_ECREATE[8] = "ECREATE";
static const uint8_t TAG_EADD[8] = "EADD";
static const uint8_t TAG_EEXTEND[8] = "EEXTEND";

ccm_code ccm_sgx_measure_new(struct ccm_sgx_measure **out, struct ccm_error *err)
{
	struct ccm_sgx_measure *m = calloc(1, sizeof(*m));

	if (m == NULL)
		return ccm_fail(err, CCM_E_NOMEM, "measure: out of memory");
	m->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
	m->md = EVP_MD_CTX_new();
	if (m->sha256 == NULL || m->md == NULL || !EVP_DigestInit_ex(m->md, m->sha256, NULL)) {
		ccm_sgx_measure_free(m);
		return ccm_fail(err, CCM_E_CRYPTO, "measure: SHA-256 unavailable");
	}
	*out = m;
	return CCM_OK;
}

void ccm_sgx_measure_free(struct ccm_sgx_measure *m)
{
	if (m == NULL)
		return;
	EVP_MD_CTX_free(m->md);
	EVP_MD_free(m->sha256);
	free(m);
}

void ccm_sgx_measure_set_sink(struct ccm_sgx_measure *m, ccm_sgx_record_sink sink, void *ctx)
{
	m->sink = sink;
	m->sink_ctx = ctx;
}

static ccm_code absorb(struct ccm_sgx_measure *m, const uint8_t *p, size_t len,
                       struct ccm_error *err)
{
	if (!EVP_DigestUpdate(m->md, p, len))
		return ccm_fail(err, CCM_E_CRYPTO, "measure: SHA-256 update failed");
	if (m->sink != NULL)
		return m->sink(m->sink_ctx, p, len, err);
	return CCM_OK;
}

ccm_code ccm_sgx_measure_ecreate(struct ccm_sgx_measure *m, uint32_t ssaframesize, uint64_t size,
                                 struct ccm_error *err)
{
	uint8_t rec[64] = {0};
	ccm_code rc = sgx_layout_ecreate(&m->l, ssaframesize, size, err);

	if (rc != CCM_OK)
		return rc;
	memcpy(rec, TAG_ECREATE, 8);
	util_put_le32(rec + 8, ssaframesize);
	util_put_le64(rec + 12, size);
	return absorb(m, rec, sizeof(rec), err);
}

/* Validate an EADD and fill its 64-byte record. */
static ccm_code eadd_record(struct ccm_sgx_measure *m, uint64_t offset, uint64_t flags,
                            uint8_t rec[64], struct ccm_error *err)
{
	uint64_t hashed = 0;
	ccm_code rc = sgx_layout_eadd(&m->l, offset, flags, &hashed, err);

	if (rc != CCM_OK)
		return rc;
	memset(rec, 0, 64);
	memcpy(rec, TAG_EADD, 8);
	util_put_le64(rec + 8, offset);
	util_put_le64(rec + 16, hashed);
	return CCM_OK;
}

ccm_code ccm_sgx_measure_eadd(struct ccm_sgx_measure *m, uint64_t offset, uint64_t secinfo_flags,
                              struct ccm_error *err)
{
	uint8_t rec[64];
	ccm_code rc = eadd_record(m, offset, secinfo_flags, rec, err);

	return rc != CCM_OK ? rc : absorb(m, rec, sizeof(rec), err);
}

static void eextend_header(uint8_t rec[64], uint64_t offset)
{
	memset(rec, 0, 64);
	memcpy(rec, TAG_EEXTEND, 8);
	util_put_le64(rec + 8, offset);
}

ccm_code ccm_sgx_measure_eextend(struct ccm_sgx_measure *m, uint64_t offset,
                                 const uint8_t chunk[CCM_SGX_CHUNK_SIZE], struct ccm_error *err)
{
	uint8_t *rec = m->buf;
	ccm_code rc = sgx_layout_eextend(&m->l, offset, err);

	if (rc != CCM_OK)
		return rc;
	eextend_header(rec, offset);
	memcpy(rec + 64, chunk, CCM_SGX_CHUNK_SIZE);
	return absorb(m, rec, 64 + CCM_SGX_CHUNK_SIZE, err);
}

ccm_code ccm_sgx_measure_page(struct ccm_sgx_measure *m, uint64_t offset, uint64_t secinfo_flags,
                              const uint8_t page[CCM_SGX_PAGE_SIZE], bool measured,
                              struct ccm_error *err)
{
	uint8_t *p = m->buf;
	ccm_code rc = eadd_record(m, offset, secinfo_flags, p, err);

	if (rc != CCM_OK || !measured)
		return rc != CCM_OK ? rc : absorb(m, p, 64, err);
	p += 64;
	for (unsigned i = 0; i < CCM_SGX_PAGE_SIZE / CCM_SGX_CHUNK_SIZE; i++) {
		eextend_header(p, offset + i * CCM_SGX_CHUNK_SIZE);
		memcpy(p + 64, page + i * CCM_SGX_CHUNK_SIZE, CCM_SGX_CHUNK_SIZE);
		p += 64 + CCM_SGX_CHUNK_SIZE;
	}
	m->l.extended = 0xffff;
	return absorb(m, m->buf, PAGE_RECORDS_LEN, err);
}

ccm_code ccm_sgx_measure_final(struct ccm_sgx_measure *m, uint8_t mrenclave[CCM_SGX_HASH_SIZE],
                               struct ccm_error *err)
{
	unsigned int len = 0;
	ccm_code rc = sgx_layout_created(&m->l, "final", err);

	if (rc != CCM_OK)
		return rc;
	if (!EVP_DigestFinal_ex(m->md, mrenclave, &len) || len != CCM_SGX_HASH_SIZE)
		return ccm_fail(err, CCM_E_CRYPTO, "measure: SHA-256 final failed");
	m->l.state = 2;
	return CCM_OK;
}
