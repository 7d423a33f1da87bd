/*
 * DESIGN: TCB info and QE identity, as Intel PCS serves them. Two jobs
 * that must not be mixed up: the signature covers the exact text of the
 * "tcbInfo" / "enclaveIdentity" value, so tcbinfo_raw_member finds that
 * substring with a brace matcher that respects strings (jansson cannot
 * give offsets, and re-serialising would sign something else); the
 * meaning is then read with jansson (duplicate keys refused, so the text
 * we verify is the text we interpret). Levels are sorted here, descending
 * as Intel's QVL orders them, so matching never depends on JSON order.
 * Every list is capped; every hex field has an exact length.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "internal.h"
#include "util/util.h"

/* ---- the raw substring ------------------------------------------------ */

static size_t tcbinfo_ws(const char *s, size_t i, size_t len)
{
	while (i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
		i++;
	return i;
}

/* s[i] is '"': index just past the closing quote, or len on error. */
static size_t tcbinfo_skip_string(const char *s, size_t i, size_t len)
{
	for (i++; i < len; i++) {
		if (s[i] == '\\')
			i++;
		else if (s[i] == '"')
			return i + 1;
	}
	return len + 1;
}

/* Index just past the value starting at s[i], or > len on error. */
static size_t tcbinfo_skip_value(const char *s, size_t i, size_t len)
{
	size_t depth = 0;

	if (i >= len)
		return len + 1;
	if (s[i] == '"')
		return tcbinfo_skip_string(s, i, len);
	if (s[i] != '{' && s[i] != '[') {
		while (i < len && s[i] != ',' && s[i] != '}' && s[i] != ']' && s[i] != ' ' &&
		       s[i] != '\n' && s[i] != '\r' && s[i] != '\t')
			i++;
		return i;
	}
	while (i < len) {
		if (s[i] == '"') {
			i = tcbinfo_skip_string(s, i, len);
			continue;
		}
		if (s[i] == '{' || s[i] == '[')
			depth++;
		else if ((s[i] == '}' || s[i] == ']') && --depth == 0)
			return i + 1;
		i++;
	}
	return len + 1;
}

ccm_code tcbinfo_raw_member(const char *json, size_t len, const char *key, const char **val,
                            size_t *vlen, struct ccm_error *err)
{
	size_t i = tcbinfo_ws(json, 0, len), klen = strlen(key), found = 0;

	if (i >= len || json[i] != '{')
		return ccm_fail(err, CCM_E_INPUT, "not a JSON object");
	i = tcbinfo_ws(json, i + 1, len);
	while (i < len && json[i] == '"') {
		size_t ks = i + 1, ke = tcbinfo_skip_string(json, i, len), vs, ve;
		if (ke > len)
			break;
		i = tcbinfo_ws(json, ke, len);
		if (i >= len || json[i] != ':')
			break;
		vs = tcbinfo_ws(json, i + 1, len);
		ve = tcbinfo_skip_value(json, vs, len);
		if (ve > len)
			break;
		if (ke - 1 - ks == klen && memcmp(json + ks, key, klen) == 0 && json[vs] == '{') {
			*val = json + vs;
			*vlen = ve - vs;
			found++;
		}
		i = tcbinfo_ws(json, ve, len);
		if (i < len && json[i] == ',')
			i = tcbinfo_ws(json, i + 1, len);
	}
	if (found != 1)
		return ccm_fail(err, CCM_E_INPUT, "no single \"%s\" object at the top level", key);
	return CCM_OK;
}

/* ---- field helpers ---------------------------------------------------- */

static ccm_code tcbinfo_int(json_t *o, const char *key, int64_t min, int64_t max, int64_t *out,
                            struct ccm_error *err)
{
	json_t *v = json_object_get(o, key);

	if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max)
		return ccm_fail(err, CCM_E_INPUT, "\"%s\": not an integer in [%lld, %lld]", key,
		                (long long)min, (long long)max);
	*out = json_integer_value(v);
	return CCM_OK;
}

