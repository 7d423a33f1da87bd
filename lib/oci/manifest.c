/*
 * DESIGN: manifests and indexes are untrusted JSON from the network, so
 * parsing is a pure function over bytes with hard caps (size, layer count,
 * index entries), a whitelist of media types per family (an OCI manifest
 * carries OCI or Docker layer types; a Docker schema 2 manifest only Docker
 * ones), and digests checked for form before any of them reaches a URL or
 * a file name. Docker schema 1 is refused by name.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "ccm/oci.h"
#include "util/util.h"

static const char *const layer_types[] = {
        CCM_OCI_MT_LAYER_TAR,
        CCM_OCI_MT_LAYER_GZIP,
        CCM_OCI_MT_LAYER_ZSTD,
        CCM_OCI_MT_DOCKER_LAYER,
        "application/vnd.oci.image.layer.nondistributable.v1.tar",
        "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
        "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
        /* docker/distribution's schema2.MediaTypeUncompressedLayer, what
         * containers/image writes for an uncompressed Docker layer */
        "application/vnd.docker.image.rootfs.diff.tar",
        "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
};

bool ccm_oci_layer_type_ok(const char *mt)
{
	for (size_t i = 0; i < sizeof(layer_types) / sizeof(layer_types[0]); i++)
		if (strcmp(mt, layer_types[i]) == 0)
			return true;
	return false;
}

ccm_code ccm_oci_digest_of(const uint8_t *buf, size_t len, char out[CCM_OCI_DIGEST_LEN + 1],
                           struct ccm_error *err)
{
	uint8_t md[32];
	unsigned int mdlen = 0;

	if (!EVP_Digest(buf, len, md, &mdlen, EVP_sha256(), NULL) || mdlen != 32)
		return ccm_fail(err, CCM_E_CRYPTO, "SHA-256 failed");
	memcpy(out, "sha256:", 7);
	util_hex(md, 32, out + 7);
	return CCM_OK;
}

static ccm_code manifest_str(json_t *o, const char *key, bool required, char *out, size_t n,
                             const char *where, struct ccm_error *err)
{
	json_t *v = json_object_get(o, key);

	out[0] = '\0';
	if (v == NULL && !required)
		return CCM_OK;
	if (!json_is_string(v))
		return ccm_fail(err, CCM_E_INPUT, "%s: \"%s\" missing or not a string", where, key);
	if (json_string_length(v) >= n)
		return ccm_fail(err, CCM_E_LIMIT, "%s: \"%s\" longer than %zu bytes", where, key,
		                n - 1);
	memcpy(out, json_string_value(v), json_string_length(v) + 1);
	if (strlen(out) != json_string_length(v))
		return ccm_fail(err, CCM_E_INPUT, "%s: \"%s\" contains NUL", where, key);
	return CCM_OK;
}

static ccm_code manifest_desc(json_t *o, struct ccm_oci_desc *d, const char *where,
                              struct ccm_error *err)
{
	json_t *size = json_object_get(o, "size"), *plat = json_object_get(o, "platform");

	memset(d, 0, sizeof(*d));
	if (!json_is_object(o))
		return ccm_fail(err, CCM_E_INPUT, "%s: descriptor is not an object", where);
	if (manifest_str(o, "mediaType", true, d->media_type, sizeof(d->media_type), where, err) ||
	    manifest_str(o, "digest", true, d->digest, sizeof(d->digest), where, err))
		return err->code;
	if (!ccm_oci_digest_valid(d->digest))
		return ccm_fail(err, CCM_E_INPUT, "%s: digest '%s' is not sha256:<64 hex>", where,
		                d->digest);
	if (!json_is_integer(size) || json_integer_value(size) < 0)
		return ccm_fail(err, CCM_E_INPUT, "%s: size missing or negative", where);
	d->size = (uint64_t)json_integer_value(size);
	if (plat != NULL) {
		if (!json_is_object(plat))
			return ccm_fail(err, CCM_E_INPUT, "%s: platform is not an object", where);
		if (manifest_str(plat, "os", false, d->os, sizeof(d->os), where, err) ||
		    manifest_str(plat, "architecture", false, d->arch, sizeof(d->arch), where,
		                 err) ||
		    manifest_str(plat, "variant", false, d->variant, sizeof(d->variant), where,
		                 err))
			return err->code;
	}
	return CCM_OK;
}

