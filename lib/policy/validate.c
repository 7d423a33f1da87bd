/*
 * DESIGN: validators for the user-supplied strings the policy later reads.
 * They are deliberately narrow (ASCII only, bounded lengths): a label or a
 * domain that the policy cannot compare exactly is a security bug waiting
 * to happen, so ambiguity is refused at the door with a message that names
 * the offending character or part.
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ccm/policy.h"

static bool label_key_char(char c)
{
	return isalnum((unsigned char)c) || c == '.' || c == '_' || c == '-' || c == '/';
}

static bool label_value_char(char c)
{
	return isalnum((unsigned char)c) || c == '.' || c == '_' || c == '-';
}

ccm_code ccm_label_validate(const char *label, struct ccm_error *err)
{
	const char *eq = strchr(label, '=');
	size_t klen, vlen;

	if (eq == NULL)
		return ccm_fail(err, CCM_E_INPUT, "label '%.80s': expected key=value", label);
	klen = (size_t)(eq - label);
	vlen = strlen(eq + 1);
	if (klen == 0 || klen > CCM_LABEL_KEY_MAX)
		return ccm_fail(err, CCM_E_INPUT, "label '%.80s': key must be 1-%d characters",
		                label, CCM_LABEL_KEY_MAX);
	if (vlen > CCM_LABEL_VALUE_MAX)
		return ccm_fail(err, CCM_E_INPUT, "label '%.80s': value longer than %d characters",
		                label, CCM_LABEL_VALUE_MAX);
	if (!isalnum((unsigned char)label[0]))
		return ccm_fail(err, CCM_E_INPUT,
		                "label '%.80s': key must start with a letter or digit", label);
	for (size_t i = 0; i < klen; i++)
		if (!label_key_char(label[i]))
			return ccm_fail(err, CCM_E_INPUT,
			                "label '%.80s': character %zu of the key is not allowed",
			                label, i + 1);
	for (size_t i = 0; i < vlen; i++)
		if (!label_value_char(eq[1 + i]))
			return ccm_fail(err, CCM_E_INPUT,
			                "label '%.80s': character %zu of the value is not allowed",
			                label, i + 1);
	return CCM_OK;
}

static ccm_code dns_label_check(const char *name, const char *p, size_t n, struct ccm_error *err)
{
	if (n == 0)
		return ccm_fail(err, CCM_E_INPUT, "DNS name '%.80s': empty label", name);
	if (n > 63)
		return ccm_fail(err, CCM_E_INPUT, "DNS name '%.80s': a label is longer than 63",
		                name);
	if (p[0] == '-' || p[n - 1] == '-')
		return ccm_fail(err, CCM_E_INPUT,
		                "DNS name '%.80s': a label starts or ends with a hyphen", name);
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)p[i]) && p[i] != '-')
			return ccm_fail(err, CCM_E_INPUT,
			                "DNS name '%.80s': character '%c' is not allowed", name,
			                isprint((unsigned char)p[i]) ? p[i] : '?');
	return CCM_OK;
}

ccm_code ccm_dns_name_validate(const char *name, bool allow_wildcard, struct ccm_error *err)
{
	size_t len = strlen(name), labels = 0, digits_only = 1;
	const char *p = name;
	ccm_code rc;

	if (len == 0 || len > CCM_DNS_NAME_MAX)
		return ccm_fail(err, CCM_E_INPUT, "DNS name '%.80s': length must be 1-%d", name,
		                CCM_DNS_NAME_MAX);
	if (strncmp(p, "*.", 2) == 0) {
		if (!allow_wildcard)
			return ccm_fail(err, CCM_E_INPUT,
			                "DNS name '%.80s': wildcards not allowed here", name);
		p += 2;
	}
	while (*p != '\0') {
		size_t n = strcspn(p, ".");
		if ((rc = dns_label_check(name, p, n, err)) != CCM_OK)
			return rc;
		if (strspn(p, "0123456789") < n)
			digits_only = 0;
		labels++;
		p += n;
		if (*p == '.' && *++p == '\0')
			return ccm_fail(err, CCM_E_INPUT, "DNS name '%.80s': trailing dot", name);
	}
	if (labels == 0)
		return ccm_fail(err, CCM_E_INPUT, "DNS name '%.80s': no labels", name);
	if (digits_only)
		return ccm_fail(err, CCM_E_INPUT, "DNS name '%.80s': looks like an IP address",
		                name);
	return CCM_OK;
}

bool ccm_dns_name_matches(const char *pattern, const char *name)
{
	const char *dot;

	if (strncmp(pattern, "*.", 2) != 0)
		return strcasecmp(pattern, name) == 0;
	dot = strchr(name, '.');
	/* The wildcard stands for exactly one non-empty leftmost label. */
	return dot != NULL && dot != name && strcasecmp(pattern + 1, dot) == 0;
}

ccm_code ccm_mem_size_parse(const char *s, uint64_t *bytes, uint64_t *enclave,
                            struct ccm_error *err)
{
	const uint64_t min = 64u << 10, max = (uint64_t)64 << 30;
	unsigned long long v;
	uint64_t mult = 1, b, e = 1;
	char *end = NULL;

	if (s == NULL || !isdigit((unsigned char)s[0]))
		return ccm_fail(err, CCM_E_INPUT,
		                "memory size '%.40s': expected a number like 256M", s ? s : "");
	errno = 0;
	v = strtoull(s, &end, 10);
	if (strcmp(end, "K") == 0 || strcmp(end, "k") == 0 || strcmp(end, "KiB") == 0)
		mult = 1u << 10;
	else if (strcmp(end, "M") == 0 || strcmp(end, "m") == 0 || strcmp(end, "MiB") == 0)
		mult = 1u << 20;
	else if (strcmp(end, "G") == 0 || strcmp(end, "g") == 0 || strcmp(end, "GiB") == 0)
		mult = 1u << 30;
	else if (*end != '\0')
		return ccm_fail(err, CCM_E_INPUT,
		                "memory size '%.40s': unknown unit (use K, M or G)", s);
	if (errno == ERANGE || v > max / mult || v * mult < min)
		return ccm_fail(err, CCM_E_RANGE,
		                "memory size '%.40s': must be between 64K and 64G", s);
	b = v * mult;
	while (e < b)
		e <<= 1;
	*bytes = b;
	*enclave = e;
	return CCM_OK;
}