static ccm_code tcbinfo_hex(json_t *o, const char *key, uint8_t *out, size_t n,
                            struct ccm_error *err)
{
	json_t *v = json_object_get(o, key);
	size_t got;

	if (!json_is_string(v) || json_string_length(v) != 2 * n ||
	    !util_unhex(json_string_value(v), 2 * n, out, n, &got) || got != n)
		return ccm_fail(err, CCM_E_INPUT, "\"%s\": not %zu hex bytes", key, n);
	return CCM_OK;
}

static ccm_code tcbinfo_time(json_t *o, const char *key, int64_t *out, struct ccm_error *err)
{
	json_t *v = json_object_get(o, key);
	ccm_code rc;

	if (!json_is_string(v))
		return ccm_fail(err, CCM_E_INPUT, "\"%s\": missing or not a string", key);
	rc = ccm_quote_parse_time(json_string_value(v), out, err);
	if (rc != CCM_OK)
		ccm_error_prefix(err, "\"%s\"", key);
	return rc;
}

static ccm_code tcbinfo_str(json_t *o, const char *key, char *out, size_t max,
                            struct ccm_error *err)
{
	json_t *v = json_object_get(o, key);

	if (!json_is_string(v) || json_string_length(v) >= max)
		return ccm_fail(err, CCM_E_INPUT, "\"%s\": missing or not a short string", key);
	memcpy(out, json_string_value(v), json_string_length(v) + 1);
	return CCM_OK;
}

static const char *const tcbinfo_status_names[] = {
        [CCM_TCB_NONE] = "",
        [CCM_TCB_UP_TO_DATE] = "UpToDate",
        [CCM_TCB_SW_HARDENING_NEEDED] = "SWHardeningNeeded",
        [CCM_TCB_CONFIGURATION_NEEDED] = "ConfigurationNeeded",
        [CCM_TCB_CONFIGURATION_AND_SW_HARDENING_NEEDED] = "ConfigurationAndSWHardeningNeeded",
        [CCM_TCB_OUT_OF_DATE] = "OutOfDate",
        [CCM_TCB_OUT_OF_DATE_CONFIGURATION_NEEDED] = "OutOfDateConfigurationNeeded",
        [CCM_TCB_REVOKED] = "Revoked",
        [CCM_TCB_NOT_SUPPORTED] = "TCBNotSupported",
};

const char *ccm_tcb_status_name(enum ccm_tcb_status s)
{
	if ((unsigned)s > CCM_TCB_NOT_SUPPORTED)
		return "";
	return tcbinfo_status_names[s];
}

bool ccm_tcb_status_terminal(enum ccm_tcb_status s)
{
	return s == CCM_TCB_REVOKED || s == CCM_TCB_NOT_SUPPORTED || s == CCM_TCB_NONE;
}

static ccm_code tcbinfo_level_common(json_t *lv, struct tcb_level *l, struct ccm_error *err)
{
	json_t *st = json_object_get(lv, "tcbStatus"), *adv = json_object_get(lv, "advisoryIDs");
	size_t i;
	json_t *a;
	ccm_code rc = tcbinfo_time(lv, "tcbDate", &l->tcb_date, err);

	if (rc != CCM_OK)
		return rc;
	l->status = CCM_TCB_NONE;
	for (int s = CCM_TCB_UP_TO_DATE; json_is_string(st) && s <= CCM_TCB_REVOKED; s++)
		if (strcmp(json_string_value(st), tcbinfo_status_names[s]) == 0)
			l->status = (enum ccm_tcb_status)s;
	if (l->status == CCM_TCB_NONE)
		return ccm_fail(err, CCM_E_INPUT, "\"tcbStatus\": missing or unrecognized");
	if (adv == NULL)
		return CCM_OK;
	if (!json_is_array(adv) || json_array_size(adv) > CCM_QUOTE_MAX_ADVISORIES)
		return ccm_fail(err, CCM_E_INPUT, "\"advisoryIDs\": not an array of at most %d",
		                CCM_QUOTE_MAX_ADVISORIES);
	l->adv = calloc(json_array_size(adv) + 1, CCM_QUOTE_ADVISORY_MAX);
	if (l->adv == NULL)
		return ccm_fail(err, CCM_E_NOMEM, "out of memory");
	json_array_foreach(adv, i, a)
	{
		if (!json_is_string(a) || json_string_length(a) >= CCM_QUOTE_ADVISORY_MAX)
			return ccm_fail(err, CCM_E_INPUT,
			                "\"advisoryIDs\"[%zu]: not a short string", i);
		memcpy(l->adv[i], json_string_value(a), json_string_length(a) + 1);
	}
	l->n_adv = json_array_size(adv);
	return CCM_OK;
}

