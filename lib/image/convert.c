/*
 * DESIGN: the conversion pipeline, one step per function: open both ends,
 * pull (manifest, config, layers into a private work directory, each digest
 * checked) while the walker builds the file view, write the image manifest,
 * measure the enclave layout and sign, write the added layer, derive the
 * output config and manifest, push. Every output byte is a function of the
 * input and the settings (sorted JSON, the input's own "created" time as
 * the only timestamp), so a second conversion gives the same MRENCLAVE and
 * the same digest. The work directory is the only place written besides
 * the target, and it is removed on every path out.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ccm/sgx.h"
#include "image-int.h"

static const char *const default_rw[] = {"/dev", "/proc", "/sys"};

struct conv {
	const struct ccm_image_convert_opts *o;
	struct ccm_image_convert_result *res;
	struct ccm_oci_ref from, to;
	struct ccm_oci_repo *src, *dst;
	struct ccm_oci_manifest m;
	uint8_t *raw;
	size_t raw_len;
	char in_digest[CCM_OCI_DIGEST_LEN + 1];
	uint8_t *cfg_raw;
	struct image_config cfg;
	char work[1024];
	char (*layer_path)[1200];
	struct ccm_image_fs *fs;
	json_t *files, *links, *rw;
	char *man;
	size_t man_len;
	uint8_t *runtime;
	size_t runtime_len;
	uint8_t sig[CCM_SGX_SIGSTRUCT_SIZE];
	struct image_layer_out layer;
	char layer_file[1200];
	char *out_cfg, *out_man;
	size_t out_cfg_len, out_man_len;
	const char *out_mt;
	bool early_push;             /* input layers already pushed by the pipeline */
	struct image_pipeline *pipe; /* its pushes may still run after the pull */
	struct image_tar_job *tar;   /* the added layer, begun before the pull */
};

static void conv_log(const struct conv *c, const char *what, const char *detail)
{
	if (c->o->verbose)
		fprintf(stderr, "%s %s\n", what, detail);
}

static void conv_progress(const struct conv *c, const char *phase, uint64_t done, uint64_t total)
{
	if (c->o->progress != NULL)
		c->o->progress(c->o->progress_ctx, phase, done, total);
}

static uint64_t conv_layer_bytes(const struct conv *c)
{
	uint64_t total = 0;

	for (size_t i = 0; i < c->m.n_layers; i++)
		total += c->m.layers[i].size;
	return total;
}

/* A layout target is opened (and its directory created) only once the
 * output exists, so a refused input leaves no trace there; a registry
 * target is opened first, for the pipeline to push input layers into
 * while the walk runs (a refused input leaves only unreferenced blobs). */
static ccm_code conv_open_target(struct conv *c, struct ccm_error *err)
{
	if (c->dst != NULL)
		return CCM_OK;
	c->early_push = c->to.kind == CCM_OCI_REF_REGISTRY;
	if (ccm_oci_repo_open(&c->to, &c->o->dst, true, &c->dst, err) != CCM_OK) {
		ccm_error_prefix(err, "--to");
		return err->code;
	}
	return CCM_OK;
}

static ccm_code conv_open(struct conv *c, struct ccm_error *err)
{
	const char *tmp = c->o->tmpdir ? c->o->tmpdir : getenv("TMPDIR");
	int n;

	if (ccm_oci_ref_parse(c->o->from, &c->from, err) != CCM_OK ||
	    ccm_oci_ref_parse(c->o->to, &c->to, err) != CCM_OK)
		return err->code;
	if (c->to.kind == CCM_OCI_REF_REGISTRY && c->to.tag[0] == '\0')
		return ccm_fail(err, CCM_E_USAGE, "--to needs a tag, not only a digest");
	if (c->to.kind == CCM_OCI_REF_LAYOUT && c->to.tag[0] == '\0')
		memcpy(c->to.tag, "latest", 7);
	n = snprintf(c->work, sizeof(c->work), "%s/ccm-convert.XXXXXX",
	             tmp && tmp[0] ? tmp : "/tmp");
	if (n < 0 || (size_t)n >= sizeof(c->work))
		return ccm_fail(err, CCM_E_LIMIT, "TMPDIR too long");
	if (mkdtemp(c->work) == NULL) {
		c->work[0] = '\0';
		return ccm_fail(err, CCM_E_IO, "cannot make a work directory: %s", strerror(errno));
	}
	if (ccm_oci_repo_open(&c->from, &c->o->src, false, &c->src, err) != CCM_OK) {
		ccm_error_prefix(err, "--from");
		return err->code;
	}
	/* A registry target takes the input layers while the walk runs. */
	if (c->to.kind == CCM_OCI_REF_REGISTRY)
		return conv_open_target(c, err);
	return CCM_OK;
}

