/*
 * DESIGN: lib/oci and lib/image without a network: reference grammar,
 * manifest/index parsing and platform choice, the WWW-Authenticate parser,
 * the layer walker's whiteouts and refusals on tars made here with
 * libarchive, the image manifest's canonical form, and the enclave layout:
 * deterministic, sensitive to every input, and pinned to a known answer so
 * that an accidental change to the contract (docs/internals/image.md)
 * fails here before it strands every converted image.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <archive.h>
#include <archive_entry.h>
#include <cmocka.h>

#include "ccm/image.h"
#include "ccm/oci.h"
#include "oci/oci-int.h"
#include "util/util.h"

/* ---- references ------------------------------------------------------- */

static void test_ref_hub(void **state)
{
	struct ccm_oci_ref r;
	char buf[600];

	(void)state;
	assert_int_equal(ccm_oci_ref_parse("busybox", &r, NULL), CCM_OK);
	assert_string_equal(r.registry, "registry-1.docker.io");
	assert_string_equal(r.repository, "library/busybox");
	assert_string_equal(r.tag, "latest");
	assert_int_equal(ccm_oci_ref_parse("docker://user/app:1.2", &r, NULL), CCM_OK);
	assert_string_equal(r.repository, "user/app");
	assert_string_equal(r.tag, "1.2");
	ccm_oci_ref_format(&r, buf, sizeof(buf));
	assert_string_equal(buf, "registry-1.docker.io/user/app:1.2");
}

static void test_ref_registry(void **state)
{
	struct ccm_oci_ref r;
	const char *d = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
	char s[200];

	(void)state;
	assert_int_equal(ccm_oci_ref_parse("localhost:5000/a/b-c__d:v1", &r, NULL), CCM_OK);
	assert_string_equal(r.registry, "localhost:5000");
	assert_string_equal(r.repository, "a/b-c__d");
	snprintf(s, sizeof(s), "reg.example/x@%s", d);
	assert_int_equal(ccm_oci_ref_parse(s, &r, NULL), CCM_OK);
	assert_string_equal(r.digest, d);
	assert_string_equal(r.tag, "");
	assert_string_equal(ccm_oci_ref_target(&r), d);
	assert_int_equal(ccm_oci_ref_parse("oci:/tmp/dir:tag1", &r, NULL), CCM_OK);
	assert_int_equal(r.kind, CCM_OCI_REF_LAYOUT);
	assert_string_equal(r.path, "/tmp/dir");
	assert_string_equal(r.tag, "tag1");
}

static void test_ref_bad(void **state)
{
	static const char *const bad[] = {
	        "",
	        "Upper/x",
	        "host:5000/a//b",
	        "host:5000/a:",
	        "a:-tag",
	        "host:5000/x@sha256:12",
	        "x/-y",
	        "host:5000/a_/b",
	        "oci::t",
	        "host:5000/a:t!g",
	};
	struct ccm_oci_ref r;
	struct ccm_error err;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (ccm_oci_ref_parse(bad[i], &r, &err) == CCM_OK)
			fail_msg("accepted '%s'", bad[i]);
}

/* ---- manifests -------------------------------------------------------- */

#define DG                                                                                         \
	"sha256:"                                                                                  \
	"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static ccm_code parse(const char *s, const char *ct, struct ccm_oci_manifest *m,
                      struct ccm_error *err)
{
	return ccm_oci_manifest_parse((const uint8_t *)s, strlen(s), ct, m, err);
}

