/*
 * DESIGN: the runtime's file check. Every path in the manifest is opened
 * beneath the root with openat2(RESOLVE_NO_SYMLINKS | RESOLVE_BENEATH): the
 * converter only lists paths whose every component is a real directory, so
 * a symlink anywhere on the way now means the image was changed, and the
 * file is refused rather than followed. Files are checked in the manifest's
 * (sorted) order, so "the first file that differs" is well defined.
 *
 * Then the tree check (verify_tree_*): what the manifest does not list must
 * not be there either, or a .pth in site-packages or an /etc/ld.so.preload
 * added after conversion would run inside the app. The root is walked
 * beneath its fd, never following a symlink (openat O_NOFOLLOW|O_DIRECTORY
 * per directory), and every regular file, symlink or special file is
 * looked up in the manifest. Directories alone are allowed: empty they do
 * nothing, and what is put in them is caught. Entries are not sorted;
 * the smallest offending path is kept instead, so the one named is the
 * first in byte order (the manifest's order) at no sorting cost.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "ccm/image.h"
#include "util/util.h"

static int verify_open(int rootfd, const char *rel)
{
	struct open_how how = {.flags = O_RDONLY | O_CLOEXEC | O_NOFOLLOW,
	                       .resolve = RESOLVE_NO_SYMLINKS | RESOLVE_BENEATH |
	                                  RESOLVE_NO_MAGICLINKS};
	long fd = syscall(SYS_openat2, rootfd, rel, &how, sizeof(how));

	if (fd < 0 && errno == ENOSYS)
		fd = openat(rootfd, rel, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	return (int)fd;
}

static ccm_code verify_hash_fd(int fd, EVP_MD_CTX *md, uint8_t out[32], const char *path,
                               struct ccm_error *err)
{
	uint8_t buf[1 << 15];
	unsigned int hl = 0;
	ssize_t n;

	if (!EVP_DigestInit_ex(md, EVP_sha256(), NULL))
		return ccm_fail(err, CCM_E_CRYPTO, "SHA-256 init failed");
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		EVP_DigestUpdate(md, buf, (size_t)n);
	if (n < 0)
		return ccm_fail(err, CCM_E_IO, "file %s: read: %s", path, strerror(errno));
	if (!EVP_DigestFinal_ex(md, out, &hl))
		return ccm_fail(err, CCM_E_CRYPTO, "SHA-256 failed");
	return CCM_OK;
}

static ccm_code verify_one(int rootfd, EVP_MD_CTX *md, const char *path, const char *want,
                           struct ccm_error *err)
{
	uint8_t h[32];
	char hex[65];
	struct stat st;
	int fd = verify_open(rootfd, path + 1);
	ccm_code rc;

	if (fd < 0 && (errno == ELOOP || errno == EXDEV))
		return ccm_fail(err, CCM_E_VERIFY,
		                "file %s: reached through a symlink, the signed manifest lists a "
		                "plain path",
		                path);
	if (fd < 0)
		return ccm_fail(err, CCM_E_VERIFY, "file %s: %s", path, strerror(errno));
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return ccm_fail(err, CCM_E_VERIFY, "file %s: not a regular file", path);
	}
	rc = verify_hash_fd(fd, md, h, path, err);
	close(fd);
	if (rc != CCM_OK)
		return rc;
	util_hex(h, 32, hex);
	if (strcmp(hex, want) != 0)
		return ccm_fail(err, CCM_E_VERIFY,
		                "file %s: content differs from the signed manifest (sha256 %s, "
		                "expected %s)",
		                path, hex, want);
	return CCM_OK;
}

ccm_code ccm_image_verify_files(const struct ccm_image_manifest *m, const char *root,
                                uint64_t *checked, struct ccm_error *err)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	int rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	const char *path;
	json_t *h;
	ccm_code rc = CCM_OK;

	*checked = 0;
	if (rootfd < 0 || md == NULL) {
		rc = ccm_fail(err, CCM_E_IO, "%s: %s", root,
		              md ? strerror(errno) : "out of memory");
		goto fail;
	}
	json_object_foreach(m->files, path, h)
	{
		rc = verify_one(rootfd, md, path, json_string_value(h), err);
		if (rc != CCM_OK)
			break;
		(*checked)++;
	}
fail:
	if (rootfd >= 0)
		close(rootfd);
	EVP_MD_CTX_free(md);
	return rc;
}

/* ---- the tree check --------------------------------------------------- */

#define TREE_MAX_PATH 4096u

struct verify_tree {
	const struct ccm_image_manifest *m;
	const char *const *skip;
	size_t n_skip;
	dev_t dev;
	uint64_t entries, links_ok;
	char path[TREE_MAX_PATH + 260];
	char *worst;    /* smallest offending path so far (malloc'ed) */
	char why[8400]; /* its one-line reason */
};

/* Never walked: the read-write directories, the runtime's own three files
 * (anything else under /opt/ccm is unlisted), what engines add, and the
 * caller's exact paths. */
