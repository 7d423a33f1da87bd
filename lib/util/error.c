/*
 * DESIGN: errors are values plus one formatted sentence. Messages are built
 * innermost first ("record 3 at offset 192: ...") and prefixed on the way
 * out, so the final line names both the place and the cause without any
 * layer needing to know the others' formats.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "ccm/ccm.h"

static const char *const code_names[CCM_E__LAST] = {
        [CCM_OK] = "ok",
        [CCM_E_NOMEM] = "nomem",
        [CCM_E_IO] = "io",
        [CCM_E_USAGE] = "usage",
        [CCM_E_INPUT] = "input",
        [CCM_E_RANGE] = "range",
        [CCM_E_LIMIT] = "limit",
        [CCM_E_UNSUPPORTED] = "unsupported",
        [CCM_E_CRYPTO] = "crypto",
        [CCM_E_VERIFY] = "verify",
        [CCM_E_NOTFOUND] = "notfound",
        [CCM_E_CONFLICT] = "conflict",
        [CCM_E_AUTH] = "auth",
        [CCM_E_INTERNAL] = "internal",
};

const char *ccm_code_name(ccm_code code)
{
	if (code < 0 || code >= CCM_E__LAST)
		return "unknown";
	return code_names[code];
}

ccm_code ccm_fail(struct ccm_error *err, ccm_code code, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL)
		return code;
	err->code = code;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return code;
}

void ccm_error_prefix(struct ccm_error *err, const char *fmt, ...)
{
	char old[CCM_ERRMSG_MAX];
	size_t n, rest;
	va_list ap;
	int w;

	if (err == NULL)
		return;
	memcpy(old, err->msg, sizeof(old));
	old[sizeof(old) - 1] = '\0';
	va_start(ap, fmt);
	w = vsnprintf(err->msg, sizeof(err->msg) - 2, fmt, ap);
	va_end(ap);
	n = w < 0 ? 0 : strlen(err->msg);
	memcpy(err->msg + n, ": ", 3);
	n += 2;
	rest = sizeof(err->msg) - n - 1;
	strncpy(err->msg + n, old, rest); /* lint-allow: bounded, terminated below */
	err->msg[sizeof(err->msg) - 1] = '\0';
}

void ccm_error_clear(struct ccm_error *err)
{
	if (err == NULL)
		return;
	err->code = CCM_OK;
	err->msg[0] = '\0';
}

int ccm_code_exit(ccm_code code)
{
	switch (code) {
	case CCM_OK:
		return 0;
	case CCM_E_VERIFY:
	case CCM_E_AUTH:
		return 1;
	default:
		return 2;
	}
}
