/*
 * DESIGN: the PCK certificate's SGX extension is parsed by a small strict
 * DER reader of our own rather than OpenSSL's ASN.1 templates: the
 * structure is a fixed list of (OID, value) pairs, the reader is short
 * enough to fuzz exhaustively, and it lets every refusal name the entry
 * ("sgx extension: TCB component 6: INTEGER 300 > 255"). Like Intel's QVL
 * it demands exactly 5 (Processor CA) or 7 (Platform CA) entries, each
 * once, and 18 TCB entries; unlike BER it refuses indefinite and
 * non-minimal lengths and negative integers.
 */
#include <stdio.h>
#include <string.h>

#include <openssl/objects.h>
#include <openssl/x509v3.h>

#include "internal.h"

#define PCKEXT_OID "1.2.840.113741.1.13.1"

/* 1.2.840.113741.1.13.1 in DER content bytes */
static const uint8_t sgx_oid[9] = {0x2a, 0x86, 0x48, 0x86, 0xf8, 0x4d, 0x01, 0x0d, 0x01};

struct der {
	const uint8_t *p;
	size_t len;
};

static ccm_code pckext_tlv(struct der *in, uint8_t want, struct der *val, const char *what,
                           struct ccm_error *err)
{
	size_t n = 0, hdr = 2;

	if (in->len < 2)
		return ccm_fail(err, CCM_E_INPUT, "sgx extension: %s: truncated", what);
	if (in->p[0] != want)
		return ccm_fail(err, CCM_E_INPUT, "sgx extension: %s: tag 0x%02x, expected 0x%02x",
		                what, in->p[0], want);
	if (in->p[1] < 0x80) {
		n = in->p[1];
	} else {
		size_t k = in->p[1] & 0x7fu;
		if (k == 0 || k > 3 || in->len < 2 + k || in->p[2] == 0)
			return ccm_fail(err, CCM_E_INPUT, "sgx extension: %s: bad length", what);
		for (size_t i = 0; i < k; i++)
			n = n << 8 | in->p[2 + i];
		if (n < 0x80)
			return ccm_fail(err, CCM_E_INPUT, "sgx extension: %s: non-minimal length",
			                what);
		hdr += k;
	}
	if (in->len - hdr < n)
		return ccm_fail(err, CCM_E_INPUT, "sgx extension: %s: length %zu exceeds the data",
		                what, n);
	val->p = in->p + hdr;
	val->len = n;
	in->p += hdr + n;
	in->len -= hdr + n;
	return CCM_OK;
}

/* A non-negative DER INTEGER or ENUMERATED up to max. */
static ccm_code pckext_uint(struct der *in, uint8_t tag, uint32_t max, uint32_t *out,
                            const char *what, struct ccm_error *err)
{
	struct der v;
	uint32_t x = 0;
	ccm_code rc = pckext_tlv(in, tag, &v, what, err);

	if (rc != CCM_OK)
		return rc;
	if (v.len == 0 || v.len > 4 || (v.p[0] & 0x80) != 0 ||
	    (v.len > 1 && v.p[0] == 0 && (v.p[1] & 0x80) == 0))
		return ccm_fail(err, CCM_E_INPUT,
		                "sgx extension: %s: not a minimal non-negative "
		                "integer",
		                what);
	for (size_t i = 0; i < v.len; i++)
		x = x << 8 | v.p[i];
	if (x > max)
		return ccm_fail(err, CCM_E_INPUT, "sgx extension: %s: %u > %u", what, x, max);
	*out = x;
	return CCM_OK;
}

static ccm_code pckext_octets(struct der *in, uint8_t *out, size_t n, const char *what,
                              struct ccm_error *err)
{
	struct der v;
	ccm_code rc = pckext_tlv(in, 0x04, &v, what, err);

	if (rc != CCM_OK)
		return rc;
	if (v.len != n)
		return ccm_fail(err, CCM_E_INPUT, "sgx extension: %s: %zu bytes, expected %zu",
		                what, v.len, n);
	memcpy(out, v.p, n);
	return CCM_OK;
}

/* The OID of an entry: 1.2.840.113741.1.13.1 followed by 1 or 2 arcs
 * (each < 128). Returns the arcs in a, b (b = 0 when absent). */
static ccm_code pckext_oid(struct der *in, int depth, unsigned *a, unsigned *b,
                           struct ccm_error *err)
{
	struct der v;
	ccm_code rc = pckext_tlv(in, 0x06, &v, "entry OID", err);

	if (rc != CCM_OK)
		return rc;
	if (v.len != sizeof(sgx_oid) + (size_t)depth ||
	    memcmp(v.p, sgx_oid, sizeof(sgx_oid)) != 0 || (v.p[9] & 0x80) != 0 ||
	    (depth == 2 && (v.p[10] & 0x80) != 0))
		return ccm_fail(err, CCM_E_INPUT, "sgx extension: unexpected entry OID");
	*a = v.p[9];
	*b = depth == 2 ? v.p[10] : 0;
	return CCM_OK;
}

static ccm_code pckext_tcb_entry(struct der *seq, struct pckext *out, unsigned *seen,
                                 struct ccm_error *err)
{
	struct der e;
	unsigned a, b;
	uint32_t v;
	char what[32];
	ccm_code rc = pckext_tlv(seq, 0x30, &e, "TCB entry", err);

