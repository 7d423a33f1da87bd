/*
 * DESIGN: see apijson.h. The depth scan runs over raw bytes with a tiny
 * string-aware state machine, so a document of a million '[' is refused
 * in one pass without the parser recursing into it.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "apijson.h"

void apijson_limits_default(struct apijson_limits *l)
{
	l->max_depth = 8;
	l->max_string = 4096;
	l->max_items = 256;
	l->max_nodes = 4096;
}

void apijson_limits_fit(struct apijson_limits *l, const struct apijson_field *fields)
{
	for (const struct apijson_field *f = fields; f && f->name; f++)
		if (f->type == APIJSON_STRING && (size_t)f->max > l->max_string)
			l->max_string = (size_t)f->max;
}

const char *apijson_status_code(enum apijson_status st)
{
	static const char *const names[] = {
	        [APIJSON_OK] = "ok",
	        [APIJSON_MALFORMED] = "invalid_json",
	        [APIJSON_TOO_DEEP] = "too_deep",
	        [APIJSON_TOO_LONG] = "too_long",
	        [APIJSON_NOT_OBJECT] = "not_an_object",
	        [APIJSON_UNKNOWN] = "unknown_field",
	        [APIJSON_MISSING] = "missing_field",
	        [APIJSON_WRONG_TYPE] = "wrong_type",
	        [APIJSON_OUT_OF_RANGE] = "out_of_range",
	};
	if ((size_t)st >= sizeof(names) / sizeof(names[0]))
		return "invalid_request";
	return names[st];
}

static bool apijson_fail(struct apijson_result *r, enum apijson_status st, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

static bool apijson_fail(struct apijson_result *r, enum apijson_status st, const char *fmt, ...)
{
	va_list ap;

	r->status = st;
	va_start(ap, fmt);
	vsnprintf(r->msg, sizeof(r->msg), fmt, ap);
	va_end(ap);
	return false;
}

static bool apijson_depth(const char *buf, size_t len, size_t max, struct apijson_result *r)
{
	size_t depth = 0;
	bool instr = false, esc = false;

	for (size_t i = 0; i < len; i++) {
		char c = buf[i];
		if (instr) {
			if (esc)
				esc = false;
			else if (c == '\\')
				esc = true;
			else if (c == '"')
				instr = false;
			continue;
		}
		if (c == '"') {
			instr = true;
		} else if (c == '{' || c == '[') {
			if (++depth > max)
				return apijson_fail(r, APIJSON_TOO_DEEP,
				                    "JSON nested deeper than %zu levels", max);
		} else if ((c == '}' || c == ']') && depth > 0) {
			depth--;
		}
	}
	return true;
}

struct apijson_walk {
	const struct apijson_limits *lim;
	size_t nodes;
	struct apijson_result *r;
};

static bool apijson_tree(json_t *v, struct apijson_walk *w)
{
	const char *key;
	json_t *item;
	size_t i;

	if (++w->nodes > w->lim->max_nodes)
		return apijson_fail(w->r, APIJSON_TOO_LONG,
		                    "JSON document has more than %zu values", w->lim->max_nodes);
	if (json_is_string(v) && json_string_length(v) > w->lim->max_string)
		return apijson_fail(w->r, APIJSON_TOO_LONG,
		                    "a JSON string is longer than %zu bytes", w->lim->max_string);
	if (json_is_object(v)) {
		if (json_object_size(v) > w->lim->max_items)
			return apijson_fail(w->r, APIJSON_TOO_LONG,
			                    "a JSON object has more than %zu members",
			                    w->lim->max_items);
		json_object_foreach(v, key, item)
		{
			if (strlen(key) > w->lim->max_string)
				return apijson_fail(w->r, APIJSON_TOO_LONG,
				                    "a JSON key is longer than %zu bytes",
				                    w->lim->max_string);
			if (!apijson_tree(item, w))
				return false;
		}
	} else if (json_is_array(v)) {
		if (json_array_size(v) > w->lim->max_items)
			return apijson_fail(w->r, APIJSON_TOO_LONG,
			                    "a JSON array has more than %zu items",
			                    w->lim->max_items);
		json_array_foreach(v, i, item)
		{
			if (!apijson_tree(item, w))
				return false;
		}
	}
	return true;
}

bool apijson_parse(const char *buf, size_t len, const struct apijson_limits *lim, json_t **out,
                   struct apijson_result *r)
{
	struct apijson_walk w = {lim, 0, r};
	json_error_t jerr;
	json_t *v;

	*out = NULL;
	r->status = APIJSON_OK;
	r->msg[0] = '\0';
	if (!apijson_depth(buf, len, lim->max_depth, r))
		return false;
	v = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
	if (v == NULL)
		return apijson_fail(r, APIJSON_MALFORMED, "malformed JSON at line %d column %d: %s",
		                    jerr.line, jerr.column, jerr.text);
	if (!apijson_tree(v, &w)) {
		json_decref(v);
		return false;
	}
	*out = v;
	return true;
}

static const char *apijson_type_name(enum apijson_type t)
{
	switch (t) {
	case APIJSON_STRING:
		return "a string";
	case APIJSON_INT:
		return "an integer";
	case APIJSON_BOOL:
		return "a boolean";
	case APIJSON_OBJECT:
		return "an object";
	case APIJSON_ARRAY:
		return "an array";
	default:
		return "an array of strings";
	}
}

static bool apijson_field_ok(const struct apijson_field *f, json_t *v, struct apijson_result *r)
{
	size_t i, n;
	json_t *item;

	switch (f->type) {
	case APIJSON_STRING:
		if (!json_is_string(v))
			break;
		n = json_string_length(v);
		if ((int64_t)n < f->min || (int64_t)n > f->max)
			return apijson_fail(r, APIJSON_OUT_OF_RANGE,
			                    "field '%s' must be %lld to %lld bytes long", f->name,
			                    (long long)f->min, (long long)f->max);
		if (strlen(json_string_value(v)) != n)
			return apijson_fail(r, APIJSON_WRONG_TYPE, "field '%s' contains a NUL byte",
			                    f->name);
		return true;
	case APIJSON_INT:
		if (!json_is_integer(v))
			break;
		if (json_integer_value(v) < f->min || json_integer_value(v) > f->max)
			return apijson_fail(r, APIJSON_OUT_OF_RANGE,
			                    "field '%s' must be %lld to %lld", f->name,
			                    (long long)f->min, (long long)f->max);
		return true;
	case APIJSON_BOOL:
		if (!json_is_boolean(v))
			break;
		return true;
	case APIJSON_OBJECT:
	case APIJSON_ARRAY:
		if (f->type == APIJSON_OBJECT ? !json_is_object(v) : !json_is_array(v))
			break;
		n = f->type == APIJSON_OBJECT ? json_object_size(v) : json_array_size(v);
		if ((int64_t)n < f->min || (int64_t)n > f->max)
			return apijson_fail(r, APIJSON_OUT_OF_RANGE,
			                    "field '%s' must hold %lld to %lld members", f->name,
			                    (long long)f->min, (long long)f->max);
		return true;
	case APIJSON_STRINGS:
		if (!json_is_array(v))
			break;
		if ((int64_t)json_array_size(v) < f->min || (int64_t)json_array_size(v) > f->max)
			return apijson_fail(r, APIJSON_OUT_OF_RANGE,
			                    "field '%s' must hold %lld to %lld items", f->name,
			                    (long long)f->min, (long long)f->max);
		json_array_foreach(v, i, item)
		{
			if (!json_is_string(item) || json_string_length(item) == 0 ||
			    json_string_length(item) > 128)
				return apijson_fail(
				        r, APIJSON_WRONG_TYPE,
				        "field '%s' item %zu must be a string of 1 to 128 "
				        "bytes",
				        f->name, i);
		}
		return true;
	}
	return apijson_fail(r, APIJSON_WRONG_TYPE, "field '%s' must be %s", f->name,
	                    apijson_type_name(f->type));
}

bool apijson_check(json_t *obj, const struct apijson_field *fields, struct apijson_result *r)
{
	const struct apijson_field *f;
	const char *key;
	json_t *v;

	r->status = APIJSON_OK;
	r->msg[0] = '\0';
	if (!json_is_object(obj))
		return apijson_fail(r, APIJSON_NOT_OBJECT,
		                    "the request body must be a JSON object");
	json_object_foreach(obj, key, v)
	{
		for (f = fields; f && f->name; f++)
			if (strcmp(f->name, key) == 0)
				break;
		if (f == NULL || f->name == NULL)
			return apijson_fail(r, APIJSON_UNKNOWN, "unknown field '%.64s'", key);
		if (!apijson_field_ok(f, v, r))
			return false;
	}
	for (f = fields; f && f->name; f++)
		if (f->required && json_object_get(obj, f->name) == NULL)
			return apijson_fail(r, APIJSON_MISSING, "missing field '%s'", f->name);
	return true;
}

json_t *apijson_schema(const struct apijson_field *fields)
{
	json_t *props = json_object(), *req = json_array(), *p;

	for (const struct apijson_field *f = fields; f && f->name; f++) {
		switch (f->type) {
		case APIJSON_STRING:
			p = json_pack("{s:s,s:I,s:I}", "type", "string", "minLength",
			              (json_int_t)f->min, "maxLength", (json_int_t)f->max);
			break;
		case APIJSON_INT:
			p = json_pack("{s:s,s:I,s:I}", "type", "integer", "minimum",
			              (json_int_t)f->min, "maximum", (json_int_t)f->max);
			break;
		case APIJSON_BOOL:
			p = json_pack("{s:s}", "type", "boolean");
			break;
		case APIJSON_OBJECT:
			p = json_pack("{s:s}", "type", "object");
			break;
		case APIJSON_ARRAY:
			p = json_pack("{s:s}", "type", "array");
			break;
		default:
			p = json_pack("{s:s,s:{s:s,s:i},s:I,s:I}", "type", "array", "items", "type",
			              "string", "maxLength", 128, "minItems", (json_int_t)f->min,
			              "maxItems", (json_int_t)f->max);
			break;
		}
		if (p && f->desc)
			json_object_set_new(p, "description", json_string(f->desc));
		json_object_set_new(props, f->name, p);
		if (f->required)
			json_array_append_new(req, json_string(f->name));
	}
	return json_pack("{s:s,s:o,s:o,s:b}", "type", "object", "properties", props, "required",
	                 req, "additionalProperties", 0);
}
