/*
 * DESIGN: the results of an issue batch (POST /v1/node/issue/batch) as
 * frames instead of one JSON document, for the node agent, which only
 * passes each body on to the runtime that asked. With JSON the agent
 * parsed the whole answer (some 3 KiB of PEM per item) and serialized
 * every body again: the largest part of its work per request. A frame
 * carries what the agent itself needs in a fixed text header, so the
 * body is handed on as the bytes ccmd wrote. Asked for with
 * "Accept: application/vnd.ccm.frames"; ccmd answers JSON otherwise.
 *
 *   frame  = status SP length SP app_id SP build_id LF body LF
 *
 * status is three digits (100-599), length the body's bytes (decimal),
 * app_id and build_id the granted certificate's app and build (0 when
 * nothing was granted), body the JSON the single route would answer.
 */
#ifndef CCM_APIFRAME_H
#define CCM_APIFRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define APIFRAME_CT "application/vnd.ccm.frames"
/* The longest header: "599 " + 19 digits + 2 x (" " + 19 digits) + LF. */
#define APIFRAME_HEADER_MAX 64

struct apiframe {
	int status;
	size_t len;
	int64_t app_id, build_id;
	const char *body; /* points into the buffer read (apiframe_next) */
};

/* The header of f into out (at least APIFRAME_HEADER_MAX bytes); its length. */
size_t apiframe_header(const struct apiframe *f, char *out);
/* The frame at buf[*off..n) into f, *off moved past it. False with *msg
 * naming what is wrong: a malformed header, a body over max_body bytes,
 * or a frame cut short. */
bool apiframe_next(const char *buf, size_t n, size_t *off, size_t max_body, struct apiframe *f,
                   const char **msg);

#endif
