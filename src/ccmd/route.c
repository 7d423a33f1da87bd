/*
 * DESIGN: every route of the API is one row of route_table. The
 * dispatcher, the OpenAPI document (route_openapi) and the table-driven
 * authorisation test all read these rows, so a route cannot exist without
 * its access rule, its body schema and its documentation. Path parameters
 * are positive decimal integers; anything else does not match, so a
 * malformed id is a 404 like a missing one. Part 2 of the manager (apps,
 * builds, tasks, nodes, certificates) adds rows here and handlers in
 * api-*.c files; nothing else changes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/x509.h>

#include "ccm/cert.h"
#include "ccmd.h"

#define S(n, req, lo, hi, d)                                                                       \
	{                                                                                          \
		n, APIJSON_STRING, req, lo, hi, d                                                  \
	}
#define I(n, req, lo, hi, d)                                                                       \
	{                                                                                          \
		n, APIJSON_INT, req, lo, hi, d                                                     \
	}
#define B(n, req, d)                                                                               \
	{                                                                                          \
		n, APIJSON_BOOL, req, 0, 1, d                                                      \
	}
#define L(n, req, lo, hi, d)                                                                       \
	{                                                                                          \
		n, APIJSON_STRINGS, req, lo, hi, d                                                 \
	}
#define END                                                                                        \
	{                                                                                          \
		NULL, APIJSON_STRING, false, 0, 0, NULL                                            \
	}

static const struct apijson_field body_password[] = {
        S("old_password", true, 1, 256, "current password"),
        S("new_password", true, 8, 256, "new password, at least 8 characters"),
        END,
};
static const struct apijson_field body_signup[] = {
        S("email", true, 3, STORE_EMAIL_MAX, "login e-mail address"),
        S("name", false, 0, STORE_NAME_MAX, "display name"),
        S("password", true, 8, 256, "password, at least 8 characters"),
        END,
};
static const struct apijson_field body_account_create[] = {
        S("name", true, 1, 64, "unique account name"),
        S("description", false, 0, 1024, NULL),
        B("test_only", false, "nodes may enroll without hardware attestation; fixed at creation"),
        I("approval_quorum", false, 1, 16, "approvals needed per task (default 1)"),
        B("node_approval", false, "new nodes wait ENROLLING for a node_attestation task"),
        L("accepted_tcb_statuses", false, 1, 8, "default UpToDate, SWHardeningNeeded"),
        END,
};
static const struct apijson_field body_account_update[] = {
        S("name", false, 1, 64, NULL),
        S("description", false, 0, 1024, NULL),
        I("approval_quorum", false, 1, 16, NULL),
        B("node_approval", false, NULL),
        L("accepted_tcb_statuses", false, 1, 8, NULL),
        END,
};
static const struct apijson_field body_test_only[] = {
        B("test_only", true, NULL),
        S("reason", true, 1, 256, "why; kept in the audit log"),
        END,
};
static const struct apijson_field body_member_add[] = {
        S("email", true, 3, STORE_EMAIL_MAX, "an existing user, or one invited now"),
        S("role", true, 1, 16, "READER, WRITER or MANAGER"),
        S("name", false, 0, STORE_NAME_MAX, "display name of an invited user"),
        END,
};
static const struct apijson_field body_member_role[] = {
        S("role", true, 1, 16, "READER, WRITER or MANAGER"),
        END,
};
static const struct apijson_field body_user_create[] = {
        S("email", true, 3, STORE_EMAIL_MAX, NULL),
        S("name", false, 0, STORE_NAME_MAX, NULL),
        S("password", false, 8, 256, "omitted: a one-time password is returned"),
        B("is_admin", false, NULL),
        END,
};
static const struct apijson_field body_user_update[] = {
        S("name", false, 0, STORE_NAME_MAX, NULL),
        B("disabled", false, NULL),
        B("is_admin", false, NULL),
        END,
};
static const struct apijson_field body_token_create[] = {
        S("name", true, 1, 64, "unique in the account"),
        S("role", true, 1, 16, "at most the creator's role"),
        I("expires_in", false, 1, 31536000, "seconds; default 90 days"),
        END,
};

#define APP_FIELDS(rq)                                                                             \
	S("name", rq, 1, 64, "unique in the account"), S("description", false, 0, 1024, NULL),     \
	        S("input_image", false, 1, STORE_REF_MAX,                                          \
	          "OCI reference of the image to convert"),                                        \
	        S("output_image", false, 1, STORE_REF_MAX,                                         \
	          "OCI reference of the converted image"),                                         \
	        I("isvprodid", rq, 0, 65535, NULL), I("isvsvn", false, 0, 65535, "default 0"),     \
	        I("min_isvsvn", false, 0, 65535, "lowest ISVSVN given certificates (default 0)"),  \
	        S("memory", false, 1, 16,                                                          \
	          "enclave size, e.g. 256M (rounded up to a power of two)"),                       \
	        I("threads", false, 1, 1024, "default 4"),                                         \
	        L("entrypoint", false, 0, 64, "entrypoint override"),                              \
	        L("args", false, 0, 128, "arguments override"),                                    \
	        L("env", false, 0, 128, "KEY=VALUE environment overrides"),                        \
	        L("rw_dirs", false, 0, 32, "read-write directories (absolute paths)"),             \
	        L("labels", false, 0, 64, "k=v labels a node must carry"),                         \
	        L("allowed_domains", false, 0, 64, "DNS names for certificates (need approval)"),  \
	        B("allow_debug", false, "accept debug enclaves (default false)"),                  \
	        S("cert_subject", false, 1, STORE_SUBJECT_MAX, "e.g. CN=web,O=Example"),           \
	        S("cert_key_type", false, 1, 16, "ec-p256 (default), rsa-2048 or rsa-3072"),       \
	        S("cert_key_path", false, 1, STORE_PATH_MAX, "key file inside the app"),           \
	        S("cert_cert_path", false, 1, STORE_PATH_MAX, "certificate file inside the app"),  \
	        S("cert_chain_path", false, 1, STORE_PATH_MAX, "CA chain file inside the app"),    \
	        I("cert_validity_days", false, 1, 825, "default 30")
static const struct apijson_field body_app_create[] = {APP_FIELDS(true), END};
static const struct apijson_field body_app_update[] = {APP_FIELDS(false), END};
static const struct apijson_field body_build_create[] = {
        I("app_id", true, 1, INT64_C(1) << 53, NULL),
        S("sigstruct", false, 4, 4096, "base64 of a 1808-byte SIGSTRUCT"),
        S("image_name", false, 1, STORE_REF_MAX, "image to convert (a build record)"),
        S("image_digest", false, 1, 79, "sha256:... when known"),
        S("output_tag", false, 1, 128,
          "image builds: push to the app's output image with this tag"),
        END,
};
static const struct apijson_field body_registry[] = {
        S("host", true, 1, STORE_HOST_MAX, "registry HOST[:PORT] as in image references"),
        S("username", false, 1, STORE_USERNAME_MAX, "with 'password'"),
        S("password", false, 1, 8192, "password (or access token) for 'username'"),
        S("token", false, 1, 8192, "alone: a bearer token sent as is"),
        END,
};
static const struct apijson_field body_reason_opt[] = {
        S("reason", false, 1, 1024, NULL),
        END,
};
static const struct apijson_field body_reason[] = {
        S("reason", true, 1, 1024, "why; kept with the task and in the audit log"),
        END,
};
static const struct apijson_field body_join_token[] = {
        S("name", true, 1, 64, "unique in the account"),
        I("expires_in", false, 1, 31536000, "seconds; default 1 day"),
        I("uses", false, 1, 100000, "enrollments allowed (default 1)"),
        L("labels", false, 0, 64, "k=v labels stamped on the nodes"),
        END,
};
static const struct apijson_field body_enroll[] = {
        S("join_token", true, 1, 128, "the join token (the credential of this call)"),
        S("name", true, 1, 64, "node name"),
        S("csr", true, 1, CCM_CSR_MAX, "PEM CSR of the node key"),
        {"sys_info", APIJSON_OBJECT, false, 0, 64, "what the agent sees (CPU, memory, SGX)"},
        {"evidence", APIJSON_OBJECT, false, 2, 2, "{type: dcap, quote: base64}"},
        END,
};
static const struct apijson_field body_node_label[] = {
        L("labels", true, 0, 64, "k=v labels (replace the set)"),
        END,
};
static const struct apijson_field body_node_status[] = {
        {"load", APIJSON_ARRAY, false, 0, 3, "load averages"},
        {"apps", APIJSON_ARRAY, false, 0, 256, "[{app_id, state: RUNNING|STOPPED}]"},
        END,
};
static const struct apijson_field body_node_renew[] = {
        S("csr", true, 1, CCM_CSR_MAX, "PEM CSR of the same node key"),
        END,
};
static const struct apijson_field body_node_issue[] = {
        S("csr", true, 1, CCM_CSR_MAX, "PEM CSR of the app key"),
        {"evidence", APIJSON_OBJECT, true, 2, 2, "{type: simulated|dcap, quote: base64}"},
        L("dns_names", false, 0, 64, "default: every whitelisted domain"),
        END,
};

static const struct apijson_field body_node_issue_batch[] = {
        {"requests", APIJSON_ARRAY, true, 1, 64,
         "1 to 64 /v1/node/issue bodies; answered in order as {results: [{status, body}]}"},
        END,
};

#define PAGE "limit,offset"
#define AUDITQ "limit,offset,action,actor,result,since"
#define ACC ROUTE_ACCOUNT

const struct route route_table[] = {
        {"GET", "/v1/sys/version", api_sys_version, ACCESS_PUBLIC, 0, NULL, 0, NULL, NULL,
         "ccmd version"},
        {"GET", "/v1/sys/health", api_sys_health, ACCESS_PUBLIC, 0, NULL, 0, NULL, NULL,
         "liveness and store health"},
        {"GET", "/v1/openapi.json", api_sys_openapi, ACCESS_PUBLIC, 0, NULL, 0, NULL, NULL,
         "this API as OpenAPI 3"},
        {"POST", "/v1/sys/auth", api_sys_auth, ACCESS_PUBLIC, ROUTE_SECRET, NULL, 0, NULL,
         "auth.login", "log in with HTTP Basic (email:password); returns a bearer token"},
        {"POST", "/v1/sys/signup", api_sys_signup, ACCESS_PUBLIC, ROUTE_SECRET, body_signup,
         64 * 1024, NULL, "user.signup", "self sign-up (only with --open-signup)"},
        {"POST", "/v1/sys/logout", api_sys_logout, ACCESS_USER, ROUTE_PWCHANGE, NULL, 0, NULL,
         "auth.logout", "revoke the session token"},
        {"GET", "/v1/sys/whoami", api_sys_whoami, ACCESS_USER, ROUTE_PWCHANGE, NULL, 0, NULL, NULL,
         "the caller and its memberships"},
        {"POST", "/v1/users/me/password", api_sys_password, ACCESS_USER,
         ROUTE_PWCHANGE | ROUTE_SECRET, body_password, 64 * 1024, NULL, "user.password",
         "change the caller's own password"},
        {"GET", "/v1/users", api_user_list, ACCESS_ADMIN, 0, NULL, 0, PAGE, NULL, "list users"},
        {"POST", "/v1/users", api_user_create, ACCESS_ADMIN, ROUTE_SECRET, body_user_create,
         64 * 1024, NULL, "user.create", "create a user"},
        {"GET", "/v1/users/{id}", api_user_show, ACCESS_ADMIN, 0, NULL, 0, NULL, NULL,
         "show a user"},
        {"PATCH", "/v1/users/{id}", api_user_update, ACCESS_ADMIN, ROUTE_SECRET, body_user_update,
         64 * 1024, NULL, "user.update", "rename, disable or enable a user, grant or drop admin"},
        {"GET", "/v1/accounts", api_account_list, ACCESS_USER, 0, NULL, 0, PAGE ",all", NULL,
         "the caller's accounts (all=true: every account, administrators only)"},
        {"POST", "/v1/accounts", api_account_create, ACCESS_USER, 0, body_account_create, 64 * 1024,
         NULL, "account.create", "create an account; the caller becomes its MANAGER"},
        {"GET", "/v1/accounts/{id}", api_account_show, ACCESS_READER, ACC, NULL, 0, NULL, NULL,
         "show an account"},
        {"PATCH", "/v1/accounts/{id}", api_account_update, ACCESS_MANAGER, ACC, body_account_update,
         64 * 1024, NULL, "account.update", "update account settings"},
        {"DELETE", "/v1/accounts/{id}", api_account_delete, ACCESS_MANAGER, ACC, NULL, 0, "force",
         "account.delete", "delete an account (refused while it holds apps or nodes)"},
        {"POST", "/v1/accounts/{id}/test-only", api_account_test_only, ACCESS_MANAGER, ACC,
         body_test_only, 64 * 1024, NULL, "account.test_only", "change the test-only mark"},
        {"GET", "/v1/accounts/{id}/ca.pem", api_account_ca, ACCESS_READER, ACC, NULL, 0, NULL, NULL,
         "the account CA certificate (PEM)"},
        {"GET", "/v1/accounts/{id}/members", api_account_members, ACCESS_READER, ACC, NULL, 0, PAGE,
         NULL, "members and their roles"},
        {"POST", "/v1/accounts/{id}/members", api_account_member_add, ACCESS_MANAGER, ACC,
         body_member_add, 64 * 1024, NULL, "member.add", "add or invite a member"},
        {"PATCH", "/v1/accounts/{id}/members/{user}", api_account_member_role, ACCESS_MANAGER, ACC,
         body_member_role, 64 * 1024, NULL, "member.role", "change a member's role"},
        {"DELETE", "/v1/accounts/{id}/members/{user}", api_account_member_remove, ACCESS_MANAGER,
         ACC, NULL, 0, NULL, "member.remove", "remove a member"},
        {"GET", "/v1/accounts/{id}/tokens", api_token_list, ACCESS_READER, ACC, NULL, 0, PAGE, NULL,
         "API tokens (a MANAGER sees all, others their own)"},
        {"POST", "/v1/accounts/{id}/tokens", api_token_create, ACCESS_READER, ACC | ROUTE_SECRET,
         body_token_create, 64 * 1024, NULL, "token.create", "create a named API token"},
        {"DELETE", "/v1/accounts/{id}/tokens/{token}", api_token_revoke, ACCESS_READER, ACC, NULL,
         0, NULL, "token.revoke", "revoke an API token"},
        {"GET", "/v1/accounts/{id}/audit", api_audit_account, ACCESS_MANAGER, ACC, NULL, 0, AUDITQ,
         NULL, "the account's audit entries"},
        {"GET", "/v1/audit", api_audit_list, ACCESS_ADMIN, 0, NULL, 0, AUDITQ ",account", NULL,
         "the whole audit log (hash chain)"},
        {"GET", "/v1/accounts/{id}/apps", api_app_list, ACCESS_READER, ACC, NULL, 0, PAGE ",label",
         NULL, "applications (label=k=v: those requiring it)"},
        {"POST", "/v1/accounts/{id}/apps", api_app_create, ACCESS_WRITER, ACC, body_app_create,
         64 * 1024, NULL, "app.create", "create an application"},
        {"GET", "/v1/accounts/{id}/apps/{app}", api_app_show, ACCESS_READER, ACC, NULL, 0, NULL,
         NULL, "show an application"},
        {"PATCH", "/v1/accounts/{id}/apps/{app}", api_app_update, ACCESS_WRITER, ACC,
         body_app_update, 64 * 1024, NULL, "app.update",
         "update an application (new domains open a domain_whitelist task)"},
        {"DELETE", "/v1/accounts/{id}/apps/{app}", api_app_delete, ACCESS_WRITER, ACC, NULL, 0,
         NULL, "app.delete", "delete an application without builds"},
        {"GET", "/v1/accounts/{id}/builds", api_build_list, ACCESS_READER, ACC, NULL, 0,
         PAGE ",app", NULL, "builds (app=ID: of one application)"},
        {"POST", "/v1/accounts/{id}/builds", api_build_create, ACCESS_WRITER, ACC,
         body_build_create, 64 * 1024, NULL, "build.create",
         "register a build from a SIGSTRUCT, or a build record for the converter"},
        {"GET", "/v1/accounts/{id}/builds/{build}", api_build_show, ACCESS_READER, ACC, NULL, 0,
         NULL, NULL, "show a build"},
        {"POST", "/v1/accounts/{id}/builds/{build}/revoke", api_build_revoke, ACCESS_WRITER, ACC,
         body_reason_opt, 64 * 1024, NULL, "build.revoke",
         "revoke a build: no new certificates for it"},
        {"POST", "/v1/accounts/{id}/builds/{build}/retry", api_build_retry, ACCESS_WRITER, ACC,
         NULL, 0, NULL, "build.retry",
         "run a FAILED image conversion again from the start (the same build)"},
        {"GET", "/v1/accounts/{id}/tasks", api_task_list, ACCESS_READER, ACC, NULL, 0,
         PAGE ",status,type", NULL, "approval tasks"},
        {"GET", "/v1/accounts/{id}/tasks/{task}", api_task_show, ACCESS_READER, ACC, NULL, 0, NULL,
         NULL, "show a task and its votes"},
        {"POST", "/v1/accounts/{id}/tasks/{task}/approve", api_task_approve, ACCESS_WRITER, ACC,
         body_reason_opt, 64 * 1024, NULL, "task.approve",
         "approve (applied once the account's quorum is reached)"},
        {"POST", "/v1/accounts/{id}/tasks/{task}/deny", api_task_deny, ACCESS_WRITER, ACC,
         body_reason, 64 * 1024, NULL, "task.deny", "deny a task (one denial denies)"},
        {"GET", "/v1/accounts/{id}/registries", api_registry_list, ACCESS_READER, ACC, NULL, 0,
         PAGE, NULL, "registry credentials (never the secret)"},
        {"POST", "/v1/accounts/{id}/registries", api_registry_add, ACCESS_WRITER,
         ACC | ROUTE_SECRET, body_registry, 64 * 1024, NULL, "registry.add",
         "add or replace the credentials for a registry (sealed at rest)"},
        {"DELETE", "/v1/accounts/{id}/registries/{reg}", api_registry_remove, ACCESS_WRITER, ACC,
         NULL, 0, NULL, "registry.remove", "remove registry credentials"},
        {"GET", "/v1/accounts/{id}/join-tokens", api_node_token_list, ACCESS_READER, ACC, NULL, 0,
         PAGE, NULL, "node join tokens"},
        {"POST", "/v1/accounts/{id}/join-tokens", api_node_token_create, ACCESS_WRITER,
         ACC | ROUTE_SECRET, body_join_token, 64 * 1024, NULL, "join_token.create",
         "create a join token (shown once)"},
        {"DELETE", "/v1/accounts/{id}/join-tokens/{jt}", api_node_token_revoke, ACCESS_WRITER, ACC,
         NULL, 0, NULL, "join_token.revoke", "revoke a join token"},
        {"POST", "/v1/nodes/enroll", api_node_enroll, ACCESS_PUBLIC, ROUTE_SECRET, body_enroll,
         256 * 1024, NULL, "node.enroll", "enroll a node with a join token, a CSR and evidence"},
        {"GET", "/v1/accounts/{id}/nodes", api_node_list, ACCESS_READER, ACC, NULL, 0, PAGE, NULL,
         "compute nodes"},
        {"GET", "/v1/accounts/{id}/nodes/{node}", api_node_show, ACCESS_READER, ACC, NULL, 0, NULL,
         NULL, "show a node and its app instances"},
        {"PATCH", "/v1/accounts/{id}/nodes/{node}", api_node_label, ACCESS_WRITER, ACC,
         body_node_label, 64 * 1024, NULL, "node.label", "set a node's labels"},
        {"POST", "/v1/accounts/{id}/nodes/{node}/deactivate", api_node_deactivate, ACCESS_MANAGER,
         ACC, body_reason_opt, 64 * 1024, NULL, "node.deactivate",
         "deactivate a node for good (its certificates go on the CRL)"},
        {"GET", "/v1/accounts/{id}/crl.pem", api_cert_crl, ACCESS_READER, ACC, NULL, 0, NULL, NULL,
         "the account CA's CRL (PEM)"},
        {"GET", "/v1/accounts/{id}/certificates", api_cert_list, ACCESS_READER, ACC, NULL, 0,
         PAGE ",app", NULL, "issued certificates (app=ID: of one application)"},
        {"POST", "/v1/accounts/{id}/certificates/{cert}/revoke", api_cert_revoke, ACCESS_WRITER,
         ACC, body_reason_opt, 64 * 1024, NULL, "certificate.revoke",
         "revoke a certificate (it goes on the CRL)"},
        {"POST", "/v1/node/status", api_nodechan_status, ACCESS_NODE, ROUTE_NOAUDIT,
         body_node_status, 64 * 1024, NULL, "node.status", "heartbeat (mTLS)"},
        {"POST", "/v1/node/renew", api_nodechan_renew, ACCESS_NODE, 0, body_node_renew, 64 * 1024,
         NULL, "node.renew", "renew the node certificate (mTLS)"},
        {"POST", "/v1/node/issue", api_cert_issue, ACCESS_NODE, 0, body_node_issue, 256 * 1024,
         NULL, "certificate.issue", "attest an app and issue its certificate (mTLS)"},
        {"POST", "/v1/node/issue/batch", api_cert_issue_batch, ACCESS_NODE,
         ROUTE_NOAUDIT | ROUTE_BATCH, body_node_issue_batch, 1024 * 1024, NULL,
         "certificate.issue_batch",
         "several issue requests in one call, each checked, audited and answered as its own "
         "(mTLS); {\"results\"} JSON, or frames with Accept: application/vnd.ccm.frames"},
        {"GET", "/v1/node/apps/{app}/config", api_nodechan_app_config, ACCESS_NODE, 0, NULL, 0,
         NULL, NULL, "an app's non-secret config, for runtimes (mTLS; the node's account only)"},
        {NULL, NULL, NULL, ACCESS_PUBLIC, 0, NULL, 0, NULL, NULL, NULL},
};

const char *route_access_name(enum route_access a)
{
	static const char *const names[] = {"PUBLIC",  "USER",  "READER", "WRITER",
	                                    "MANAGER", "ADMIN", "NODE"};
	return (size_t)a < sizeof(names) / sizeof(names[0]) ? names[a] : "?";
}

/* A positive decimal without leading zeros, at most 2^53. */
static bool route_id(const char *s, size_t n, int64_t *out)
{
	int64_t v = 0;

	if (n == 0 || n > 16 || s[0] == '0')
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (s[i] - '0');
	}
	if (v > ((int64_t)1 << 53))
		return false;
	*out = v;
	return true;
}

