/*
 * DESIGN: the backend-neutral face of lib/oci. Each operation dispatches to
 * the registry or the layout directory and adds what both need: index
 * resolution to linux/amd64 (bounded depth, so an index pointing at itself
 * cannot loop), digest checks of manifests fetched by digest, and blob
 * downloads into a work directory that is the only place anything is
 * written. A blob file can be read while it downloads (ccm_oci_feed).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "oci-int.h"
#include "util/util.h"

ccm_code ccm_oci_repo_open(const struct ccm_oci_ref *ref, const struct ccm_oci_opts *opts,
                           bool create, struct ccm_oci_repo **out, struct ccm_error *err)
{
	struct ccm_oci_repo *r = calloc(1, sizeof(*r));
	ccm_code rc;

	if (r == NULL)
		return ccm_fail(err, CCM_E_NOMEM, "out of memory");
	r->ref = *ref;
	r->verbose = opts->verbose;
	rc = ref->kind == CCM_OCI_REF_LAYOUT ? oci_dir_open(r, create, err)
	                                     : oci_reg_open(r, opts, err);
	if (rc != CCM_OK) {
		ccm_oci_repo_free(r);
		return rc;
	}
	*out = r;
	return CCM_OK;
}

void ccm_oci_repo_free(struct ccm_oci_repo *r)
{
	if (r == NULL)
		return;
	if (r->ref.kind == CCM_OCI_REF_REGISTRY)
		oci_http_cleanup(&r->http);
	free(r);
}

ccm_code ccm_oci_repo_get_manifest(struct ccm_oci_repo *r, const char *reference, uint8_t **buf,
                                   size_t *len, char media_type[128],
                                   char digest[CCM_OCI_DIGEST_LEN + 1], struct ccm_error *err)
{
	struct oci_resp resp = {0};

	*buf = NULL;
	if (r->ref.kind == CCM_OCI_REF_LAYOUT) {
		if (oci_dir_get_manifest(r, reference, buf, len, media_type, err) != CCM_OK)
			return err->code;
	} else {
		if (oci_reg_get_manifest(r, reference, &resp, err) != CCM_OK) {
			oci_resp_free(&resp);
			return err->code;
		}
		*buf = resp.body ? resp.body : calloc(1, 1);
		*len = resp.len;
		snprintf(media_type, 128, "%.*s", (int)strcspn(resp.ctype, "; "), resp.ctype);
		resp.body = NULL;
		oci_resp_free(&resp);
		if (*buf == NULL)
			return ccm_fail(err, CCM_E_NOMEM, "out of memory");
	}
	if (ccm_oci_digest_of(*buf, *len, digest, err) != CCM_OK)
		goto fail;
	if (ccm_oci_digest_valid(reference) && strcmp(reference, digest) != 0) {
		ccm_fail(err, CCM_E_VERIFY, "manifest %s: content has digest %s", reference,
		         digest);
		goto fail;
	}
	return CCM_OK;
fail:
	free(*buf);
	*buf = NULL;
	return err->code;
}

ccm_code ccm_oci_repo_resolve(struct ccm_oci_repo *r, const char *reference,
                              struct ccm_oci_manifest *m, uint8_t **raw, size_t *raw_len,
                              struct ccm_error *err)
{
	char ref[CCM_OCI_DIGEST_LEN + 130], mt[128], dg[CCM_OCI_DIGEST_LEN + 1];
	struct ccm_oci_desc pick;

	snprintf(ref, sizeof(ref), "%s", reference);
	for (unsigned depth = 0; depth <= CCM_OCI_MAX_INDEX_DEPTH; depth++) {
		if (ccm_oci_repo_get_manifest(r, ref, raw, raw_len, mt, dg, err) != CCM_OK)
			return err->code;
		if (ccm_oci_manifest_parse(*raw, *raw_len, mt, m, err) != CCM_OK)
			goto fail;
		if (m->kind == CCM_OCI_IMAGE)
			return CCM_OK;
		if (ccm_oci_index_pick(m, "linux", "amd64", &pick, err) != CCM_OK)
			goto fail;
		ccm_oci_manifest_free(m);
		free(*raw);
		*raw = NULL;
		snprintf(ref, sizeof(ref), "%s", pick.digest);
	}
	return ccm_fail(err, CCM_E_LIMIT, "indexes nested deeper than %u", CCM_OCI_MAX_INDEX_DEPTH);
fail:
	ccm_oci_manifest_free(m);
	free(*raw);
	*raw = NULL;
	return err->code;
}

ccm_code ccm_oci_repo_get_blob_mem(struct ccm_oci_repo *r, const struct ccm_oci_desc *d, size_t max,
                                   uint8_t **buf, struct ccm_error *err)
{
	char p[1200], got[CCM_OCI_DIGEST_LEN + 1];
	size_t len = 0;

	if (d->size > max)
		return ccm_fail(err, CCM_E_LIMIT, "blob %s: %llu bytes exceed the limit of %zu",
		                d->digest, (unsigned long long)d->size, max);
	if (r->ref.kind == CCM_OCI_REF_REGISTRY)
		return oci_reg_get_blob(r, d, -1, NULL, max, buf, err);
	if (oci_dir_blob_path(r, d->digest, p, sizeof(p), err) ||
	    util_read_file(p, max, buf, &len, err) || ccm_oci_digest_of(*buf, len, got, err))
		return err->code;
	if (len != d->size || strcmp(got, d->digest) != 0) {
		free(*buf);
		*buf = NULL;
		return ccm_fail(err, CCM_E_VERIFY, "blob %s: content does not match its digest",
		                d->digest);
	}
	return CCM_OK;
}

ccm_code ccm_oci_repo_get_blob_file(struct ccm_oci_repo *r, const struct ccm_oci_desc *d,
                                    const char *workdir, char *path, size_t path_n,
                                    struct ccm_error *err)
{
	return ccm_oci_repo_get_blob_file_feed(r, d, workdir, path, path_n, NULL, err);
}

ccm_code ccm_oci_repo_get_blob_file_feed(struct ccm_oci_repo *r, const struct ccm_oci_desc *d,
                                         const char *workdir, char *path, size_t path_n,
                                         const struct ccm_oci_feed *feed, struct ccm_error *err)
{
	struct stat st;
	int fd, w;
	ccm_code rc;

	if (r->ref.kind == CCM_OCI_REF_LAYOUT) {
		if (oci_dir_blob_path(r, d->digest, path, path_n, err) != CCM_OK)
			return err->code;
		fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
		if (fd < 0)
			return ccm_fail(err, CCM_E_NOTFOUND, "blob %s: %s", d->digest,
			                strerror(errno));
		/* Already all there: readers may start while it is checked. */
		if (feed != NULL && feed->grow != NULL && fstat(fd, &st) == 0)
			(void)feed->grow(feed->ctx, (uint64_t)st.st_size < d->size
			                                    ? (uint64_t)st.st_size
			                                    : d->size);
		rc = oci_file_digest_check(fd, d, "blob", err);
		close(fd);
		return rc;
	}
	if (!ccm_oci_digest_valid(d->digest))
		return ccm_fail(err, CCM_E_INPUT, "bad digest");
	w = snprintf(path, path_n, "%s/%s", workdir, d->digest + 7);
	if (w < 0 || (size_t)w >= path_n)
		return ccm_fail(err, CCM_E_LIMIT, "%s: path too long", workdir);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return ccm_fail(err, CCM_E_IO, "%s: %s", path, strerror(errno));
	if (r->verbose)
		fprintf(stderr, "pull %s (%llu bytes)\n", d->digest, (unsigned long long)d->size);
	if (feed != NULL && feed->grow != NULL && !feed->grow(feed->ctx, 0))
		rc = ccm_fail(err, CCM_E_IO, "blob %s: download cancelled", d->digest);
	else
		rc = oci_reg_get_blob(r, d, fd, feed, 0, NULL, err);
	close(fd);
	if (rc != CCM_OK)
		unlink(path);
	return rc;
}