static bool manifest_is_docker(const char *mt)
{
	return strncmp(mt, "application/vnd.docker.", 23) == 0;
}

static ccm_code manifest_image(json_t *root, struct ccm_oci_manifest *m, struct ccm_error *err)
{
	json_t *layers = json_object_get(root, "layers");
	bool docker = manifest_is_docker(m->media_type);
	const char *want_cfg = docker ? CCM_OCI_MT_DOCKER_CONFIG : CCM_OCI_MT_CONFIG;
	size_t i;
	json_t *l;

	if (manifest_desc(json_object_get(root, "config"), &m->config, "manifest config", err))
		return err->code;
	if (strcmp(m->config.media_type, want_cfg) != 0)
		return ccm_fail(err, CCM_E_UNSUPPORTED,
		                "manifest: config media type '%s' (want %s)", m->config.media_type,
		                want_cfg);
	if (m->config.size > CCM_OCI_MAX_CONFIG)
		return ccm_fail(err, CCM_E_LIMIT, "manifest: config of %llu bytes exceeds %u",
		                (unsigned long long)m->config.size, CCM_OCI_MAX_CONFIG);
	if (!json_is_array(layers))
		return ccm_fail(err, CCM_E_INPUT, "manifest: \"layers\" missing or not an array");
	if (json_array_size(layers) > CCM_OCI_MAX_LAYERS)
		return ccm_fail(err, CCM_E_LIMIT, "manifest: %zu layers exceed the limit of %u",
		                json_array_size(layers), CCM_OCI_MAX_LAYERS);
	m->layers = calloc(json_array_size(layers) + 1, sizeof(*m->layers));
	if (m->layers == NULL)
		return ccm_fail(err, CCM_E_NOMEM, "manifest: out of memory");
	json_array_foreach(layers, i, l)
	{
		struct ccm_oci_desc *d = &m->layers[i];
		if (manifest_desc(l, d, "manifest layer", err))
			return err->code;
		m->n_layers = i + 1;
		if (!ccm_oci_layer_type_ok(d->media_type) ||
		    (docker && !manifest_is_docker(d->media_type)))
			return ccm_fail(err, CCM_E_UNSUPPORTED,
			                "manifest: layer %zu has unsupported media type '%s'", i,
			                d->media_type);
		if (d->size > CCM_OCI_MAX_BLOB)
			return ccm_fail(err, CCM_E_LIMIT,
			                "manifest: layer %zu of %llu bytes is too big", i,
			                (unsigned long long)d->size);
	}
	return CCM_OK;
}

static ccm_code manifest_index(json_t *root, struct ccm_oci_manifest *m, struct ccm_error *err)
{
	json_t *list = json_object_get(root, "manifests"), *e;
	size_t i;

	if (!json_is_array(list))
		return ccm_fail(err, CCM_E_INPUT, "index: \"manifests\" missing or not an array");
	if (json_array_size(list) > CCM_OCI_MAX_INDEX)
		return ccm_fail(err, CCM_E_LIMIT, "index: %zu entries exceed the limit of %u",
		                json_array_size(list), CCM_OCI_MAX_INDEX);
	m->manifests = calloc(json_array_size(list) + 1, sizeof(*m->manifests));
	if (m->manifests == NULL)
		return ccm_fail(err, CCM_E_NOMEM, "index: out of memory");
	json_array_foreach(list, i, e)
	{
		if (manifest_desc(e, &m->manifests[i], "index entry", err))
			return err->code;
		m->n_manifests = i + 1;
		if (m->manifests[i].size > CCM_OCI_MAX_MANIFEST)
			return ccm_fail(err, CCM_E_LIMIT,
			                "index: entry %zu of %llu bytes is too big", i,
			                (unsigned long long)m->manifests[i].size);
	}
	return CCM_OK;
}

/* The body's mediaType, else the content type; they must agree. */
static ccm_code manifest_type(json_t *root, const char *ctype, struct ccm_oci_manifest *m,
                              struct ccm_error *err)
{
	json_t *sv = json_object_get(root, "schemaVersion");

