/*
 * DESIGN: the quote parser reads the bytes once, front to back, through a
 * cursor that knows the name of every field it takes, so each refusal says
 * which field at which absolute offset was wrong ("qe_auth_data at offset
 * 1014: needs 32 bytes, 5 left"). Lengths declared inside the quote are
 * checked against what is left before anything is read, and the signature
 * data must be consumed exactly. Bytes after it are accepted whatever their
 * value and only counted, as Intel's QVL does (SPEC-NOTES D.2): real TDX
 * quotes carry zero padding, no signature covers that tail, and a verifier
 * that refused it would reject quotes Intel's procedure accepts. Nothing
 * here parses X.509 or verifies a signature: that is verification's job.
 */
#include <stdlib.h>
#include <string.h>

#include "ccm/quote.h"
#include "util/util.h"

static const uint8_t intel_qe_vendor[16] = {0x93, 0x9a, 0x72, 0x33, 0xf7, 0x9c, 0x4c, 0xa9,
                                            0x94, 0x0a, 0x0d, 0xb3, 0x95, 0x7f, 0x06, 0x07};

struct cursor {
	const uint8_t *base; /* start of the quote (offsets are absolute) */
	size_t off;          /* absolute offset of the next byte */
	size_t end;          /* absolute end of this region */
};

static ccm_code parse_take(struct cursor *c, size_t n, const char *field, const uint8_t **out,
                           struct ccm_error *err)
{
	if (c->end - c->off < n)
		return ccm_fail(err, CCM_E_INPUT,
		                "quote: %s at offset %zu: needs %zu bytes, %zu left", field, c->off,
		                n, c->end - c->off);
	*out = c->base + c->off;
	c->off += n;
	return CCM_OK;
}

static ccm_code parse_u16(struct cursor *c, const char *field, uint16_t *v, struct ccm_error *err)
{
	const uint8_t *p = NULL;
	ccm_code rc = parse_take(c, 2, field, &p, err);

	if (rc == CCM_OK)
		*v = util_le16(p);
	return rc;
}

static ccm_code parse_u32(struct cursor *c, const char *field, uint32_t *v, struct ccm_error *err)
{
	const uint8_t *p = NULL;
	ccm_code rc = parse_take(c, 4, field, &p, err);

	if (rc == CCM_OK)
		*v = util_le32(p);
	return rc;
}

void ccm_quote_report_decode(const uint8_t *p, struct ccm_quote_report *r)
{
	memset(r, 0, sizeof(*r));
	memcpy(r->cpusvn, p, 16);
	memcpy(r->miscselect, p + 16, 4);
	memcpy(r->isvextprodid, p + 32, 16);
	memcpy(r->attributes, p + 48, 16);
	memcpy(r->mrenclave, p + 64, 32);
	memcpy(r->mrsigner, p + 128, 32);
	memcpy(r->configid, p + 192, 64);
	r->isvprodid = util_le16(p + 256);
	r->isvsvn = util_le16(p + 258);
	r->configsvn = util_le16(p + 260);
	memcpy(r->isvfamilyid, p + 304, 16);
	memcpy(r->reportdata, p + 320, 64);
}

void ccm_quote_report_encode(const struct ccm_quote_report *r, uint8_t *out)
{
	memset(out, 0, CCM_QUOTE_REPORT_SIZE);
	memcpy(out, r->cpusvn, 16);
	memcpy(out + 16, r->miscselect, 4);
	memcpy(out + 32, r->isvextprodid, 16);
	memcpy(out + 48, r->attributes, 16);
	memcpy(out + 64, r->mrenclave, 32);
	memcpy(out + 128, r->mrsigner, 32);
	memcpy(out + 192, r->configid, 64);
	util_put_le16(out + 256, r->isvprodid);
	util_put_le16(out + 258, r->isvsvn);
	util_put_le16(out + 260, r->configsvn);
	memcpy(out + 304, r->isvfamilyid, 16);
	memcpy(out + 320, r->reportdata, 64);
}