static void test_manifest(void **state)
{
	struct ccm_oci_manifest m;
	struct ccm_error err;
	const char *ok = "{\"schemaVersion\":2,\"mediaType\":\"" CCM_OCI_MT_MANIFEST "\","
	                 "\"config\":{\"mediaType\":\"" CCM_OCI_MT_CONFIG "\",\"digest\":\"" DG
	                 "\",\"size\":10},\"layers\":[{\"mediaType\":\"" CCM_OCI_MT_LAYER_ZSTD
	                 "\",\"digest\":\"" DG "\",\"size\":5}]}";

	(void)state;
	assert_int_equal(parse(ok, CCM_OCI_MT_MANIFEST, &m, &err), CCM_OK);
	assert_int_equal(m.kind, CCM_OCI_IMAGE);
	assert_int_equal(m.n_layers, 1);
	assert_int_equal(m.layers[0].size, 5);
	ccm_oci_manifest_free(&m);
	assert_int_equal(parse(ok, CCM_OCI_MT_DOCKER_MANIFEST, &m, &err), CCM_E_INPUT);
	assert_non_null(strstr(err.msg, "differs from content type"));
	assert_int_equal(parse("{\"schemaVersion\":1}", NULL, &m, &err), CCM_E_UNSUPPORTED);
	assert_int_equal(parse("{\"schemaVersion\":2,\"mediaType\":\"" CCM_OCI_MT_DOCKER_MANIFEST
	                       "\",\"config\":{\"mediaType\":\"" CCM_OCI_MT_DOCKER_CONFIG
	                       "\",\"digest\":\"" DG
	                       "\",\"size\":1},\"layers\":[{\"mediaType\":\"" CCM_OCI_MT_LAYER_GZIP
	                       "\",\"digest\":\"" DG "\",\"size\":1}]}",
	                       NULL, &m, &err),
	                 CCM_E_UNSUPPORTED);
	assert_int_equal(parse("{\"schemaVersion\":2,\"config\":{\"mediaType\":\"" CCM_OCI_MT_CONFIG
	                       "\",\"digest\":\"sha256:00\",\"size\":1},\"layers\":[]}",
	                       NULL, &m, &err),
	                 CCM_E_INPUT);
	assert_int_equal(parse("[1]", NULL, &m, &err), CCM_E_INPUT);
}

static void test_manifest_limits(void **state)
{
	struct ccm_oci_manifest m;
	struct ccm_error err;
	size_t cap = 400 * 200 + 1000, n = 0;
	char *s = malloc(cap);

	(void)state;
	n += (size_t)snprintf(s + n, cap - n,
	                      "{\"schemaVersion\":2,\"config\":{\"mediaType\":\"" CCM_OCI_MT_CONFIG
	                      "\",\"digest\":\"" DG "\",\"size\":1},\"layers\":[");
	for (unsigned i = 0; i <= CCM_OCI_MAX_LAYERS; i++)
		n += (size_t)snprintf(s + n, cap - n,
		                      "%s{\"mediaType\":\"" CCM_OCI_MT_LAYER_GZIP
		                      "\",\"digest\":\"" DG "\",\"size\":1}",
		                      i ? "," : "");
	snprintf(s + n, cap - n, "]}");
	assert_int_equal(parse(s, NULL, &m, &err), CCM_E_LIMIT);
	free(s);
}

static void test_index_pick(void **state)
{
	struct ccm_oci_manifest m;
	struct ccm_oci_desc d;
	struct ccm_error err;
	const char *idx =
	        "{\"schemaVersion\":2,\"manifests\":["
	        "{\"mediaType\":\"" CCM_OCI_MT_MANIFEST "\",\"digest\":\"" DG
	        "\",\"size\":1,\"platform\":{\"os\":\"linux\",\"architecture\":\"arm64\"}},"
	        "{\"mediaType\":\"" CCM_OCI_MT_MANIFEST "\",\"digest\":\"" DG
	        "\",\"size\":2,\"platform\":{\"os\":\"linux\",\"architecture\":\"amd64\"}}]}";

	(void)state;
	assert_int_equal(parse(idx, CCM_OCI_MT_INDEX, &m, &err), CCM_OK);
	assert_int_equal(m.kind, CCM_OCI_INDEX);
	assert_int_equal(ccm_oci_index_pick(&m, "linux", "amd64", &d, &err), CCM_OK);
	assert_int_equal(d.size, 2);
	assert_int_equal(ccm_oci_index_pick(&m, "linux", "s390x", &d, &err), CCM_E_NOTFOUND);
	assert_non_null(strstr(err.msg, "linux/arm64, linux/amd64"));
	ccm_oci_manifest_free(&m);
}