static bool route_path(const char *pat, const char *path, struct req *r)
{
	size_t np = 0;

	while (*pat && *path) {
		if (*pat != '/' || *path != '/')
			return false;
		pat++;
		path++;
		size_t pl = strcspn(pat, "/"), sl = strcspn(path, "/");
		if (pat[0] == '{') {
			int64_t id;
			if (np >= REQ_MAX_PARAMS || !route_id(path, sl, &id))
				return false;
			if (r)
				r->params[np] = id;
			np++;
		} else if (pl != sl || strncmp(pat, path, pl) != 0) {
			return false;
		}
		pat += pl;
		path += sl;
	}
	if (*pat || *path)
		return false;
	if (r)
		r->nparams = np;
	return true;
}

const struct route *route_match(const char *method, const char *path, struct req *r,
                                bool *path_only)
{
	*path_only = false;
	for (const struct route *rt = route_table; rt->method; rt++) {
		if (!route_path(rt->path, path, NULL))
			continue;
		if (strcmp(rt->method, method) != 0) {
			*path_only = true;
			continue;
		}
		route_path(rt->path, path, r);
		return rt;
	}
	return NULL;
}

size_t route_allowed(const char *path, char *out, size_t size)
{
	size_t len = 0;

	out[0] = '\0';
	for (const struct route *rt = route_table; rt->method; rt++) {
		int n;
		if (!route_path(rt->path, path, NULL) || strstr(out, rt->method) != NULL)
			continue;
		n = snprintf(out + len, size - len, "%s%s", len ? ", " : "", rt->method);
		if (n < 0 || (size_t)n >= size - len) {
			out[len] = '\0'; /* the methods that fit */
			break;
		}
		len += (size_t)n;
	}
	return len;
}

