/*
 * DESIGN: the image config is untrusted JSON; the converter reads only the
 * fields the runtime needs (Entrypoint, Cmd, Env, WorkingDir, User,
 * ExposedPorts, Volumes, created) and the rootfs diff_ids it must extend, each type
 * checked and counted against a cap. The parsed tree is kept whole so that
 * the output config is the input config plus ccm's changes, nothing lost.
 */
#include <stdlib.h>
#include <string.h>

#include "image-int.h"

static bool config_strings(json_t *a, size_t max)
{
	size_t i;
	json_t *s;

	if (a == NULL || json_is_null(a))
		return true;
	if (!json_is_array(a) || json_array_size(a) > max)
		return false;
	json_array_foreach(a, i, s)
	{
		if (!json_is_string(s) || strlen(json_string_value(s)) != json_string_length(s))
			return false;
	}
	return true;
}

static const char *config_str(json_t *o, const char *k, bool *bad)
{
	json_t *v = json_object_get(o, k);

	if (v == NULL || json_is_null(v))
		return "";
	if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v)) {
		*bad = true;
		return "";
	}
	return json_string_value(v);
}

static ccm_code config_fields(struct image_config *c, struct ccm_error *err)
{
	json_t *rootfs = json_object_get(c->root, "rootfs"), *ids, *id;
	bool bad = false;
	size_t i;

	c->os = config_str(c->root, "os", &bad);
	c->arch = config_str(c->root, "architecture", &bad);
	c->created = config_str(c->root, "created", &bad);
	c->workdir = config_str(c->config, "WorkingDir", &bad);
	c->user = config_str(c->config, "User", &bad);
	if (bad)
		return ccm_fail(err, CCM_E_INPUT, "image config: a string field has another type");
	if (strcmp(c->os, "linux") != 0 || strcmp(c->arch, "amd64") != 0)
		return ccm_fail(err, CCM_E_UNSUPPORTED,
		                "image config: platform %s/%s, need linux/amd64",
		                c->os[0] ? c->os : "?", c->arch[0] ? c->arch : "?");
	c->entrypoint = json_object_get(c->config, "Entrypoint");
	c->cmd = json_object_get(c->config, "Cmd");
	c->env = json_object_get(c->config, "Env");
	c->ports_keys = json_object_get(c->config, "ExposedPorts");
	if (!config_strings(c->entrypoint, IMAGE_MAX_ARGS) ||
	    !config_strings(c->cmd, IMAGE_MAX_ARGS) || !config_strings(c->env, IMAGE_MAX_ARGS))
		return ccm_fail(err, CCM_E_INPUT,
		                "image config: Entrypoint, Cmd or Env is not a list of strings");
	if (c->ports_keys != NULL && !json_is_null(c->ports_keys) &&
	    (!json_is_object(c->ports_keys) || json_object_size(c->ports_keys) > IMAGE_MAX_PORTS))
		return ccm_fail(err, CCM_E_INPUT, "image config: ExposedPorts is not an object");
	c->volumes = json_object_get(c->config, "Volumes");
	if (c->volumes != NULL && !json_is_null(c->volumes) &&
	    (!json_is_object(c->volumes) || json_object_size(c->volumes) > IMAGE_MAX_VOLUMES))
		return ccm_fail(err, CCM_E_INPUT,
		                "image config: Volumes is not an object of at most %u entries",
		                IMAGE_MAX_VOLUMES);
	ids = json_object_get(rootfs, "diff_ids");
	if (!json_is_object(rootfs) || !json_is_array(ids) ||
	    json_array_size(ids) > CCM_OCI_MAX_LAYERS)
		return ccm_fail(err, CCM_E_INPUT,
		                "image config: rootfs.diff_ids missing or too long");
	json_array_foreach(ids, i, id)
	{
		if (!ccm_oci_digest_valid(json_string_value(id)))
			return ccm_fail(err, CCM_E_INPUT, "image config: diff_id %zu is not sha256",
			                i);
	}
	c->n_diff_ids = json_array_size(ids);
	return CCM_OK;
}

ccm_code image_config_parse(const uint8_t *buf, size_t len, struct image_config *c,
                            struct ccm_error *err)
{
	json_error_t je;
	ccm_code rc;

	memset(c, 0, sizeof(*c));
	if (len > CCM_OCI_MAX_CONFIG)
		return ccm_fail(err, CCM_E_LIMIT, "image config larger than %u bytes",
		                CCM_OCI_MAX_CONFIG);
	c->root = json_loadb((const char *)buf, len, JSON_REJECT_DUPLICATES, &je);
	if (!json_is_object(c->root)) {
		image_config_free(c);
		return ccm_fail(err, CCM_E_INPUT, "image config: not a JSON object (%s)", je.text);
	}
	c->config = json_object_get(c->root, "config");
	if (c->config == NULL || json_is_null(c->config)) {
		c->config = json_object();
		json_object_set_new(c->root, "config", c->config);
	}
	rc = json_is_object(c->config)
	             ? config_fields(c, err)
	             : ccm_fail(err, CCM_E_INPUT, "image config: \"config\" is not an object");
	if (rc != CCM_OK)
		image_config_free(c);
	return rc;
}

void image_config_free(struct image_config *c)
{
	json_decref(c->root);
	memset(c, 0, sizeof(*c));
}