static void test_challenge(void **state)
{
	char realm[200], service[200], scope[200];
	int scheme = 0;

	(void)state;
	assert_int_equal(oci_http_parse_challenge(
	                         "Bearer realm=\"https://auth.example/token\",service=\"reg\","
	                         "scope=\"repository:a/b:pull,push\"",
	                         &scheme, realm, sizeof(realm), service, sizeof(service), scope,
	                         sizeof(scope)),
	                 CCM_OK);
	assert_int_equal(scheme, OCI_AUTH_BEARER);
	assert_string_equal(realm, "https://auth.example/token");
	assert_string_equal(service, "reg");
	assert_string_equal(scope, "repository:a/b:pull,push");
	assert_int_equal(oci_http_parse_challenge("Basic realm=\"x\"", &scheme, realm,
	                                          sizeof(realm), service, sizeof(service), scope,
	                                          sizeof(scope)),
	                 CCM_OK);
	assert_int_equal(scheme, OCI_AUTH_BASIC);
	assert_int_not_equal(oci_http_parse_challenge("Bearer realm=\"file:///etc/passwd\"",
	                                              &scheme, realm, sizeof(realm), service,
	                                              sizeof(service), scope, sizeof(scope)),
	                     CCM_OK);
	assert_int_not_equal(oci_http_parse_challenge("Negotiate", &scheme, realm, sizeof(realm),
	                                              service, sizeof(service), scope,
	                                              sizeof(scope)),
	                     CCM_OK);
}

/* ---- layer walker ----------------------------------------------------- */

struct ent {
	const char *path;
	char kind; /* f file, d dir, l symlink, h hardlink, c chr device */
	const char *arg;
};

struct tarbuf {
	uint8_t buf[1 << 16];
	size_t used;
};

static void make_tar(const struct ent *e, size_t n, struct tarbuf *t)
{
	struct archive *a = archive_write_new();

	archive_write_set_format_pax_restricted(a);
	assert_int_equal(archive_write_open_memory(a, t->buf, sizeof(t->buf), &t->used),
	                 ARCHIVE_OK);
	for (size_t i = 0; i < n; i++) {
		struct archive_entry *x = archive_entry_new();
		archive_entry_set_pathname(x, e[i].path);
		archive_entry_set_perm(x, 0644);
		switch (e[i].kind) {
		case 'f':
			archive_entry_set_filetype(x, AE_IFREG);
			archive_entry_set_size(x, (la_int64_t)strlen(e[i].arg));
			break;
		case 'd':
			archive_entry_set_filetype(x, AE_IFDIR);
			break;
		case 'l':
			archive_entry_set_filetype(x, AE_IFLNK);
			archive_entry_set_symlink(x, e[i].arg);
			break;
		case 'h':
			archive_entry_set_filetype(x, AE_IFREG);
			archive_entry_set_hardlink(x, e[i].arg);
			break;
		default:
			archive_entry_set_filetype(x, AE_IFCHR);
			break;
		}
		assert_int_equal(archive_write_header(a, x), ARCHIVE_OK);
		if (e[i].kind == 'f')
			archive_write_data(a, e[i].arg, strlen(e[i].arg));
		archive_entry_free(x);
	}
	archive_write_close(a);
	archive_write_free(a);
}

struct collected {
	char paths[16][64];
	bool prot[16];
	size_t n;
};

static ccm_code collect(void *ctx, const char *path, const uint8_t sha[32], uint64_t size,
                        bool is_protected, struct ccm_error *err)
{
	struct collected *c = ctx;

	(void)sha;
	(void)size;
	(void)err;
	if (c->n < 16) {
		snprintf(c->paths[c->n], sizeof(c->paths[0]), "%s", path);
		c->prot[c->n++] = is_protected;
	}
	return CCM_OK;
}

static ccm_code add(struct ccm_image_fs *fs, const struct ent *e, size_t n, unsigned layer,
                    struct ccm_error *err)
{
	struct tarbuf *t = calloc(1, sizeof(*t));
	ccm_code rc;

	make_tar(e, n, t);
	rc = ccm_image_fs_add_layer_mem(fs, t->buf, t->used, layer, err);
	free(t);
	return rc;
}

