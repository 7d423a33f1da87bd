/*
 * DESIGN: the bytes a layer scan reads, handed to libarchive through its
 * read callback. Two things make the scan fast without changing what it
 * checks. A layer file may still be landing (the pipeline downloads and
 * scans at once): the reader follows it, waiting for bytes through the
 * pipeline's feed, and fails when the download does. And gzip, the usual
 * layer compression, is inflated here by ISA-L (Debian's libisal, about
 * three times zlib's speed, which is what libarchive's own gzip filter
 * uses), verifying each member's CRC-32 and length like zlib does when
 * the reading gets there (libarchive stops at the tar's end-of-archive
 * blocks, as it did with its own filter; the blob digest covers every
 * byte anyway); concatenated members are followed and bytes after the
 * last member are ignored, as libarchive does. Anything else (zstd, plain
 * tar) passes through to libarchive's own filters.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <archive.h>
#include <isa-l/igzip_lib.h>

#include "walk-int.h"

#define SRC_IN (1u << 18)
#define SRC_OUT (1u << 18)

struct image_src {
	int fd;
	const uint8_t *mem;
	size_t mem_len;
	const struct ccm_oci_feed *feed;
	uint64_t off, avail; /* raw bytes read, raw bytes known present */
	bool started, gzip, in_eof, member_done;
	struct inflate_state *z;
	uint8_t *in, *out;
	size_t in_len; /* pass-through: bytes in `in` */
};