static ccm_code conv_layers(struct conv *c, struct ccm_error *err)
{
	const struct image_pipe in = {.m = &c->m,
	                              .src = c->src,
	                              .dst = c->early_push ? c->dst : NULL,
	                              .work = c->work,
	                              .layer_path = c->layer_path,
	                              .fs = c->fs,
	                              .verbose = c->o->verbose,
	                              .progress = c->o->progress,
	                              .progress_ctx = c->o->progress_ctx};

	return image_pipe_run(&in, &c->pipe, err);
}

static int conv_strcmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* What the runtime could not start, refused before any layer is pulled:
 * no command, an environment entry without '=', a relative directory. */
static ccm_code conv_check_config(const struct conv *c, struct ccm_error *err)
{
	const struct ccm_image_convert_opts *o = c->o;
	json_t *ep = o->entrypoint ? o->entrypoint : c->cfg.entrypoint;
	json_t *cmd = o->cmd ? o->cmd : (o->entrypoint ? NULL : c->cfg.cmd), *e;
	const char *wd = o->workdir ? o->workdir : c->cfg.workdir;
	size_t i;

	if (json_array_size(ep) + json_array_size(cmd) == 0)
		return ccm_fail(err, CCM_E_INPUT,
		                "the image has no Entrypoint and no Cmd: nothing to start "
		                "(give --entrypoint or --cmd)");
	json_array_foreach(c->cfg.env, i, e)
	{
		if (strchr(json_string_value(e), '=') == NULL)
			return ccm_fail(err, CCM_E_INPUT,
			                "image config: Env entry '%.200s' is not NAME=VALUE",
			                json_string_value(e));
	}
	if (wd[0] != '\0' && wd[0] != '/')
		return ccm_fail(err, CCM_E_INPUT, "working directory '%.200s' is not absolute", wd);
	return CCM_OK;
}

static ccm_code conv_rw_view(struct conv *c, struct ccm_error *err);

static ccm_code conv_pull(struct conv *c, struct ccm_error *err)
{
	if (ccm_oci_repo_resolve(c->src, ccm_oci_ref_target(&c->from), &c->m, &c->raw, &c->raw_len,
	                         err) != CCM_OK ||
	    ccm_oci_digest_of(c->raw, c->raw_len, c->in_digest, err) != CCM_OK)
		return err->code;
	conv_log(c, "source manifest", c->in_digest);
	if (ccm_oci_repo_get_blob_mem(c->src, &c->m.config, CCM_OCI_MAX_CONFIG, &c->cfg_raw, err) ||
	    image_config_parse(c->cfg_raw, c->m.config.size, &c->cfg, err)) {
		ccm_error_prefix(err, "config %s", c->m.config.digest);
		return err->code;
	}
	if (c->cfg.n_diff_ids != c->m.n_layers)
		return ccm_fail(err, CCM_E_INPUT, "image config lists %zu diff_ids for %zu layers",
		                c->cfg.n_diff_ids, c->m.n_layers);
	if (conv_check_config(c, err) != CCM_OK || conv_rw_view(c, err) != CCM_OK)
		return err->code;
	c->layer_path = calloc(c->m.n_layers + 1, sizeof(*c->layer_path));
	if (c->layer_path == NULL)
		return ccm_fail(err, CCM_E_NOMEM, "out of memory");
	if (conv_layers(c, err) != CCM_OK)
		return err->code;
	if (ccm_image_fs_exists(c->fs, "/opt/ccm"))
		return ccm_fail(err, CCM_E_CONFLICT,
		                "input image already has /opt/ccm (is it a converted image?)");
	/* The added layer's opt/ directory would hide a symlink or file there. */
	if (ccm_image_fs_exists(c->fs, "/opt") && !ccm_image_fs_is_dir(c->fs, "/opt"))
		return ccm_fail(err, CCM_E_CONFLICT,
		                "input image's /opt is not a directory (a symlink?): the runtime "
		                "goes in /opt/ccm");
	return CCM_OK;
}

/* ---- the image manifest ----------------------------------------------- */

