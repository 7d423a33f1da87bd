/*
 * DESIGN: the distribution API operations, each a short sequence of
 * oci_http_do calls that reads like the spec: GET manifests with every
 * accepted media type in Accept, blobs streamed to a file through SHA-256,
 * HEAD before any upload, cross-repository mount when the source is on the
 * same registry, monolithic PUT for small blobs and PATCH chunks with
 * Content-Range for big ones. A download can be followed while it lands
 * and an upload can read a file still landing (ccm_oci_feed), so that a
 * layer goes out while it comes in. Upload Locations are resolved with
 * curl's URL parser (they may be relative) and bearer tokens never leave
 * the registry's origin.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "oci-int.h"
#include "util/util.h"

#define ACCEPT_ALL                                                                                 \
	CCM_OCI_MT_MANIFEST ", " CCM_OCI_MT_INDEX ", " CCM_OCI_MT_DOCKER_MANIFEST                  \
	                    ", " CCM_OCI_MT_DOCKER_LIST

static bool reg_insecure(const struct ccm_oci_opts *o, const char *host)
{
	for (size_t i = 0; i < o->n_insecure && i < 8; i++)
		if (o->insecure[i] != NULL && strcmp(o->insecure[i], host) == 0)
			return true;
	return false;
}

static void reg_scope(const struct ccm_oci_repo *r, bool push, char *out, size_t n)
{
	snprintf(out, n, "repository:%s:%s", r->ref.repository, push ? "pull,push" : "pull");
}

ccm_code oci_reg_open(struct ccm_oci_repo *r, const struct ccm_oci_opts *o, struct ccm_error *err)
{
	struct oci_req q;
	struct oci_resp resp = {0};
	ccm_code rc;

	if (oci_http_init(&r->http, r->ref.registry, reg_insecure(o, r->ref.registry), o, err))
		return err->code;
	oci_req_init(&q, "GET", "/v2/", NULL);
	rc = oci_http_do(&r->http, &q, &resp, err);
	if (rc == CCM_E_AUTH && r->http.scheme == OCI_AUTH_BASIC && o->username == NULL)
		rc = CCM_OK; /* anonymous: refusals come with the first real request */
	if (rc == CCM_OK && resp.status != 200 && resp.status != 401)
		rc = oci_http_status_error(&resp, "registry ping", err);
	oci_resp_free(&resp);
	return rc;
}

ccm_code oci_reg_get_manifest(struct ccm_oci_repo *r, const char *ref, struct oci_resp *resp,
                              struct ccm_error *err)
{
	char path[800], scope[600], what[900];
	struct oci_req q;

	snprintf(path, sizeof(path), "/v2/%s/manifests/%s", r->ref.repository, ref);
	reg_scope(r, false, scope, sizeof(scope));
	oci_req_init(&q, "GET", path, scope);
	q.accept = ACCEPT_ALL;
	q.max_resp = CCM_OCI_MAX_MANIFEST;
	if (oci_http_do(&r->http, &q, resp, err) != CCM_OK)
		return err->code;
	snprintf(what, sizeof(what), "manifest %s/%s:%s", r->ref.registry, r->ref.repository, ref);
	if (resp->status != 200)
		return oci_http_status_error(resp, what, err);
	return CCM_OK;
}

/* Download a blob to fd (digest checked) or into memory (max_mem). */
ccm_code oci_reg_get_blob(struct ccm_oci_repo *r, const struct ccm_oci_desc *d, int fd,
                          const struct ccm_oci_feed *feed, size_t max_mem, uint8_t **mem,
                          struct ccm_error *err)
{
	char path[800], scope[600], got[CCM_OCI_DIGEST_LEN + 1];
	struct oci_resp resp = {0};
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	uint8_t h[32];
	unsigned int hl = 0;
	struct oci_req q;
	ccm_code rc;