const struct route *route_find(const char *method, const char *path)
{
	for (const struct route *rt = route_table; rt->method; rt++)
		if (strcmp(rt->method, method) == 0 && strcmp(rt->path, path) == 0)
			return rt;
	return NULL;
}

static void route_params(const struct route *rt, json_t *params)
{
	const char *p = rt->path;
	char name[32];

	while ((p = strchr(p, '{')) != NULL) {
		size_t n = strcspn(p + 1, "}");
		snprintf(name, sizeof(name), "%.*s", (int)n, p + 1);
		json_array_append_new(params, json_pack("{s:s,s:s,s:b,s:{s:s,s:i}}", "name", name,
		                                        "in", "path", "required", 1, "schema",
		                                        "type", "integer", "minimum", 1));
		p += n + 1;
	}
	for (p = rt->query; p && *p;) {
		size_t n = strcspn(p, ",");
		snprintf(name, sizeof(name), "%.*s", (int)n, p);
		json_array_append_new(params, json_pack("{s:s,s:s,s:{s:s}}", "name", name, "in",
		                                        "query", "schema", "type", "string"));
		p += n + (p[n] == ',');
	}
}

static json_t *route_operation(const struct route *rt)
{
	json_t *op, *params = json_array();
	char lower[8];
	size_t i;

	for (i = 0; rt->method[i] && i < sizeof(lower) - 1; i++)
		lower[i] = (char)(rt->method[i] | 0x20);
	lower[i] = '\0';
	route_params(rt, params);
	op = json_pack("{s:s,s:s,s:s,s:b,s:o,s:{s:{s:s},s:{s:s}}}", "summary", rt->summary,
	               "operationId", rt->action ? rt->action : rt->path, "x-min-role",
	               route_access_name(rt->access), "x-account-scoped",
	               (rt->flags & ROUTE_ACCOUNT) != 0, "parameters", params, "responses", "200",
	               "description", "success", "default", "description",
	               "error: {\"error\":{\"code\",\"message\"}}");
	if (rt->body != NULL)
		json_object_set_new(op, "requestBody",
		                    json_pack("{s:b,s:{s:{s:o}}}", "required", 1, "content",
		                              "application/json", "schema",
		                              apijson_schema(rt->body)));
	if (rt->access == ACCESS_PUBLIC || rt->access == ACCESS_NODE)
		json_object_set_new(op, "security", json_array());
	if (rt->access == ACCESS_NODE)
		json_object_set_new(op, "x-mtls", json_true());
	json_object_set_new(op, "x-max-body", json_integer((json_int_t)rt->max_body));
	return op;
}

json_t *route_openapi(void)
{
	json_t *paths = json_object();

	for (const struct route *rt = route_table; rt->method; rt++) {
		json_t *item = json_object_get(paths, rt->path);
		char m[8];
		size_t i;

		if (item == NULL) {
			item = json_object();
			json_object_set_new(paths, rt->path, item);
		}
		for (i = 0; rt->method[i] && i < sizeof(m) - 1; i++)
			m[i] = (char)(rt->method[i] | 0x20);
		m[i] = '\0';
		json_object_set_new(item, m, route_operation(rt));
	}
	return json_pack("{s:s,s:{s:s,s:s},s:o,s:{s:{s:{s:s,s:s}}},s:[{s:[]}]}", "openapi", "3.0.3",
	                 "info", "title", "ccm manager API", "version", CCM_VERSION, "paths", paths,
	                 "components", "securitySchemes", "bearer", "type", "http", "scheme",
	                 "bearer", "security", "bearer");
}