static bool conv_rw_ok(const char *d)
{
	size_t n = strlen(d);

	return d[0] == '/' && n >= 2 && n <= 1024 && d[n - 1] != '/' && strstr(d, "//") == NULL &&
	       strstr(d, "/./") == NULL && strstr(d, "/..") == NULL;
}

static ccm_code conv_rw_dirs(const struct conv *c, struct ccm_error *err)
{
	for (size_t i = 0; i < c->o->n_rw; i++)
		if (!conv_rw_ok(c->o->rw_dirs[i]))
			return ccm_fail(
			        err, CCM_E_USAGE,
			        "--rw-dir '%s': need an absolute normalised path like /data",
			        c->o->rw_dirs[i]);
	return CCM_OK;
}

/* The read-write directories, sorted and once each: /dev, /proc, /sys,
 * --rw-dir, and the config's Volumes (an engine mounts a volume there, or
 * the host's directory: what the image holds there cannot be checked);
 * then the file view, which needs them. */
static ccm_code conv_rw_view(struct conv *c, struct ccm_error *err)
{
	const char *all[3 + CCM_IMAGE_MAX_LIST + IMAGE_MAX_VOLUMES], *k;
	json_t *vols = json_array(), *v;
	size_t n = 0, m = 0;
	ccm_code rc = CCM_OK;

	for (size_t i = 0; i < sizeof(default_rw) / sizeof(default_rw[0]); i++)
		all[n++] = default_rw[i];
	for (size_t i = 0; i < c->o->n_rw; i++)
		all[n++] = c->o->rw_dirs[i];
	if (json_is_object(c->cfg.volumes))
		json_object_foreach(c->cfg.volumes, k, v)
		{
			size_t len = strlen(k);
			while (len > 1 && k[len - 1] == '/')
				len--; /* "/data/" is "/data" */
			json_array_append_new(vols, json_stringn(k, len));
			all[n] = json_string_value(json_array_get(vols, json_array_size(vols) - 1));
			if (all[n] == NULL || !conv_rw_ok(all[n++])) {
				rc = ccm_fail(
				        err, CCM_E_INPUT,
				        "image config: Volumes entry '%.200s' is not an absolute "
				        "normalised path",
				        k);
				goto out;
			}
		}
	qsort(all, n, sizeof(all[0]), conv_strcmp);
	for (size_t i = 0; i < n; i++) /* once each */
		if (m == 0 || strcmp(all[i], all[m - 1]) != 0)
			all[m++] = all[i];
	c->rw = json_array();
	for (size_t i = 0; i < m; i++)
		json_array_append_new(c->rw, json_string(all[i]));
	rc = ccm_image_fs_new(&c->fs, all, m, err);
out:
	json_decref(vols);
	return rc;
}

static ccm_code conv_file(void *ctx, const char *path, const uint8_t sha[32], uint64_t size,
                          bool is_protected, struct ccm_error *err)
{
	struct conv *c = ctx;
	char hex[65];

	(void)size;
	/* Engines put their own copy there (ccm_image_engine_file). */
	if (!is_protected || ccm_image_engine_file(path))
		return CCM_OK;
	if (json_object_size(c->files) >= CCM_IMAGE_MAX_FILES)
		return ccm_fail(err, CCM_E_LIMIT, "more than %u protected files",
		                CCM_IMAGE_MAX_FILES);
	util_hex(sha, 32, hex);
	json_t *s = json_string(hex);
	if (s == NULL || json_object_set_new(c->files, path, s) != 0)
		return ccm_fail(err, CCM_E_INPUT, "file path '%.200s' is not UTF-8", path);
	return CCM_OK;
}

/* Every symlink outside the read-write directories, with its target: the
 * runtime refuses any symlink not listed so, or pointing elsewhere. */
static ccm_code conv_link(void *ctx, const char *path, const char *target, bool in_rw,
                          struct ccm_error *err)
{
	struct conv *c = ctx;
	json_t *s;

	if (in_rw || ccm_image_engine_file(path))
		return CCM_OK;
	if (json_object_size(c->links) >= CCM_IMAGE_MAX_LINKS)
		return ccm_fail(err, CCM_E_LIMIT, "more than %u protected symlinks",
		                CCM_IMAGE_MAX_LINKS);
	s = json_string(target);
	if (s == NULL || json_object_set_new(c->links, path, s) != 0)
		return ccm_fail(err, CCM_E_INPUT, "symlink '%.200s' is not UTF-8", path);
	return CCM_OK;
}

