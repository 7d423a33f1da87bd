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
#include <sys/stat.h>
#include <unistd.h>

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

/* ---- symlinks for the manifest, and the runtime's tree check ----------- */

struct links_seen {
	size_t n;
	char path[4][64], target[4][64];
	bool rw[4];
};

static ccm_code links_note(void *ctx, const char *path, const char *target, bool in_rw,
                           struct ccm_error *err)
{
	struct links_seen *l = ctx;

	(void)err;
	if (l->n < 4) {
		snprintf(l->path[l->n], 64, "%s", path);
		snprintf(l->target[l->n], 64, "%s", target);
		l->rw[l->n++] = in_rw;
	}
	return CCM_OK;
}

static void test_walk_links(void **state)
{
	static const struct ent l0[] = {{"b/", 'd', NULL},    {"b/sh", 'f', "x"},
	                                {"b/l", 'l', "sh"},   {"tmp/l", 'l', "/x"},
	                                {"a/l", 'l', "../b"}, {"gone", 'l', "/b"}};
	static const struct ent l1[] = {{".wh.gone", 'f', ""}};
	const char *rw[] = {"/tmp"};
	struct ccm_image_fs *fs;
	struct ccm_error err;
	struct links_seen l = {0};

	(void)state;
	assert_int_equal(ccm_image_fs_new(&fs, rw, 1, &err), CCM_OK);
	assert_int_equal(add(fs, l0, sizeof(l0) / sizeof(l0[0]), 0, &err), CCM_OK);
	assert_int_equal(add(fs, l1, 1, 1, &err), CCM_OK);
	assert_int_equal(ccm_image_fs_walk_links(fs, links_note, &l, &err), CCM_OK);
	assert_int_equal(l.n, 3);
	assert_string_equal(l.path[0], "/a/l");
	assert_string_equal(l.target[0], "../b");
	assert_string_equal(l.path[1], "/b/l");
	assert_string_equal(l.path[2], "/tmp/l");
	assert_false(l.rw[1]);
	assert_true(l.rw[2]);
	ccm_image_fs_free(fs);
}

struct tree {
	char dir[64];
	struct ccm_image_manifest m;
};

static void tree_put(const struct tree *t, const char *rel, const char *data)
{
	char p[256];
	FILE *f;

	snprintf(p, sizeof(p), "%s%s", t->dir, rel);
	f = fopen(p, "w");
	assert_non_null(f);
	fputs(data, f);
	fclose(f);
}

static void tree_mkdir(const struct tree *t, const char *rel)
{
	char p[256];

	snprintf(p, sizeof(p), "%s%s", t->dir, rel);
	assert_int_equal(mkdir(p, 0755), 0);
}

static void tree_link(const struct tree *t, const char *target, const char *rel)
{
	char p[256];

	snprintf(p, sizeof(p), "%s%s", t->dir, rel);
	unlink(p);
	assert_int_equal(symlink(target, p), 0);
}

static void tree_rm(const struct tree *t, const char *rel)
{
	char p[256];

	snprintf(p, sizeof(p), "%s%s", t->dir, rel);
	assert_int_equal(remove(p), 0);
}

/* A root as a conversion leaves it: listed files and symlinks, an empty
 * directory, a read-write directory, the runtime's files, /etc/hosts. */
