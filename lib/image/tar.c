/*
 * DESIGN: the one layer ccm adds must be bit-for-bit reproducible, or the
 * output digest would change from run to run. So the tar is written by
 * libarchive (pax-restricted: plain ustar unless a field needs more) with
 * entries in sorted order, mtime 0, uid/gid 0, no user or group names and
 * fixed modes; it is built in memory (its SHA-256 is the diff_id) and then
 * gzip-compressed with zlib, whose gzip header carries mtime 0 and no file
 * name. libarchive's own gzip filter is not used because its block padding
 * would make the compressed and the hashed streams differ. The entries
 * known before the walk (the runtime, nearly all of the bytes) are written
 * and deflated by a thread while the layers are pulled, so that only the
 * small SIGSTRUCT and manifest are left once the walk is done.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
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

/* The tar writer: pax-restricted, 10240-byte blocks, into memory. */
static ccm_code tar_open(struct archive **out, struct tar_buf *b, struct ccm_error *err)
{
	struct archive *a = archive_write_new();

	*out = a;
	if (a == NULL)
		return ccm_fail(err, CCM_E_NOMEM, "out of memory");
	if (archive_write_set_format_pax_restricted(a) != ARCHIVE_OK ||
	    archive_write_set_bytes_per_block(a, 10240) != ARCHIVE_OK ||
	    archive_write_open2(a, b, NULL, tar_sink, NULL, NULL) != ARCHIVE_OK)
		return ccm_fail(err, CCM_E_INTERNAL, "tar: %s", archive_error_string(a));
	return CCM_OK;
}

