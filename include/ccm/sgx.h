/*
 * DESIGN: the enclave identity of Intel SGX, byte-exact per the SDM.
 *
 * Three pieces, each usable alone:
 *  - an incremental MRENCLAVE context fed ECREATE/EADD/EEXTEND in loader
 *    order, which refuses out-of-order or out-of-range records as they come
 *    (a measurement of a stream no loader could produce is worthless);
 *  - a reader and writer of the SGXS/ESGXS record stream (Fortanix's
 *    exchange format: SHA-256 of a plain SGXS file is MRENCLAVE);
 *  - SIGSTRUCT: build, sign (RSA-3072, e = 3), parse, verify, MRSIGNER.
 * Byte strings are kept in SGX memory order (modulus, signature, q1, q2
 * little-endian) so that what is stored is what is hashed.
 */
#ifndef CCM_SGX_H
#define CCM_SGX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/types.h>

#include "ccm/ccm.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CCM_SGX_PAGE_SIZE 4096u
#define CCM_SGX_CHUNK_SIZE 256u
#define CCM_SGX_RECORD_SIZE 64u
#define CCM_SGX_SIGSTRUCT_SIZE 1808u
#define CCM_SGX_KEY_BYTES 384u
#define CCM_SGX_HASH_SIZE 32u

/* SECINFO.FLAGS bits (SDM "SECINFO"): permissions and page type << 8. */
#define CCM_SGX_SECINFO_R 0x001u
#define CCM_SGX_SECINFO_W 0x002u
#define CCM_SGX_SECINFO_X 0x004u
#define CCM_SGX_PT_SECS 0u
#define CCM_SGX_PT_TCS 1u
#define CCM_SGX_PT_REG 2u
#define CCM_SGX_SECINFO_TCS (CCM_SGX_PT_TCS << 8)
#define CCM_SGX_SECINFO_REG (CCM_SGX_PT_REG << 8)

/* ATTRIBUTES.FLAGS bits. */
#define CCM_SGX_FLAG_INIT 0x01u
#define CCM_SGX_FLAG_DEBUG 0x02u
#define CCM_SGX_FLAG_MODE64BIT 0x04u
#define CCM_SGX_FLAG_PROVISIONKEY 0x10u
#define CCM_SGX_FLAG_EINITTOKENKEY 0x20u
#define CCM_SGX_FLAG_KSS 0x80u

/* ---- measurement ---------------------------------------------------- */

struct ccm_sgx_measure; /* opaque */

/* Called with every record exactly as it is (or would be) hashed: 64
 * bytes, or 320 for EEXTEND. Used to write an SGXS stream while measuring. */
typedef ccm_code (*ccm_sgx_record_sink)(void *ctx, const uint8_t *rec, size_t len,
                                        struct ccm_error *err);

ccm_code ccm_sgx_measure_new(struct ccm_sgx_measure **out, struct ccm_error *err);
void ccm_sgx_measure_free(struct ccm_sgx_measure *m);
void ccm_sgx_measure_set_sink(struct ccm_sgx_measure *m, ccm_sgx_record_sink sink, void *ctx);

/* ssaframesize in pages (>= 1); size a power of two >= 2 pages. */
ccm_code ccm_sgx_measure_ecreate(struct ccm_sgx_measure *m, uint32_t ssaframesize, uint64_t size,
                                 struct ccm_error *err);
/* offset page-aligned, ascending, below size. A TCS page is hashed with
 * R/W/X cleared, as the processor does. */
ccm_code ccm_sgx_measure_eadd(struct ccm_sgx_measure *m, uint64_t offset, uint64_t secinfo_flags,
                              struct ccm_error *err);
/* offset 256-aligned, inside the page of the last EADD, each chunk once. */
ccm_code ccm_sgx_measure_eextend(struct ccm_sgx_measure *m, uint64_t offset,
                                 const uint8_t chunk[CCM_SGX_CHUNK_SIZE], struct ccm_error *err);