static json_t *conv_array(json_t *a)
{
	return a != NULL && json_is_array(a) ? json_deep_copy(a) : json_array();
}

static json_t *conv_env(const struct conv *c)
{
	json_t *env = conv_array(c->cfg.env), *e;
	size_t i;

	for (size_t k = 0; k < c->o->n_env; k++) {
		const char *kv = c->o->env[k];
		size_t klen = strcspn(kv, "=");
		bool replaced = false;
		json_array_foreach(env, i, e)
		{
			const char *s = json_string_value(e);
			if (strncmp(s, kv, klen + 1) == 0) {
				json_array_set_new(env, i, json_string(kv));
				replaced = true;
			}
		}
		if (!replaced)
			json_array_append_new(env, json_string(kv));
	}
	return env;
}

/* The keys of ExposedPorts, sorted (jansson keeps the config's order). */
static json_t *conv_ports(const struct conv *c)
{
	const char *keys[IMAGE_MAX_PORTS], *k;
	json_t *ports = json_array(), *v;
	size_t n = 0;

	if (json_is_object(c->cfg.ports_keys))
		json_object_foreach(c->cfg.ports_keys, k, v)
		{
			keys[n++] = k;
		}
	qsort(keys, n, sizeof(keys[0]), conv_strcmp);
	for (size_t i = 0; i < n; i++)
		json_array_append_new(ports, json_string(keys[i]));
	return ports;
}

static ccm_code conv_manifest(struct conv *c, struct ccm_error *err)
{
	const struct ccm_image_convert_opts *o = c->o;
	json_t *root;
	struct ccm_image_manifest check;
	ccm_code rc;

	c->files = json_object();
	c->links = json_object();
	if (ccm_image_fs_walk(c->fs, conv_file, c, err) != CCM_OK ||
	    ccm_image_fs_walk_links(c->fs, conv_link, c, err) != CCM_OK)
		return err->code;
	root = json_pack("{s:s,s:s,s:s,s:O,s:o,s:o,s:o,s:o,s:O,s:i,s:i,s:I,s:O,s:I,s:s,s:s,s:o}",
	                 "format", CCM_IMAGE_FORMAT, "app_id", o->app_id ? o->app_id : "",
	                 "account_id", o->account_id ? o->account_id : "", "certificate",
	                 o->certificate ? o->certificate : json_null(), "entrypoint",
	                 conv_array(o->entrypoint ? o->entrypoint : c->cfg.entrypoint), "cmd",
	                 conv_array(o->cmd ? o->cmd : (o->entrypoint ? NULL : c->cfg.cmd)), "env",
	                 conv_env(c), "files", c->files, "links", c->links, "isvprodid",
	                 (int)o->isvprodid, "isvsvn", (int)o->isvsvn, "mem", (json_int_t)o->mem,
	                 "rw_dirs", c->rw, "threads", (json_int_t)o->threads, "workdir",
	                 o->workdir ? o->workdir : c->cfg.workdir, "user",
	                 o->user ? o->user : c->cfg.user, "exposed_ports", conv_ports(c));
	if (root == NULL)
		return ccm_fail(err, CCM_E_INPUT,
		                "cannot build the image manifest (non-UTF-8 value?)");
	rc = ccm_image_canonical(root, &c->man, &c->man_len, err);
	json_decref(root);
	if (rc == CCM_OK)
		rc = ccm_image_manifest_parse((const uint8_t *)c->man, c->man_len, &check, err);
	if (rc == CCM_OK) {
		c->res->files = json_object_size(check.files);
		ccm_image_manifest_free(&check);
	}
	return rc;
}

/* ---- measure and sign ------------------------------------------------- */

static uint32_t conv_date(const struct conv *c)
{
	char d[9];
	uint32_t v = 0;
	const char *s = c->cfg.created;

	if (c->o->date != 0)
		return c->o->date;
	if (strlen(s) >= 10 && s[4] == '-' && s[7] == '-') {
		memcpy(d, s, 4);
		memcpy(d + 4, s + 5, 2);
		memcpy(d + 6, s + 8, 2);
		d[8] = '\0';
		if (ccm_sgx_parse_date(d, &v, NULL) == CCM_OK)
			return v;
	}
	return 0x19700101;
}

