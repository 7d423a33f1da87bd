/*
 * DESIGN: what the layer source (lib/image/source.c) must keep equal to
 * libarchive's own reading while being faster: gzip inflated by ISA-L
 * gives the same file hashes as the plain tar, across several gzip members
 * and with bytes after the last one; a corrupted, truncated or
 * checksum-failing gzip is refused; sparse files hash as their expanded
 * bytes (holes and a trailing hole as zeros); and a file that is still
 * landing (the pipeline's feed) is followed to the same result, or
 * refused when its download fails.
 */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>
#include <cmocka.h>
#include <openssl/evp.h>
#include <zlib.h>

#include "ccm/image.h"
#include "image/walk-int.h"
#include "util/util.h"

/* GNU tar --sparse of one file "s": "abc" at 0, "xyz" at 70000, size
 * 200000 (so a hole in the middle and one at the end), gzip -9n. */
static const uint8_t sparse_tgz[] = {
        0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x03, 0xed, 0xd0, 0xdb, 0x0d, 0x83,
        0x30, 0x0c, 0x85, 0x61, 0x8f, 0x92, 0x11, 0x1c, 0x87, 0x84, 0x41, 0x3a, 0x01, 0x74, 0x00,
        0x24, 0x2e, 0x12, 0x74, 0xfa, 0xa2, 0xa8, 0x12, 0xa2, 0xad, 0xe0, 0x81, 0xcb, 0xd3, 0xff,
        0xbd, 0xd8, 0x72, 0x12, 0x39, 0x3a, 0x9d, 0x5c, 0x4f, 0x67, 0xa9, 0x28, 0x72, 0x9d, 0x7d,
        0x55, 0xcb, 0xbd, 0x8f, 0x41, 0x2d, 0x44, 0x8d, 0x21, 0x88, 0xfa, 0xd2, 0xcc, 0xc4, 0x3d,
        0x6e, 0xf8, 0x9b, 0x0c, 0x5d, 0x5f, 0xb5, 0xce, 0x49, 0xdb, 0x34, 0xfd, 0xd6, 0xbd, 0xbd,
        0xf3, 0x43, 0xe9, 0xac, 0x13, 0xf1, 0x4b, 0x6f, 0xfe, 0xff, 0x3c, 0x69, 0x8a, 0x4b, 0x92,
        0x79, 0xbe, 0xbd, 0xe0, 0xf3, 0xe0, 0x47, 0x55, 0x3f, 0x05, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0xe7, 0x19, 0xa7, 0x17, 0x21, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xe0, 0x36, 0x6f,
        0xd5, 0x12, 0x59, 0x57, 0x00, 0x26, 0x00, 0x00};
static const char sparse_sha[] = "b104cdb1a10ef5dc822e02f0401025fde4c3aada435da61e3d3025c2628f9741";

struct buf {
	uint8_t *p;
	size_t n;
};

/* A tar of a few files, one of them large enough to span many blocks. */
static struct buf make_tar(void)
{
	struct buf b = {malloc(1 << 21), 0};
	struct archive *a = archive_write_new();
	static const char *const names[] = {"etc/a", "usr/big", "usr/c"};
	uint8_t *big = malloc(600000);

	for (size_t i = 0; i < 600000; i++)
		big[i] = (uint8_t)(i * 7 + i / 1000);
	archive_write_set_format_pax_restricted(a);
	assert_int_equal(archive_write_open_memory(a, b.p, 1 << 21, &b.n), ARCHIVE_OK);
	for (size_t i = 0; i < 3; i++) {
		struct archive_entry *e = archive_entry_new();
		size_t len = i == 1 ? 600000 : 5;
		archive_entry_set_pathname(e, names[i]);
		archive_entry_set_filetype(e, AE_IFREG);
		archive_entry_set_perm(e, 0644);
		archive_entry_set_size(e, (la_int64_t)len);
		assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
		archive_write_data(a, i == 1 ? (const char *)big : "hello", len);
		archive_entry_free(e);
	}
	archive_write_close(a);
	archive_write_free(a);
	free(big);
	return b;
}