ccm_code ccm_oci_repo_has_blob(struct ccm_oci_repo *r, const struct ccm_oci_desc *d, bool *has,
                               struct ccm_error *err)
{
	char p[1200];

	if (r->ref.kind == CCM_OCI_REF_REGISTRY)
		return oci_reg_has_blob(r, d, has, err);
	if (oci_dir_blob_path(r, d->digest, p, sizeof(p), err) != CCM_OK)
		return err->code;
	*has = access(p, F_OK) == 0;
	return CCM_OK;
}

ccm_code ccm_oci_repo_push_blob(struct ccm_oci_repo *r, const struct ccm_oci_desc *d,
                                const char *path, const struct ccm_oci_repo *from, const char **how,
                                struct ccm_error *err)
{
	return ccm_oci_repo_push_blob_feed(r, d, path, from, NULL, how, err);
}

ccm_code ccm_oci_repo_push_blob_feed(struct ccm_oci_repo *r, const struct ccm_oci_desc *d,
                                     const char *path, const struct ccm_oci_repo *from,
                                     const struct ccm_oci_feed *feed, const char **how,
                                     struct ccm_error *err)
{
	bool has = false;
	int fd;
	ccm_code rc;

	if (r->ref.kind == CCM_OCI_REF_LAYOUT) {
		if (ccm_oci_repo_has_blob(r, d, &has, err) != CCM_OK)
			return err->code;
		*how = "exists";
		if (has)
			return CCM_OK;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return ccm_fail(err, CCM_E_IO, "%s: %s", path, strerror(errno));
	if (r->ref.kind == CCM_OCI_REF_LAYOUT && feed != NULL) {
		rc = ccm_fail(err, CCM_E_INTERNAL, "a layout target takes complete files only");
	} else if (r->ref.kind == CCM_OCI_REF_LAYOUT) {
		*how = "copied";
		rc = oci_dir_put_blob(r, d, fd, NULL, err);
	} else {
		rc = oci_reg_push_blob(r, d, fd, NULL, feed, from, how, err);
	}
	close(fd);
	if (rc == CCM_OK && r->verbose)
		fprintf(stderr, "push %s: %s\n", d->digest, *how);
	return rc;
}

ccm_code ccm_oci_repo_push_blob_mem(struct ccm_oci_repo *r, const struct ccm_oci_desc *d,
                                    const uint8_t *buf, struct ccm_error *err)
{
	const char *how = "";

	if (r->ref.kind == CCM_OCI_REF_LAYOUT)
		return oci_dir_put_blob(r, d, -1, buf, err);
	return oci_reg_push_blob(r, d, -1, buf, NULL, NULL, &how, err);
}

ccm_code ccm_oci_repo_put_manifest(struct ccm_oci_repo *r, const char *tag, const uint8_t *buf,
                                   size_t len, const char *media_type, struct ccm_error *err)
{
	if (len > CCM_OCI_MAX_MANIFEST)
		return ccm_fail(err, CCM_E_LIMIT, "manifest too large");
	if (r->ref.kind == CCM_OCI_REF_LAYOUT)
		return oci_dir_put_manifest(r, tag, buf, len, media_type, err);
	return oci_reg_put_manifest(r, tag, buf, len, media_type, err);
}