static ccm_code conv_sign(struct conv *c, struct ccm_error *err)
{
	struct ccm_sgx_sigfields f;
	struct ccm_sgx_sigstruct s;
	struct ccm_image_layout info;

	if (ccm_image_layout_measure(c->runtime, c->runtime_len, (const uint8_t *)c->man,
	                             c->man_len, c->o->mem, c->o->threads, c->res->mrenclave, &info,
	                             err) != CCM_OK) {
		ccm_error_prefix(err, "%s", c->o->runtime);
		return err->code;
	}
	c->res->enclave_size = info.size;
	ccm_sgx_sigfields_default(&f);
	memcpy(f.enclavehash, c->res->mrenclave, 32);
	f.isvprodid = c->o->isvprodid;
	f.isvsvn = c->o->isvsvn;
	f.date = conv_date(c);
	if (c->o->debug)
		f.attributes[0] |= CCM_SGX_FLAG_DEBUG;
	if (ccm_sgx_sign(&f, c->o->key, c->sig, err) != CCM_OK ||
	    ccm_sgx_sigstruct_parse(c->sig, sizeof(c->sig), &s, err) != CCM_OK ||
	    ccm_sgx_mrsigner(s.modulus, c->res->mrsigner, err) != CCM_OK)
		return err->code;
	c->res->isvprodid = c->o->isvprodid;
	c->res->isvsvn = c->o->isvsvn;
	return CCM_OK;
}

/* The added layer's leading entries (the runtime: nearly all its bytes)
 * are known before the pull, so they are tarred and deflated meanwhile. */
static ccm_code conv_layer_begin(struct conv *c, struct ccm_error *err)
{
	if (util_read_file(c->o->runtime, CCM_IMAGE_MAX_RUNTIME, &c->runtime, &c->runtime_len,
	                   err) != CCM_OK)
		return err->code;
	const struct image_tar_file head[] = {
	        {"opt/", 0755, NULL, 0},
	        {"opt/ccm/", 0755, NULL, 0},
	        {"opt/ccm/ccm-enclave", 0755, c->runtime, c->runtime_len},
	};
	return image_tar_begin(head, sizeof(head) / sizeof(head[0]), &c->tar, err);
}

static ccm_code conv_layer(struct conv *c, struct ccm_error *err)
{
	const struct image_tar_file tail[] = {
	        {"opt/ccm/enclave.sig", 0644, c->sig, sizeof(c->sig)},
	        {"opt/ccm/manifest.json", 0644, (const uint8_t *)c->man, c->man_len},
	};
	int n = snprintf(c->layer_file, sizeof(c->layer_file), "%s/ccm-layer.tar.gz", c->work);

	if (n < 0 || (size_t)n >= sizeof(c->layer_file))
		return ccm_fail(err, CCM_E_LIMIT, "work directory path too long");
	if (image_tar_finish(c->tar, tail, sizeof(tail) / sizeof(tail[0]), c->layer_file, &c->layer,
	                     err) != CCM_OK)
		return err->code;
	memcpy(c->res->layer_digest, c->layer.digest, sizeof(c->layer.digest));
	c->res->layer_size = c->layer.size;
	return CCM_OK;
}

/* ---- output config and manifest --------------------------------------- */

static ccm_code conv_labels(struct conv *c, json_t *cfg)
{
	json_t *labels = json_object_get(cfg, "Labels");
	char mre[65], mrs[65];

	if (!json_is_object(labels)) {
		labels = json_object();
		json_object_set_new(cfg, "Labels", labels);
	}
	util_hex(c->res->mrenclave, 32, mre);
	util_hex(c->res->mrsigner, 32, mrs);
	json_object_set_new(labels, "io.ccm.mrenclave", json_string(mre));
	json_object_set_new(labels, "io.ccm.mrsigner", json_string(mrs));
	json_object_set_new(labels, "io.ccm.isvprodid", json_sprintf("%u", c->o->isvprodid));
	json_object_set_new(labels, "io.ccm.isvsvn", json_sprintf("%u", c->o->isvsvn));
	json_object_set_new(labels, "io.ccm.source-digest", json_string(c->in_digest));
	return CCM_OK;
}