static void tcbinfo_free_levels(struct tcb_level *l, size_t n)
{
	for (size_t i = 0; l != NULL && i < n; i++)
		free(l[i].adv);
	free(l);
}

/* tcb.sgxtcbcomponents / tcb.tdxtcbcomponents: 16 objects with "svn". */
static ccm_code tcbinfo_components(json_t *tcb, const char *key, uint8_t out[16],
                                   struct ccm_error *err)
{
	json_t *arr = json_object_get(tcb, key);
	int64_t v;

	if (!json_is_array(arr) || json_array_size(arr) != 16)
		return ccm_fail(err, CCM_E_INPUT, "\"%s\": not an array of 16", key);
	for (size_t i = 0; i < 16; i++) {
		ccm_code rc = tcbinfo_int(json_array_get(arr, i), "svn", 0, 255, &v, err);
		if (rc != CCM_OK) {
			ccm_error_prefix(err, "\"%s\"[%zu]", key, i);
			return rc;
		}
		out[i] = (uint8_t)v;
	}
	return CCM_OK;
}

static ccm_code tcbinfo_level_tcb(json_t *tcb, const struct tcbinfo *t, struct tcb_level *l,
                                  struct ccm_error *err)
{
	char key[24];
	int64_t v = 0;
	ccm_code rc = CCM_OK;

	if (!json_is_object(tcb))
		return ccm_fail(err, CCM_E_INPUT, "\"tcb\": not an object");
	if (t->version == 2) {
		for (int i = 0; i < 16 && rc == CCM_OK; i++) {
			snprintf(key, sizeof(key), "sgxtcbcomp%02dsvn", i + 1);
			rc = tcbinfo_int(tcb, key, 0, 255, &v, err);
			l->sgx[i] = (uint8_t)v;
		}
	} else {
		rc = tcbinfo_components(tcb, "sgxtcbcomponents", l->sgx, err);
		if (rc == CCM_OK && t->tdx)
			rc = tcbinfo_components(tcb, "tdxtcbcomponents", l->tdx, err);
	}
	if (rc == CCM_OK)
		rc = tcbinfo_int(tcb, "pcesvn", 0, 65535, &v, err);
	l->pcesvn = (uint16_t)v;
	return rc;
}

/* Descending (sgx comps, pcesvn, tdx comps), then JSON order. */
static int tcbinfo_cmp_level(const void *a, const void *b)
{
	const struct tcb_level *x = a, *y = b;
	int c = memcmp(y->sgx, x->sgx, 16);

	if (c == 0)
		c = (int)y->pcesvn - (int)x->pcesvn;
	if (c == 0)
		c = memcmp(y->tdx, x->tdx, 16);
	if (c == 0)
		c = x->order < y->order ? -1 : x->order > y->order;
	return c;
}

/* Descending isvsvn, then JSON order. */
static int tcbinfo_cmp_isv(const void *a, const void *b)
{
	const struct tcb_level *x = a, *y = b;

	if (x->isvsvn != y->isvsvn)
		return x->isvsvn < y->isvsvn ? 1 : -1;
	return x->order < y->order ? -1 : x->order > y->order;
}

