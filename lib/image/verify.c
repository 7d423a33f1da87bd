/*
 * DESIGN: the runtime's file check. Every path in the manifest is opened
 * beneath the root with openat2(RESOLVE_NO_SYMLINKS | RESOLVE_BENEATH): the
 * converter only lists paths whose every component is a real directory, so
 * a symlink anywhere on the way now means the image was changed, and the
 * file is refused rather than followed. Files are checked in the manifest's
 * (sorted) order, so "the first file that differs" is well defined.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
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
