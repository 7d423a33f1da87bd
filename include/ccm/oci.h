/*
 * DESIGN: container images as ccm reads and writes them. Three layers, each
 * usable alone:
 *  - references (`docker://host:port/repo:tag@digest`, Docker Hub short
 *    names, `oci:DIR[:tag]`), parsed strictly into fixed-size fields;
 *  - manifest, index and descriptor parsing (OCI and Docker schema 2), pure
 *    functions over bytes with every size and media type checked, so that
 *    the fuzzers and the converter share them;
 *  - one "repository" handle over two backends, a registry spoken to with
 *    the OCI distribution API (libcurl, Basic and Bearer token auth) and an
 *    OCI image layout directory, with the same operations: get a manifest,
 *    fetch a blob to a file with its digest checked, test for a blob, push
 *    a blob (mounting across repositories on the same registry), put a
 *    manifest. The converter never knows which backend it talks to.
 */
#ifndef CCM_OCI_H
#define CCM_OCI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ccm/ccm.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- limits (every input is capped) ---------------------------------- */
#define CCM_OCI_MAX_MANIFEST (4u << 20)       /* manifest or index bytes */
#define CCM_OCI_MAX_CONFIG (4u << 20)         /* image config bytes */
#define CCM_OCI_MAX_LAYERS 256u               /* layers in one manifest */
#define CCM_OCI_MAX_INDEX 1024u               /* entries in one index */
#define CCM_OCI_MAX_BLOB ((uint64_t)16 << 30) /* one layer blob */
#define CCM_OCI_MAX_INDEX_DEPTH 2u            /* nested indexes followed */
#define CCM_OCI_CHUNK ((uint64_t)32 << 20)    /* PATCH chunk for big uploads */

/* ---- media types ----------------------------------------------------- */
#define CCM_OCI_MT_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define CCM_OCI_MT_INDEX "application/vnd.oci.image.index.v1+json"
#define CCM_OCI_MT_CONFIG "application/vnd.oci.image.config.v1+json"
#define CCM_OCI_MT_LAYER_TAR "application/vnd.oci.image.layer.v1.tar"
#define CCM_OCI_MT_LAYER_GZIP "application/vnd.oci.image.layer.v1.tar+gzip"
#define CCM_OCI_MT_LAYER_ZSTD "application/vnd.oci.image.layer.v1.tar+zstd"
#define CCM_OCI_MT_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define CCM_OCI_MT_DOCKER_LIST "application/vnd.docker.distribution.manifest.list.v2+json"
#define CCM_OCI_MT_DOCKER_CONFIG "application/vnd.docker.container.image.v1+json"
#define CCM_OCI_MT_DOCKER_LAYER "application/vnd.docker.image.rootfs.diff.tar.gzip"

/* ---- references ------------------------------------------------------ */

#define CCM_OCI_DIGEST_LEN 71 /* "sha256:" + 64 hex */

enum ccm_oci_ref_kind { CCM_OCI_REF_REGISTRY, CCM_OCI_REF_LAYOUT };

struct ccm_oci_ref {
	enum ccm_oci_ref_kind kind;
	char registry[256];   /* host[:port]; Docker Hub is registry-1.docker.io */
	char repository[256]; /* path, e.g. library/busybox */
	char tag[129];        /* may be empty when a digest is given */
	char digest[CCM_OCI_DIGEST_LEN + 1];
	char path[1024]; /* layout directory (CCM_OCI_REF_LAYOUT) */
};

/* Parse `docker://REF`, a plain `host:port/repo:tag[@digest]`, a Docker Hub
 * short name (`busybox` = registry-1.docker.io/library/busybox:latest), or
 * `oci:DIR[:tag]`. */
ccm_code ccm_oci_ref_parse(const char *s, struct ccm_oci_ref *out, struct ccm_error *err);

/* Canonical text of a reference (for messages and JSON). */
void ccm_oci_ref_format(const struct ccm_oci_ref *r, char *out, size_t n);

/* The tag or digest to ask a backend for (digest wins). */
const char *ccm_oci_ref_target(const struct ccm_oci_ref *r);

/* True for "sha256:" followed by 64 lowercase hex digits. */
bool ccm_oci_digest_valid(const char *d);

/* ---- descriptors, manifests, indexes --------------------------------- */

struct ccm_oci_desc {
	char media_type[128];
	char digest[CCM_OCI_DIGEST_LEN + 1];
	uint64_t size;
	char os[32], arch[32], variant[32]; /* index entries only */
};

enum ccm_oci_kind { CCM_OCI_IMAGE, CCM_OCI_INDEX };

struct ccm_oci_manifest {
	enum ccm_oci_kind kind;
	char media_type[128];
	struct ccm_oci_desc config;  /* IMAGE */
	struct ccm_oci_desc *layers; /* IMAGE */
	size_t n_layers;
	struct ccm_oci_desc *manifests; /* INDEX */
	size_t n_manifests;
};

/* Parse a manifest or index. content_type (the HTTP header or the
 * referring descriptor's media type) may be NULL or empty; when given it
 * must agree with the body. Media types of the config and layers are
 * checked against the manifest's family. */
ccm_code ccm_oci_manifest_parse(const uint8_t *buf, size_t len, const char *content_type,
                                struct ccm_oci_manifest *out, struct ccm_error *err);
void ccm_oci_manifest_free(struct ccm_oci_manifest *m);

/* Pick os/arch (variant ignored for amd64) from an index; CCM_E_NOTFOUND
 * naming the platforms present when there is none. */
