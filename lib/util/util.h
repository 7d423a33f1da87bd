/*
 * DESIGN: small shared helpers that every subsystem needs and none owns:
 * capped file I/O (every read has a limit, so no input can make us allocate
 * without bound), atomic writes with an explicit mode (keys are born 0600,
 * never chmod-ed afterwards), strict number and hex parsing (no atoi: every
 * parse reports what was wrong), and little-endian loads and stores for the
 * SGX and quote byte layouts.
 */
#ifndef CCM_UTIL_H
#define CCM_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <openssl/types.h>

#include "ccm/ccm.h"

/* Read a whole file, refusing files larger than max bytes. *out is
 * malloc'ed (with one extra NUL byte not counted in *len). */
ccm_code util_read_file(const char *path, size_t max, uint8_t **out, size_t *len,
                        struct ccm_error *err);

/* Write a file atomically (temp file in the same directory, fsync, rename)
 * with the given mode applied at creation. */
ccm_code util_write_file(const char *path, const void *data, size_t len, mode_t mode,
                         struct ccm_error *err);

/* Parse an unsigned decimal (or 0x-prefixed hex) number in [0, max]. */
ccm_code util_parse_u64(const char *s, uint64_t max, uint64_t *out, const char *what,
                        struct ccm_error *err);

/* Parse exactly n bytes of hex (2n digits, optional 0x prefix). */
ccm_code util_parse_hex_exact(const char *s, uint8_t *out, size_t n, const char *what,
                              struct ccm_error *err);

/* Lowercase hex of len bytes into out (needs 2*len+1). */
void util_hex(const uint8_t *in, size_t len, char *out);

/* Hex decode; returns false on a bad digit or odd length. */
bool util_unhex(const char *s, size_t slen, uint8_t *out, size_t outmax, size_t *outlen);

static inline uint16_t util_le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | (p[1] << 8));
}

static inline uint32_t util_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint64_t util_le64(const uint8_t *p)
{
	return (uint64_t)util_le32(p) | (uint64_t)util_le32(p + 4) << 32;
}

static inline void util_put_le16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static inline void util_put_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static inline void util_put_le64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* Reverse a byte string in place (little-endian <-> big-endian). */
void util_reverse(uint8_t *p, size_t n);

/* True when all n bytes are zero. */
bool util_is_zero(const uint8_t *p, size_t n);

/* A reply collected in memory with a cap: util_capbuf_write has libcurl's
 * write-callback signature (userdata: the capbuf). Past max it sets over
 * and refuses the data, so the transfer fails rather than grows. p is
 * NUL-terminated and malloc'ed; the caller frees it. */
struct util_capbuf {
	char *p;
	size_t n, max;
	bool over;
};
size_t util_capbuf_write(char *data, size_t size, size_t nmemb, void *capbuf);

/* Map a whole file read-only (mmap; empty files give len 0 and a non-NULL
 * dummy pointer). Release with util_unmap. */
ccm_code util_map_file(const char *path, uint64_t max, const uint8_t **out, size_t *len,
                       struct ccm_error *err);
void util_unmap(const uint8_t *p, size_t len);

/* Base64 (RFC 4648, padded) through OpenSSL. util_b64_encode returns a
 * malloc'ed NUL-terminated string; util_b64_decode a malloc'ed buffer,
 * refusing anything that is not canonical padded base64 or longer than
 * max decoded bytes. */
char *util_b64_encode(const uint8_t *in, size_t len);
/* Private keys (lib/util/key.c): load any PEM private key (capped read,
 * copy wiped); PKCS#8 PEM in OpenSSL's secure heap (free with
 * OPENSSL_secure_clear_free(pem, len + 1)); save it mode 0600. */
ccm_code util_key_load(const char *path, EVP_PKEY **out, struct ccm_error *err);
ccm_code util_key_pem(EVP_PKEY *key, char **out, size_t *len, struct ccm_error *err);
ccm_code util_key_save(EVP_PKEY *key, const char *path, struct ccm_error *err);

ccm_code util_b64_decode(const char *in, size_t inlen, size_t max, uint8_t **out, size_t *outlen,
                         const char *what, struct ccm_error *err);
#endif
