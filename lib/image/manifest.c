/*
 * DESIGN: the image manifest is measured into the enclave, so it must have
 * exactly one byte form: jansson with sorted keys and compact separators,
 * no trailing newline, and a parser that refuses anything else (it
 * re-serialises and compares). Every field is typed and ranged here, once,
 * for both the converter (which writes it) and the runtime (which obeys
 * it); unknown keys are refused, the "format" field versions the schema.
 */
#include <stdlib.h>
#include <string.h>

#include "ccm/image.h"

#define CANON_FLAGS (JSON_SORT_KEYS | JSON_COMPACT | JSON_ENSURE_ASCII)

static const char *const manifest_keys[] = {
        "account_id",    "app_id",  "certificate", "cmd",       "entrypoint", "env",
        "exposed_ports", "files",   "format",      "isvprodid", "isvsvn",     "links",
        "mem",           "rw_dirs", "threads",     "user",      "workdir"};

/* Created or bind-mounted by Docker, Podman, Kubernetes in every
 * container, whatever the image holds there: not listed, not walked. */
static const char *const engine_files[] = {"/.dockerenv", "/etc/hostname", "/etc/hosts",
                                           "/etc/resolv.conf", "/run/.containerenv"};

bool ccm_image_engine_file(const char *path)
{
	for (size_t i = 0; i < sizeof(engine_files) / sizeof(engine_files[0]); i++)
		if (strcmp(path, engine_files[i]) == 0)
			return true;
	return false;
}

ccm_code ccm_image_canonical(const json_t *v, char **out, size_t *len, struct ccm_error *err)
{
	*out = json_dumps(v, CANON_FLAGS | JSON_ENCODE_ANY);
	if (*out == NULL)
		return ccm_fail(err, CCM_E_NOMEM, "cannot serialise JSON (out of memory)");
	*len = strlen(*out);
	return CCM_OK;
}

static bool manifest_strings(const json_t *a, bool need_eq)
{
	size_t i;
	json_t *s;

	if (!json_is_array(a))
		return false;
	json_array_foreach(a, i, s)
	{
		if (!json_is_string(s) || strlen(json_string_value(s)) != json_string_length(s))
			return false;
		if (need_eq && strchr(json_string_value(s), '=') == NULL)
			return false;
	}
	return true;
}

static bool manifest_path_ok(const char *path)
{
	return path[0] == '/' && strstr(path, "/../") == NULL && strstr(path, "//") == NULL &&
	       strlen(path) <= 4096;
}

static bool manifest_files_ok(const json_t *files, const char **bad)
{
	const char *path;
	json_t *h;

	if (!json_is_object(files) || json_object_size(files) > CCM_IMAGE_MAX_FILES)
		return false;
	json_object_foreach((json_t *)files, path, h)
	{
		const char *v = json_string_value(h);
		*bad = path;
		if (!manifest_path_ok(path) || v == NULL || strlen(v) != 64 ||
		    strspn(v, "0123456789abcdef") != 64)
			return false;
	}
	return true;
}

/* Symlink targets: non-empty, no NUL, at most a path's length. */
static bool manifest_links_ok(const json_t *links, const char **bad)
{
	const char *path;
	json_t *t;

	if (!json_is_object(links) || json_object_size(links) > CCM_IMAGE_MAX_LINKS)
		return false;
	json_object_foreach((json_t *)links, path, t)
	{
		const char *v = json_string_value(t);
		*bad = path;
		if (!manifest_path_ok(path) || v == NULL || v[0] == '\0' ||
		    strlen(v) != json_string_length(t) || strlen(v) > 4096)
			return false;
	}
	return true;
}

static ccm_code manifest_int(const json_t *root, const char *k, uint64_t lo, uint64_t hi,
                             uint64_t *out, struct ccm_error *err)
{
	json_t *v = json_object_get(root, k);

	if (!json_is_integer(v) || json_integer_value(v) < 0 ||
	    (uint64_t)json_integer_value(v) < lo || (uint64_t)json_integer_value(v) > hi)
		return ccm_fail(err, CCM_E_INPUT, "image manifest: \"%s\" missing or out of range",
		                k);
	*out = (uint64_t)json_integer_value(v);
	return CCM_OK;
}