static void test_whiteouts(void **state)
{
	static const struct ent l0[] = {
	        {"a/", 'd', NULL},   {"a/x", 'f', "x"},    {"a/y", 'f', "y"},
	        {"o/", 'd', NULL},   {"o/old", 'f', "o"},  {"o/sub/deep", 'f', "d"},
	        {"tmp/t", 'f', "t"}, {"keep", 'h', "a/x"},
	};
	static const struct ent l1[] = {
	        {"o/new", 'f', "n"},
	        {"o/.wh..wh..opq", 'f', ""},
	        {"a/.wh.x", 'f', ""},
	        {"a/z", 'f', "z"},
	};
	const char *rw[] = {"/tmp"};
	struct ccm_image_fs *fs;
	struct ccm_error err;
	struct collected c = {0};

	(void)state;
	assert_int_equal(ccm_image_fs_new(&fs, rw, 1, &err), CCM_OK);
	assert_int_equal(add(fs, l0, sizeof(l0) / sizeof(l0[0]), 0, &err), CCM_OK);
	assert_int_equal(add(fs, l1, sizeof(l1) / sizeof(l1[0]), 1, &err), CCM_OK);
	assert_int_equal(ccm_image_fs_walk(fs, collect, &c, &err), CCM_OK);
	assert_int_equal(c.n, 5);
	assert_string_equal(c.paths[0], "/a/y");
	assert_string_equal(c.paths[1], "/a/z");
	assert_string_equal(c.paths[2], "/keep");
	assert_string_equal(c.paths[3], "/o/new");
	assert_string_equal(c.paths[4], "/tmp/t");
	assert_false(c.prot[4]);
	assert_true(c.prot[2]);
	assert_false(ccm_image_fs_exists(fs, "/o/old"));
	assert_false(ccm_image_fs_exists(fs, "/o/sub"));
	ccm_image_fs_free(fs);
}

/* Scans are independent: scanned in reverse order, applied in order, the
 * view is the same as with the one-step API. */
static void test_scan_apply(void **state)
{
	static const struct ent l0[] = {{"d/", 'd', NULL}, {"d/a", 'f', "a"}, {"d/b", 'f', "b"}};
	static const struct ent l1[] = {{"d/.wh.a", 'f', ""}, {"d/c", 'l', "b"}};
	struct tarbuf *t0 = calloc(1, sizeof(*t0)), *t1 = calloc(1, sizeof(*t1));
	struct ccm_image_scan *s0 = NULL, *s1 = NULL;
	struct ccm_image_fs *fs;
	struct ccm_error err;
	struct collected c = {0};

	(void)state;
	make_tar(l0, 3, t0);
	make_tar(l1, 2, t1);
	assert_int_equal(ccm_image_fs_new(&fs, NULL, 0, &err), CCM_OK);
	assert_int_equal(ccm_image_scan_mem(fs, t1->buf, t1->used, &s1, &err), CCM_OK);
	assert_int_equal(ccm_image_scan_mem(fs, t0->buf, t0->used, &s0, &err), CCM_OK);
	assert_int_equal(ccm_image_fs_apply(fs, s0, 0, &err), CCM_OK);
	assert_int_equal(ccm_image_fs_apply(fs, s1, 1, &err), CCM_OK);
	assert_int_equal(ccm_image_fs_walk(fs, collect, &c, &err), CCM_OK);
	assert_int_equal(c.n, 1);
	assert_string_equal(c.paths[0], "/d/b");
	assert_true(ccm_image_fs_exists(fs, "/d/c"));
	assert_false(ccm_image_fs_exists(fs, "/d/a"));
	ccm_image_scan_free(s0);
	ccm_image_scan_free(s1);
	ccm_image_fs_free(fs);
	free(t0);
	free(t1);
}

static void expect_refused(const struct ent *e, size_t n, const char *msg)
{
	struct ccm_image_fs *fs;
	struct ccm_error err;

	assert_int_equal(ccm_image_fs_new(&fs, NULL, 0, &err), CCM_OK);
	assert_int_not_equal(add(fs, e, n, 0, &err), CCM_OK);
	if (strstr(err.msg, msg) == NULL)
		fail_msg("'%s' lacks '%s'", err.msg, msg);
	ccm_image_fs_free(fs);
}

static void test_walker_refusals(void **state)
{
	static const struct ent dotdot[] = {{"a/../../x", 'f', "x"}};
	static const struct ent through[] = {{"l", 'l', "/etc"}, {"l/passwd", 'f', "x"}};
	static const struct ent climb[] = {{"a/b/l", 'l', "../../../x"}};
	static const struct ent dev[] = {{"dev/null", 'c', NULL}};
	static const struct ent dup[] = {{"f", 'f', "1"}, {"f", 'f', "2"}};
	static const struct ent hard[] = {{"h", 'h', "missing"}};
	static const struct ent notdir[] = {{"f", 'f', "1"}, {"f/g", 'f', "2"}};

	(void)state;
	expect_refused(dotdot, 1, "'..' would escape");
	expect_refused(through, 2, "goes through symlink 'l'");
	expect_refused(climb, 1, "escapes the image root");
	expect_refused(dev, 1, "device node");
	expect_refused(dup, 2, "duplicate entry '/f'");
	expect_refused(hard, 1, "not a file seen before");
	expect_refused(notdir, 2, "'f' is not a directory");
}