static ccm_code conv_config(struct conv *c, struct ccm_error *err)
{
	json_t *root = c->cfg.root, *cfg = c->cfg.config;
	json_t *ids = json_object_get(json_object_get(root, "rootfs"), "diff_ids");
	json_t *hist = json_object_get(root, "history");
	const char *created = c->cfg.created[0] ? c->cfg.created : "1970-01-01T00:00:00Z";

	json_object_set_new(cfg, "Entrypoint", json_pack("[s]", CCM_IMAGE_RUNTIME_PATH));
	json_object_set_new(cfg, "Cmd", json_null());
	/* The runtime must read every protected file (root-only ones too)
	 * before it switches to the manifest's user itself; the engine creates
	 * a missing working directory before the read-only remount. */
	if (json_object_get(cfg, "User") != NULL)
		json_object_set_new(cfg, "User", json_string(""));
	if (c->o->workdir != NULL)
		json_object_set_new(cfg, "WorkingDir", json_string(c->o->workdir));
	conv_labels(c, cfg);
	json_array_append_new(ids, json_string(c->layer.diff_id));
	if (!json_is_array(hist)) {
		hist = json_array();
		json_object_set_new(root, "history", hist);
	}
	json_array_append_new(hist, json_pack("{s:s,s:s,s:s}", "created", created, "created_by",
	                                      "ccm image convert", "comment",
	                                      "ccm-enclave runtime, image manifest, SIGSTRUCT"));
	if (ccm_image_canonical(root, &c->out_cfg, &c->out_cfg_len, err) != CCM_OK)
		return err->code;
	return ccm_oci_digest_of((const uint8_t *)c->out_cfg, c->out_cfg_len, c->res->config_digest,
	                         err);
}

static json_t *conv_desc(const char *mt, const char *digest, uint64_t size)
{
	return json_pack("{s:s,s:s,s:I}", "mediaType", mt, "digest", digest, "size",
	                 (json_int_t)size);
}

static ccm_code conv_out_manifest(struct conv *c, struct ccm_error *err)
{
	bool docker = strncmp(c->m.media_type, "application/vnd.docker.", 23) == 0;
	json_t *layers = json_array(), *root;
	ccm_code rc;

	c->out_mt = docker ? CCM_OCI_MT_DOCKER_MANIFEST : CCM_OCI_MT_MANIFEST;
	for (size_t i = 0; i < c->m.n_layers; i++)
		json_array_append_new(layers,
		                      conv_desc(c->m.layers[i].media_type, c->m.layers[i].digest,
		                                c->m.layers[i].size));
	json_array_append_new(layers,
	                      conv_desc(docker ? CCM_OCI_MT_DOCKER_LAYER : CCM_OCI_MT_LAYER_GZIP,
	                                c->layer.digest, c->layer.size));
	root = json_pack("{s:i,s:s,s:o,s:o}", "schemaVersion", 2, "mediaType", c->out_mt, "config",
	                 conv_desc(docker ? CCM_OCI_MT_DOCKER_CONFIG : CCM_OCI_MT_CONFIG,
	                           c->res->config_digest, c->out_cfg_len),
	                 "layers", layers);
	if (root == NULL)
		return ccm_fail(err, CCM_E_NOMEM, "cannot build the output manifest");
	rc = ccm_image_canonical(root, &c->out_man, &c->out_man_len, err);
	json_decref(root);
	if (rc == CCM_OK)
		rc = ccm_oci_digest_of((const uint8_t *)c->out_man, c->out_man_len, c->res->digest,
		                       err);
	snprintf(c->res->media_type, sizeof(c->res->media_type), "%s", c->out_mt);
	c->res->layers = c->m.n_layers + 1;
	return rc;
}

static ccm_code conv_push(struct conv *c, struct ccm_error *err)
{
	struct ccm_oci_desc cfg = {.size = c->out_cfg_len}, nl = {.size = c->layer.size};
	const char *how = "";
	uint64_t done = 0, total = conv_layer_bytes(c) + c->layer.size;

	memcpy(cfg.digest, c->res->config_digest, sizeof(cfg.digest));
	memcpy(nl.digest, c->layer.digest, sizeof(nl.digest));
	if (c->pipe != NULL && image_pipe_join(c->pipe, err) != CCM_OK)
		return err->code;
	for (size_t i = 0; !c->early_push && i < c->m.n_layers; i++) {
		conv_progress(c, "push", done, total);
		done += c->m.layers[i].size;
		if (ccm_oci_repo_push_blob(c->dst, &c->m.layers[i], c->layer_path[i], c->src, &how,
		                           err) != CCM_OK)
			return err->code;
	}
	conv_progress(c, "push", done, total);
	if (ccm_oci_repo_push_blob(c->dst, &nl, c->layer_file, NULL, &how, err) != CCM_OK ||
	    ccm_oci_repo_push_blob_mem(c->dst, &cfg, (const uint8_t *)c->out_cfg, err) != CCM_OK)
		return err->code;
	if (ccm_oci_repo_put_manifest(c->dst, c->to.tag, (const uint8_t *)c->out_man,
	                              c->out_man_len, c->out_mt, err) != CCM_OK)
		return err->code;
	conv_progress(c, "push", total, total);
	return CCM_OK;
}