static void parse_td_report(const uint8_t *p, bool v15, struct ccm_quote_td_report *t)
{
	memcpy(t->tee_tcb_svn, p, 16);
	memcpy(t->mr_seam, p + 16, 48);
	memcpy(t->mr_signer_seam, p + 64, 48);
	memcpy(t->seam_attributes, p + 112, 8);
	memcpy(t->td_attributes, p + 120, 8);
	memcpy(t->xfam, p + 128, 8);
	memcpy(t->mr_td, p + 136, 48);
	memcpy(t->mr_config_id, p + 184, 48);
	memcpy(t->mr_owner, p + 232, 48);
	memcpy(t->mr_owner_config, p + 280, 48);
	for (int i = 0; i < 4; i++)
		memcpy(t->rtmr[i], p + 328 + 48 * i, 48);
	memcpy(t->report_data, p + 520, 64);
	if (v15) {
		memcpy(t->tee_tcb_svn2, p + 584, 16);
		memcpy(t->mr_servicetd, p + 600, 48);
	}
}

static ccm_code parse_header(struct cursor *c, struct ccm_quote *q, struct ccm_error *err)
{
	const uint8_t *p = NULL;
	ccm_code rc = parse_take(c, 48, "header", &p, err);

	if (rc != CCM_OK)
		return rc;
	q->version = util_le16(p);
	q->att_key_type = util_le16(p + 2);
	q->tee_type = util_le32(p + 4);
	q->qe_svn = util_le16(p + 8);
	q->pce_svn = util_le16(p + 10);
	memcpy(q->qe_vendor_id, p + 12, 16);
	memcpy(q->user_data, p + 28, 20);
	if (q->version < 3 || q->version > 5)
		return ccm_fail(err, CCM_E_UNSUPPORTED,
		                "quote: version at offset 0: %u is not supported (3, 4 or 5)",
		                q->version);
	if (q->att_key_type != 2)
		return ccm_fail(err, CCM_E_UNSUPPORTED,
		                "quote: att_key_type at offset 2: %u is not supported "
		                "(2 = ECDSA-256-with-P-256)",
		                q->att_key_type);
	if (q->tee_type != CCM_QUOTE_TEE_SGX && q->tee_type != CCM_QUOTE_TEE_TDX)
		return ccm_fail(
		        err, CCM_E_UNSUPPORTED,
		        "quote: tee_type at offset 4: 0x%x is not supported (0 SGX, 0x81 TDX)",
		        q->tee_type);
	if (q->version == 3 && q->tee_type != CCM_QUOTE_TEE_SGX)
		return ccm_fail(
		        err, CCM_E_INPUT,
		        "quote: tee_type at offset 4: 0x%x in a version 3 quote (must be 0)",
		        q->tee_type);
	if (memcmp(q->qe_vendor_id, intel_qe_vendor, 16) != 0)
		return ccm_fail(err, CCM_E_UNSUPPORTED,
		                "quote: qe_vendor_id at offset 12: not Intel's quoting enclave");
	return CCM_OK;
}

/* The v5 body descriptor, or the implied body of v3/v4. */
static ccm_code parse_body_type(struct cursor *c, struct ccm_quote *q, size_t *size,
                                struct ccm_error *err)
{
	static const size_t sizes[4] = {0, 384, 584, 648};
	uint16_t type = 0;
	uint32_t len = 0;
	size_t at = c->off;
	ccm_code rc;