static bool verify_tree_skipped(const struct verify_tree *t, const char *path)
{
	size_t i;
	json_t *d;

	if (strcmp(path, CCM_IMAGE_RUNTIME_PATH) == 0 ||
	    strcmp(path, CCM_IMAGE_MANIFEST_PATH) == 0 || strcmp(path, CCM_IMAGE_SIG_PATH) == 0 ||
	    ccm_image_engine_file(path))
		return true;
	json_array_foreach(t->m->rw_dirs, i, d)
	{
		if (strcmp(path, json_string_value(d)) == 0)
			return true;
	}
	for (i = 0; i < t->n_skip; i++)
		if (strcmp(path, t->skip[i]) == 0)
			return true;
	return false;
}

/* Keep the smallest offending path and its reason; the walk goes on. */
static ccm_code verify_tree_note(struct verify_tree *t, const char *path, struct ccm_error *err,
                                 const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static ccm_code verify_tree_note(struct verify_tree *t, const char *path, struct ccm_error *err,
                                 const char *fmt, ...)
{
	va_list ap;

	if (t->worst != NULL && strcmp(path, t->worst) >= 0)
		return CCM_OK;
	free(t->worst);
	t->worst = strdup(path);
	if (t->worst == NULL)
		return ccm_fail(err, CCM_E_NOMEM, "out of memory");
	va_start(ap, fmt);
	vsnprintf(t->why, sizeof(t->why), fmt, ap);
	va_end(ap);
	return CCM_OK;
}

static ccm_code verify_tree_link(struct verify_tree *t, int dfd, const char *name,
                                 struct ccm_error *err)
{
	char target[TREE_MAX_PATH + 1];
	ssize_t n = readlinkat(dfd, name, target, sizeof(target) - 1);
	const char *want = json_string_value(json_object_get(t->m->links, t->path));

	if (n < 0)
		return ccm_fail(err, CCM_E_IO, "symlink %s: %s", t->path, strerror(errno));
	target[n] = '\0';
	if (want == NULL)
		return verify_tree_note(t, t->path, err,
		                        "unlisted symlink %s -> %.200s: added after conversion",
		                        t->path, target);
	if (strcmp(want, target) != 0)
		return verify_tree_note(
		        t, t->path, err,
		        "symlink %s: target changed after conversion (now '%.200s', "
		        "signed '%.200s')",
		        t->path, target, want);
	t->links_ok++;
	return CCM_OK;
}

static const char *verify_tree_kind(mode_t mode)
{
	if (S_ISFIFO(mode))
		return "fifo";
	if (S_ISSOCK(mode))
		return "socket";
	return S_ISCHR(mode) || S_ISBLK(mode) ? "device" : "special file";
}

static ccm_code verify_tree_dir(struct verify_tree *t, int fd, size_t len, unsigned depth,
                                struct ccm_error *err);

/* A subdirectory: opened without following a symlink, skipped when it is
 * a mount point of another filesystem (/proc, volumes). Only directories
 * are skipped by device: overlayfs may report a lower layer's st_dev for
 * files, which must not exempt them. */
static ccm_code verify_tree_sub(struct verify_tree *t, int dfd, const char *name, size_t len,
                                unsigned depth, struct ccm_error *err)
{
	struct stat st;
	int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0)
		return ccm_fail(err, CCM_E_VERIFY, "directory %s: %s", t->path, strerror(errno));
	if (fstat(fd, &st) != 0 || st.st_dev != t->dev) {
		close(fd);
		return CCM_OK;
	}
	if (depth >= CCM_IMAGE_MAX_TREE_DEPTH) {
		close(fd);
		return ccm_fail(err, CCM_E_LIMIT, "directory %s: more than %u levels deep", t->path,
		                CCM_IMAGE_MAX_TREE_DEPTH);
	}
	return verify_tree_dir(t, fd, len, depth + 1, err);
}

static ccm_code verify_tree_entry(struct verify_tree *t, int dfd, const struct dirent *de,
                                  size_t len, unsigned depth, struct ccm_error *err)
{
	unsigned char type = de->d_type;
	struct stat st = {0};

	if (verify_tree_skipped(t, t->path))
		return CCM_OK;
	if (type == DT_UNKNOWN) {
		if (fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0)
			return ccm_fail(err, CCM_E_IO, "%s: %s", t->path, strerror(errno));
		type = S_ISDIR(st.st_mode)   ? DT_DIR
		       : S_ISREG(st.st_mode) ? DT_REG
		       : S_ISLNK(st.st_mode) ? DT_LNK
		                             : DT_FIFO;
	} else if (type != DT_DIR && type != DT_REG && type != DT_LNK &&
	           fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
		return ccm_fail(err, CCM_E_IO, "%s: %s", t->path, strerror(errno));
	}
	switch (type) {
	case DT_DIR:
		return verify_tree_sub(t, dfd, de->d_name, len, depth, err);
	case DT_REG:
		if (json_object_get(t->m->files, t->path) != NULL)
			return CCM_OK;
		return verify_tree_note(t, t->path, err, "unlisted file %s: added after conversion",
		                        t->path);
	case DT_LNK:
		return verify_tree_link(t, dfd, de->d_name, err);
	default:
		return verify_tree_note(t, t->path, err, "unlisted %s %s: added after conversion",
		                        verify_tree_kind(st.st_mode), t->path);
	}
}