	if (rc != CCM_OK || (rc = pckext_oid(&e, 2, &a, &b, err)) != CCM_OK)
		return rc;
	if (a != 2 || b < 1 || b > 18 || (*seen & (1u << b)) != 0)
		return ccm_fail(err, CCM_E_INPUT,
		                "sgx extension: TCB entry %u.%u unexpected or "
		                "repeated",
		                a, b);
	*seen |= 1u << b;
	if (b <= 16) {
		snprintf(what, sizeof(what), "TCB component %u", b);
		rc = pckext_uint(&e, 0x02, 255, &v, what, err);
		out->comp[b - 1] = (uint8_t)v;
	} else if (b == 17) {
		rc = pckext_uint(&e, 0x02, 65535, &v, "PCESVN", err);
		out->pcesvn = (uint16_t)v;
	} else {
		rc = pckext_octets(&e, out->cpusvn, 16, "CPUSVN", err);
	}
	if (rc == CCM_OK && e.len != 0)
		rc = ccm_fail(err, CCM_E_INPUT, "sgx extension: TCB entry %u: trailing bytes", b);
	return rc;
}

static ccm_code pckext_tcb(struct der *in, struct pckext *out, struct ccm_error *err)
{
	struct der seq;
	unsigned seen = 0;
	int n = 0;
	ccm_code rc = pckext_tlv(in, 0x30, &seq, "TCB", err);

	while (rc == CCM_OK && seq.len > 0) {
		rc = pckext_tcb_entry(&seq, out, &seen, err);
		n++;
	}
	if (rc == CCM_OK && n != 18)
		rc = ccm_fail(err, CCM_E_INPUT, "sgx extension: TCB has %d entries, expected 18",
		              n);
	return rc;
}

static ccm_code pckext_value(struct der *e, unsigned a, struct pckext *out, struct ccm_error *err)
{
	struct der skip;
	uint32_t v;
	ccm_code rc;

	switch (a) {
	case 1:
		return pckext_octets(e, out->ppid, 16, "PPID", err);
	case 2:
		return pckext_tcb(e, out, err);
	case 3:
		return pckext_octets(e, out->pceid, 2, "PCE-ID", err);
	case 4:
		return pckext_octets(e, out->fmspc, 6, "FMSPC", err);
	case 5:
		rc = pckext_uint(e, 0x0a, 2, &v, "SGX type", err);
		out->sgx_type = (uint8_t)v;
		return rc;
	case 6:
		out->platform = true;
		return pckext_octets(e, out->platform_instance_id, 16, "PlatformInstanceID", err);
	default:
		return pckext_tlv(e, 0x30, &skip, "Configuration", err);
	}
}

ccm_code pckext_parse(const uint8_t *der, size_t len, struct pckext *out, struct ccm_error *err)
{
	struct der in = {der, len}, seq, e;
	unsigned seen = 0, a, b;
	int n = 0;
	ccm_code rc;

	memset(out, 0, sizeof(*out));
	rc = pckext_tlv(&in, 0x30, &seq, "extension", err);
	if (rc == CCM_OK && in.len != 0)
		rc = ccm_fail(err, CCM_E_INPUT, "sgx extension: %zu trailing bytes", in.len);
	while (rc == CCM_OK && seq.len > 0) {
		if ((rc = pckext_tlv(&seq, 0x30, &e, "entry", err)) != CCM_OK ||
		    (rc = pckext_oid(&e, 1, &a, &b, err)) != CCM_OK)
			break;
		if (a < 1 || a > 7 || (seen & (1u << a)) != 0) {
			rc = ccm_fail(err, CCM_E_INPUT,
			              "sgx extension: entry %u unexpected or repeated", a);
			break;
		}
		seen |= 1u << a;
		n++;
		if ((rc = pckext_value(&e, a, out, err)) == CCM_OK && e.len != 0)
			rc = ccm_fail(err, CCM_E_INPUT, "sgx extension: entry %u: trailing bytes",
			              a);
	}
	if (rc != CCM_OK)
		return rc;
	if ((n == 5 && seen != 0x3eu) || (n == 7 && seen != 0xfeu) || (n != 5 && n != 7))
		return ccm_fail(err, CCM_E_INPUT,
		                "sgx extension: %d entries; expected PPID, TCB, PCE-ID, FMSPC, SGX "
		                "type (and PlatformInstanceID, Configuration for platform certs)",
		                n);
	return CCM_OK;
}

ccm_code pckext_from_cert(X509 *cert, struct pckext *out, struct ccm_error *err)
{
	ASN1_OBJECT *obj = OBJ_txt2obj(PCKEXT_OID, 1);
	X509_EXTENSION *ext;
	const ASN1_OCTET_STRING *os;
	int idx;

	if (obj == NULL)
		return ccm_fail(err, CCM_E_CRYPTO, "sgx extension: cannot build the OID");
	idx = X509_get_ext_by_OBJ(cert, obj, -1);
	if (idx >= 0 && X509_get_ext_by_OBJ(cert, obj, idx) >= 0)
		idx = -2;
	ASN1_OBJECT_free(obj);
	if (idx == -2)
		return ccm_fail(err, CCM_E_INPUT, "sgx extension: present twice");
	if (idx < 0)
		return ccm_fail(err, CCM_E_INPUT,
		                "sgx extension: the PCK certificate has no extension " PCKEXT_OID);
	ext = X509_get_ext(cert, idx);
	os = X509_EXTENSION_get_data(ext);
	return pckext_parse(ASN1_STRING_get0_data(os), (size_t)ASN1_STRING_length(os), out, err);
}