	snprintf(path, sizeof(path), "/v2/%s/blobs/%s", r->ref.repository, d->digest);
	reg_scope(r, false, scope, sizeof(scope));
	oci_req_init(&q, "GET", path, scope);
	q.follow = true;
	if (fd >= 0) {
		q.out_fd = fd;
		q.md = md;
		q.max_out = d->size;
		q.feed = feed;
	} else {
		q.max_resp = max_mem;
	}
	rc = md == NULL ? ccm_fail(err, CCM_E_NOMEM, "out of memory")
	                : oci_http_do(&r->http, &q, &resp, err);
	if (rc == CCM_OK && resp.status != 200)
		rc = oci_http_status_error(&resp, d->digest, err);
	if (rc != CCM_OK)
		goto fail;
	if (fd < 0) {
		resp.written = resp.len;
		if (!EVP_DigestInit_ex(md, EVP_sha256(), NULL) ||
		    !EVP_DigestUpdate(md, resp.body ? resp.body : (const uint8_t *)"", resp.len))
			rc = ccm_fail(err, CCM_E_CRYPTO, "SHA-256 failed");
	}
	if (rc == CCM_OK && resp.written != d->size)
		rc = ccm_fail(err, CCM_E_VERIFY, "blob %s: got %llu bytes, the manifest says %llu",
		              d->digest, (unsigned long long)resp.written,
		              (unsigned long long)d->size);
	if (rc == CCM_OK && (!EVP_DigestFinal_ex(md, h, &hl) || hl != 32))
		rc = ccm_fail(err, CCM_E_CRYPTO, "SHA-256 failed");
	if (rc == CCM_OK) {
		memcpy(got, "sha256:", 7);
		util_hex(h, 32, got + 7);
		if (strcmp(got, d->digest) != 0)
			rc = ccm_fail(err, CCM_E_VERIFY, "blob %s: digest mismatch (content is %s)",
			              d->digest, got);
	}
	if (rc == CCM_OK && fd < 0) {
		*mem = resp.body ? resp.body : calloc(1, 1);
		resp.body = NULL;
		if (*mem == NULL)
			rc = ccm_fail(err, CCM_E_NOMEM, "out of memory");
	}
fail:
	oci_resp_free(&resp);
	EVP_MD_CTX_free(md);
	return rc;
}

ccm_code oci_reg_has_blob(struct ccm_oci_repo *r, const struct ccm_oci_desc *d, bool *has,
                          struct ccm_error *err)
{
	char path[800], scope[600];
	struct oci_resp resp = {0};
	struct oci_req q;
	ccm_code rc;

	snprintf(path, sizeof(path), "/v2/%s/blobs/%s", r->ref.repository, d->digest);
	reg_scope(r, true, scope, sizeof(scope));
	oci_req_init(&q, "HEAD", path, scope);
	q.follow = true;
	rc = oci_http_do(&r->http, &q, &resp, err);
	if (rc == CCM_OK) {
		*has = resp.status == 200 && (resp.clen < 0 || (uint64_t)resp.clen == d->size);
		if (resp.status != 200 && resp.status != 404)
			rc = oci_http_status_error(&resp, d->digest, err);
	}
	oci_resp_free(&resp);
	return rc;
}

/* Location (maybe relative) resolved, with a query parameter appended. */
static ccm_code reg_location(const struct ccm_oci_repo *r, const char *loc, const char *query,
                             char *out, size_t n, struct ccm_error *err)
{
	CURLU *u = curl_url();
	char *s = NULL;
	ccm_code rc = CCM_OK;

	if (u == NULL || curl_url_set(u, CURLUPART_URL, r->http.base, 0) != CURLUE_OK ||
	    curl_url_set(u, CURLUPART_URL, loc, 0) != CURLUE_OK ||
	    (query != NULL && curl_url_set(u, CURLUPART_QUERY, query,
	                                   CURLU_APPENDQUERY | CURLU_URLENCODE) != CURLUE_OK) ||
	    curl_url_get(u, CURLUPART_URL, &s, 0) != CURLUE_OK)
		rc = ccm_fail(err, CCM_E_INPUT, "registry gave a bad upload location '%.200s'",
		              loc);
	else if (strlen(s) >= n)
		rc = ccm_fail(err, CCM_E_LIMIT, "upload location too long");
	else
		memcpy(out, s, strlen(s) + 1);
	curl_free(s);
	curl_url_cleanup(u);
	return rc;
}

/* POST to start an upload (or mount); *mounted when the registry did. */
static ccm_code reg_start_upload(struct ccm_oci_repo *r, const struct ccm_oci_desc *d,
                                 const struct ccm_oci_repo *from, char *loc, size_t n,
                                 bool *mounted, struct ccm_error *err)
{
	char path[1200], scope[1200];
	struct oci_resp resp = {0};
	struct oci_req q;
	ccm_code rc;

	*mounted = false;
	if (from != NULL) {
		snprintf(path, sizeof(path), "/v2/%s/blobs/uploads/?mount=%s&from=%s",
		         r->ref.repository, d->digest, from->ref.repository);
		snprintf(scope, sizeof(scope), "repository:%s:pull,push repository:%s:pull",
		         r->ref.repository, from->ref.repository);
	} else {
		snprintf(path, sizeof(path), "/v2/%s/blobs/uploads/", r->ref.repository);
		reg_scope(r, true, scope, sizeof(scope));
	}
	oci_req_init(&q, "POST", path, scope);
	rc = oci_http_do(&r->http, &q, &resp, err);
	if (rc == CCM_OK && resp.status == 201 && from != NULL)
		*mounted = true;
	else if (rc == CCM_OK && resp.status != 202)
		rc = oci_http_status_error(&resp, "start upload", err);
	else if (rc == CCM_OK)
		rc = reg_location(r, resp.location, NULL, loc, n, err);
	oci_resp_free(&resp);
	return rc;
}

