/*
 * DESIGN: the one public header every ccm program and library user starts
 * from. It holds what all subsystems share: the single error enum (curl's
 * CURLcode idea: one code space for the whole library, so a caller never has
 * to translate between subsystems) and the error record that carries a
 * human-readable message naming what was wrong. Subsystem headers
 * (ccm/sgx.h, ccm/quote.h, ...) include this one.
 */
#ifndef CCM_CCM_H
#define CCM_CCM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CCM_VERSION "0.1.0"

typedef enum {
	CCM_OK = 0,
	CCM_E_NOMEM,       /* allocation failed */
	CCM_E_IO,          /* file or socket I/O failed */
	CCM_E_USAGE,       /* bad command-line usage */
	CCM_E_INPUT,       /* malformed or unusable input data */
	CCM_E_RANGE,       /* a number or size outside its allowed range */
	CCM_E_LIMIT,       /* an input exceeds a hard cap */
	CCM_E_UNSUPPORTED, /* well-formed but not supported */
	CCM_E_CRYPTO,      /* a cryptographic library operation failed */
	CCM_E_VERIFY,      /* a verification or policy check failed */
	CCM_E_NOTFOUND,    /* a named object does not exist */
	CCM_E_CONFLICT,    /* the object exists or the state forbids it */
	CCM_E_AUTH,        /* authentication or authorisation refused */
	CCM_E_INTERNAL,    /* a bug: an invariant did not hold */
	CCM_E__LAST
} ccm_code;

/* Large enough for a message naming a field, an offset and two values. */
#define CCM_ERRMSG_MAX 512

struct ccm_error {
	ccm_code code;
	char msg[CCM_ERRMSG_MAX];
};

/* Short stable name of a code ("input", "verify", ...). */
const char *ccm_code_name(ccm_code code);

/*
 * Record an error and return its code, so that failure paths read
 * `return ccm_fail(err, CCM_E_INPUT, "sgxs: ...", ...);`. err may be NULL.
 * The first error recorded wins only if the caller does not overwrite it;
 * ccm_fail always overwrites (the innermost, most specific message is set
 * first and callers prefix with ccm_error_prefix).
 */
ccm_code ccm_fail(struct ccm_error *err, ccm_code code, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

/* Prepend "prefix: " to an existing message (keeps the code). */
void ccm_error_prefix(struct ccm_error *err, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));

void ccm_error_clear(struct ccm_error *err);

/* Exit status for a code, as DESIGN.md fixes it: 0 ok, 1 verify, 2 other. */
int ccm_code_exit(ccm_code code);

#ifdef __cplusplus
}
#endif
#endif