ccm_code image_src_open(struct image_src **out, const char *path, const uint8_t *mem, size_t len,
                        const struct ccm_oci_feed *feed, struct ccm_error *err)
{
	struct image_src *s = calloc(1, sizeof(*s));

	*out = NULL;
	if (s == NULL || (s->in = malloc(SRC_IN)) == NULL) {
		free(s);
		return ccm_fail(err, CCM_E_NOMEM, "out of memory");
	}
	s->fd = -1;
	s->mem = mem;
	s->mem_len = len;
	s->feed = feed;
	if (path != NULL && (s->fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0) {
		ccm_fail(err, CCM_E_IO, "%s: %s", path, strerror(errno));
		image_src_free(s);
		return err->code;
	}
	*out = s;
	return CCM_OK;
}

void image_src_free(struct image_src *s)
{
	if (s == NULL)
		return;
	if (s->fd >= 0)
		close(s->fd);
	free(s->z);
	free(s->in);
	free(s->out);
	free(s);
}

/* Up to n raw bytes at the current offset: 0 at the end, -1 on failure. */
static ssize_t src_raw(struct archive *a, struct image_src *s, uint8_t *buf, size_t n)
{
	ssize_t got;

	if (s->mem != NULL || s->fd < 0) {
		size_t left = s->mem_len - (size_t)s->off;
		n = n < left ? n : left;
		if (n == 0)
			return 0;
		memcpy(buf, s->mem + s->off, n);
		s->off += n;
		return (ssize_t)n;
	}
	if (s->feed != NULL && s->off >= s->avail) {
		int64_t have = s->feed->wait(s->feed->ctx, s->off);
		if (have < 0) {
			archive_set_error(a, ECANCELED, "the download failed");
			return -1;
		}
		s->avail = (uint64_t)have;
		if (s->avail <= s->off)
			return 0;
	}
	if (s->feed != NULL && n > s->avail - s->off)
		n = (size_t)(s->avail - s->off);
	do
		got = pread(s->fd, buf, n, (off_t)s->off);
	while (got < 0 && errno == EINTR);
	if (got < 0 || (got == 0 && s->feed != NULL)) {
		archive_set_error(a, got < 0 ? errno : EIO, "read layer: %s",
		                  got < 0 ? strerror(errno) : "file shorter than announced");
		return -1;
	}
	s->off += (uint64_t)got;
	return got;
}

/* Refill the inflater's input, keeping what it has not consumed yet. */
static int src_fill(struct archive *a, struct image_src *s)
{
	struct inflate_state *z = s->z;
	ssize_t n;

	if (s->in_eof || z->avail_in >= SRC_IN / 2)
		return 0;
	memmove(s->in, z->next_in, z->avail_in);
	z->next_in = s->in;
	n = src_raw(a, s, s->in + z->avail_in, SRC_IN - z->avail_in);
	if (n < 0)
		return -1;
	if (n == 0)
		s->in_eof = true;
	z->avail_in += (uint32_t)n;
	return 0;
}

static const char *src_isal_error(int r)
{
	switch (r) {
	case ISAL_INCORRECT_CHECKSUM:
		return "gzip checksum mismatch";
	case ISAL_INVALID_WRAPPER:
	case ISAL_UNSUPPORTED_METHOD:
		return "bad gzip header";
	default:
		return "corrupt deflate data";
	}
}

/* After a member: another one follows (1), or the stream ends here (0). */
static int src_next_member(struct archive *a, struct image_src *s)
{
	struct inflate_state *z = s->z;

	if (z->avail_in < 2 && src_fill(a, s) < 0)
		return -1;
	if (z->avail_in < 2 || z->next_in[0] != 0x1f || z->next_in[1] != 0x8b)
		return 0; /* trailing bytes after the last member are ignored */
	{
		uint8_t *next = z->next_in;
		uint32_t left = z->avail_in;
		isal_inflate_reset(z);
		z->crc_flag = ISAL_GZIP;
		z->next_in = next;
		z->avail_in = left;
	}
	s->member_done = false;
	return 1;
}

static la_ssize_t src_gunzip(struct archive *a, struct image_src *s, const void **buf)
{
	struct inflate_state *z = s->z;

	for (;;) {
		uint32_t in_before;
		int r, more;

		if (s->member_done) {
			more = src_next_member(a, s);
			if (more <= 0)
				return more;
		}
		if (src_fill(a, s) < 0)
			return -1;
		in_before = z->avail_in;
		z->next_out = s->out;
		z->avail_out = SRC_OUT;
		r = isal_inflate(z);
		if (r != ISAL_DECOMP_OK) {
			archive_set_error(a, EINVAL, "%s", src_isal_error(r));
			return -1;
		}
		s->member_done = z->block_state == ISAL_BLOCK_FINISH;
		if (z->avail_out < SRC_OUT) {
			*buf = s->out;
			return (la_ssize_t)(SRC_OUT - z->avail_out);
		}
		/* No output and no input taken: the stream ends early (or,
		 * with plenty of input left, cannot go on at all). */
		if (!s->member_done && z->avail_in == in_before &&
		    (s->in_eof || z->avail_in >= SRC_IN / 2)) {
			archive_set_error(a, EINVAL, "truncated gzip stream");
			return -1;
		}
	}
}

/* First call: look at the magic; gzip goes through ISA-L. */
static la_ssize_t src_start(struct archive *a, struct image_src *s, const void **buf)
{
	ssize_t n = src_raw(a, s, s->in, SRC_IN);

	s->started = true;
	if (n < 0)
		return -1;
	if (n < 2 || s->in[0] != 0x1f || s->in[1] != 0x8b) {
		*buf = s->in;
		return n;
	}
	s->z = malloc(sizeof(*s->z));
	s->out = malloc(SRC_OUT);
	if (s->z == NULL || s->out == NULL) {
		archive_set_error(a, ENOMEM, "out of memory");
		return -1;
	}
	isal_inflate_init(s->z);
	s->z->crc_flag = ISAL_GZIP;
	s->z->next_in = s->in;
	s->z->avail_in = (uint32_t)n;
	s->gzip = true;
	return src_gunzip(a, s, buf);
}

ssize_t image_src_read(struct archive *a, void *ud, const void **buf)
{
	struct image_src *s = ud;
	ssize_t n;

	if (!s->started)
		return src_start(a, s, buf);
	if (s->gzip)
		return src_gunzip(a, s, buf);
	n = src_raw(a, s, s->in, SRC_IN);
	*buf = s->in;
	return n;
}