static void tree_setup(struct tree *t)
{
	static const char *const dirs[] = {"/bin", "/etc",     "/empty", "/data",
	                                   "/opt", "/opt/ccm", "/run",   "/run/tls"};
	static const char sha_x[] =
	        "2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881";
	json_t *root;
	char *bytes;
	size_t len;
	struct ccm_error err;

	snprintf(t->dir, sizeof(t->dir), "/tmp/ccm-tree.XXXXXX");
	assert_non_null(mkdtemp(t->dir));
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++)
		tree_mkdir(t, dirs[i]);
	tree_put(t, "/bin/sh", "x");
	tree_link(t, "sh", "/bin/sh2");
	tree_put(t, "/data/state", "written by the app");
	tree_put(t, "/etc/hosts", "127.0.0.1 engine");
	tree_put(t, "/opt/ccm/ccm-enclave", "r");
	tree_put(t, "/opt/ccm/manifest.json", "m");
	tree_put(t, "/opt/ccm/enclave.sig", "s");
	tree_put(t, "/run/tls/key.pem", "the runtime's output");
	root = json_pack("{s:s,s:s,s:s,s:n,s:[s],s:[],s:[],s:[],s:{s:s},s:{s:s},s:i,s:i,s:i,"
	                 "s:[s,s,s,s],s:i,s:s,s:s}",
	                 "format", CCM_IMAGE_FORMAT, "app_id", "", "account_id", "", "certificate",
	                 "entrypoint", "/bin/sh", "cmd", "env", "exposed_ports", "files", "/bin/sh",
	                 sha_x, "links", "/bin/sh2", "sh", "isvprodid", 1, "isvsvn", 1, "mem",
	                 1 << 20, "rw_dirs", "/data", "/dev", "/proc", "/sys", "threads", 1,
	                 "workdir", "", "user", "");
	assert_non_null(root);
	assert_int_equal(ccm_image_canonical(root, &bytes, &len, &err), CCM_OK);
	json_decref(root);
	if (ccm_image_manifest_parse((const uint8_t *)bytes, len, &t->m, &err) != CCM_OK)
		fail_msg("%s", err.msg);
	free(bytes);
}

static void tree_teardown(struct tree *t)
{
	char cmd[128];

	ccm_image_manifest_free(&t->m);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", t->dir);
	assert_int_equal(system(cmd), 0);
}

/* Both checks as the runtime runs them; NULL want: must pass. */
static void tree_expect(const struct tree *t, const char *want)
{
	static const char *const skip[] = {"/run/tls/key.pem"};
	struct ccm_error err = {0};
	uint64_t n = 0;
	ccm_code rc = ccm_image_verify_files(&t->m, t->dir, &n, &err);

	if (rc == CCM_OK)
		rc = ccm_image_verify_tree(&t->m, t->dir, skip, 1, &n, &err);
	if (want == NULL && rc != CCM_OK)
		fail_msg("refused: %s", err.msg);
	if (want != NULL && (rc != CCM_E_VERIFY || strstr(err.msg, want) == NULL))
		fail_msg("'%s' (%d) lacks '%s'", rc == CCM_OK ? "accepted" : err.msg, rc, want);
}

static void test_tree_clean(void **state)
{
	struct tree t;

	(void)state;
	tree_setup(&t);
	tree_expect(&t, NULL);
	/* Written by the app in its read-write directory, deep down: fine. */
	tree_mkdir(&t, "/data/sub");
	tree_put(&t, "/data/sub/new", "n");
	tree_link(&t, "/etc", "/data/sub/l");
	/* A new empty directory is harmless. */
	tree_mkdir(&t, "/empty/sub");
	tree_expect(&t, NULL);
	tree_teardown(&t);
}

static void test_tree_added(void **state)
{
	struct tree t;

	(void)state;
	tree_setup(&t);
	tree_mkdir(&t, "/empty/site-packages");
	tree_put(&t, "/empty/site-packages/evil.pth", "import os");
	tree_expect(&t, "unlisted file /empty/site-packages/evil.pth: added after conversion");
	/* The first in byte order is named: "/bin/x" < "/empty/...". */
	tree_put(&t, "/bin/x", "x");
	tree_expect(&t, "unlisted file /bin/x: added");
	tree_rm(&t, "/bin/x");
	tree_rm(&t, "/empty/site-packages/evil.pth");
	/* Anything under /opt/ccm but the runtime's three files. */
	tree_put(&t, "/opt/ccm/extra", "e");
	tree_expect(&t, "unlisted file /opt/ccm/extra");
	tree_rm(&t, "/opt/ccm/extra");
	/* The caller's skip list is exact: a neighbour is refused. */
	tree_put(&t, "/run/tls/key.pem.tmp", "t");
	tree_expect(&t, "unlisted file /run/tls/key.pem.tmp");
	tree_rm(&t, "/run/tls/key.pem.tmp");
	tree_expect(&t, NULL);
	tree_teardown(&t);
}

