/*
 * DESIGN: an OCI image layout directory (image-spec "image-layout") as a
 * repository, for offline use and for tests without a registry. Blobs are
 * content-addressed files, so writes are temp file + rename (a crash never
 * leaves a blob with the wrong content under its digest), index.json is
 * rewritten atomically, and a tag is the org.opencontainers.image.ref.name
 * annotation, as umoci and skopeo use it. Reads check digests like the
 * registry path does: the directory is input like any other.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "oci-int.h"
#include "util/util.h"

#define REF_NAME "org.opencontainers.image.ref.name"
#define INDEX_MAX (4u << 20)

static ccm_code dir_join(const struct ccm_oci_repo *r, const char *rel, char *out, size_t n,
                         struct ccm_error *err)
{
	int w = snprintf(out, n, "%s/%s", r->dir, rel);

	if (w < 0 || (size_t)w >= n)
		return ccm_fail(err, CCM_E_LIMIT, "%s: path too long", r->dir);
	return CCM_OK;
}

ccm_code oci_dir_blob_path(const struct ccm_oci_repo *r, const char *digest, char *out, size_t n,
                           struct ccm_error *err)
{
	char rel[100];

	if (!ccm_oci_digest_valid(digest))
		return ccm_fail(err, CCM_E_INPUT, "bad digest '%.80s'", digest);
	snprintf(rel, sizeof(rel), "blobs/sha256/%s", digest + 7);
	return dir_join(r, rel, out, n, err);
}

static ccm_code dir_mkdir(const char *p, struct ccm_error *err)
{
	if (mkdir(p, 0755) != 0 && errno != EEXIST)
		return ccm_fail(err, CCM_E_IO, "%s: %s", p, strerror(errno));
	return CCM_OK;
}

static ccm_code dir_create(struct ccm_oci_repo *r, struct ccm_error *err)
{
	static const char layout[] = "{\"imageLayoutVersion\":\"1.0.0\"}";
	static const char index[] = "{\"manifests\":[],\"schemaVersion\":2}";
	char p[1200];

	if (dir_mkdir(r->dir, err) || dir_join(r, "blobs", p, sizeof(p), err) ||
	    dir_mkdir(p, err) || dir_join(r, "blobs/sha256", p, sizeof(p), err) ||
	    dir_mkdir(p, err) || dir_join(r, "oci-layout", p, sizeof(p), err))
		return err->code;
	if (access(p, F_OK) != 0 && util_write_file(p, layout, sizeof(layout) - 1, 0644, err))
		return err->code;
	if (dir_join(r, "index.json", p, sizeof(p), err))
		return err->code;
	if (access(p, F_OK) != 0 && util_write_file(p, index, sizeof(index) - 1, 0644, err))
		return err->code;
	return CCM_OK;
}

ccm_code oci_dir_open(struct ccm_oci_repo *r, bool create, struct ccm_error *err)
{
	char p[1200];

	snprintf(r->dir, sizeof(r->dir), "%s", r->ref.path);
	if (create && dir_create(r, err) != CCM_OK)
		return err->code;
	if (dir_join(r, "oci-layout", p, sizeof(p), err) != CCM_OK)
		return err->code;
	if (access(p, R_OK) != 0)
		return ccm_fail(err, CCM_E_NOTFOUND,
		                "%s: not an OCI image layout (no oci-layout file)", r->dir);
	return CCM_OK;
}

static ccm_code dir_load_index(struct ccm_oci_repo *r, json_t **out, struct ccm_error *err)
{
	char p[1200];
	uint8_t *buf = NULL;
	size_t len = 0;
	json_error_t je;

	if (dir_join(r, "index.json", p, sizeof(p), err) ||
	    util_read_file(p, INDEX_MAX, &buf, &len, err))
		return err->code;
	*out = json_loadb((const char *)buf, len, JSON_REJECT_DUPLICATES, &je);
	free(buf);
	if (!json_is_array(json_object_get(*out, "manifests"))) {
		json_decref(*out);
		*out = NULL;
		return ccm_fail(err, CCM_E_INPUT, "%s: not an OCI index (%s)", p, je.text);
	}
	return CCM_OK;
}

/* The index.json descriptor for a tag (or the only one when tag is ""). */
static ccm_code dir_find(struct ccm_oci_repo *r, const char *tag, struct ccm_oci_desc *d,
                         struct ccm_error *err)
{
	json_t *idx = NULL, *list, *e, *found = NULL;
	size_t i;
	ccm_code rc;