static ccm_code tar_add_all(struct archive *a, const struct image_tar_file *prev,
                            const struct image_tar_file *files, size_t n, struct ccm_error *err)
{
	for (size_t i = 0; i < n; i++) {
		if (prev != NULL && strcmp(prev->path, files[i].path) >= 0)
			return ccm_fail(err, CCM_E_INTERNAL, "tar entries not sorted");
		if (tar_add(a, &files[i], err) != CCM_OK)
			return err->code;
		prev = &files[i];
	}
	return CCM_OK;
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

struct image_tar_job {
	struct archive *a;
	struct tar_buf tar, gz; /* the tar as written, the gzip so far */
	size_t fed;             /* tar bytes given to deflate */
	z_stream z;
	bool z_ready, th_started;
	EVP_MD_CTX *tar_md;
	pthread_t th;
	struct image_tar_file head[8];
	size_t n_head;
	ccm_code rc;
	struct ccm_error err;
};

/* Deflate (and hash) the tar bytes written so far; finish: the rest too.
 * zlib's output does not depend on how its input is split (no flushes), so
 * deflating in two goes gives the bytes of one. */
static ccm_code tar_deflate(struct image_tar_job *j, bool finish, struct ccm_error *err)
{
	uint8_t out[1 << 15];
	int zr = Z_OK;
	size_t n = j->tar.len - j->fed;

	if (!EVP_DigestUpdate(j->tar_md, j->tar.p + j->fed, n))
		return ccm_fail(err, CCM_E_CRYPTO, "SHA-256 failed");
	j->z.next_in = j->tar.p + j->fed;
	j->z.avail_in = (uInt)n; /* callers keep the tar < 4 GiB */
	j->fed = j->tar.len;
	do {
		j->z.next_out = out;
		j->z.avail_out = sizeof(out);
		zr = deflate(&j->z, finish ? Z_FINISH : Z_NO_FLUSH);
		if (zr != Z_OK && zr != Z_STREAM_END && zr != Z_BUF_ERROR)
			return ccm_fail(err, CCM_E_INTERNAL, "zlib deflate failed (%d)", zr);
		if (j->z.avail_out < sizeof(out) &&
		    tar_sink(NULL, &j->gz, out, sizeof(out) - j->z.avail_out) < 0)
			return ccm_fail(err, CCM_E_NOMEM, "out of memory");
	} while (finish ? zr != Z_STREAM_END : j->z.avail_out == 0);
	return CCM_OK;
}

static void *tar_head(void *arg)
{
	struct image_tar_job *j = arg;

	j->rc = tar_add_all(j->a, NULL, j->head, j->n_head, &j->err);
	if (j->rc == CCM_OK && j->tar.len > (size_t)UINT32_MAX)
		j->rc = ccm_fail(&j->err, CCM_E_LIMIT, "added layer too large");
	if (j->rc == CCM_OK)
		j->rc = tar_deflate(j, false, &j->err);
	return NULL;
}

void image_tar_free(struct image_tar_job *j)
{
	if (j == NULL)
		return;
	if (j->th_started)
		pthread_join(j->th, NULL);
	if (j->a != NULL)
		archive_write_free(j->a);
	if (j->z_ready)
		deflateEnd(&j->z);
	EVP_MD_CTX_free(j->tar_md);
	free(j->tar.p);
	free(j->gz.p);
	free(j);
}

ccm_code image_tar_begin(const struct image_tar_file *head, size_t n, struct image_tar_job **out,
                         struct ccm_error *err)
{
	struct image_tar_job *j = calloc(1, sizeof(*j));

	*out = j;
	if (j == NULL || n > sizeof(j->head) / sizeof(j->head[0]) ||
	    (j->tar_md = EVP_MD_CTX_new()) == NULL)
		return ccm_fail(err, CCM_E_NOMEM, "out of memory");
	if (!EVP_DigestInit_ex(j->tar_md, EVP_sha256(), NULL))
		return ccm_fail(err, CCM_E_CRYPTO, "SHA-256 init failed");
	if (deflateInit2(&j->z, 6, Z_DEFLATED, 16 + 15, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return ccm_fail(err, CCM_E_INTERNAL, "zlib init failed");
	j->z_ready = true;
	if (tar_open(&j->a, &j->tar, err) != CCM_OK)
		return err->code;
	if (n > 0)
		memcpy(j->head, head, n * sizeof(*head));
	j->n_head = n;
	j->th_started = pthread_create(&j->th, NULL, tar_head, j) == 0;
	if (!j->th_started)
		tar_head(j); /* no thread: do it here */
	return CCM_OK;
}

static void tar_digest(const uint8_t *p, size_t n, EVP_MD_CTX *md, char out[CCM_OCI_DIGEST_LEN + 1])
{
	uint8_t h[32];
	unsigned int hl = 0;

	if (md == NULL)
		EVP_Digest(p, n, h, &hl, EVP_sha256(), NULL);
	else
		EVP_DigestFinal_ex(md, h, &hl);
	memcpy(out, "sha256:", 7);
	util_hex(h, 32, out + 7);
}

ccm_code image_tar_finish(struct image_tar_job *j, const struct image_tar_file *tail, size_t n,
                          const char *path, struct image_layer_out *out, struct ccm_error *err)
{
	int fd;
	ccm_code rc;

	if (j->th_started)
		pthread_join(j->th, NULL);
	j->th_started = false;
	if (j->rc != CCM_OK) {
		*err = j->err;
		return err->code;
	}
	rc = tar_add_all(j->a, j->n_head ? &j->head[j->n_head - 1] : NULL, tail, n, err);
	if (rc == CCM_OK && archive_write_close(j->a) != ARCHIVE_OK)
		rc = ccm_fail(err, j->tar.nomem ? CCM_E_NOMEM : CCM_E_INTERNAL, "tar: %s",
		              archive_error_string(j->a));
	if (rc == CCM_OK && j->tar.len > (size_t)UINT32_MAX)
		rc = ccm_fail(err, CCM_E_LIMIT, "added layer too large");
	if (rc == CCM_OK)
		rc = tar_deflate(j, true, err);
	if (rc != CCM_OK)
		return rc;
	tar_digest(NULL, 0, j->tar_md, out->diff_id);
	tar_digest(j->gz.p, j->gz.len, NULL, out->digest);
	out->tar_size = j->tar.len;
	out->size = j->gz.len;
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return ccm_fail(err, CCM_E_IO, "%s: %s", path, strerror(errno));
	rc = tar_write_all(fd, j->gz.p, j->gz.len, err);
	if (close(fd) != 0 && rc == CCM_OK)
		rc = ccm_fail(err, CCM_E_IO, "%s: %s", path, strerror(errno));
	return rc;
}

ccm_code image_tar_layer(const struct image_tar_file *files, size_t n, const char *path,
                         struct image_layer_out *out, struct ccm_error *err)
{
	struct image_tar_job *j = NULL;
	ccm_code rc = image_tar_begin(NULL, 0, &j, err);

	if (rc == CCM_OK)
		rc = image_tar_finish(j, files, n, path, out, err);
	image_tar_free(j);
	return rc;
}