	if (!json_is_integer(sv) || json_integer_value(sv) != 2)
		return ccm_fail(
		        err, CCM_E_UNSUPPORTED,
		        "manifest: schemaVersion is not 2 (Docker schema 1 is not supported)");
	if (manifest_str(root, "mediaType", false, m->media_type, sizeof(m->media_type), "manifest",
	                 err))
		return err->code;
	if (ctype != NULL && ctype[0] != '\0') {
		size_t n = strcspn(ctype, "; ");
		if (m->media_type[0] == '\0' && n < sizeof(m->media_type)) {
			memcpy(m->media_type, ctype, n);
			m->media_type[n] = '\0';
		} else if (strlen(m->media_type) != n || strncmp(m->media_type, ctype, n) != 0) {
			return ccm_fail(err, CCM_E_INPUT,
			                "manifest: mediaType '%s' differs from content type '%.*s'",
			                m->media_type, (int)(n > 100 ? 100 : n), ctype);
		}
	}
	if (m->media_type[0] == '\0')
		memcpy(m->media_type,
		       json_object_get(root, "manifests") ? CCM_OCI_MT_INDEX : CCM_OCI_MT_MANIFEST,
		       json_object_get(root, "manifests") ? sizeof(CCM_OCI_MT_INDEX)
		                                          : sizeof(CCM_OCI_MT_MANIFEST));
	if (!strcmp(m->media_type, CCM_OCI_MT_MANIFEST) ||
	    !strcmp(m->media_type, CCM_OCI_MT_DOCKER_MANIFEST))
		m->kind = CCM_OCI_IMAGE;
	else if (!strcmp(m->media_type, CCM_OCI_MT_INDEX) ||
	         !strcmp(m->media_type, CCM_OCI_MT_DOCKER_LIST))
		m->kind = CCM_OCI_INDEX;
	else
		return ccm_fail(err, CCM_E_UNSUPPORTED, "manifest: unsupported media type '%s'",
		                m->media_type);
	return CCM_OK;
}

ccm_code ccm_oci_manifest_parse(const uint8_t *buf, size_t len, const char *ctype,
                                struct ccm_oci_manifest *m, struct ccm_error *err)
{
	json_error_t je;
	json_t *root;
	ccm_code rc;

	memset(m, 0, sizeof(*m));
	if (len > CCM_OCI_MAX_MANIFEST)
		return ccm_fail(err, CCM_E_LIMIT, "manifest: %zu bytes exceed the limit of %u", len,
		                CCM_OCI_MAX_MANIFEST);
	root = json_loadb((const char *)buf, len, JSON_REJECT_DUPLICATES, &je);
	if (root == NULL)
		return ccm_fail(err, CCM_E_INPUT, "manifest: not JSON: %s (byte %d)", je.text,
		                je.position);
	if (!json_is_object(root)) {
		json_decref(root);
		return ccm_fail(err, CCM_E_INPUT, "manifest: not a JSON object");
	}
	rc = manifest_type(root, ctype, m, err);
	if (rc == CCM_OK)
		rc = m->kind == CCM_OCI_IMAGE ? manifest_image(root, m, err)
		                              : manifest_index(root, m, err);
	json_decref(root);
	if (rc != CCM_OK)
		ccm_oci_manifest_free(m);
	return rc;
}

void ccm_oci_manifest_free(struct ccm_oci_manifest *m)
{
	free(m->layers);
	free(m->manifests);
	m->layers = NULL;
	m->manifests = NULL;
	m->n_layers = m->n_manifests = 0;
}

ccm_code ccm_oci_index_pick(const struct ccm_oci_manifest *idx, const char *os, const char *arch,
                            struct ccm_oci_desc *out, struct ccm_error *err)
{
	char seen[256] = "";
	size_t used = 0;

	for (size_t i = 0; i < idx->n_manifests; i++) {
		const struct ccm_oci_desc *d = &idx->manifests[i];
		if (strcmp(d->os, os) == 0 && strcmp(d->arch, arch) == 0) {
			*out = *d;
			return CCM_OK;
		}
		if (used < sizeof(seen) - 1) {
			int n = snprintf(seen + used, sizeof(seen) - used, "%s%s/%s",
			                 used ? ", " : "", d->os[0] ? d->os : "?",
			                 d->arch[0] ? d->arch : "?");
			if (n > 0)
				used += (size_t)n;
		}
	}
	return ccm_fail(err, CCM_E_NOTFOUND, "index has no %s/%s image (platforms: %s)", os, arch,
	                idx->n_manifests ? seen : "none");
}
