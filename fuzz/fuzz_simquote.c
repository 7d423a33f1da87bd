/*
 * DESIGN: simulated quotes arrive from nodes over the network; the parser
 * must refuse every malformed one before any signature work.
 */
#include "ccm/attest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ccm_simquote q;
	struct ccm_error err;

	(void)ccm_simquote_parse(data, size, &q, &err);
	return 0;
}
