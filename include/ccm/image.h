/*
 * DESIGN: image conversion, split along what the enclave runtime must
 * recompute. The "core" half (enclave layout + measurement, the image
 * manifest's canonical form, file verification) needs only libcrypto and
 * jansson, so the statically linked ccm-enclave links it and recomputes
 * byte for byte what the converter measured; docs/internals/image.md is the
 * contract. The converter half (layer walker over libarchive, the
 * deterministic output layer, the pull/convert/push pipeline over lib/oci)
 * lives in a separate library that the runtime never links.
 */
#ifndef CCM_IMAGE_H
#define CCM_IMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <openssl/types.h>

#include "ccm/ccm.h"
#include "ccm/oci.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CCM_IMAGE_FORMAT "ccm-image-manifest/2"
#define CCM_IMAGE_MAX_MANIFEST (16u << 20) /* manifest.json bytes */
#define CCM_IMAGE_MAX_RUNTIME (64u << 20)  /* runtime ELF bytes */
#define CCM_IMAGE_MAX_FILES 200000u        /* protected files */
#define CCM_IMAGE_MAX_LINKS 200000u        /* protected symlinks */
#define CCM_IMAGE_MAX_TREE 2000000u        /* entries the runtime walks */
#define CCM_IMAGE_MAX_TREE_DEPTH 128u      /* directory levels it walks */
#define CCM_IMAGE_MIN_MEM ((uint64_t)1 << 20)
#define CCM_IMAGE_MAX_MEM ((uint64_t)64 << 30)
#define CCM_IMAGE_MAX_THREADS 512u
#define CCM_IMAGE_STACK_PAGES 64u /* 256 KiB per thread */
#define CCM_IMAGE_SSA_FRAMES 2u
#define CCM_IMAGE_DEFAULT_MEM ((uint64_t)256 << 20)
#define CCM_IMAGE_DEFAULT_THREADS 8u

/* Where the output layer puts things (paths inside the image). */
#define CCM_IMAGE_RUNTIME_PATH "/opt/ccm/ccm-enclave"
#define CCM_IMAGE_MANIFEST_PATH "/opt/ccm/manifest.json"
#define CCM_IMAGE_SIG_PATH "/opt/ccm/enclave.sig"

/* ---- enclave layout (core) ------------------------------------------- */

struct ccm_image_layout {
	uint64_t elf_base;       /* lowest PT_LOAD vaddr, page-aligned down */
	uint64_t elf_span;       /* bytes from elf_base to the end of the last segment */
	uint64_t elf_pages;      /* pages EADDed for the ELF */
	uint64_t entry;          /* e_entry - elf_base */
	uint64_t manifest_off;   /* enclave offset of the manifest region */
	uint64_t manifest_pages; /* 8-byte length + bytes, page-rounded */
	uint64_t heap_off, heap_pages;
	uint64_t threads_off; /* first thread block */
	uint64_t thread_pages;
	uint64_t end;  /* first byte after the last page */
	uint64_t size; /* ECREATE size: next power of two >= end */
};

/* Measure the enclave of the layout contract (docs/internals/image.md):
 * runtime ELF PT_LOAD pages, the manifest pages, the heap, one TCS + SSA +
 * stack per thread. info may be NULL. */
ccm_code ccm_image_layout_measure(const uint8_t *elf, size_t elf_len, const uint8_t *manifest,
                                  size_t manifest_len, uint64_t mem, uint32_t threads,
                                  uint8_t mrenclave[32], struct ccm_image_layout *info,
                                  struct ccm_error *err);

/* ---- image manifest (core) ------------------------------------------- */

struct ccm_image_manifest {
	json_t *root; /* owned */
	uint64_t mem;
	uint32_t threads;
	uint16_t isvprodid, isvsvn;
	json_t *entrypoint, *cmd, *env, *files, *links, *rw_dirs; /* borrowed from root */
	const char *workdir, *user;
};

/* Canonical bytes of a JSON value: sorted keys, compact, no trailing
 * newline. *out is malloc'ed. */
ccm_code ccm_image_canonical(const json_t *v, char **out, size_t *len, struct ccm_error *err);

/* Parse and validate a manifest; refuses anything not in canonical form
 * (so one manifest has exactly one byte string and one MRENCLAVE). */
ccm_code ccm_image_manifest_parse(const uint8_t *buf, size_t len, struct ccm_image_manifest *m,
                                  struct ccm_error *err);
void ccm_image_manifest_free(struct ccm_image_manifest *m);

/* True for the files container engines create or bind-mount in every
 * container (/etc/hosts, /.dockerenv, ...): the converter lists none of
 * them and the runtime's tree check skips them, by this one list. */
bool ccm_image_engine_file(const char *path);

/* Check every protected file under root ("/" in the container) against
 * the manifest; the error names the first file that differs. */
ccm_code ccm_image_verify_files(const struct ccm_image_manifest *m, const char *root,
                                uint64_t *checked, struct ccm_error *err);

/* Walk root without following symlinks and refuse any regular file,
 * symlink or special file the manifest does not list, and any listed
 * symlink whose target changed or that is gone; the error names the first
 * such path in byte order. Skipped: the rw_dirs, the three files of
 * /opt/ccm, ccm_image_engine_file() paths, the n_skip exact paths in skip
 * (the runtime's own outputs) and directories on another filesystem than
 * root (mount points). *seen counts the entries looked at. */
