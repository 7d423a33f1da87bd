/*
 * DESIGN: SGXS is the measurement itself written down, so the reader is
 * strict: every byte a record does not define must be zero, and the
 * canonical-form rules (layout.c) are enforced, because a stream that is not
 * canonical hashes to a value no processor would compute for it. With that
 * guaranteed, measuring a stream is hashing its measured records verbatim.
 */
#include <string.h>

#include <openssl/evp.h>

#include "ccm/sgx.h"
#include "layout.h"
#include "util/util.h"

struct tagname {
	const char tag[8];
	enum ccm_sgxs_tag kind;
	const char *name;
};

static const struct tagname tags[] = {
        {"ECREATE", CCM_SGXS_ECREATE, "ECREATE"},
        {"EADD\0\0\0", CCM_SGXS_EADD, "EADD"},
        {"EEXTEND", CCM_SGXS_EEXTEND, "EEXTEND"},
        {"UNSIZED", CCM_SGXS_UNSIZED, "UNSIZED"},
        {{'U', 'N', 'M', 'E', 'A', 'S', 'R', 'D'}, CCM_SGXS_UNMEASRD, "UNMEASRD"},
};

static const struct tagname *find_tag(const uint8_t *p)
{
	for (size_t i = 0; i < sizeof(tags) / sizeof(tags[0]); i++)
		if (memcmp(p, tags[i].tag, 8) == 0)
			return &tags[i];
	return NULL;
}

static ccm_code zero_tail(const uint8_t *rec, size_t from, const char *name, struct ccm_error *err)
{
	for (size_t i = from; i < CCM_SGX_RECORD_SIZE; i++)
		if (rec[i] != 0)
			return ccm_fail(err, CCM_E_INPUT,
			                "%s: reserved byte %zu of the record is 0x%02x, not zero",
			                name, i, rec[i]);
	return CCM_OK;
}

/* Decode the 64-byte header at p into r and check it against the layout. */
static ccm_code decode(const uint8_t *p, size_t avail, size_t index, struct sgx_layout *l,
                       struct ccm_sgxs_record *r, struct ccm_error *err)
{
	const struct tagname *t = find_tag(p);
	uint64_t hashed = 0;
	ccm_code rc;

	if (t == NULL)
		return ccm_fail(err, CCM_E_INPUT,
		                "unknown record tag %02x%02x%02x%02x%02x%02x%02x%02x", p[0], p[1],
		                p[2], p[3], p[4], p[5], p[6], p[7]);
	memset(r, 0, sizeof(*r));
	r->tag = t->kind;
	switch (t->kind) {
	case CCM_SGXS_ECREATE:
	case CCM_SGXS_UNSIZED:
		if (index != 0)
			return ccm_fail(err, CCM_E_INPUT, "%s: only the first record may be one",
			                t->name);
		r->ssaframesize = util_le32(p + 8);
		r->size = util_le64(p + 12);
		if ((rc = zero_tail(p, 20, t->name, err)) != CCM_OK)
			return rc;
		/* UNSIZED: the size is unknown; any in-range offset is plausible. */
		return sgx_layout_ecreate(l, r->ssaframesize,
		                          t->kind == CCM_SGXS_ECREATE ? r->size : (uint64_t)1 << 63,
		                          err);
	case CCM_SGXS_EADD:
		r->offset = util_le64(p + 8);
		r->secinfo_flags = util_le64(p + 16);
		if ((rc = zero_tail(p, 24, t->name, err)) != CCM_OK)
			return rc;
		if ((rc = sgx_layout_eadd(l, r->offset, r->secinfo_flags, &hashed, err)) != CCM_OK)
			return rc;
		if (hashed != r->secinfo_flags)
			return ccm_fail(err, CCM_E_INPUT,
			                "EADD: TCS page at 0x%llx has permission bits set (0x%llx)",
			                (unsigned long long)r->offset,
			                (unsigned long long)r->secinfo_flags);
		return CCM_OK;
	case CCM_SGXS_EEXTEND:
	case CCM_SGXS_UNMEASRD:
		r->offset = util_le64(p + 8);
		if ((rc = zero_tail(p, 16, t->name, err)) != CCM_OK)
			return rc;
		if (avail < CCM_SGX_RECORD_SIZE + CCM_SGX_CHUNK_SIZE)
			return ccm_fail(err, CCM_E_INPUT,
			                "%s: truncated: %zu of its 256 data bytes present", t->name,
			                avail - CCM_SGX_RECORD_SIZE);
		r->data = p + CCM_SGX_RECORD_SIZE;
		return sgx_layout_eextend(l, r->offset, err);
	}
	return ccm_fail(err, CCM_E_INTERNAL, "unhandled record tag");
}

static size_t record_len(enum ccm_sgxs_tag tag)
{
	if (tag == CCM_SGXS_EEXTEND || tag == CCM_SGXS_UNMEASRD)
		return CCM_SGX_RECORD_SIZE + CCM_SGX_CHUNK_SIZE;
	return CCM_SGX_RECORD_SIZE;
}

