/*
 * DESIGN: see apiframe.h. The reader trusts nothing it is given: every
 * number is bounded digits only (no sign, no spaces but the single
 * separators), the body length is checked against the caller's cap and
 * against what is left before anything points into the buffer.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "apiframe.h"

size_t apiframe_header(const struct apiframe *f, char *out)
{
	int k = snprintf(out, APIFRAME_HEADER_MAX, "%d %zu %" PRId64 " %" PRId64 "\n", f->status,
	                 f->len, f->app_id, f->build_id);

	return k > 0 && k < APIFRAME_HEADER_MAX ? (size_t)k : 0;
}

/* Digits at buf[*i..n) up to the terminator term: at most maxd of them,
 * at least one, value at most max. */
static bool apiframe_num(const char *buf, size_t n, size_t *i, char term, size_t maxd, uint64_t max,
                         uint64_t *out)
{
	uint64_t v = 0;
	size_t d = 0;

	for (; *i < n && buf[*i] >= '0' && buf[*i] <= '9'; (*i)++, d++) {
		if (d == maxd)
			return false;
		v = v * 10 + (uint64_t)(buf[*i] - '0');
	}
	if (d == 0 || *i == n || buf[*i] != term || v > max)
		return false;
	(*i)++;
	*out = v;
	return true;
}

bool apiframe_next(const char *buf, size_t n, size_t *off, size_t max_body, struct apiframe *f,
                   const char **msg)
{
	uint64_t st, len, app, build;
	size_t i = *off;

	if (!apiframe_num(buf, n, &i, ' ', 3, 599, &st) || st < 100 ||
	    !apiframe_num(buf, n, &i, ' ', 10, UINT32_MAX, &len) ||
	    !apiframe_num(buf, n, &i, ' ', 19, INT64_MAX, &app) ||
	    !apiframe_num(buf, n, &i, '\n', 19, INT64_MAX, &build)) {
		*msg = "frame header: expected \"status length app_id build_id\\n\"";
		return false;
	}
	if (len > max_body) {
		*msg = "frame body: larger than allowed";
		return false;
	}
	if (n - i < len + 1 || buf[i + len] != '\n') {
		*msg = "frame body: cut short or not followed by a newline";
		return false;
	}
	f->status = (int)st;
	f->len = (size_t)len;
	f->app_id = (int64_t)app;
	f->build_id = (int64_t)build;
	f->body = buf + i;
	*off = i + len + 1;
	return true;
}