ccm_code ccm_image_verify_tree(const struct ccm_image_manifest *m, const char *root,
                               const char *const *skip, size_t n_skip, uint64_t *seen,
                               struct ccm_error *err);

/* ---- layer walker (converter) ---------------------------------------- */

struct ccm_image_fs; /* the merged file view of the layers so far */

/* rw_dirs: absolute, normalised paths not to hash (may be NULL). */
ccm_code ccm_image_fs_new(struct ccm_image_fs **out, const char *const *rw_dirs, size_t n_rw,
                          struct ccm_error *err);
void ccm_image_fs_free(struct ccm_image_fs *fs);
/* Apply one layer (tar, gzip or zstd, detected) on top of the view. */
ccm_code ccm_image_fs_add_layer_file(struct ccm_image_fs *fs, const char *path, unsigned layer,
                                     struct ccm_error *err);
ccm_code ccm_image_fs_add_layer_mem(struct ccm_image_fs *fs, const uint8_t *buf, size_t len,
                                    unsigned layer, struct ccm_error *err);

/* The same in two steps, for parallel scanning: scan a layer into a list
 * of checked entries with file hashes (thread-safe: fs is only read for
 * its read-write directories), then apply the lists in layer order. */
struct ccm_image_scan;
ccm_code ccm_image_scan_file(const struct ccm_image_fs *fs, const char *path,
                             struct ccm_image_scan **out, struct ccm_error *err);
ccm_code ccm_image_scan_mem(const struct ccm_image_fs *fs, const uint8_t *buf, size_t len,
                            struct ccm_image_scan **out, struct ccm_error *err);
ccm_code ccm_image_fs_apply(struct ccm_image_fs *fs, const struct ccm_image_scan *s, unsigned layer,
                            struct ccm_error *err);
void ccm_image_scan_free(struct ccm_image_scan *s);

/* Regular files of the final view in sorted path order ("/a/b"). */
typedef ccm_code (*ccm_image_fs_visit)(void *ctx, const char *path, const uint8_t sha256[32],
                                       uint64_t size, bool is_protected, struct ccm_error *err);
ccm_code ccm_image_fs_walk(const struct ccm_image_fs *fs, ccm_image_fs_visit visit, void *ctx,
                           struct ccm_error *err);
/* Symlinks of the final view in sorted path order, with their targets;
 * in_rw when the link is under a read-write directory. */
typedef ccm_code (*ccm_image_fs_link_visit)(void *ctx, const char *path, const char *target,
                                            bool in_rw, struct ccm_error *err);
ccm_code ccm_image_fs_walk_links(const struct ccm_image_fs *fs, ccm_image_fs_link_visit visit,
                                 void *ctx, struct ccm_error *err);
/* True when path ("/a/b") exists in the view. */
bool ccm_image_fs_exists(const struct ccm_image_fs *fs, const char *path);
/* Whether path is a directory of the view (not a symlink to one). */
bool ccm_image_fs_is_dir(const struct ccm_image_fs *fs, const char *path);

/* ---- converter ------------------------------------------------------- */

#define CCM_IMAGE_MAX_LIST 64u

struct ccm_image_convert_opts {
	const char *from, *to; /* references */
	struct ccm_oci_opts src, dst;
	EVP_PKEY *key; /* RSA-3072, e = 3 */
	uint16_t isvprodid, isvsvn;
	uint64_t mem;     /* heap bytes, 0: default */
	uint32_t threads; /* 0: default */
	uint32_t date;    /* SIGSTRUCT date; 0: from the input's "created" */
	bool debug;       /* SIGSTRUCT DEBUG attribute */
	const char *rw_dirs[CCM_IMAGE_MAX_LIST];
	size_t n_rw;
	json_t *entrypoint, *cmd;            /* overrides (arrays of strings) or NULL */
	const char *env[CCM_IMAGE_MAX_LIST]; /* K=V overrides/additions */
	size_t n_env;
	const char *workdir, *user; /* overrides or NULL */
	const char *app_id, *account_id;
	json_t *certificate; /* certificate config object or NULL */
	const char *runtime; /* path of the static ccm-enclave */
	const char *tmpdir;  /* where the work directory goes; NULL: $TMPDIR or /tmp */
	bool verbose;
	/* Optional progress report (for a build worker): phase is "pull",
	 * "convert" or "push"; done/total in bytes of blobs for pull and push. */
	void (*progress)(void *ctx, const char *phase, uint64_t done, uint64_t total);
	void *progress_ctx;
};

struct ccm_image_convert_result {
	uint8_t mrenclave[32], mrsigner[32];
	uint16_t isvprodid, isvsvn;
	char digest[CCM_OCI_DIGEST_LEN + 1];        /* output manifest */
	char config_digest[CCM_OCI_DIGEST_LEN + 1]; /* output config */
	char layer_digest[CCM_OCI_DIGEST_LEN + 1];  /* the added layer */
	uint64_t layer_size;                        /* compressed bytes */
	size_t layers;                              /* in the output */
	uint64_t files;                             /* protected files */
	uint64_t enclave_size;
	char media_type[128];
};

ccm_code ccm_image_convert(const struct ccm_image_convert_opts *o,
                           struct ccm_image_convert_result *res, struct ccm_error *err);

#ifdef __cplusplus
}
#endif
#endif
