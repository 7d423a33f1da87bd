/*
 * DESIGN: the libarchive half of the layer walker. One layer (tar, gzip or
 * zstd, detected) becomes a list of entries: paths normalised and checked,
 * regular files hashed while they stream by, device nodes refused, FIFOs
 * and sockets dropped, symlinks checked for climbing out of the root, sizes
 * and counts capped. It touches no shared state (every regular file is
 * hashed, read-write directories included, so the view is not needed), so
 * the converter scans several layers at once and applies them in order.
 */
#include <stdlib.h>
#include <string.h>

#include <archive.h>
#include <archive_entry.h>
#include <openssl/evp.h>

#include "walk-int.h"

struct scan_ctx {
	const struct ccm_image_fs *fs;
	struct ccm_image_scan *s;
	struct archive *a;
	EVP_MD_CTX *md;
	struct walk_path p;
};

void ccm_image_scan_free(struct ccm_image_scan *s)
{
	if (s == NULL)
		return;
	for (size_t i = 0; i < s->n; i++) {
		free(s->ops[i].path);
		free(s->ops[i].link);
	}
	free(s->ops);
	free(s);
}

static struct walk_op *scan_push(struct scan_ctx *x, uint8_t kind, const char *link,
                                 struct ccm_error *err)
{
	struct ccm_image_scan *s = x->s;
	struct walk_op *op;

	if (s->n == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 256;
		struct walk_op *n = realloc(s->ops, cap * sizeof(*n));
		if (n == NULL)
			goto nomem;
		s->ops = n;
		s->cap = cap;
	}
	op = &s->ops[s->n];
	memset(op, 0, sizeof(*op));
	op->kind = kind;
	op->path = strdup(x->p.text);
	op->link = link != NULL ? strdup(link) : NULL;
	if (op->path == NULL || (link != NULL && op->link == NULL)) {
		free(op->path);
		free(op->link);
		goto nomem;
	}
	s->n++;
	return op;
nomem:
	ccm_fail(err, CCM_E_NOMEM, "out of memory");
	return NULL;
}

/* Hash n bytes of a file: data, or zeros for a sparse file's hole. */
static ccm_code scan_feed(struct scan_ctx *x, struct walk_op *op, const void *data, uint64_t n,
                          uint64_t *total, struct ccm_error *err)
{
	static const uint8_t zeros[1 << 16];

	if (*total + n > MAX_FILE)
		return ccm_fail(err, CCM_E_LIMIT, "file '%.200s' larger than 8 GiB", op->path);
	*total += n;
	if (!op->hashed)
		return CCM_OK;
	if (data != NULL)
		return EVP_DigestUpdate(x->md, data, (size_t)n)
		               ? CCM_OK
		               : ccm_fail(err, CCM_E_CRYPTO, "SHA-256 failed");
	for (uint64_t left = n; left > 0;) {
		size_t k = left < sizeof(zeros) ? (size_t)left : sizeof(zeros);
		if (!EVP_DigestUpdate(x->md, zeros, k))
			return ccm_fail(err, CCM_E_CRYPTO, "SHA-256 failed");
		left -= k;
	}
	return CCM_OK;
}

/* The file's bytes straight from libarchive's blocks (no copy), holes of
 * sparse entries hashed as the zeros an extraction writes (what
 * archive_read_data gives, checked against GNU and pax sparse tars). */