/* A "tcbLevels" array; isv selects the {"tcb":{"isvsvn"}} form. */
static ccm_code tcbinfo_levels(json_t *o, const struct tcbinfo *t, bool isv, struct tcb_level **out,
                               size_t *n, struct ccm_error *err)
{
	json_t *arr = json_object_get(o, "tcbLevels"), *lv;
	struct tcb_level *l;
	int64_t v = 0;
	size_t i;
	ccm_code rc = CCM_OK;

	if (!json_is_array(arr) || json_array_size(arr) == 0 ||
	    json_array_size(arr) > TCB_MAX_LEVELS)
		return ccm_fail(err, CCM_E_INPUT, "\"tcbLevels\": not an array of 1..%d",
		                TCB_MAX_LEVELS);
	l = calloc(json_array_size(arr), sizeof(*l));
	if (l == NULL)
		return ccm_fail(err, CCM_E_NOMEM, "out of memory");
	*out = l;
	*n = json_array_size(arr);
	json_array_foreach(arr, i, lv)
	{
		l[i].order = i;
		if (isv) {
			rc = tcbinfo_int(json_object_get(lv, "tcb"), "isvsvn", 0, 65535, &v, err);
			l[i].isvsvn = (uint16_t)v;
		} else {
			rc = tcbinfo_level_tcb(json_object_get(lv, "tcb"), t, &l[i], err);
		}
		if (rc == CCM_OK)
			rc = tcbinfo_level_common(lv, &l[i], err);
		if (rc != CCM_OK) {
			ccm_error_prefix(err, "\"tcbLevels\"[%zu]", i);
			return rc;
		}
	}
	qsort(l, *n, sizeof(*l), isv ? tcbinfo_cmp_isv : tcbinfo_cmp_level);
	return CCM_OK;
}

static ccm_code tcbinfo_module(json_t *m, const struct tcbinfo *t, bool with_levels,
                               struct tdx_module_id *out, struct ccm_error *err)
{
	ccm_code rc;

	if (!json_is_object(m))
		return ccm_fail(err, CCM_E_INPUT, "not an object");
	if ((with_levels && (rc = tcbinfo_str(m, "id", out->id, sizeof(out->id), err)) != CCM_OK) ||
	    (rc = tcbinfo_hex(m, "mrsigner", out->mrsigner, 48, err)) != CCM_OK ||
	    (rc = tcbinfo_hex(m, "attributes", out->attributes, 8, err)) != CCM_OK ||
	    (rc = tcbinfo_hex(m, "attributesMask", out->attributes_mask, 8, err)) != CCM_OK)
		return rc;
	if (!with_levels)
		return CCM_OK;
	return tcbinfo_levels(m, t, true, &out->levels, &out->n_levels, err);
}

static ccm_code tcbinfo_tdx(json_t *ti, struct tcbinfo *t, struct ccm_error *err)
{
	json_t *ids = json_object_get(ti, "tdxModuleIdentities"), *m;
	size_t i;
	ccm_code rc = tcbinfo_module(json_object_get(ti, "tdxModule"), t, false, &t->module, err);

	if (rc != CCM_OK) {
		ccm_error_prefix(err, "\"tdxModule\"");
		return rc;
	}
	t->have_module = true;
	if (ids == NULL)
		return CCM_OK;
	if (!json_is_array(ids) || json_array_size(ids) > TCB_MAX_MODULES)
		return ccm_fail(err, CCM_E_INPUT,
		                "\"tdxModuleIdentities\": not an array of at most %d",
		                TCB_MAX_MODULES);
	t->modules = calloc(json_array_size(ids) + 1, sizeof(*t->modules));
	if (t->modules == NULL)
		return ccm_fail(err, CCM_E_NOMEM, "out of memory");
	json_array_foreach(ids, i, m)
	{
		t->n_modules = i + 1;
		rc = tcbinfo_module(m, t, true, &t->modules[i], err);
		if (rc != CCM_OK) {
			ccm_error_prefix(err, "\"tdxModuleIdentities\"[%zu]", i);
			return rc;
		}
	}
	return CCM_OK;
}