static void test_walker_garbage(void **state)
{
	struct ccm_image_fs *fs;
	struct ccm_error err;
	uint8_t junk[1024];

	(void)state;
	memset(junk, 'A', sizeof(junk));
	assert_int_equal(ccm_image_fs_new(&fs, NULL, 0, &err), CCM_OK);
	assert_int_not_equal(ccm_image_fs_add_layer_mem(fs, junk, sizeof(junk), 3, &err), CCM_OK);
	assert_non_null(strstr(err.msg, "layer 3"));
	ccm_image_fs_free(fs);
}

/* ---- image manifest ---------------------------------------------------- */

static const char canon_manifest[] =
        "{\"account_id\":\"\",\"app_id\":\"\",\"certificate\":null,\"cmd\":[\"-c\",\"x\"],"
        "\"entrypoint\":[\"/bin/sh\"],\"env\":[\"A=1\"],\"exposed_ports\":[],\"files\":{\"/bin/"
        "sh\":\"0000000000000000000000000000000000000000000000000000000000000000\"},\"format\":"
        "\"ccm-image-manifest/1\",\"isvprodid\":1,\"isvsvn\":2,\"mem\":1048576,\"rw_dirs\":[],"
        "\"threads\":1,\"user\":\"\",\"workdir\":\"\"}";

static void test_manifest_canonical(void **state)
{
	struct ccm_image_manifest m;
	struct ccm_error err;
	char *s = NULL;
	size_t len = 0;
	char spaced[sizeof(canon_manifest) + 1];

	(void)state;
	assert_int_equal(ccm_image_manifest_parse((const uint8_t *)canon_manifest,
	                                          strlen(canon_manifest), &m, &err),
	                 CCM_OK);
	assert_int_equal(m.mem, 1048576);
	assert_int_equal(m.isvsvn, 2);
	assert_int_equal(ccm_image_canonical(m.root, &s, &len, &err), CCM_OK);
	assert_string_equal(s, canon_manifest);
	free(s);
	ccm_image_manifest_free(&m);
	/* One space: same JSON, different bytes, refused. */
	snprintf(spaced, sizeof(spaced), "%s ", canon_manifest);
	assert_int_equal(
	        ccm_image_manifest_parse((const uint8_t *)spaced, strlen(spaced), &m, &err),
	        CCM_E_INPUT);
	assert_non_null(strstr(err.msg, "canonical"));
	/* Unknown key (sorted in place, still canonical) refused. */
	assert_int_equal(ccm_image_manifest_parse((const uint8_t *)"{\"zzz\":1}", 9, &m, &err),
	                 CCM_E_INPUT);
}

/* ---- enclave layout ---------------------------------------------------- */

/* A minimal x86-64 ELF: one PT_LOAD R+X at 0x400000 holding the file. */
static size_t tiny_elf(uint8_t *e, size_t n)
{
	memset(e, 0x90, n);
	memset(e, 0, 120);
	memcpy(e, "\177ELF", 4);
	e[4] = 2;
	e[5] = 1;
	e[6] = 1;
	util_put_le16(e + 16, 2);
	util_put_le16(e + 18, 62);
	util_put_le32(e + 20, 1);
	util_put_le64(e + 24, 0x400000 + 120);
	util_put_le64(e + 32, 64);
	util_put_le16(e + 52, 64);
	util_put_le16(e + 54, 56);
	util_put_le16(e + 56, 1);
	util_put_le32(e + 64, 1);
	util_put_le32(e + 68, 5);
	util_put_le64(e + 64 + 16, 0x400000);
	util_put_le64(e + 64 + 24, 0x400000);
	util_put_le64(e + 64 + 32, n);
	util_put_le64(e + 64 + 40, n + 8192);
	return n;
}