	if (dir_load_index(r, &idx, err) != CCM_OK)
		return err->code;
	list = json_object_get(idx, "manifests");
	json_array_foreach(list, i, e)
	{
		const char *name = json_string_value(
		        json_object_get(json_object_get(e, "annotations"), REF_NAME));
		if ((tag[0] == '\0' && json_array_size(list) == 1) ||
		    (name != NULL && strcmp(name, tag) == 0))
			found = e;
	}
	if (found == NULL)
		rc = ccm_fail(err, CCM_E_NOTFOUND, "oci:%s: no image tagged '%s'", r->dir,
		              tag[0] ? tag : "(untagged, and the index has several)");
	else
		rc = CCM_OK;
	if (rc == CCM_OK) {
		json_t *wrap = json_pack("{s:i,s:[O]}", "schemaVersion", 2, "manifests", found);
		char *s = json_dumps(wrap, JSON_COMPACT);
		struct ccm_oci_manifest m;
		rc = s == NULL ? ccm_fail(err, CCM_E_NOMEM, "out of memory")
		               : ccm_oci_manifest_parse((const uint8_t *)s, strlen(s),
		                                        CCM_OCI_MT_INDEX, &m, err);
		if (rc == CCM_OK) {
			*d = m.manifests[0];
			ccm_oci_manifest_free(&m);
		}
		free(s);
		json_decref(wrap);
	}
	json_decref(idx);
	return rc;
}

ccm_code oci_file_digest_check(int fd, const struct ccm_oci_desc *d, const char *what,
                               struct ccm_error *err)
{
	uint8_t buf[1 << 15];
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	uint64_t total = 0;
	char got[CCM_OCI_DIGEST_LEN + 1];
	uint8_t h[32];
	unsigned int hl = 0;
	ssize_t n;
	ccm_code rc = CCM_OK;

	if (md == NULL || !EVP_DigestInit_ex(md, EVP_sha256(), NULL)) {
		EVP_MD_CTX_free(md);
		return ccm_fail(err, CCM_E_CRYPTO, "SHA-256 init failed");
	}
	while ((n = pread(fd, buf, sizeof(buf), (off_t)total)) > 0 && total <= d->size) {
		EVP_DigestUpdate(md, buf, (size_t)n);
		total += (uint64_t)n;
	}
	if (n < 0)
		rc = ccm_fail(err, CCM_E_IO, "%s: read: %s", what, strerror(errno));
	else if (total != d->size)
		rc = ccm_fail(err, CCM_E_VERIFY, "%s: %llu bytes, the descriptor says %llu", what,
		              (unsigned long long)total, (unsigned long long)d->size);
	else if (!EVP_DigestFinal_ex(md, h, &hl))
		rc = ccm_fail(err, CCM_E_CRYPTO, "SHA-256 failed");
	if (rc == CCM_OK) {
		memcpy(got, "sha256:", 7);
		util_hex(h, 32, got + 7);
		if (strcmp(got, d->digest) != 0)
			rc = ccm_fail(err, CCM_E_VERIFY, "%s: digest mismatch (content is %s)",
			              what, got);
	}
	EVP_MD_CTX_free(md);
	return rc;
}

