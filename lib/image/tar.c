/*
 * DESIGN: the one layer ccm adds must be bit-for-bit reproducible, or the
 * output digest would change from run to run. So the tar is written by
 * libarchive (pax-restricted: plain ustar unless a field needs more) with
 * entries in sorted order, mtime 0, uid/gid 0, no user or group names and
 * fixed modes; it is built in memory (its SHA-256 is the diff_id) and then
 * gzip-compressed with zlib, whose gzip header carries mtime 0 and no file
 * name. libarchive's own gzip filter is not used because its block padding
 * would make the compressed and the hashed streams differ.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>
#include <zlib.h>

#include "image-int.h"

struct tar_buf {
	uint8_t *p;
	size_t len, cap;
	bool nomem;
};

static la_ssize_t tar_sink(struct archive *a, void *ud, const void *data, size_t n)
{
	struct tar_buf *b = ud;

	(void)a;
	if (b->len + n > b->cap) {
		size_t cap = (b->cap ? b->cap : 1 << 20);
		while (cap < b->len + n)
			cap *= 2;
		uint8_t *np = realloc(b->p, cap);
		if (np == NULL) {
			b->nomem = true;
			return -1;
		}
		b->p = np;
		b->cap = cap;
	}
	memcpy(b->p + b->len, data, n);
	b->len += n;
	return (la_ssize_t)n;
}

static ccm_code tar_add(struct archive *a, const struct image_tar_file *f, struct ccm_error *err)
{
	struct archive_entry *e = archive_entry_new();
	int r;

	if (e == NULL)
		return ccm_fail(err, CCM_E_NOMEM, "out of memory");
	archive_entry_set_pathname(e, f->path);
	archive_entry_set_filetype(e, f->data != NULL ? AE_IFREG : AE_IFDIR);
	archive_entry_set_perm(e, f->mode);
	archive_entry_set_size(e, f->data != NULL ? (la_int64_t)f->len : 0);
	archive_entry_set_mtime(e, 0, 0);
	archive_entry_set_uid(e, 0);
	archive_entry_set_gid(e, 0);
	r = archive_write_header(a, e);
	archive_entry_free(e);
	if (r != ARCHIVE_OK)
		return ccm_fail(err, CCM_E_INTERNAL, "tar %s: %s", f->path,
		                archive_error_string(a));
	if (f->data != NULL && f->len > 0 &&
	    archive_write_data(a, f->data, f->len) != (la_ssize_t)f->len)
		return ccm_fail(err, CCM_E_INTERNAL, "tar %s: %s", f->path,
		                archive_error_string(a));
	return CCM_OK;
}

static ccm_code tar_build(const struct image_tar_file *files, size_t n, struct tar_buf *b,
                          struct ccm_error *err)
{
	struct archive *a = archive_write_new();
	ccm_code rc = CCM_OK;

	if (a == NULL)
		return ccm_fail(err, CCM_E_NOMEM, "out of memory");
	if (archive_write_set_format_pax_restricted(a) != ARCHIVE_OK ||
	    archive_write_set_bytes_per_block(a, 10240) != ARCHIVE_OK ||
	    archive_write_open2(a, b, NULL, tar_sink, NULL, NULL) != ARCHIVE_OK)
		rc = ccm_fail(err, CCM_E_INTERNAL, "tar: %s", archive_error_string(a));
	for (size_t i = 0; rc == CCM_OK && i < n; i++) {
		if (i > 0 && strcmp(files[i - 1].path, files[i].path) >= 0)
			rc = ccm_fail(err, CCM_E_INTERNAL, "tar entries not sorted");
		else
			rc = tar_add(a, &files[i], err);
	}
	if (rc == CCM_OK && archive_write_close(a) != ARCHIVE_OK)
		rc = ccm_fail(err, b->nomem ? CCM_E_NOMEM : CCM_E_INTERNAL, "tar: %s",
		              archive_error_string(a));
	archive_write_free(a);
	return rc;
}

static ccm_code tar_write_all(int fd, const uint8_t *p, size_t n, struct ccm_error *err)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return ccm_fail(err, CCM_E_IO, "write layer: %s", strerror(errno));
		p += w;
		n -= (size_t)w;
	}
	return CCM_OK;
}

/* gzip (zlib, fixed level, default header: mtime 0, no name) to fd. */
static ccm_code tar_gzip(const uint8_t *in, size_t len, int fd, EVP_MD_CTX *md, uint64_t *out_len,
                         struct ccm_error *err)
{
	uint8_t out[1 << 15];
	z_stream z;
	int zr = Z_OK;
	ccm_code rc = CCM_OK;

	memset(&z, 0, sizeof(z));
	if (deflateInit2(&z, 6, Z_DEFLATED, 16 + 15, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return ccm_fail(err, CCM_E_INTERNAL, "zlib init failed");
	z.next_in = (Bytef *)(uintptr_t)in;
	z.avail_in = (uInt)len; /* callers keep len < 4 GiB */
	*out_len = 0;
	while (rc == CCM_OK && zr != Z_STREAM_END) {
		z.next_out = out;
		z.avail_out = sizeof(out);
		zr = deflate(&z, Z_FINISH);
		if (zr != Z_OK && zr != Z_STREAM_END && zr != Z_BUF_ERROR) {
			rc = ccm_fail(err, CCM_E_INTERNAL, "zlib deflate failed (%d)", zr);
			break;
		}
		size_t n = sizeof(out) - z.avail_out;
		EVP_DigestUpdate(md, out, n);
		*out_len += n;
		rc = tar_write_all(fd, out, n, err);
	}
	deflateEnd(&z);
	return rc;
}

static void tar_digest(EVP_MD_CTX *md, char out[CCM_OCI_DIGEST_LEN + 1])
{
	uint8_t h[32];
	unsigned int hl = 0;

	EVP_DigestFinal_ex(md, h, &hl);
	memcpy(out, "sha256:", 7);
	util_hex(h, 32, out + 7);
}

ccm_code image_tar_layer(const struct image_tar_file *files, size_t n, const char *path,
                         struct image_layer_out *out, struct ccm_error *err)
{
	struct tar_buf b = {0};
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	int fd = -1;
	ccm_code rc;

	rc = md == NULL ? ccm_fail(err, CCM_E_NOMEM, "out of memory")
	                : tar_build(files, n, &b, err);
	if (rc == CCM_OK && b.len > (size_t)UINT32_MAX)
		rc = ccm_fail(err, CCM_E_LIMIT, "added layer too large");
	if (rc == CCM_OK &&
	    (!EVP_DigestInit_ex(md, EVP_sha256(), NULL) || !EVP_DigestUpdate(md, b.p, b.len)))
		rc = ccm_fail(err, CCM_E_CRYPTO, "SHA-256 failed");
	if (rc == CCM_OK) {
		tar_digest(md, out->diff_id);
		out->tar_size = b.len;
		fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (fd < 0)
			rc = ccm_fail(err, CCM_E_IO, "%s: %s", path, strerror(errno));
	}
	if (rc == CCM_OK && !EVP_DigestInit_ex(md, EVP_sha256(), NULL))
		rc = ccm_fail(err, CCM_E_CRYPTO, "SHA-256 failed");
	if (rc == CCM_OK)
		rc = tar_gzip(b.p, b.len, fd, md, &out->size, err);
	if (rc == CCM_OK)
		tar_digest(md, out->digest);
	if (fd >= 0 && close(fd) != 0 && rc == CCM_OK)
		rc = ccm_fail(err, CCM_E_IO, "%s: %s", path, strerror(errno));
	free(b.p);
	EVP_MD_CTX_free(md);
	return rc;
}