static ccm_code scan_hash(struct scan_ctx *x, struct walk_op *op, struct ccm_error *err)
{
	unsigned int hl = 0;
	uint64_t total = 0;
	const void *blk;
	size_t n;
	la_int64_t off = 0;
	int r;

	/* Files in read-write directories too: a hardlink outside them to
	 * one of them is a protected file with this content. */
	op->hashed = true;
	if (op->hashed && !EVP_DigestInit_ex(x->md, EVP_sha256(), NULL))
		return ccm_fail(err, CCM_E_CRYPTO, "SHA-256 init failed");
	while ((r = archive_read_data_block(x->a, &blk, &n, &off)) == ARCHIVE_OK) {
		if (off < 0 || (uint64_t)off < total)
			return ccm_fail(err, CCM_E_INPUT,
			                "file '%.200s': out-of-order sparse blocks", op->path);
		if ((uint64_t)off > total &&
		    scan_feed(x, op, NULL, (uint64_t)off - total, &total, err) != CCM_OK)
			return err->code;
		if (scan_feed(x, op, blk, n, &total, err) != CCM_OK)
			return err->code;
	}
	if (r != ARCHIVE_EOF)
		return ccm_fail(err, CCM_E_INPUT, "file '%.200s': %s", op->path,
		                archive_error_string(x->a));
	/* The end comes with the file's size: a trailing hole is zeros too. */
	if (off > 0 && (uint64_t)off > total &&
	    scan_feed(x, op, NULL, (uint64_t)off - total, &total, err) != CCM_OK)
		return err->code;
	if (op->hashed && !EVP_DigestFinal_ex(x->md, op->hash, &hl))
		return ccm_fail(err, CCM_E_CRYPTO, "SHA-256 failed");
	op->size = total;
	return CCM_OK;
}

static ccm_code scan_entry(struct scan_ctx *x, struct archive_entry *e, struct ccm_error *err)
{
	const char *raw = archive_entry_pathname(e), *link = archive_entry_hardlink(e);
	const char *sym = archive_entry_symlink(e);
	mode_t type = archive_entry_filetype(e);
	struct walk_path *p = &x->p;
	struct walk_op *op;

	if (raw == NULL)
		return ccm_fail(err, CCM_E_INPUT, "entry without a name");
	if (walk_split(raw, p, err) != CCM_OK)
		return err->code;
	if (p->n == 0)
		return CCM_OK; /* "./" itself */
	if (strncmp(p->comp[p->n - 1], ".wh.", 4) == 0)
		return scan_push(x, OP_WHITEOUT, NULL, err) ? CCM_OK : err->code;
	if (link == NULL && (type == AE_IFCHR || type == AE_IFBLK))
		return ccm_fail(err, CCM_E_INPUT, "entry '%.200s' is a device node", p->text);
	if (link == NULL && type != AE_IFREG && type != AE_IFDIR && type != AE_IFLNK)
		return CCM_OK; /* FIFOs and sockets: dropped */
	if (archive_entry_size_is_set(e) && (uint64_t)archive_entry_size(e) > MAX_FILE)
		return ccm_fail(err, CCM_E_LIMIT, "entry '%.200s' claims more than 8 GiB", p->text);
	if (link != NULL)
		return scan_push(x, OP_HARD, link, err) ? CCM_OK : err->code;
	if (type == AE_IFLNK) {
		if (walk_check_symlink(p, sym != NULL ? sym : "", err) != CCM_OK)
			return err->code;
		return scan_push(x, OP_LNK, sym, err) ? CCM_OK : err->code;
	}
	op = scan_push(x, type == AE_IFDIR ? OP_DIR : OP_REG, NULL, err);
	if (op == NULL)
		return err->code;
	return type == AE_IFREG ? scan_hash(x, op, err) : CCM_OK;
}

static ccm_code scan_archive(struct scan_ctx *x, struct ccm_error *err)
{
	struct archive_entry *e;
	uint64_t count = 0;
	ccm_code rc = CCM_OK;
	int r;

	while ((r = archive_read_next_header(x->a, &e)) == ARCHIVE_OK || r == ARCHIVE_WARN) {
		if (++count > MAX_ENTRIES_LAYER)
			return ccm_fail(err, CCM_E_LIMIT, "more than %u entries",
			                MAX_ENTRIES_LAYER);
		if (archive_filter_bytes(x->a, 0) > (la_int64_t)MAX_LAYER_BYTES)
			return ccm_fail(err, CCM_E_LIMIT, "more than 64 GiB uncompressed");
		rc = scan_entry(x, e, err);
		if (rc != CCM_OK)
			return rc;
	}
	if (r != ARCHIVE_EOF)
		rc = ccm_fail(err, CCM_E_INPUT, "bad tar stream after %llu entries: %s",
		              (unsigned long long)count, archive_error_string(x->a));
	return rc;
}