static void conv_cleanup(struct conv *c)
{
	DIR *d;
	struct dirent *e;
	char p[1400];

	image_pipe_free(c->pipe); /* first: its threads use the files and repositories */
	image_tar_free(c->tar);
	d = c->work[0] ? opendir(c->work) : NULL;
	while (d != NULL && (e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "%s/%s", c->work, e->d_name);
		unlink(p);
	}
	if (d != NULL) {
		closedir(d);
		rmdir(c->work);
	}
	ccm_oci_repo_free(c->src);
	ccm_oci_repo_free(c->dst);
	ccm_oci_manifest_free(&c->m);
	image_config_free(&c->cfg);
	ccm_image_fs_free(c->fs);
	json_decref(c->rw);
	json_decref(c->links);
	free(c->raw);
	free(c->cfg_raw);
	free(c->layer_path);
	free(c->man);
	free(c->runtime);
	free(c->out_cfg);
	free(c->out_man);
}

static ccm_code conv_check_opts(const struct ccm_image_convert_opts *o, struct ccm_error *err)
{
	if (o->from == NULL || o->to == NULL)
		return ccm_fail(err, CCM_E_USAGE, "--from and --to are required");
	if (o->key == NULL || o->runtime == NULL)
		return ccm_fail(err, CCM_E_USAGE,
		                "a signing key and a runtime binary are required");
	if (o->mem < CCM_IMAGE_MIN_MEM || o->mem > CCM_IMAGE_MAX_MEM)
		return ccm_fail(err, CCM_E_RANGE, "--mem: %llu bytes is outside 1M..64G",
		                (unsigned long long)o->mem);
	if (o->threads > CCM_IMAGE_MAX_THREADS)
		return ccm_fail(err, CCM_E_RANGE, "--threads: %u is above %u", o->threads,
		                CCM_IMAGE_MAX_THREADS);
	if (o->n_rw > CCM_IMAGE_MAX_LIST || o->n_env > CCM_IMAGE_MAX_LIST)
		return ccm_fail(err, CCM_E_LIMIT, "too many --rw-dir or --env options");
	for (size_t i = 0; i < o->n_env; i++)
		if (strchr(o->env[i], '=') == NULL || o->env[i][0] == '=')
			return ccm_fail(err, CCM_E_USAGE, "--env '%s': expected NAME=VALUE",
			                o->env[i]);
	return CCM_OK;
}

ccm_code ccm_image_convert(const struct ccm_image_convert_opts *opts,
                           struct ccm_image_convert_result *res, struct ccm_error *err)
{
	struct ccm_image_convert_opts o = *opts;
	struct conv c;
	ccm_code rc;

	memset(&c, 0, sizeof(c));
	memset(res, 0, sizeof(*res));
	if (o.mem == 0)
		o.mem = CCM_IMAGE_DEFAULT_MEM;
	if (o.threads == 0)
		o.threads = CCM_IMAGE_DEFAULT_THREADS;
	c.o = &o;
	c.res = res;
	rc = conv_check_opts(&o, err);
	if (rc == CCM_OK)
		rc = conv_rw_dirs(&c, err);
	if (rc == CCM_OK)
		rc = conv_open(&c, err);
	if (rc == CCM_OK)
		rc = conv_layer_begin(&c, err);
	if (rc == CCM_OK)
		rc = conv_pull(&c, err);
	if (rc == CCM_OK)
		rc = conv_manifest(&c, err);
	if (rc == CCM_OK)
		rc = conv_sign(&c, err);
	if (rc == CCM_OK)
		rc = conv_layer(&c, err);
	if (rc == CCM_OK)
		rc = conv_config(&c, err);
	if (rc == CCM_OK)
		rc = conv_out_manifest(&c, err);
	if (rc == CCM_OK)
		rc = conv_open_target(&c, err);
	if (rc == CCM_OK)
		rc = conv_push(&c, err);
	conv_cleanup(&c);
	return rc;
}