/* Append a gzip member of in[0..n) to out. */
static void gz_append(struct buf *out, const uint8_t *in, size_t n)
{
	z_stream z;

	memset(&z, 0, sizeof(z));
	assert_int_equal(deflateInit2(&z, 6, Z_DEFLATED, 16 + 15, 8, Z_DEFAULT_STRATEGY), Z_OK);
	out->p = realloc(out->p, out->n + n + 1024);
	z.next_in = (Bytef *)(uintptr_t)in;
	z.avail_in = (uInt)n;
	z.next_out = out->p + out->n;
	z.avail_out = (uInt)(n + 1024);
	assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
	out->n += z.total_out;
	deflateEnd(&z);
}

struct seen {
	char line[8][200];
	size_t n;
};

static ccm_code note(void *ctx, const char *path, const uint8_t sha[32], uint64_t size,
                     bool is_protected, struct ccm_error *err)
{
	struct seen *s = ctx;
	char hex[65];

	(void)is_protected;
	(void)err;
	util_hex(sha, 32, hex);
	if (s->n < 8)
		snprintf(s->line[s->n++], sizeof(s->line[0]), "%s %llu %s", path,
		         (unsigned long long)size, hex);
	return CCM_OK;
}

/* The view of one layer as "path size sha" lines; rc of the scan. */
static ccm_code view(const uint8_t *p, size_t n, struct seen *s, struct ccm_error *err)
{
	struct ccm_image_fs *fs;
	ccm_code rc;

	memset(s, 0, sizeof(*s));
	assert_int_equal(ccm_image_fs_new(&fs, NULL, 0, err), CCM_OK);
	rc = ccm_image_fs_add_layer_mem(fs, p, n, 0, err);
	if (rc == CCM_OK)
		assert_int_equal(ccm_image_fs_walk(fs, note, s, err), CCM_OK);
	ccm_image_fs_free(fs);
	return rc;
}

static void same_view(const struct seen *a, const struct seen *b)
{
	assert_int_equal(a->n, b->n);
	for (size_t i = 0; i < a->n; i++)
		assert_string_equal(a->line[i], b->line[i]);
}

static void test_gzip_like_plain(void **state)
{
	struct buf tar = make_tar(), one = {0}, two = {0};
	struct seen plain, s;
	struct ccm_error err;

	(void)state;
	assert_int_equal(view(tar.p, tar.n, &plain, &err), CCM_OK);
	assert_int_equal(plain.n, 3);
	gz_append(&one, tar.p, tar.n);
	assert_int_equal(view(one.p, one.n, &s, &err), CCM_OK);
	same_view(&plain, &s);
	/* Two members, split in the middle of the big file. */
	gz_append(&two, tar.p, 300000);
	gz_append(&two, tar.p + 300000, tar.n - 300000);
	assert_int_equal(view(two.p, two.n, &s, &err), CCM_OK);
	same_view(&plain, &s);
	/* Bytes after the last member are ignored, as libarchive does. */
	two.p = realloc(two.p, two.n + 100);
	memset(two.p + two.n, 0, 100);
	assert_int_equal(view(two.p, two.n + 100, &s, &err), CCM_OK);
	same_view(&plain, &s);
	free(tar.p);
	free(one.p);
	free(two.p);
}

static void expect_bad(const uint8_t *p, size_t n, const char *msg)
{
	struct seen s;
	struct ccm_error err;

	if (view(p, n, &s, &err) == CCM_OK)
		fail_msg("accepted (expected '%s')", msg);
	if (strstr(err.msg, msg) == NULL)
		fail_msg("'%s' lacks '%s'", err.msg, msg);
}

/* The tar up to its last entry, without the end-of-archive blocks: the
 * reader then reads the gzip stream to its end (with the blocks, it stops
 * there, as libarchive's own gzip filter did, and never reads the trailer). */
static size_t tar_entries_end(const struct buf *tar)
{
	size_t n = tar->n;

	while (n > 0 && tar->p[n - 1] == 0)
		n--;
	return (n + 511) / 512 * 512;
}