/* EADD of one page, then (when measured) its 16 EEXTENDs: the fast path. */
ccm_code ccm_sgx_measure_page(struct ccm_sgx_measure *m, uint64_t offset, uint64_t secinfo_flags,
                              const uint8_t page[CCM_SGX_PAGE_SIZE], bool measured,
                              struct ccm_error *err);
ccm_code ccm_sgx_measure_final(struct ccm_sgx_measure *m, uint8_t mrenclave[CCM_SGX_HASH_SIZE],
                               struct ccm_error *err);

/* ---- SGXS / ESGXS stream -------------------------------------------- */

enum ccm_sgxs_tag {
	CCM_SGXS_ECREATE,
	CCM_SGXS_EADD,
	CCM_SGXS_EEXTEND,
	CCM_SGXS_UNSIZED,  /* ESGXS: ECREATE whose size is not known yet */
	CCM_SGXS_UNMEASRD, /* ESGXS: EEXTEND-like data loaded, not hashed */
};

struct ccm_sgxs_record {
	enum ccm_sgxs_tag tag;
	uint32_t ssaframesize;  /* ECREATE, UNSIZED */
	uint64_t size;          /* ECREATE: enclave size; UNSIZED: where to store it */
	uint64_t offset;        /* EADD, EEXTEND, UNMEASRD */
	uint64_t secinfo_flags; /* EADD */
	const uint8_t *data;    /* EEXTEND, UNMEASRD: 256 bytes (points into input) */
};

/* Largest stream ccm reads (64 GiB of enclave is far beyond any EPC). */
#define CCM_SGXS_MAX_STREAM ((uint64_t)1 << 36)

typedef ccm_code (*ccm_sgxs_visit)(void *ctx, const struct ccm_sgxs_record *rec,
                                   struct ccm_error *err);

/* Parse a whole stream, checking the canonical-form rules; the first
 * violation is named in the error with the record index and byte offset.
 * visit may be NULL. */
ccm_code ccm_sgxs_parse(const uint8_t *buf, size_t len, ccm_sgxs_visit visit, void *ctx,
                        struct ccm_error *err);

/* Parse and measure; UNSIZED is refused, UNMEASRD records are skipped. */
ccm_code ccm_sgxs_measure(const uint8_t *buf, size_t len, uint8_t mrenclave[CCM_SGX_HASH_SIZE],
                          struct ccm_error *err);

/* Serialise one record (64 bytes, or 320 with data); returns its length
 * in *len. out must hold 320 bytes. */
ccm_code ccm_sgxs_write_record(const struct ccm_sgxs_record *rec, uint8_t out[320], size_t *len,
                               struct ccm_error *err);

/* ---- SIGSTRUCT ------------------------------------------------------ */

/* The signed, settable body of a SIGSTRUCT (SDM field names). */
struct ccm_sgx_sigfields {
	uint32_t vendor; /* 0 or 0x8086 */
	uint32_t date;   /* 0xYYYYMMDD */
	uint32_t swdefined;
	uint32_t miscselect;
	uint32_t miscmask;
	uint8_t cet_attributes;
	uint8_t cet_attributes_mask;
	uint8_t isvfamilyid[16];
	uint8_t attributes[16];    /* FLAGS u64 LE || XFRM u64 LE */
	uint8_t attributemask[16]; /* same layout */
	uint8_t enclavehash[32];
	uint8_t isvextprodid[16];
	uint16_t isvprodid;
	uint16_t isvsvn;
};

/* A parsed SIGSTRUCT: the body, the key material and the raw bytes. */
struct ccm_sgx_sigstruct {
	struct ccm_sgx_sigfields f;
	uint8_t header[16];
	uint8_t header2[16];
	uint8_t modulus[CCM_SGX_KEY_BYTES]; /* little-endian */
	uint32_t exponent;
	uint8_t signature[CCM_SGX_KEY_BYTES]; /* little-endian */
	uint8_t q1[CCM_SGX_KEY_BYTES];
	uint8_t q2[CCM_SGX_KEY_BYTES];
	uint8_t raw[CCM_SGX_SIGSTRUCT_SIZE];
};

