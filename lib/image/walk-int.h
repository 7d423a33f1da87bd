/*
 * DESIGN: the two halves of the layer walker share this: scan.c reads one
 * layer (libarchive, hashing) into a list of checked entries without
 * looking at any other layer, so layers can be scanned in parallel;
 * walk.c applies the lists in layer order to the file view, where the
 * checks that depend on lower layers happen.
 */
#ifndef CCM_WALK_INT_H
#define CCM_WALK_INT_H

#include <sys/types.h>

#include "ccm/image.h"

#define MAX_PATH 4096u
#define MAX_DEPTH 128u
#define MAX_NAME 255u
#define MAX_ENTRIES_LAYER 1000000u
#define MAX_NODES 2000000u
#define MAX_FILE ((uint64_t)8 << 30)
#define MAX_LAYER_BYTES ((uint64_t)64 << 30)

struct walk_path {
	char *comp[MAX_DEPTH];
	size_t n;
	char text[MAX_PATH + 2]; /* "/a/b" */
	char store[MAX_PATH + 2];
};

enum { OP_REG, OP_DIR, OP_LNK, OP_HARD, OP_WHITEOUT };

struct walk_op {
	char *path; /* normalised "/a/b" */
	char *link; /* symlink target or hardlink target (raw) */
	uint64_t size;
	uint8_t hash[32];
	uint8_t kind;
	bool hashed;
};

struct ccm_image_scan {
	struct walk_op *ops;
	size_t n, cap;
};

/* The bytes of one layer for libarchive (source.c): a file (maybe still
 * landing: feed->wait, see ccm/oci.h) or a memory buffer; gzip is inflated
 * by ISA-L. */
struct image_src;
struct archive;
ccm_code image_src_open(struct image_src **out, const char *path, const uint8_t *mem, size_t len,
                        const struct ccm_oci_feed *feed, struct ccm_error *err);
void image_src_free(struct image_src *s);
/* libarchive's read callback (client data: the image_src). */
ssize_t image_src_read(struct archive *a, void *ud, const void **buf);

/* Scan a layer file that may still be landing (feed may be NULL). */
ccm_code image_scan_feed(const struct ccm_image_fs *fs, const char *path,
                         const struct ccm_oci_feed *feed, struct ccm_image_scan **out,
                         struct ccm_error *err);

/* Split and check a tar path ("." dropped, leading "/" neutralised, ".."
 * refused). */
ccm_code walk_split(const char *raw, struct walk_path *p, struct ccm_error *err);
/* A relative symlink must not climb above the root from where it sits. */
ccm_code walk_check_symlink(const struct walk_path *p, const char *target, struct ccm_error *err);
/* Under one of the fs's read-write directories (read-only use: safe from
 * scanner threads). */
bool walk_is_rw(const struct ccm_image_fs *fs, const char *path);

#endif