static ccm_code reg_send(struct ccm_oci_repo *r, const char *method, const char *url,
                         const struct oci_req *body, uint64_t off, uint64_t len, const char *range,
                         long want, char *next, size_t next_n, struct ccm_error *err)
{
	char scope[600];
	struct oci_resp resp = {0};
	struct oci_req q;
	ccm_code rc;

	reg_scope(r, true, scope, sizeof(scope));
	oci_req_init(&q, method, url, scope);
	q.ctype = "application/octet-stream";
	q.range = range;
	q.body_fd = body->body_fd;
	q.feed = body->feed;
	q.body_off = off;
	q.body_n = len;
	q.body = body->body;
	q.body_len = body->body_fd >= 0 ? 0 : (size_t)len;
	rc = oci_http_do(&r->http, &q, &resp, err);
	if (rc == CCM_OK && resp.status != want)
		rc = oci_http_status_error(&resp, method, err);
	if (rc == CCM_OK && next != NULL)
		rc = reg_location(r, resp.location, NULL, next, next_n, err);
	oci_resp_free(&resp);
	return rc;
}

static ccm_code reg_upload(struct ccm_oci_repo *r, const struct ccm_oci_desc *d, char *loc,
                           size_t n, int fd, const uint8_t *mem, const struct ccm_oci_feed *feed,
                           struct ccm_error *err)
{
	char query[100], url[2300], range[64];
	struct oci_req body;
	uint64_t off = 0;

	oci_req_init(&body, "PUT", "", NULL);
	body.body_fd = fd;
	body.body = mem;
	body.feed = feed;
	snprintf(query, sizeof(query), "digest=%s", d->digest);
	uint64_t chunk = r->http.chunk;

	if (fd >= 0 && d->size > chunk) {
		for (off = 0; off < d->size; off += chunk) {
			uint64_t len = d->size - off < chunk ? d->size - off : chunk;
			snprintf(range, sizeof(range), "%llu-%llu", (unsigned long long)off,
			         (unsigned long long)(off + len - 1));
			if (reg_send(r, "PATCH", loc, &body, off, len, range, 202, loc, n, err))
				return err->code;
		}
		off = d->size; /* the closing PUT carries no data */
	}
	if (reg_location(r, loc, query, url, sizeof(url), err) != CCM_OK)
		return err->code;
	return reg_send(r, "PUT", url, &body, off, d->size - off, NULL, 201, NULL, 0, err);
}

ccm_code oci_reg_push_blob(struct ccm_oci_repo *r, const struct ccm_oci_desc *d, int fd,
                           const uint8_t *mem, const struct ccm_oci_feed *feed,
                           const struct ccm_oci_repo *from, const char **how, struct ccm_error *err)
{
	char loc[2048];
	bool has = false, mounted = false;

	if (oci_reg_has_blob(r, d, &has, err) != CCM_OK)
		return err->code;
	if (has) {
		*how = "exists";
		return CCM_OK;
	}
	if (from != NULL && (from->ref.kind != CCM_OCI_REF_REGISTRY ||
	                     strcmp(from->ref.registry, r->ref.registry) != 0 ||
	                     strcmp(from->ref.repository, r->ref.repository) == 0))
		from = NULL;
	if (reg_start_upload(r, d, from, loc, sizeof(loc), &mounted, err) != CCM_OK)
		return err->code;
	if (mounted) {
		*how = "mounted";
		return CCM_OK;
	}
	*how = "uploaded";
	if (reg_upload(r, d, loc, sizeof(loc), fd, mem, feed, err) != CCM_OK) {
		ccm_error_prefix(err, "upload %s", d->digest);
		return err->code;
	}
	return CCM_OK;
}

ccm_code oci_reg_put_manifest(struct ccm_oci_repo *r, const char *tag, const uint8_t *buf,
                              size_t len, const char *mt, struct ccm_error *err)
{
	char path[800], scope[600], want[CCM_OCI_DIGEST_LEN + 1];
	struct oci_resp resp = {0};
	struct oci_req q;
	ccm_code rc;

	if (ccm_oci_digest_of(buf, len, want, err) != CCM_OK)
		return err->code;
	snprintf(path, sizeof(path), "/v2/%s/manifests/%s", r->ref.repository, tag);
	reg_scope(r, true, scope, sizeof(scope));
	oci_req_init(&q, "PUT", path, scope);
	q.ctype = mt;
	q.body = buf;
	q.body_len = len;
	rc = oci_http_do(&r->http, &q, &resp, err);
	if (rc == CCM_OK && resp.status != 201)
		rc = oci_http_status_error(&resp, "put manifest", err);
	if (rc == CCM_OK && resp.digest[0] && strcmp(resp.digest, want) != 0)
		rc = ccm_fail(err, CCM_E_VERIFY, "registry stored manifest as %s, expected %s",
		              resp.digest, want);
	oci_resp_free(&resp);
	return rc;
}