struct ccm_sgx_sigcheck {
	bool header_ok;    /* HEADER, HEADER2 and reserved fields as required */
	bool exponent_ok;  /* exponent == 3 */
	bool signature_ok; /* RSA PKCS#1 v1.5 SHA-256 over the signed ranges */
	bool q1q2_ok;      /* q1, q2 as EINIT expects them */
	uint8_t mrsigner[CCM_SGX_HASH_SIZE];
};

/* Defaults as Intel's sgx_sign: vendor 0, attributes MODE64BIT with XFRM
 * x87|SSE, attribute mask ~DEBUG / ~0xe4 (AVX state not enforced),
 * miscmask 0xffffffff, date left 0 for the caller. */
void ccm_sgx_sigfields_default(struct ccm_sgx_sigfields *f);

/* Date as the SDM stores it (0xYYYYMMDD) from a YYYYMMDD string; checked
 * to be a real calendar date. */
ccm_code ccm_sgx_parse_date(const char *yyyymmdd, uint32_t *out, struct ccm_error *err);

/* Today's date (UTC) in SIGSTRUCT form. */
uint32_t ccm_sgx_date_today(void);

/* Check that a key is RSA-3072 with public exponent 3. */
ccm_code ccm_sgx_key_check(EVP_PKEY *key, struct ccm_error *err);
ccm_code ccm_sgx_keygen(EVP_PKEY **out, struct ccm_error *err);
/* Load a PEM private key (PKCS#1 or PKCS#8) and check it. */
ccm_code ccm_sgx_key_load(const char *path, EVP_PKEY **out, struct ccm_error *err);
/* Write a private key as PKCS#8 PEM, mode 0600. */
ccm_code ccm_sgx_key_save(EVP_PKEY *key, const char *path, struct ccm_error *err);

/* Build and sign: out receives the 1808 bytes. */
ccm_code ccm_sgx_sign(const struct ccm_sgx_sigfields *f, EVP_PKEY *key,
                      uint8_t out[CCM_SGX_SIGSTRUCT_SIZE], struct ccm_error *err);

/* Parse 1808 bytes into fields (no cryptographic check). A wrong length
 * is refused; header constants are reported by ccm_sgx_sigstruct_check. */
ccm_code ccm_sgx_sigstruct_parse(const uint8_t *buf, size_t len, struct ccm_sgx_sigstruct *out,
                                 struct ccm_error *err);

/* Run every check and fill res; returns CCM_OK only when all hold, else
 * CCM_E_VERIFY naming the first that failed. */
ccm_code ccm_sgx_sigstruct_check(const struct ccm_sgx_sigstruct *s, struct ccm_sgx_sigcheck *res,
                                 struct ccm_error *err);

/* MRSIGNER = SHA-256 of the 384-byte little-endian modulus field. */
ccm_code ccm_sgx_mrsigner(const uint8_t modulus[CCM_SGX_KEY_BYTES], uint8_t out[CCM_SGX_HASH_SIZE],
                          struct ccm_error *err);

/* Compute q1 = floor(s^2 / n), q2 = floor(s * (s^2 mod n) / n), all
 * little-endian 384-byte values. */
ccm_code ccm_sgx_q1q2(const uint8_t sig[CCM_SGX_KEY_BYTES], const uint8_t mod[CCM_SGX_KEY_BYTES],
                      uint8_t q1[CCM_SGX_KEY_BYTES], uint8_t q2[CCM_SGX_KEY_BYTES],
                      struct ccm_error *err);

#ifdef __cplusplus
}
#endif
#endif