	if (q->version < 5) {
		q->body_type =
		        q->tee_type == CCM_QUOTE_TEE_TDX ? CCM_QUOTE_BODY_TD10 : CCM_QUOTE_BODY_SGX;
		*size = sizes[q->body_type];
		return CCM_OK;
	}
	if ((rc = parse_u16(c, "body type", &type, err)) != CCM_OK ||
	    (rc = parse_u32(c, "body size", &len, err)) != CCM_OK)
		return rc;
	if (type < 1 || type > 3)
		return ccm_fail(err, CCM_E_UNSUPPORTED,
		                "quote: body type at offset %zu: %u is not supported (1, 2 or 3)",
		                at, type);
	if (len != sizes[type])
		return ccm_fail(
		        err, CCM_E_INPUT,
		        "quote: body size at offset %zu: %u does not match body type %u (%zu)",
		        at + 2, len, type, sizes[type]);
	if ((type == CCM_QUOTE_BODY_SGX) != (q->tee_type == CCM_QUOTE_TEE_SGX))
		return ccm_fail(err, CCM_E_INPUT,
		                "quote: body type at offset %zu: %u does not match tee_type 0x%x",
		                at, type, q->tee_type);
	q->body_type = (enum ccm_quote_body)type;
	*size = len;
	return CCM_OK;
}

static ccm_code parse_body(struct cursor *c, struct ccm_quote *q, struct ccm_error *err)
{
	const uint8_t *p = NULL;
	size_t size = 0;
	ccm_code rc = parse_body_type(c, q, &size, err);

	if (rc != CCM_OK)
		return rc;
	q->body_off = c->off;
	rc = parse_take(c, size, q->body_type == CCM_QUOTE_BODY_SGX ? "report body" : "td report",
	                &p, err);
	if (rc != CCM_OK)
		return rc;
	if (q->body_type == CCM_QUOTE_BODY_SGX)
		ccm_quote_report_decode(p, &q->sgx);
	else
		parse_td_report(p, q->body_type == CCM_QUOTE_BODY_TD15, &q->td);
	q->signed_len = c->off;
	return CCM_OK;
}

/* QE report, its signature, the QE authentication data and the (inner)
 * certification data: the v3 signature data tail and the v4/v5 type-6
 * payload have the same layout. */
static ccm_code parse_qe_part(struct cursor *c, struct ccm_quote *q, struct ccm_error *err)
{
	const uint8_t *p = NULL;
	size_t at;
	ccm_code rc;

	if ((rc = parse_take(c, 384, "qe report", &q->qe_report_raw, err)) != CCM_OK ||
	    (rc = parse_take(c, 64, "qe report signature", &q->qe_report_sig, err)) != CCM_OK ||
	    (rc = parse_u16(c, "qe auth data size", &q->qe_auth_len, err)) != CCM_OK ||
	    (rc = parse_take(c, q->qe_auth_len, "qe auth data", &q->qe_auth, err)) != CCM_OK)
		return rc;
	ccm_quote_report_decode(q->qe_report_raw, &q->qe_report);
	at = c->off;
	if ((rc = parse_u16(c, "certification data type", &q->cert_type, err)) != CCM_OK)
		return rc;
	if (q->cert_type < 1 || q->cert_type > 5)
		return ccm_fail(err, CCM_E_UNSUPPORTED,
		                "quote: certification data type at offset %zu: %u is not supported "
		                "(1..5)",
		                at, q->cert_type);
	if ((rc = parse_u32(c, "certification data size", &q->cert_len, err)) != CCM_OK ||
	    (rc = parse_take(c, q->cert_len, "certification data", &p, err)) != CCM_OK)
		return rc;
	q->cert_data = p;
	if (c->off != c->end)
		return ccm_fail(
		        err, CCM_E_INPUT,
		        "quote: certification data at offset %zu: %zu unexpected bytes follow",
		        c->off, c->end - c->off);
	return CCM_OK;
}

