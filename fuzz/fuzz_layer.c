/*
 * DESIGN: the layer walker on arbitrary bytes (tar, tar.gz or tar.zst as
 * libarchive detects them): two layers of the same input on top of each
 * other, so that whiteouts, opaque directories and replacement across
 * layers are exercised, then a walk of the final view.
 */
#include <stdint.h>
#include <stdlib.h>

#include "ccm/image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static ccm_code fuzz_visit(void *ctx, const char *path, const uint8_t sha[32], uint64_t size,
                           bool is_protected, struct ccm_error *err)
{
	(void)ctx;
	(void)path;
	(void)sha;
	(void)size;
	(void)is_protected;
	(void)err;
	return CCM_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const rw[] = {"/tmp"};
	struct ccm_image_fs *fs = NULL;
	struct ccm_error err;

	if (ccm_image_fs_new(&fs, rw, 1, &err) != CCM_OK)
		return 0;
	if (ccm_image_fs_add_layer_mem(fs, data, size, 0, &err) == CCM_OK)
		(void)ccm_image_fs_add_layer_mem(fs, data, size, 1, &err);
	(void)ccm_image_fs_walk(fs, fuzz_visit, NULL, &err);
	(void)ccm_image_fs_exists(fs, "/etc/passwd");
	ccm_image_fs_free(fs);
	return 0;
}