static ccm_code tcbinfo_head(json_t *ti, struct tcbinfo *t, struct ccm_error *err)
{
	json_t *id = json_object_get(ti, "id");
	int64_t v;
	ccm_code rc;

	if (!json_is_object(ti))
		return ccm_fail(err, CCM_E_INPUT, "not an object");
	if ((rc = tcbinfo_int(ti, "version", 2, 3, &v, err)) != CCM_OK)
		return rc;
	t->version = (int)v;
	if (t->version == 3 && !(json_is_string(id) && (strcmp(json_string_value(id), "SGX") == 0 ||
	                                                strcmp(json_string_value(id), "TDX") == 0)))
		return ccm_fail(err, CCM_E_INPUT, "\"id\": not \"SGX\" or \"TDX\"");
	t->tdx = t->version == 3 && strcmp(json_string_value(id), "TDX") == 0;
	if ((rc = tcbinfo_time(ti, "issueDate", &t->issue_date, err)) != CCM_OK ||
	    (rc = tcbinfo_time(ti, "nextUpdate", &t->next_update, err)) != CCM_OK ||
	    (rc = tcbinfo_hex(ti, "fmspc", t->fmspc, 6, err)) != CCM_OK ||
	    (rc = tcbinfo_hex(ti, "pceId", t->pceid, 2, err)) != CCM_OK ||
	    (rc = tcbinfo_int(ti, "tcbType", 0, 0, &v, err)) != CCM_OK ||
	    (rc = tcbinfo_int(ti, "tcbEvaluationDataNumber", 0, UINT32_MAX, &t->eval_num, err)) !=
	            CCM_OK)
		return rc;
	return CCM_OK;
}

/* The PCS body: parsed JSON, the raw signed text and the signature. */
static ccm_code tcbinfo_body(const uint8_t *buf, size_t len, const char *key, json_t **root,
                             const char **raw, size_t *rawlen, uint8_t sig[64],
                             struct ccm_error *err)
{
	json_error_t jerr;
	ccm_code rc;

	*root = NULL;
	if (len > CCM_QUOTE_COLLATERAL_MAX)
		return ccm_fail(err, CCM_E_LIMIT, "%zu bytes, more than %u", len,
		                CCM_QUOTE_COLLATERAL_MAX);
	*root = json_loadb((const char *)buf, len, JSON_REJECT_DUPLICATES, &jerr);
	if (*root == NULL)
		return ccm_fail(err, CCM_E_INPUT, "bad JSON at line %d column %d: %s", jerr.line,
		                jerr.column, jerr.text);
	if (!json_is_object(*root) || json_object_size(*root) != 2)
		return ccm_fail(err, CCM_E_INPUT, "expected {\"%s\":{...},\"signature\":\"...\"}",
		                key);
	rc = tcbinfo_raw_member((const char *)buf, len, key, raw, rawlen, err);
	if (rc == CCM_OK)
		rc = tcbinfo_hex(*root, "signature", sig, 64, err);
	return rc;
}

ccm_code tcbinfo_signed(const uint8_t *buf, size_t len, const char *key, const char **raw,
                        size_t *rawlen, uint8_t sig[64], struct ccm_error *err)
{
	json_t *root = NULL;
	ccm_code rc = tcbinfo_body(buf, len, key, &root, raw, rawlen, sig, err);

	json_decref(root);
	return rc;
}

