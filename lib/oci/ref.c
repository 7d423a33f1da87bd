/*
 * DESIGN: image references are parsed once, strictly, into fixed-size
 * fields (docker/distribution's grammar: lowercase path components joined
 * by '.', '_', '__' or '-' runs; tags of at most 128 characters; sha256
 * digests only), so that nothing downstream splices an unchecked string
 * into a URL or a path. A first component with '.' or ':' or "localhost"
 * is a registry; otherwise the name is a Docker Hub one.
 */
#include <stdio.h>
#include <string.h>

#include "ccm/oci.h"

#define HUB_REGISTRY "registry-1.docker.io"

bool ccm_oci_digest_valid(const char *d)
{
	if (d == NULL || strncmp(d, "sha256:", 7) != 0 || strlen(d) != CCM_OCI_DIGEST_LEN)
		return false;
	for (const char *p = d + 7; *p; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
			return false;
	return true;
}

static bool ref_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* One path component: alnum runs joined by '.', '_', '__' or '-'+. */
static bool ref_component_ok(const char *s, size_t n)
{
	size_t i = 0;

	if (n == 0 || !ref_alnum(s[0]) || !ref_alnum(s[n - 1]))
		return false;
	while (i < n) {
		if (ref_alnum(s[i])) {
			i++;
			continue;
		}
		if (s[i] == '.' || (s[i] == '_' && s[i + 1] != '_')) {
			i++;
		} else if (s[i] == '_' && i + 1 < n && s[i + 1] == '_') {
			i += 2;
		} else if (s[i] == '-') {
			while (i < n && s[i] == '-')
				i++;
		} else {
			return false;
		}
		if (i >= n || !ref_alnum(s[i]))
			return false;
	}
	return true;
}

static bool ref_repo_ok(const char *s)
{
	const char *p = s;

	if (*s == '\0' || strlen(s) > 255)
		return false;
	for (;;) {
		size_t n = strcspn(p, "/");
		if (!ref_component_ok(p, n))
			return false;
		if (p[n] == '\0')
			return true;
		p += n + 1;
	}
}

static bool ref_tag_ok(const char *t)
{
	size_t n = strlen(t);

	if (n == 0 || n > 128)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = t[i];
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		          (c >= '0' && c <= '9') || c == '_' || (i > 0 && (c == '.' || c == '-'));
		if (!ok)
			return false;
	}
	return true;
}

static bool ref_host_ok(const char *h, size_t n)
{
	if (n == 0 || n > 253)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = h[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '-' || c == ':' || c == '[' || c == ']'))
			return false;
	}
	return true;
}

static ccm_code ref_copy(char *dst, size_t n, const char *src, size_t len, const char *what,
                         const char *s, struct ccm_error *err)
{
	if (len >= n)
		return ccm_fail(err, CCM_E_LIMIT, "reference '%s': %s too long", s, what);
	memcpy(dst, src, len);
	dst[len] = '\0';
	return CCM_OK;
}

static ccm_code ref_parse_layout(const char *s, struct ccm_oci_ref *out, struct ccm_error *err)
{
	const char *dir = s + 4, *colon = strrchr(dir, ':');
	size_t dlen = colon != NULL ? (size_t)(colon - dir) : strlen(dir);

	out->kind = CCM_OCI_REF_LAYOUT;
	if (dlen == 0)
		return ccm_fail(err, CCM_E_INPUT, "reference '%s': oci: needs a directory", s);
	if (ref_copy(out->path, sizeof(out->path), dir, dlen, "directory", s, err) != CCM_OK)
		return err->code;
	if (colon != NULL) {
		if (ref_copy(out->tag, sizeof(out->tag), colon + 1, strlen(colon + 1), "tag", s,
		             err) != CCM_OK)
			return err->code;
		if (!ref_tag_ok(out->tag))
			return ccm_fail(err, CCM_E_INPUT, "reference '%s': bad tag '%s'", s,
			                out->tag);
	}
	return CCM_OK;
}