/* Walks the directory open on fd (taken over) whose path is t->path[0..len). */
static ccm_code verify_tree_dir(struct verify_tree *t, int fd, size_t len, unsigned depth,
                                struct ccm_error *err)
{
	DIR *d = fdopendir(fd);
	struct dirent *de;
	ccm_code rc = CCM_OK;

	if (d == NULL) {
		close(fd);
		return ccm_fail(err, CCM_E_IO, "directory %s: %s", len ? t->path : "/",
		                strerror(errno));
	}
	while (rc == CCM_OK && (errno = 0, de = readdir(d)) != NULL) {
		size_t nl = strlen(de->d_name);
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (++t->entries > CCM_IMAGE_MAX_TREE)
			rc = ccm_fail(err, CCM_E_LIMIT,
			              "more than %u entries outside the read-write "
			              "directories",
			              CCM_IMAGE_MAX_TREE);
		else if (len + 1 + nl > TREE_MAX_PATH)
			rc = ccm_fail(err, CCM_E_LIMIT, "path under %.200s longer than %u bytes",
			              len ? t->path : "/", TREE_MAX_PATH);
		if (rc != CCM_OK)
			break;
		t->path[len] = '/';
		memcpy(t->path + len + 1, de->d_name, nl + 1);
		rc = verify_tree_entry(t, dirfd(d), de, len + 1 + nl, depth, err);
		t->path[len] = '\0';
	}
	if (rc == CCM_OK && de == NULL && errno != 0)
		rc = ccm_fail(err, CCM_E_IO, "directory %s: %s", len ? t->path : "/",
		              strerror(errno));
	closedir(d);
	return rc;
}

/* All walked entries were listed; if fewer listed symlinks were seen than
 * the manifest has, name the first missing one (a removed or replaced
 * symlink changes what a path means as much as an added one). */
static ccm_code verify_tree_links_gone(const struct verify_tree *t, int rootfd,
                                       struct ccm_error *err)
{
	const char *path;
	json_t *v;
	struct stat st;

	if (t->links_ok == json_object_size(t->m->links))
		return CCM_OK;
	json_object_foreach(t->m->links, path, v)
	{
		struct open_how how = {.flags = O_PATH | O_NOFOLLOW | O_CLOEXEC,
		                       .resolve = RESOLVE_NO_SYMLINKS | RESOLVE_BENEATH |
		                                  RESOLVE_NO_XDEV};
		long fd = syscall(SYS_openat2, rootfd, path + 1, &how, sizeof(how));
		bool ok = false;
		if (fd < 0 && errno == ENOSYS)
			ok = fstatat(rootfd, path + 1, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
			     S_ISLNK(st.st_mode);
		else if (fd >= 0)
			ok = fstat((int)fd, &st) == 0 && S_ISLNK(st.st_mode);
		if (fd >= 0)
			close((int)fd);
		if (!ok)
			return ccm_fail(err, CCM_E_VERIFY,
			                "symlink %s: missing, removed or replaced after conversion",
			                path);
	}
	return ccm_fail(err, CCM_E_VERIFY, "a listed symlink was not found in the tree");
}

ccm_code ccm_image_verify_tree(const struct ccm_image_manifest *m, const char *root,
                               const char *const *skip, size_t n_skip, uint64_t *seen,
                               struct ccm_error *err)
{
	struct verify_tree *t = calloc(1, sizeof(*t));
	int rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC), fd = -1;
	struct stat st;
	ccm_code rc;

	*seen = 0;
	if (t == NULL || rootfd < 0 || fstat(rootfd, &st) != 0 ||
	    (fd = openat(rootfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		rc = ccm_fail(err, t ? CCM_E_IO : CCM_E_NOMEM, "%s: %s", root,
		              t ? strerror(errno) : "out of memory");
		goto out;
	}
	t->m = m;
	t->skip = skip;
	t->n_skip = n_skip;
	t->dev = st.st_dev;
	rc = verify_tree_dir(t, fd, 0, 0, err);
	*seen = t->entries;
	if (rc == CCM_OK && t->worst != NULL)
		rc = ccm_fail(err, CCM_E_VERIFY, "%s", t->why);
	if (rc == CCM_OK)
		rc = verify_tree_links_gone(t, rootfd, err);
out:
	if (rootfd >= 0)
		close(rootfd);
	if (t != NULL)
		free(t->worst);
	free(t);
	return rc;
}
