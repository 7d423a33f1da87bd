/*
 * DESIGN: every JSON request body passes two gates before a handler sees
 * it. First the raw bytes: a depth scan (jansson's own limit is 2048, far
 * too deep) and jansson's parser with duplicate keys refused; then the
 * tree: string, key and array lengths capped. Second the shape: a route
 * declares its body as a table of fields (name, type, required, bounds),
 * and apijson_check refuses unknown, missing, mistyped and out-of-range
 * fields, naming the field. The same tables generate the request schemas
 * of the OpenAPI document, so documentation and validation cannot drift.
 */
#ifndef CCM_APIJSON_H
#define CCM_APIJSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

struct apijson_limits {
	size_t max_depth;  /* nesting of objects/arrays (1 = flat object) */
	size_t max_string; /* bytes in any string or key */
	size_t max_items;  /* members of any object or array */
	size_t max_nodes;  /* values in the whole document */
};

/* Defaults: depth 8, strings 4096, items 256, nodes 4096. */
void apijson_limits_default(struct apijson_limits *l);

enum apijson_type {
	APIJSON_STRING,
	APIJSON_INT,
	APIJSON_BOOL,
	APIJSON_STRINGS, /* array of strings */
	APIJSON_OBJECT,  /* a JSON object, checked by the handler (min/max: members) */
	APIJSON_ARRAY,   /* a JSON array of any values, checked by the handler (min/max: items) */
};

struct apijson_field {
	const char *name;
	enum apijson_type type;
	bool required;
	int64_t min, max; /* string: byte length; int: value; strings: count */
	const char *desc;
};

enum apijson_status {
	APIJSON_OK = 0,
	APIJSON_MALFORMED,   /* not JSON */
	APIJSON_TOO_DEEP,    /* nesting over max_depth */
	APIJSON_TOO_LONG,    /* a string, key or array over its cap */
	APIJSON_NOT_OBJECT,  /* the body is not a JSON object */
	APIJSON_UNKNOWN,     /* a field the route does not take */
	APIJSON_MISSING,     /* a required field is absent */
	APIJSON_WRONG_TYPE,  /* a field of the wrong JSON type */
	APIJSON_OUT_OF_RANGE /* a number or length outside its bounds */
};

struct apijson_result {
	enum apijson_status status;
	char msg[256];
};

/* Stable API error code for a status: "invalid_json", "too_deep", ... */
const char *apijson_status_code(enum apijson_status st);

/* Parse buf (len bytes, need not be NUL-terminated) within the limits.
 * On success *out holds a new reference. */
bool apijson_parse(const char *buf, size_t len, const struct apijson_limits *lim, json_t **out,
                   struct apijson_result *r);

/* Check an object against a NULL-name-terminated field table. */
bool apijson_check(json_t *obj, const struct apijson_field *fields, struct apijson_result *r);
/* Raise l's string cap to the longest string the fields declare (a CSR
 * field of 16 KiB over the 4 KiB default), so the first gate does not
 * refuse what the field table allows. */
void apijson_limits_fit(struct apijson_limits *l, const struct apijson_field *fields);

/* OpenAPI 3 schema object for a field table (new reference). */
json_t *apijson_schema(const struct apijson_field *fields);

#endif
