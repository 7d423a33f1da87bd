/*
 * DESIGN: a node agent reads framed batch answers (api/apiframe.h) and
 * points into them; every frame the reader accepts must lie inside the
 * input, within the body cap, and write back to the same header.
 */
#include <stdlib.h>
#include <string.h>

#include "api/apiframe.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data, *msg = NULL;
	char hdr[APIFRAME_HEADER_MAX];
	struct apiframe f;
	size_t off = 0, prev;

	for (int i = 0; i < 64 && off < size; i++) {
		prev = off;
		if (!apiframe_next(buf, size, &off, 4096, &f, &msg)) {
			if (off != prev || msg == NULL)
				abort(); /* a refusal moves nothing and says why */
			break;
		}
		if (f.body < buf + prev || f.body + f.len + 1 != buf + off || f.len > 4096 ||
		    f.status < 100 || f.status > 599 || f.app_id < 0 || f.build_id < 0)
			abort();
		/* the header read is the header the writer makes, less leading zeros */
		if (apiframe_header(&f, hdr) > (size_t)(f.body - (buf + prev)))
			abort();
	}
	return 0;
}