static ccm_code manifest_check(struct ccm_image_manifest *m, struct ccm_error *err)
{
	json_t *r = m->root, *cert = json_object_get(r, "certificate");
	const char *bad = "", *key;
	uint64_t v;
	json_t *val;

	json_object_foreach(r, key, val)
	{
		size_t i = 0;
		while (i < sizeof(manifest_keys) / sizeof(manifest_keys[0]) &&
		       strcmp(manifest_keys[i], key) != 0)
			i++;
		if (i == sizeof(manifest_keys) / sizeof(manifest_keys[0]))
			return ccm_fail(err, CCM_E_INPUT, "image manifest: unknown key \"%.64s\"",
			                key);
	}
	if (!json_is_string(json_object_get(r, "format")) ||
	    strcmp(json_string_value(json_object_get(r, "format")), CCM_IMAGE_FORMAT) != 0)
		return ccm_fail(err, CCM_E_UNSUPPORTED, "image manifest: format is not %s",
		                CCM_IMAGE_FORMAT);
	m->entrypoint = json_object_get(r, "entrypoint");
	m->cmd = json_object_get(r, "cmd");
	m->env = json_object_get(r, "env");
	m->files = json_object_get(r, "files");
	m->links = json_object_get(r, "links");
	m->rw_dirs = json_object_get(r, "rw_dirs");
	m->workdir = json_string_value(json_object_get(r, "workdir"));
	m->user = json_string_value(json_object_get(r, "user"));
	if (!manifest_strings(m->entrypoint, false) || !manifest_strings(m->cmd, false) ||
	    !manifest_strings(m->env, true) || !manifest_strings(m->rw_dirs, false) ||
	    !manifest_strings(json_object_get(r, "exposed_ports"), false) || m->workdir == NULL ||
	    m->user == NULL || !json_is_string(json_object_get(r, "app_id")) ||
	    !json_is_string(json_object_get(r, "account_id")) ||
	    !(json_is_null(cert) || json_is_object(cert)))
		return ccm_fail(err, CCM_E_INPUT, "image manifest: a field is missing or mistyped");
	if (json_array_size(m->entrypoint) + json_array_size(m->cmd) == 0)
		return ccm_fail(err, CCM_E_INPUT, "image manifest: no entrypoint and no cmd");
	if (!manifest_files_ok(m->files, &bad))
		return ccm_fail(err, CCM_E_INPUT, "image manifest: bad file entry \"%.200s\"", bad);
	if (!manifest_links_ok(m->links, &bad))
		return ccm_fail(err, CCM_E_INPUT, "image manifest: bad link entry \"%.200s\"", bad);
	if (manifest_int(r, "mem", CCM_IMAGE_MIN_MEM, CCM_IMAGE_MAX_MEM, &m->mem, err) ||
	    manifest_int(r, "threads", 1, CCM_IMAGE_MAX_THREADS, &v, err))
		return err->code;
	m->threads = (uint32_t)v;
	if (manifest_int(r, "isvprodid", 0, 65535, &v, err))
		return err->code;
	m->isvprodid = (uint16_t)v;
	if (manifest_int(r, "isvsvn", 0, 65535, &v, err))
		return err->code;
	m->isvsvn = (uint16_t)v;
	return CCM_OK;
}

ccm_code ccm_image_manifest_parse(const uint8_t *buf, size_t len, struct ccm_image_manifest *m,
                                  struct ccm_error *err)
{
	json_error_t je;
	char *canon = NULL;
	size_t clen = 0;
	ccm_code rc;

	memset(m, 0, sizeof(*m));
	if (len > CCM_IMAGE_MAX_MANIFEST)
		return ccm_fail(err, CCM_E_LIMIT, "image manifest larger than %u bytes",
		                CCM_IMAGE_MAX_MANIFEST);
	m->root = json_loadb((const char *)buf, len, JSON_REJECT_DUPLICATES, &je);
	if (!json_is_object(m->root)) {
		ccm_image_manifest_free(m);
		return ccm_fail(err, CCM_E_INPUT, "image manifest: not a JSON object (%s)",
		                je.text);
	}
	rc = ccm_image_canonical(m->root, &canon, &clen, err);
	if (rc == CCM_OK && (clen != len || memcmp(canon, buf, len) != 0))
		rc = ccm_fail(err, CCM_E_INPUT,
		              "image manifest: not in canonical form (sorted keys, compact)");
	free(canon);
	if (rc == CCM_OK)
		rc = manifest_check(m, err);
	if (rc != CCM_OK)
		ccm_image_manifest_free(m);
	return rc;
}

void ccm_image_manifest_free(struct ccm_image_manifest *m)
{
	json_decref(m->root);
	memset(m, 0, sizeof(*m));
}
