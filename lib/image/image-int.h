/*
 * DESIGN: what the converter's files share: the image config reader, the
 * deterministic layer writer, and the manifest builder. Not installed.
 */
#ifndef CCM_IMAGE_INT_H
#define CCM_IMAGE_INT_H

#include <openssl/evp.h>

#include "ccm/image.h"
#include "util/util.h"

#define IMAGE_MAX_ARGS 4096u /* entries in Entrypoint, Cmd, Env */
#define IMAGE_MAX_PORTS 1024u
#define IMAGE_MAX_VOLUMES 64u

/* The fields of an image config the converter uses (borrowed from root). */
struct image_config {
	json_t *root;   /* owned */
	json_t *config; /* root.config (created when missing) */
	json_t *entrypoint, *cmd, *env, *ports_keys, *volumes;
	const char *workdir, *user, *created, *os, *arch;
	size_t n_diff_ids;
};

ccm_code image_config_parse(const uint8_t *buf, size_t len, struct image_config *c,
                            struct ccm_error *err);
void image_config_free(struct image_config *c);

struct image_tar_file {
	const char *path; /* relative, "opt/ccm/x"; directories end with '/' */
	unsigned mode;
	const uint8_t *data; /* NULL for a directory */
	size_t len;
};

struct image_layer_out {
	char digest[CCM_OCI_DIGEST_LEN + 1];  /* of the gzip blob */
	char diff_id[CCM_OCI_DIGEST_LEN + 1]; /* of the tar */
	uint64_t size, tar_size;
};

/* Write the deterministic layer (sorted entries required) as tar+gzip. */
ccm_code image_tar_layer(const struct image_tar_file *files, size_t n, const char *path,
                         struct image_layer_out *out, struct ccm_error *err);

/* The same in two goes: begin tars and deflates the leading entries (at
 * most 8; their data must stay valid until finish) in a thread; finish
 * adds the rest (sorted after them) and writes the layer to path. Free in
 * any case. */
struct image_tar_job;
ccm_code image_tar_begin(const struct image_tar_file *head, size_t n, struct image_tar_job **out,
                         struct ccm_error *err);
ccm_code image_tar_finish(struct image_tar_job *j, const struct image_tar_file *tail, size_t n,
                          const char *path, struct image_layer_out *out, struct ccm_error *err);
void image_tar_free(struct image_tar_job *j);

/* The pull pipeline (pipe.c): fetch every layer of m into work (paths in
 * layer_path), push each to dst when dst is not NULL, scan them while
 * they land and apply them to fs in order. */
struct image_pipe {
	const struct ccm_oci_manifest *m;
	struct ccm_oci_repo *src, *dst;
	const char *work;
	char (*layer_path)[1200];
	struct ccm_image_fs *fs;
	bool verbose;
	void (*progress)(void *ctx, const char *phase, uint64_t done, uint64_t total);
	void *progress_ctx;
};

struct image_pipeline;
/* Returns once every layer is verified and applied; the pushes may still
 * run: image_pipe_join waits for them (and reports their failure), then
 * image_pipe_free. On failure everything is stopped and freed. */
ccm_code image_pipe_run(const struct image_pipe *in, struct image_pipeline **out,
                        struct ccm_error *err);
ccm_code image_pipe_join(struct image_pipeline *p, struct ccm_error *err);
void image_pipe_free(struct image_pipeline *p);

#endif