static ccm_code scan_run(const struct ccm_image_fs *fs, const char *path, const uint8_t *buf,
                         size_t len, const struct ccm_oci_feed *feed, struct ccm_image_scan **out,
                         struct ccm_error *err)
{
	struct scan_ctx *x = calloc(1, sizeof(*x));
	struct image_src *src = NULL;
	ccm_code rc = CCM_OK;

	*out = NULL;
	if (x == NULL || (x->s = calloc(1, sizeof(*x->s))) == NULL ||
	    (x->md = EVP_MD_CTX_new()) == NULL || (x->a = archive_read_new()) == NULL) {
		rc = ccm_fail(err, CCM_E_NOMEM, "out of memory");
		goto fail;
	}
	x->fs = fs;
	if (image_src_open(&src, path, buf, len, feed, err) != CCM_OK) {
		rc = err->code;
		goto fail;
	}
	/* gzip is inflated by the source (ISA-L); libarchive's gzip filter
	 * stays for a gzip inside a gzip, which it always accepted. */
	archive_read_support_filter_gzip(x->a);
	archive_read_support_filter_zstd(x->a);
	archive_read_support_format_tar(x->a);
	/* A zero-byte layer (or one inflating to nothing) is an empty layer
	 * to Docker and containerd alike. */
	archive_read_support_format_empty(x->a);
	if (archive_read_open(x->a, src, NULL, image_src_read, NULL) != ARCHIVE_OK)
		rc = ccm_fail(err, CCM_E_INPUT, "not a tar, tar.gz or tar.zst stream: %s",
		              archive_error_string(x->a));
	else
		rc = scan_archive(x, err);
fail:
	if (x != NULL) {
		if (rc == CCM_OK)
			*out = x->s;
		else
			ccm_image_scan_free(x->s);
		if (x->a != NULL)
			archive_read_free(x->a);
		EVP_MD_CTX_free(x->md);
		free(x);
	}
	image_src_free(src);
	return rc;
}

ccm_code image_scan_feed(const struct ccm_image_fs *fs, const char *path,
                         const struct ccm_oci_feed *feed, struct ccm_image_scan **out,
                         struct ccm_error *err)
{
	return scan_run(fs, path, NULL, 0, feed, out, err);
}

ccm_code ccm_image_scan_file(const struct ccm_image_fs *fs, const char *path,
                             struct ccm_image_scan **out, struct ccm_error *err)
{
	return scan_run(fs, path, NULL, 0, NULL, out, err);
}

ccm_code ccm_image_scan_mem(const struct ccm_image_fs *fs, const uint8_t *buf, size_t len,
                            struct ccm_image_scan **out, struct ccm_error *err)
{
	return scan_run(fs, NULL, buf, len, NULL, out, err);
}

static ccm_code scan_add(struct ccm_image_fs *fs, ccm_code rc, struct ccm_image_scan *s,
                         unsigned layer, struct ccm_error *err)
{
	if (rc == CCM_OK)
		rc = ccm_image_fs_apply(fs, s, layer, err);
	ccm_image_scan_free(s);
	if (rc != CCM_OK)
		ccm_error_prefix(err, "layer %u", layer);
	return rc;
}

ccm_code ccm_image_fs_add_layer_file(struct ccm_image_fs *fs, const char *path, unsigned layer,
                                     struct ccm_error *err)
{
	struct ccm_image_scan *s = NULL;
	ccm_code rc = ccm_image_scan_file(fs, path, &s, err);

	return scan_add(fs, rc, s, layer, err);
}

ccm_code ccm_image_fs_add_layer_mem(struct ccm_image_fs *fs, const uint8_t *buf, size_t len,
                                    unsigned layer, struct ccm_error *err)
{
	struct ccm_image_scan *s = NULL;
	ccm_code rc = ccm_image_scan_mem(fs, buf, len, &s, err);

	return scan_add(fs, rc, s, layer, err);
}