static ccm_code parse_v4_cert(struct cursor *c, struct ccm_quote *q, struct ccm_error *err)
{
	struct cursor in;
	uint16_t type = 0;
	uint32_t size = 0;
	size_t at = c->off;
	const uint8_t *p = NULL;
	ccm_code rc;

	if ((rc = parse_u16(c, "certification data type", &type, err)) != CCM_OK)
		return rc;
	if (type != 6)
		return ccm_fail(
		        err, CCM_E_UNSUPPORTED,
		        "quote: certification data type at offset %zu: %u (a version %u quote "
		        "needs 6, QE report certification data)",
		        at, type, q->version);
	if ((rc = parse_u32(c, "certification data size", &size, err)) != CCM_OK)
		return rc;
	at = c->off;
	if ((rc = parse_take(c, size, "qe report certification data", &p, err)) != CCM_OK)
		return rc;
	in = (struct cursor){c->base, at, at + size};
	rc = parse_qe_part(&in, q, err);
	if (rc == CCM_OK && c->off != c->end)
		rc = ccm_fail(err, CCM_E_INPUT,
		              "quote: signature data at offset %zu: %zu unexpected bytes follow",
		              c->off, c->end - c->off);
	return rc;
}

static ccm_code parse_sig_data(struct cursor *c, struct ccm_quote *q, struct ccm_error *err)
{
	struct cursor sd;
	const uint8_t *p = NULL;
	size_t at = c->off;
	ccm_code rc;

	if ((rc = parse_u32(c, "signature data size", &q->sig_data_len, err)) != CCM_OK)
		return rc;
	if (q->sig_data_len > c->end - c->off)
		return ccm_fail(
		        err, CCM_E_INPUT,
		        "quote: signature data size at offset %zu: %u exceeds the %zu bytes "
		        "left",
		        at, q->sig_data_len, c->end - c->off);
	at = c->off;
	if ((rc = parse_take(c, q->sig_data_len, "signature data", &p, err)) != CCM_OK)
		return rc;
	sd = (struct cursor){c->base, at, at + q->sig_data_len};
	if ((rc = parse_take(&sd, 64, "quote signature", &q->signature, err)) != CCM_OK ||
	    (rc = parse_take(&sd, 64, "attestation key", &q->attest_key, err)) != CCM_OK)
		return rc;
	if (q->version == 3)
		return parse_qe_part(&sd, q, err);
	return parse_v4_cert(&sd, q, err);
}

static ccm_code parse_all(struct ccm_quote *q, struct ccm_error *err)
{
	struct cursor c = {q->raw, 0, q->len};
	ccm_code rc;

	if ((rc = parse_header(&c, q, err)) != CCM_OK || (rc = parse_body(&c, q, err)) != CCM_OK ||
	    (rc = parse_sig_data(&c, q, err)) != CCM_OK)
		return rc;
	q->trailing = q->len - c.off;
	return CCM_OK;
}

ccm_code ccm_quote_parse(const uint8_t *buf, size_t len, struct ccm_quote **out,
                         struct ccm_error *err)
{
	struct ccm_quote *q;
	ccm_code rc;

	*out = NULL;
	if (len > CCM_QUOTE_MAX_BYTES)
		return ccm_fail(err, CCM_E_LIMIT, "quote: %zu bytes exceeds the %u-byte limit", len,
		                CCM_QUOTE_MAX_BYTES);
	q = calloc(1, sizeof(*q));
	if (q == NULL)
		return ccm_fail(err, CCM_E_NOMEM, "quote: out of memory");
	q->raw = malloc(len ? len : 1);
	if (q->raw == NULL) {
		rc = ccm_fail(err, CCM_E_NOMEM, "quote: out of memory");
		goto fail;
	}
	if (len > 0)
		memcpy(q->raw, buf, len);
	q->len = len;
	rc = parse_all(q, err);
	if (rc != CCM_OK)
		goto fail;
	*out = q;
	return CCM_OK;
fail:
	ccm_quote_free(q);
	return rc;
}

void ccm_quote_free(struct ccm_quote *q)
{
	if (q == NULL)
		return;
	free(q->raw);
	free(q);
}

bool ccm_quote_is_tdx(const struct ccm_quote *q)
{
	return q->tee_type == CCM_QUOTE_TEE_TDX;
}