ccm_code ccm_oci_index_pick(const struct ccm_oci_manifest *idx, const char *os, const char *arch,
                            struct ccm_oci_desc *out, struct ccm_error *err);

/* "sha256:<hex>" of a buffer. */
ccm_code ccm_oci_digest_of(const uint8_t *buf, size_t len, char out[CCM_OCI_DIGEST_LEN + 1],
                           struct ccm_error *err);

/* True when a layer media type is one ccm can read; *zstd set for zstd. */
bool ccm_oci_layer_type_ok(const char *media_type);

/* ---- repositories ---------------------------------------------------- */

struct ccm_oci_opts {
	const char *insecure[8]; /* HOST:PORT spoken to over plain HTTP */
	size_t n_insecure;
	const char *username; /* Basic credentials, or for the token realm */
	const char *password;
	const char *token;  /* a registry bearer token sent as is (no username/password) */
	const char *cafile; /* extra CA bundle, NULL: system store */
	bool verbose;       /* progress lines on stderr */
	uint64_t chunk;     /* blobs above this go up in PATCH chunks; 0: CCM_OCI_CHUNK */
};

struct ccm_oci_repo; /* opaque */

/* Open the repository a reference names. For a registry this pings /v2/
 * and learns the auth scheme; for a layout directory, with create, makes
 * the directory when missing. */
ccm_code ccm_oci_repo_open(const struct ccm_oci_ref *ref, const struct ccm_oci_opts *opts,
                           bool create, struct ccm_oci_repo **out, struct ccm_error *err);
void ccm_oci_repo_free(struct ccm_oci_repo *r);

/* Fetch a manifest by tag or digest (<= CCM_OCI_MAX_MANIFEST). *buf is
 * malloc'ed; media_type gets the content type, digest the SHA-256 of the
 * bytes (checked when reference is a digest). */
ccm_code ccm_oci_repo_get_manifest(struct ccm_oci_repo *r, const char *reference, uint8_t **buf,
                                   size_t *len, char media_type[128],
                                   char digest[CCM_OCI_DIGEST_LEN + 1], struct ccm_error *err);

/* Resolve a reference to one image manifest: follow an index to
 * linux/amd64, parse, and return both the parsed form and the raw bytes. */
ccm_code ccm_oci_repo_resolve(struct ccm_oci_repo *r, const char *reference,
                              struct ccm_oci_manifest *m, uint8_t **raw, size_t *raw_len,
                              struct ccm_error *err);

/* Read a small blob into memory (size and digest checked against d). */
ccm_code ccm_oci_repo_get_blob_mem(struct ccm_oci_repo *r, const struct ccm_oci_desc *d, size_t max,
                                   uint8_t **buf, struct ccm_error *err);

/* Make a blob available as a local file whose digest has been checked.
 * A registry downloads (streamed) into workdir; a layout directory checks
 * its own file and returns its path. path needs 4096 bytes. */
ccm_code ccm_oci_repo_get_blob_file(struct ccm_oci_repo *r, const struct ccm_oci_desc *d,
                                    const char *workdir, char *path, size_t path_n,
                                    struct ccm_error *err);

ccm_code ccm_oci_repo_has_blob(struct ccm_oci_repo *r, const struct ccm_oci_desc *d, bool *has,
                               struct ccm_error *err);

/* A blob file read while it is still being written (the converter scans
 * and pushes a layer while it downloads). A download reports through grow
 * (first with 0 once the path is set), which returns false to abandon it;
 * a reader calls wait, which blocks until more than `have` bytes may be
 * read or no more will come, and returns the bytes that may be read, or
 * -1 to give up. */
struct ccm_oci_feed {
	bool (*grow)(void *ctx, uint64_t bytes);
	int64_t (*wait)(void *ctx, uint64_t have);
	void *ctx;
};

/* ccm_oci_repo_get_blob_file telling feed->grow as the file fills; the
 * content is checked only when this returns. */
ccm_code ccm_oci_repo_get_blob_file_feed(struct ccm_oci_repo *r, const struct ccm_oci_desc *d,
                                         const char *workdir, char *path, size_t path_n,
                                         const struct ccm_oci_feed *feed, struct ccm_error *err);

/* Push a blob from a local file unless the target has it; from may name the
 * source repository for a cross-repository mount (same registry only).
 * *how gets "exists", "mounted" or "uploaded". */
ccm_code ccm_oci_repo_push_blob(struct ccm_oci_repo *r, const struct ccm_oci_desc *d,
                                const char *path, const struct ccm_oci_repo *from, const char **how,
                                struct ccm_error *err);

/* Push a blob from memory (config, manifest). */
/* ccm_oci_repo_push_blob from a file still being written (feed->wait);
 * a registry target only. */
ccm_code ccm_oci_repo_push_blob_feed(struct ccm_oci_repo *r, const struct ccm_oci_desc *d,
                                     const char *path, const struct ccm_oci_repo *from,
                                     const struct ccm_oci_feed *feed, const char **how,
                                     struct ccm_error *err);

ccm_code ccm_oci_repo_push_blob_mem(struct ccm_oci_repo *r, const struct ccm_oci_desc *d,
                                    const uint8_t *buf, struct ccm_error *err);

ccm_code ccm_oci_repo_put_manifest(struct ccm_oci_repo *r, const char *tag, const uint8_t *buf,
                                   size_t len, const char *media_type, struct ccm_error *err);

#ifdef __cplusplus
}
#endif
#endif