ccm_code oci_dir_get_manifest(struct ccm_oci_repo *r, const char *ref, uint8_t **buf, size_t *len,
                              char mt[128], struct ccm_error *err)
{
	struct ccm_oci_desc d = {0};
	char p[1200], got[CCM_OCI_DIGEST_LEN + 1];

	if (ccm_oci_digest_valid(ref)) {
		memcpy(d.digest, ref, CCM_OCI_DIGEST_LEN + 1);
	} else if (dir_find(r, ref, &d, err) != CCM_OK) {
		return err->code;
	}
	if (oci_dir_blob_path(r, d.digest, p, sizeof(p), err) ||
	    util_read_file(p, CCM_OCI_MAX_MANIFEST, buf, len, err))
		return err->code;
	if (ccm_oci_digest_of(*buf, *len, got, err) != CCM_OK)
		return err->code;
	if (strcmp(got, d.digest) != 0 || (d.size && d.size != *len)) {
		free(*buf);
		*buf = NULL;
		return ccm_fail(err, CCM_E_VERIFY, "%s: manifest digest mismatch (content is %s)",
		                p, got);
	}
	snprintf(mt, 128, "%s", d.media_type);
	return CCM_OK;
}

/* Write a blob: temp file in blobs/sha256, digest checked, rename. */
ccm_code oci_dir_put_blob(struct ccm_oci_repo *r, const struct ccm_oci_desc *d, int fd,
                          const uint8_t *mem, struct ccm_error *err)
{
	uint8_t buf[1 << 15];
	char p[1200], tmp[1300];
	uint64_t off = 0;
	int out;
	ccm_code rc = CCM_OK;

	if (oci_dir_blob_path(r, d->digest, p, sizeof(p), err) != CCM_OK)
		return err->code;
	snprintf(tmp, sizeof(tmp), "%s.tmp.XXXXXX", p);
	out = mkostemp(tmp, O_CLOEXEC);
	if (out < 0 || fchmod(out, 0644) != 0) {
		if (out >= 0) {
			close(out);
			unlink(tmp);
		}
		return ccm_fail(err, CCM_E_IO, "%s: %s", tmp, strerror(errno));
	}
	while (rc == CCM_OK && off < d->size) {
		size_t n = d->size - off < sizeof(buf) ? (size_t)(d->size - off) : sizeof(buf);
		const uint8_t *src = mem != NULL ? mem + off : buf;
		ssize_t got = mem != NULL ? (ssize_t)n : pread(fd, buf, n, (off_t)off);
		if (got <= 0 || write(out, src, (size_t)got) != got)
			rc = ccm_fail(err, CCM_E_IO, "%s: copy failed: %s", tmp, strerror(errno));
		off += got > 0 ? (uint64_t)got : 0;
	}
	if (rc == CCM_OK)
		rc = oci_file_digest_check(out, d, tmp, err);
	close(out);
	if (rc == CCM_OK && rename(tmp, p) != 0)
		rc = ccm_fail(err, CCM_E_IO, "%s: %s", p, strerror(errno));
	if (rc != CCM_OK)
		unlink(tmp);
	return rc;
}

ccm_code oci_dir_put_manifest(struct ccm_oci_repo *r, const char *tag, const uint8_t *buf,
                              size_t len, const char *mt, struct ccm_error *err)
{
	struct ccm_oci_desc d = {.size = len};
	json_t *idx = NULL, *list, *e, *keep;
	char p[1200], *s = NULL;
	size_t i;
	ccm_code rc;

	if (ccm_oci_digest_of(buf, len, d.digest, err) || oci_dir_put_blob(r, &d, -1, buf, err) ||
	    dir_load_index(r, &idx, err))
		return err->code;
	list = json_object_get(idx, "manifests");
	keep = json_array();
	json_array_foreach(list, i, e)
	{
		const char *name = json_string_value(
		        json_object_get(json_object_get(e, "annotations"), REF_NAME));
		if (name == NULL || strcmp(name, tag) != 0)
			json_array_append(keep, e);
	}
	json_array_append_new(keep, json_pack("{s:s,s:s,s:I,s:{s:s}}", "mediaType", mt, "digest",
	                                      d.digest, "size", (json_int_t)len, "annotations",
	                                      REF_NAME, tag));
	json_object_set_new(idx, "manifests", keep);
	s = json_dumps(idx, JSON_COMPACT | JSON_SORT_KEYS);
	rc = s == NULL ? ccm_fail(err, CCM_E_NOMEM, "out of memory")
	               : dir_join(r, "index.json", p, sizeof(p), err);
	if (rc == CCM_OK)
		rc = util_write_file(p, s, strlen(s), 0644, err);
	free(s);
	json_decref(idx);
	return rc;
}