/* Split "name[:tag][@digest]" already stripped of the registry. */
static ccm_code ref_parse_name(const char *s, const char *name, struct ccm_oci_ref *out,
                               struct ccm_error *err)
{
	const char *at = strchr(name, '@'), *slash, *colon;
	size_t nlen = at != NULL ? (size_t)(at - name) : strlen(name);
	char buf[512];

	if (at != NULL) {
		if (!ccm_oci_digest_valid(at + 1))
			return ccm_fail(
			        err, CCM_E_INPUT,
			        "reference '%s': digest must be sha256: and 64 lowercase hex", s);
		memcpy(out->digest, at + 1, CCM_OCI_DIGEST_LEN + 1);
	}
	if (ref_copy(buf, sizeof(buf), name, nlen, "name", s, err) != CCM_OK)
		return err->code;
	slash = strrchr(buf, '/');
	colon = strrchr(slash != NULL ? slash : buf, ':');
	if (colon != NULL) {
		if (ref_copy(out->tag, sizeof(out->tag), colon + 1, strlen(colon + 1), "tag", s,
		             err) != CCM_OK)
			return err->code;
		buf[colon - buf] = '\0';
		if (!ref_tag_ok(out->tag))
			return ccm_fail(err, CCM_E_INPUT, "reference '%s': bad tag '%s'", s,
			                out->tag);
	} else if (at == NULL) {
		memcpy(out->tag, "latest", 7);
	}
	if (!ref_repo_ok(buf))
		return ccm_fail(err, CCM_E_INPUT,
		                "reference '%s': bad repository name '%s' (lowercase letters, "
		                "digits and . _ - separators)",
		                s, buf);
	return ref_copy(out->repository, sizeof(out->repository), buf, strlen(buf), "repository", s,
	                err);
}

ccm_code ccm_oci_ref_parse(const char *s, struct ccm_oci_ref *out, struct ccm_error *err)
{
	const char *p = s, *slash;
	size_t hlen;

	memset(out, 0, sizeof(*out));
	if (s == NULL || *s == '\0')
		return ccm_fail(err, CCM_E_INPUT, "empty image reference");
	if (strlen(s) > 2048)
		return ccm_fail(err, CCM_E_LIMIT, "image reference longer than 2048 bytes");
	if (strncmp(s, "oci:", 4) == 0)
		return ref_parse_layout(s, out, err);
	out->kind = CCM_OCI_REF_REGISTRY;
	if (strncmp(p, "docker://", 9) == 0)
		p += 9;
	slash = strchr(p, '/');
	hlen = slash != NULL ? (size_t)(slash - p) : 0;
	if (slash != NULL && (memchr(p, '.', hlen) || memchr(p, ':', hlen) ||
	                      (hlen == 9 && !memcmp(p, "localhost", 9)))) {
		if (!ref_host_ok(p, hlen))
			return ccm_fail(err, CCM_E_INPUT, "reference '%s': bad registry host", s);
		if (ref_copy(out->registry, sizeof(out->registry), p, hlen, "registry", s, err))
			return err->code;
		return ref_parse_name(s, slash + 1, out, err);
	}
	memcpy(out->registry, HUB_REGISTRY, sizeof(HUB_REGISTRY));
	if (slash == NULL) {
		char buf[600];
		int n = snprintf(buf, sizeof(buf), "library/%s", p);
		if (n < 0 || (size_t)n >= sizeof(buf))
			return ccm_fail(err, CCM_E_LIMIT, "reference '%s': name too long", s);
		return ref_parse_name(s, buf, out, err);
	}
	return ref_parse_name(s, p, out, err);
}

void ccm_oci_ref_format(const struct ccm_oci_ref *r, char *out, size_t n)
{
	if (r->kind == CCM_OCI_REF_LAYOUT) {
		snprintf(out, n, "oci:%s%s%s", r->path, r->tag[0] ? ":" : "", r->tag);
		return;
	}
	snprintf(out, n, "%s/%s%s%s%s%s", r->registry, r->repository, r->tag[0] ? ":" : "", r->tag,
	         r->digest[0] ? "@" : "", r->digest);
}

const char *ccm_oci_ref_target(const struct ccm_oci_ref *r)
{
	return r->digest[0] ? r->digest : r->tag;
}
