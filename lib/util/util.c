/*
 * DESIGN: see util.h. Everything here is policy-free plumbing; the callers
 * decide limits and modes, these functions enforce them exactly.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "util.h"

static ccm_code read_fd(int fd, const char *path, size_t max, uint8_t **out, size_t *len,
                        struct ccm_error *err)
{
	size_t cap = 4096, n = 0;
	uint8_t *buf = malloc(cap + 1);

	if (buf == NULL)
		return ccm_fail(err, CCM_E_NOMEM, "%s: out of memory", path);
	for (;;) {
		if (n == cap) {
			size_t ncap = cap * 2;
			uint8_t *nb;
			if (cap > max) {
				free(buf);
				return ccm_fail(err, CCM_E_LIMIT,
				                "%s: larger than the %zu-byte limit", path, max);
			}
			nb = realloc(buf, ncap + 1);
			if (nb == NULL) {
				free(buf);
				return ccm_fail(err, CCM_E_NOMEM, "%s: out of memory", path);
			}
			buf = nb;
			cap = ncap;
		}
		ssize_t r = read(fd, buf + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			free(buf);
			return ccm_fail(err, CCM_E_IO, "%s: %s", path, strerror(errno));
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	if (n > max) {
		free(buf);
		return ccm_fail(err, CCM_E_LIMIT, "%s: larger than the %zu-byte limit", path, max);
	}
	buf[n] = 0;
	*out = buf;
	*len = n;
	return CCM_OK;
}

ccm_code util_read_file(const char *path, size_t max, uint8_t **out, size_t *len,
                        struct ccm_error *err)
{
	ccm_code rc;
	int fd;

	if (strcmp(path, "-") == 0)
		return read_fd(0, "<stdin>", max, out, len, err);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return ccm_fail(err, CCM_E_IO, "%s: %s", path, strerror(errno));
	rc = read_fd(fd, path, max, out, len, err);
	close(fd);
	return rc;
}

static ccm_code write_all(int fd, const uint8_t *p, size_t len, const char *path,
                          struct ccm_error *err)
{
	while (len > 0) {
		ssize_t w = write(fd, p, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return ccm_fail(err, CCM_E_IO, "%s: %s", path, strerror(errno));
		p += w;
		len -= (size_t)w;
	}
	return CCM_OK;
}

ccm_code util_write_file(const char *path, const void *data, size_t len, mode_t mode,
                         struct ccm_error *err)
{
	char tmp[4096];
	ccm_code rc;
	int fd, n;

	if (strcmp(path, "-") == 0)
		return write_all(1, data, len, "<stdout>", err);
	n = snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid());
	if (n < 0 || (size_t)n >= sizeof(tmp))
		return ccm_fail(err, CCM_E_LIMIT, "%s: path too long", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	if (fd < 0)
		return ccm_fail(err, CCM_E_IO, "%s: %s", tmp, strerror(errno));
	rc = write_all(fd, data, len, path, err);
	if (rc == CCM_OK && fchmod(fd, mode) != 0)
		rc = ccm_fail(err, CCM_E_IO, "%s: chmod: %s", tmp, strerror(errno));
	if (rc == CCM_OK && fsync(fd) != 0)
		rc = ccm_fail(err, CCM_E_IO, "%s: fsync: %s", tmp, strerror(errno));
	close(fd);
	if (rc == CCM_OK && rename(tmp, path) != 0)
		rc = ccm_fail(err, CCM_E_IO, "%s: %s", path, strerror(errno));
	if (rc != CCM_OK)
		unlink(tmp);
	return rc;
}

ccm_code util_parse_u64(const char *s, uint64_t max, uint64_t *out, const char *what,
                        struct ccm_error *err)
{
	unsigned long long v;
	char *end = NULL;
	int base = 10;
	const char *p = s;

	if (p == NULL || *p == '\0')
		return ccm_fail(err, CCM_E_INPUT, "%s: empty number", what);
	if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
		base = 16;
		p += 2;
	}
	if (*p < '0' || (*p > '9' && base == 10) ||
	    (base == 16 &&
	     !((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f') || (*p >= 'A' && *p <= 'F'))))
		return ccm_fail(err, CCM_E_INPUT, "%s: '%s' is not a number", what, s);
	errno = 0;
	v = strtoull(p, &end, base);
	if (*end != '\0')
		return ccm_fail(err, CCM_E_INPUT, "%s: '%s' is not a number", what, s);
	if (errno == ERANGE || v > max)
		return ccm_fail(err, CCM_E_RANGE, "%s: %s is out of range (0-%llu)", what, s,
		                (unsigned long long)max);
	*out = v;
	return CCM_OK;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

bool util_unhex(const char *s, size_t slen, uint8_t *out, size_t outmax, size_t *outlen)
{
	if (slen % 2 != 0 || slen / 2 > outmax)
		return false;
	for (size_t i = 0; i < slen / 2; i++) {
		int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return false;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	if (outlen != NULL)
		*outlen = slen / 2;
	return true;
}

ccm_code util_parse_hex_exact(const char *s, uint8_t *out, size_t n, const char *what,
                              struct ccm_error *err)
{
	size_t len;

	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
		s += 2;
	len = strlen(s);
	if (len != 2 * n)
		return ccm_fail(err, CCM_E_INPUT, "%s: expected %zu hex digits, got %zu", what,
		                2 * n, len);
	if (!util_unhex(s, len, out, n, NULL))
		return ccm_fail(err, CCM_E_INPUT, "%s: '%s' is not valid hex", what, s);
	return CCM_OK;
}

void util_hex(const uint8_t *in, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < len; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * len] = '\0';
}

size_t util_capbuf_write(char *data, size_t size, size_t nmemb, void *capbuf)
{
	struct util_capbuf *b = capbuf;
	size_t n = size * nmemb;
	char *np;

	if (n > b->max || b->n > b->max - n) {
		b->over = true;
		return 0;
	}
	np = realloc(b->p, b->n + n + 1);
	if (np == NULL)
		return 0;
	b->p = np;
	memcpy(b->p + b->n, data, n);
	b->n += n;
	b->p[b->n] = '\0';
	return n;
}

void util_reverse(uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n / 2; i++) {
		uint8_t t = p[i];
		p[i] = p[n - 1 - i];
		p[n - 1 - i] = t;
	}
}

bool util_is_zero(const uint8_t *p, size_t n)
{
	uint8_t acc = 0;

	for (size_t i = 0; i < n; i++)
		acc |= p[i];
	return acc == 0;
}

ccm_code util_map_file(const char *path, uint64_t max, const uint8_t **out, size_t *len,
                       struct ccm_error *err)
{
	static const uint8_t empty[1];
	struct stat st;
	void *p;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return ccm_fail(err, CCM_E_IO, "%s: %s", path, strerror(errno));
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return ccm_fail(err, CCM_E_IO, "%s: not a regular file", path);
	}
	if ((uint64_t)st.st_size > max) {
		close(fd);
		return ccm_fail(err, CCM_E_LIMIT, "%s: %lld bytes exceeds the %llu-byte limit",
		                path, (long long)st.st_size, (unsigned long long)max);
	}
	*len = (size_t)st.st_size;
	if (*len == 0) {
		close(fd);
		*out = empty;
		return CCM_OK;
	}
	p = mmap(NULL, *len, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (p == MAP_FAILED)
		return ccm_fail(err, CCM_E_IO, "%s: mmap: %s", path, strerror(errno));
	*out = p;
	return CCM_OK;
}

void util_unmap(const uint8_t *p, size_t len)
{
	if (len > 0)
		munmap((void *)(uintptr_t)p, len);
}

char *util_b64_encode(const uint8_t *in, size_t len)
{
	size_t n = 4 * ((len + 2) / 3) + 1;
	char *out = malloc(n);

	if (out == NULL || len > INT32_MAX / 2) {
		free(out);
		return NULL;
	}
	EVP_EncodeBlock((unsigned char *)out, in, (int)len);
	return out;
}

ccm_code util_b64_decode(const char *in, size_t inlen, size_t max, uint8_t **out, size_t *outlen,
                         const char *what, struct ccm_error *err)
{
	size_t pad = 0, n;
	uint8_t *buf;
	int w;

	if (inlen % 4 != 0 || inlen / 4 * 3 > max + 2 || inlen > INT32_MAX / 2)
		return ccm_fail(err, inlen / 4 * 3 > max + 2 ? CCM_E_LIMIT : CCM_E_INPUT,
		                "%s: not base64 of at most %zu bytes", what, max);
	for (size_t i = 0; i < inlen; i++) {
		char c = in[i];
		bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		          (c >= '0' && c <= '9') || c == '+' || c == '/';
		if (c == '=' && i >= inlen - 2 && (i == inlen - 1 || in[inlen - 1] == '='))
			pad++;
		else if (!ok)
			return ccm_fail(err, CCM_E_INPUT, "%s: invalid base64 character at %zu",
			                what, i);
	}
	buf = malloc(inlen / 4 * 3 + 1);
	if (buf == NULL)
		return ccm_fail(err, CCM_E_NOMEM, "%s: out of memory", what);
	w = EVP_DecodeBlock(buf, (const unsigned char *)in, (int)inlen);
	if (w < 0 || (size_t)w < pad) {
		free(buf);
		return ccm_fail(err, CCM_E_INPUT, "%s: invalid base64", what);
	}
	n = (size_t)w - pad;
	if (n > max) {
		free(buf);
		return ccm_fail(err, CCM_E_LIMIT, "%s: more than %zu bytes", what, max);
	}
	*out = buf;
	*outlen = n;
	return CCM_OK;
}
