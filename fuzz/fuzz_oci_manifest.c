/*
 * DESIGN: every JSON parser that reads registry or image input, fed the
 * same bytes: the OCI/Docker manifest and index parser (with and without
 * a content type, then the platform pick), the image config reader, and
 * the image manifest parser (whose canonical-form check must agree with
 * its own serialiser: whatever it accepts re-serialises to the same bytes).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ccm/image.h"
#include "ccm/oci.h"
#include "image/image-int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ccm_oci_manifest m;
	struct ccm_oci_desc d;
	struct image_config c;
	struct ccm_image_manifest im;
	struct ccm_error err;

	if (ccm_oci_manifest_parse(data, size, NULL, &m, &err) == CCM_OK) {
		if (m.kind == CCM_OCI_INDEX)
			(void)ccm_oci_index_pick(&m, "linux", "amd64", &d, &err);
		ccm_oci_manifest_free(&m);
	}
	if (ccm_oci_manifest_parse(data, size, CCM_OCI_MT_DOCKER_MANIFEST, &m, &err) == CCM_OK)
		ccm_oci_manifest_free(&m);
	if (image_config_parse(data, size, &c, &err) == CCM_OK)
		image_config_free(&c);
	if (ccm_image_manifest_parse(data, size, &im, &err) == CCM_OK) {
		char *s = NULL;
		size_t len = 0;
		if (ccm_image_canonical(im.root, &s, &len, &err) != CCM_OK || len != size ||
		    memcmp(s, data, size) != 0)
			abort();
		free(s);
		ccm_image_manifest_free(&im);
	}
	return 0;
}