ccm_code tcbinfo_parse(const uint8_t *buf, size_t len, struct tcbinfo *out, const char **raw,
                       size_t *rawlen, uint8_t sig[64], struct ccm_error *err)
{
	json_t *root, *ti;
	ccm_code rc;

	memset(out, 0, sizeof(*out));
	rc = tcbinfo_body(buf, len, "tcbInfo", &root, raw, rawlen, sig, err);
	if (rc != CCM_OK)
		goto fail;
	ti = json_object_get(root, "tcbInfo");
	if ((rc = tcbinfo_head(ti, out, err)) != CCM_OK)
		goto fail;
	if (out->tdx && (rc = tcbinfo_tdx(ti, out, err)) != CCM_OK)
		goto fail;
	rc = tcbinfo_levels(ti, out, false, &out->levels, &out->n_levels, err);
	if (rc != CCM_OK)
		goto fail;
	json_decref(root);
	return CCM_OK;
fail:
	json_decref(root);
	tcbinfo_clear(out);
	ccm_error_prefix(err, "tcb_info");
	return rc;
}

void tcbinfo_clear(struct tcbinfo *t)
{
	for (size_t i = 0; t->modules != NULL && i < t->n_modules; i++)
		tcbinfo_free_levels(t->modules[i].levels, t->modules[i].n_levels);
	free(t->modules);
	tcbinfo_free_levels(t->levels, t->n_levels);
	memset(t, 0, sizeof(*t));
}

static ccm_code tcbinfo_qeid_fields(json_t *ei, struct qeid *q, struct ccm_error *err)
{
	int64_t v;
	ccm_code rc;

	if (!json_is_object(ei))
		return ccm_fail(err, CCM_E_INPUT, "not an object");
	if ((rc = tcbinfo_str(ei, "id", q->id, sizeof(q->id), err)) != CCM_OK ||
	    (rc = tcbinfo_int(ei, "version", 2, 2, &v, err)) != CCM_OK ||
	    (rc = tcbinfo_time(ei, "issueDate", &q->issue_date, err)) != CCM_OK ||
	    (rc = tcbinfo_time(ei, "nextUpdate", &q->next_update, err)) != CCM_OK ||
	    (rc = tcbinfo_hex(ei, "miscselect", q->miscselect, 4, err)) != CCM_OK ||
	    (rc = tcbinfo_hex(ei, "miscselectMask", q->miscselect_mask, 4, err)) != CCM_OK ||
	    (rc = tcbinfo_hex(ei, "attributes", q->attributes, 16, err)) != CCM_OK ||
	    (rc = tcbinfo_hex(ei, "attributesMask", q->attributes_mask, 16, err)) != CCM_OK ||
	    (rc = tcbinfo_hex(ei, "mrsigner", q->mrsigner, 32, err)) != CCM_OK)
		return rc;
	q->version = (int)v;
	if ((rc = tcbinfo_int(ei, "isvprodid", 0, 65535, &v, err)) != CCM_OK)
		return rc;
	q->isvprodid = (uint16_t)v;
	return tcbinfo_levels(ei, NULL, true, &q->levels, &q->n_levels, err);
}

ccm_code tcbinfo_parse_qeid(const uint8_t *buf, size_t len, struct qeid *out, const char **raw,
                            size_t *rawlen, uint8_t sig[64], struct ccm_error *err)
{
	json_t *root;
	ccm_code rc;

	memset(out, 0, sizeof(*out));
	rc = tcbinfo_body(buf, len, "enclaveIdentity", &root, raw, rawlen, sig, err);
	if (rc == CCM_OK)
		rc = tcbinfo_qeid_fields(json_object_get(root, "enclaveIdentity"), out, err);
	json_decref(root);
	if (rc != CCM_OK) {
		tcbinfo_clear_qeid(out);
		ccm_error_prefix(err, "qe_identity");
	}
	return rc;
}

void tcbinfo_clear_qeid(struct qeid *q)
{
	tcbinfo_free_levels(q->levels, q->n_levels);
	memset(q, 0, sizeof(*q));
}