static void test_layout(void **state)
{
	static uint8_t elf[5000];
	uint8_t a[32], b[32];
	char hex[65];
	struct ccm_image_layout info;
	struct ccm_error err;
	const uint8_t *man = (const uint8_t *)canon_manifest;
	size_t ml = strlen(canon_manifest), el = tiny_elf(elf, sizeof(elf));

	(void)state;
	assert_int_equal(ccm_image_layout_measure(elf, el, man, ml, 1 << 20, 2, a, &info, &err),
	                 CCM_OK);
	assert_int_equal(info.elf_pages, 4); /* 5000 file bytes + 8192 of bss */
	assert_int_equal(info.manifest_off, 4 * 4096);
	assert_int_equal(info.manifest_pages, 1);
	assert_int_equal(info.heap_pages, 256);
	assert_int_equal(info.thread_pages, 67);
	assert_int_equal(info.size, 1 << 21);
	assert_int_equal(ccm_image_layout_measure(elf, el, man, ml, 1 << 20, 2, b, NULL, &err),
	                 CCM_OK);
	assert_memory_equal(a, b, 32);
	/* Known answer: changing this value means changing the contract. */
	util_hex(a, 32, hex);
	print_message("tiny layout MRENCLAVE %s\n", hex);
	assert_string_equal(hex,
	                    "d8dfbe001c47ad6ad93dd4e6bc048e504c4e9fd8e4e9e1d34d67822419ddf482");
	assert_int_equal(ccm_image_layout_measure(elf, el, man, ml, 2 << 20, 2, b, NULL, &err),
	                 CCM_OK);
	assert_memory_not_equal(a, b, 32);
	assert_int_equal(ccm_image_layout_measure(elf, el, man, ml, 1 << 20, 3, b, NULL, &err),
	                 CCM_OK);
	assert_memory_not_equal(a, b, 32);
	assert_int_equal(ccm_image_layout_measure(elf, el, man, ml - 1, 1 << 20, 2, b, NULL, &err),
	                 CCM_OK);
	assert_memory_not_equal(a, b, 32);
	elf[4000] ^= 1;
	assert_int_equal(ccm_image_layout_measure(elf, el, man, ml, 1 << 20, 2, b, NULL, &err),
	                 CCM_OK);
	assert_memory_not_equal(a, b, 32);
}

static void test_layout_bad(void **state)
{
	static uint8_t elf[5000];
	uint8_t mr[32];
	struct ccm_error err;
	size_t el = tiny_elf(elf, sizeof(elf));
	const uint8_t *man = (const uint8_t *)"{}";

	(void)state;
	assert_int_equal(ccm_image_layout_measure(elf, 10, man, 2, 1 << 20, 1, mr, NULL, &err),
	                 CCM_E_INPUT);
	assert_int_equal(ccm_image_layout_measure(elf, el, man, 2, 1000, 1, mr, NULL, &err),
	                 CCM_E_RANGE);
	assert_int_equal(ccm_image_layout_measure(elf, el, man, 2, 1 << 20, 0, mr, NULL, &err),
	                 CCM_E_RANGE);
	util_put_le64(elf + 64 + 32, el + 1); /* filesz beyond the file */
	assert_int_equal(ccm_image_layout_measure(elf, el, man, 2, 1 << 20, 1, mr, NULL, &err),
	                 CCM_E_INPUT);
	tiny_elf(elf, sizeof(elf));
	util_put_le64(elf + 24, 0x900000); /* entry outside */
	assert_int_equal(ccm_image_layout_measure(elf, el, man, 2, 1 << 20, 1, mr, NULL, &err),
	                 CCM_E_INPUT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_ref_hub),         cmocka_unit_test(test_ref_registry),
	        cmocka_unit_test(test_ref_bad),         cmocka_unit_test(test_manifest),
	        cmocka_unit_test(test_manifest_limits), cmocka_unit_test(test_index_pick),
	        cmocka_unit_test(test_challenge),       cmocka_unit_test(test_whiteouts),
	        cmocka_unit_test(test_scan_apply),      cmocka_unit_test(test_walker_refusals),
	        cmocka_unit_test(test_walker_garbage),  cmocka_unit_test(test_manifest_canonical),
	        cmocka_unit_test(test_layout),          cmocka_unit_test(test_layout_bad),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