static void test_tree_links(void **state)
{
	struct tree t;
	char p[256];

	(void)state;
	tree_setup(&t);
	tree_link(&t, "/tmp/evil.so", "/etc/ld.so.preload");
	tree_expect(&t, "unlisted symlink /etc/ld.so.preload -> /tmp/evil.so: added after");
	tree_rm(&t, "/etc/ld.so.preload");
	tree_link(&t, "/tmp/evil", "/bin/sh2");
	tree_expect(&t, "symlink /bin/sh2: target changed after conversion (now '/tmp/evil', "
	                "signed 'sh')");
	tree_rm(&t, "/bin/sh2");
	tree_expect(&t, "symlink /bin/sh2: missing");
	tree_put(&t, "/bin/sh2", "x"); /* replaced by a file */
	tree_expect(&t, "unlisted file /bin/sh2");
	tree_rm(&t, "/bin/sh2");
	tree_link(&t, "sh", "/bin/sh2");
	snprintf(p, sizeof(p), "%s/empty/fifo", t.dir);
	assert_int_equal(mkfifo(p, 0600), 0);
	tree_expect(&t, "unlisted fifo /empty/fifo");
	tree_rm(&t, "/empty/fifo");
	tree_expect(&t, NULL);
	tree_teardown(&t);
}

static void test_tree_manifest_links(void **state)
{
	static const char bad[] =
	        "{\"account_id\":\"\",\"app_id\":\"\",\"certificate\":null,\"cmd\":[],"
	        "\"entrypoint\":[\"/bin/sh\"],\"env\":[],\"exposed_ports\":[],\"files\":{},"
	        "\"format\":\"ccm-image-manifest/2\",\"isvprodid\":1,\"isvsvn\":2,\"links\":{"
	        "\"/a\":\"\"},\"mem\":1048576,\"rw_dirs\":[],\"threads\":1,\"user\":\"\","
	        "\"workdir\":\"\"}";
	struct ccm_image_manifest m;
	struct ccm_error err;

	(void)state;
	assert_int_equal(ccm_image_manifest_parse((const uint8_t *)bad, strlen(bad), &m, &err),
	                 CCM_E_INPUT);
	assert_non_null(strstr(err.msg, "bad link entry \"/a\""));
	assert_true(ccm_image_engine_file("/etc/resolv.conf"));
	assert_true(ccm_image_engine_file("/.dockerenv"));
	assert_false(ccm_image_engine_file("/etc/passwd"));
}

/* ---- image manifest ---------------------------------------------------- */

static const char canon_manifest[] =
        "{\"account_id\":\"\",\"app_id\":\"\",\"certificate\":null,\"cmd\":[\"-c\",\"x\"],"
        "\"entrypoint\":[\"/bin/sh\"],\"env\":[\"A=1\"],\"exposed_ports\":[],\"files\":{\"/bin/"
        "sh\":\"0000000000000000000000000000000000000000000000000000000000000000\"},\"format\":"
        "\"ccm-image-manifest/2\",\"isvprodid\":1,\"isvsvn\":2,\"links\":{\"/bin/sh2\":\"sh\"},"
        "\"mem\":1048576,\"rw_dirs\":[],"
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
	                    "5ba890722409e85df0361b013feb12bbbf80bdeed9142686337fcf9a2cd102f5");
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
	        cmocka_unit_test(test_ref_hub),
	        cmocka_unit_test(test_ref_registry),
	        cmocka_unit_test(test_ref_bad),
	        cmocka_unit_test(test_manifest),
	        cmocka_unit_test(test_manifest_limits),
	        cmocka_unit_test(test_index_pick),
	        cmocka_unit_test(test_challenge),
	        cmocka_unit_test(test_whiteouts),
	        cmocka_unit_test(test_scan_apply),
	        cmocka_unit_test(test_walker_refusals),
	        cmocka_unit_test(test_walker_garbage),
	        cmocka_unit_test(test_manifest_canonical),
	        cmocka_unit_test(test_layout),
	        cmocka_unit_test(test_layout_bad),
	        cmocka_unit_test(test_walk_links),
	        cmocka_unit_test(test_tree_clean),
	        cmocka_unit_test(test_tree_added),
	        cmocka_unit_test(test_tree_links),
	        cmocka_unit_test(test_tree_manifest_links),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