static void test_gzip_refused(void **state)
{
	struct buf tar = make_tar(), gz = {0};

	(void)state;
	gz_append(&gz, tar.p, tar_entries_end(&tar));
	expect_bad(gz.p, gz.n / 2, "truncated gzip stream");
	expect_bad(gz.p, gz.n - 3, "truncated gzip stream");
	gz.p[gz.n - 6] ^= 1; /* CRC-32 */
	expect_bad(gz.p, gz.n, "gzip checksum mismatch");
	gz.p[gz.n - 6] ^= 1;
	gz.p[gz.n - 2] ^= 1; /* length */
	expect_bad(gz.p, gz.n, "gzip checksum mismatch");
	gz.p[gz.n - 2] ^= 1;
	memset(gz.p + 100, 0xff, 64); /* the deflate data */
	expect_bad(gz.p, gz.n, "layer 0");
	free(tar.p);
	free(gz.p);
}

static void test_sparse(void **state)
{
	struct seen s;
	struct ccm_error err;
	char want[200];

	(void)state;
	assert_int_equal(view(sparse_tgz, sizeof(sparse_tgz), &s, &err), CCM_OK);
	assert_int_equal(s.n, 1);
	snprintf(want, sizeof(want), "/s 200000 %s", sparse_sha);
	assert_string_equal(s.line[0], want);
}

/* A "download" that lands 1000 bytes per wait, or fails at fail_at. */
struct landing {
	int fd;
	const uint8_t *src;
	size_t n, written, fail_at;
};

static int64_t landing_wait(void *ctx, uint64_t have)
{
	struct landing *l = ctx;
	size_t k = l->n - l->written < 1000 ? l->n - l->written : 1000;

	assert_true(have <= l->written);
	if (l->fail_at && l->written >= l->fail_at)
		return -1;
	if (have < l->written)
		return (int64_t)l->written;
	assert_int_equal(write(l->fd, l->src + l->written, k), (ssize_t)k);
	l->written += k;
	return (int64_t)l->written;
}

static ccm_code scan_landing(const struct buf *gz, size_t fail_at, struct seen *s,
                             struct ccm_error *err)
{
	char path[] = "/tmp/ccm-test-landing.XXXXXX";
	struct landing l = {mkstemp(path), gz->p, gz->n, 0, fail_at};
	const struct ccm_oci_feed feed = {.wait = landing_wait, .ctx = &l};
	struct ccm_image_fs *fs;
	struct ccm_image_scan *scan = NULL;
	ccm_code rc;

	assert_true(l.fd >= 0);
	memset(s, 0, sizeof(*s));
	assert_int_equal(ccm_image_fs_new(&fs, NULL, 0, err), CCM_OK);
	rc = image_scan_feed(fs, path, &feed, &scan, err);
	if (rc == CCM_OK) {
		assert_int_equal(l.written, gz->n);
		assert_int_equal(ccm_image_fs_apply(fs, scan, 0, err), CCM_OK);
		assert_int_equal(ccm_image_fs_walk(fs, note, s, err), CCM_OK);
	}
	ccm_image_scan_free(scan);
	ccm_image_fs_free(fs);
	close(l.fd);
	unlink(path);
	return rc;
}

static void test_follow_landing(void **state)
{
	struct buf tar = make_tar(), gz = {0};
	struct seen plain, s;
	struct ccm_error err;

	(void)state;
	assert_int_equal(view(tar.p, tar.n, &plain, &err), CCM_OK);
	gz_append(&gz, tar.p, tar.n);
	assert_int_equal(scan_landing(&gz, 0, &s, &err), CCM_OK);
	same_view(&plain, &s);
	assert_int_not_equal(scan_landing(&gz, gz.n / 2, &s, &err), CCM_OK);
	assert_non_null(strstr(err.msg, "the download failed"));
	free(tar.p);
	free(gz.p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_gzip_like_plain),
	        cmocka_unit_test(test_gzip_refused),
	        cmocka_unit_test(test_sparse),
	        cmocka_unit_test(test_follow_landing),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