ccm_code ccm_sgxs_parse(const uint8_t *buf, size_t len, ccm_sgxs_visit visit, void *ctx,
                        struct ccm_error *err)
{
	struct sgx_layout l = {0};
	struct ccm_sgxs_record r;
	size_t pos = 0, index = 0;
	ccm_code rc;

	if (len == 0)
		return ccm_fail(err, CCM_E_INPUT, "sgxs: empty stream (no ECREATE record)");
	if ((uint64_t)len > CCM_SGXS_MAX_STREAM)
		return ccm_fail(err, CCM_E_LIMIT,
		                "sgxs: stream of %zu bytes exceeds the %llu limit", len,
		                (unsigned long long)CCM_SGXS_MAX_STREAM);
	for (; pos < len; index++) {
		if (len - pos < CCM_SGX_RECORD_SIZE) {
			return ccm_fail(err, CCM_E_INPUT,
			                "sgxs: record %zu at byte %zu: truncated: %zu of 64 header "
			                "bytes present",
			                index, pos, len - pos);
		}
		rc = decode(buf + pos, len - pos, index, &l, &r, err);
		if (rc == CCM_OK && visit != NULL)
			rc = visit(ctx, &r, err);
		if (rc != CCM_OK) {
			ccm_error_prefix(err, "sgxs: record %zu at byte %zu", index, pos);
			return rc;
		}
		pos += record_len(r.tag);
	}
	return CCM_OK;
}

struct measure_ctx {
	EVP_MD_CTX *md;
	const uint8_t *base;
	const uint8_t *cur;
};

static ccm_code measure_visit(void *vctx, const struct ccm_sgxs_record *r, struct ccm_error *err)
{
	struct measure_ctx *mc = vctx;
	size_t n = record_len(r->tag);
	const uint8_t *p = mc->cur;

	mc->cur += n;
	if (r->tag == CCM_SGXS_UNSIZED)
		return ccm_fail(
		        err, CCM_E_INPUT,
		        "UNSIZED: the enclave size is not fixed yet; it cannot be measured");
	if (r->tag == CCM_SGXS_UNMEASRD)
		return CCM_OK;
	if (!EVP_DigestUpdate(mc->md, p, n))
		return ccm_fail(err, CCM_E_CRYPTO, "SHA-256 update failed");
	return CCM_OK;
}

ccm_code ccm_sgxs_measure(const uint8_t *buf, size_t len, uint8_t mrenclave[CCM_SGX_HASH_SIZE],
                          struct ccm_error *err)
{
	struct measure_ctx mc = {.base = buf, .cur = buf};
	unsigned int outlen = 0;
	ccm_code rc;

	mc.md = EVP_MD_CTX_new();
	if (mc.md == NULL || !EVP_DigestInit_ex(mc.md, EVP_sha256(), NULL)) {
		EVP_MD_CTX_free(mc.md);
		return ccm_fail(err, CCM_E_CRYPTO, "sgxs: SHA-256 unavailable");
	}
	rc = ccm_sgxs_parse(buf, len, measure_visit, &mc, err);
	if (rc == CCM_OK && (!EVP_DigestFinal_ex(mc.md, mrenclave, &outlen) || outlen != 32))
		rc = ccm_fail(err, CCM_E_CRYPTO, "sgxs: SHA-256 final failed");
	EVP_MD_CTX_free(mc.md);
	return rc;
}

ccm_code ccm_sgxs_write_record(const struct ccm_sgxs_record *rec, uint8_t out[320], size_t *len,
                               struct ccm_error *err)
{
	const struct tagname *t = NULL;

	for (size_t i = 0; i < sizeof(tags) / sizeof(tags[0]); i++)
		if (tags[i].kind == rec->tag)
			t = &tags[i];
	if (t == NULL)
		return ccm_fail(err, CCM_E_INPUT, "sgxs: unknown record kind %d", (int)rec->tag);
	memset(out, 0, CCM_SGX_RECORD_SIZE);
	memcpy(out, t->tag, 8);
	switch (rec->tag) {
	case CCM_SGXS_ECREATE:
	case CCM_SGXS_UNSIZED:
		util_put_le32(out + 8, rec->ssaframesize);
		util_put_le64(out + 12, rec->size);
		break;
	case CCM_SGXS_EADD:
		util_put_le64(out + 8, rec->offset);
		util_put_le64(out + 16, rec->secinfo_flags);
		break;
	case CCM_SGXS_EEXTEND:
	case CCM_SGXS_UNMEASRD:
		if (rec->data == NULL)
			return ccm_fail(err, CCM_E_INPUT, "sgxs: %s record without data", t->name);
		util_put_le64(out + 8, rec->offset);
		memcpy(out + CCM_SGX_RECORD_SIZE, rec->data, CCM_SGX_CHUNK_SIZE);
		break;
	}
	*len = record_len(rec->tag);
	return CCM_OK;
}
