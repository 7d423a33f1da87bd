/*
 * DESIGN: the manager client commands. Each mirrors one REST call of ccmd
 * (see GET /v1/openapi.json): options become the JSON body, the reply is
 * printed as one JSON object with --json or as short "key: value" text.
 * The server is named by --server/--cacert before the command (or
 * CCM_SERVER/CCM_CACERT); `ccm login` keeps the session token, server and
 * CA path in $XDG_CONFIG_HOME/ccm/session.json (mode 0600); CCM_TOKEN
 * overrides it (API tokens for automation). Server errors are printed as
 * "code: message"; 401/403/429 exit 1 (refused), others 2.
 * `ccm audit verify` pages through the whole log and recomputes the hash
 * chain with the same function ccmd uses, naming the first entry that
 * does not fit.
 */
#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "ccm/store.h"
#include "cli.h"
#include "mgr.h"
#include "util/util.h"

#define MGR_MAX_REPLY (16u << 20)

/* spec: space-separated option names; "name=" takes a value. */
int mgr_parse(const char *cmd, int argc, char **argv, const char *spec, int pmin, int pmax,
              struct mgr_args *a)
{
	memset(a, 0, sizeof(*a));
	a->cmd = cmd;
	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i], *eq, *p;
		size_t len;
		if (strncmp(arg, "--", 2) != 0 || arg[2] == '\0') {
			if (a->npos >= pmax)
				return cli_usage(cmd, "unexpected argument '%s'", arg);
			a->pos[a->npos++] = arg;
			continue;
		}
		arg += 2;
		eq = strchr(arg, '=');
		len = eq ? (size_t)(eq - arg) : strlen(arg);
		p = spec;
		while (*p) {
			size_t wl = strcspn(p, " =");
			if (wl == len && strncmp(p, arg, len) == 0)
				break;
			p += strcspn(p, " ");
			while (*p == ' ')
				p++;
		}
		if (*p == '\0')
			return cli_usage(cmd, "unknown option '--%.*s'", (int)len, arg);
		if (a->n >= MGR_MAX_OPTS)
			return cli_usage(cmd, "too many options");
		a->names[a->n] = p;
		if (p[len] == '=') {
			if (eq == NULL && i + 1 >= argc)
				return cli_usage(cmd, "--%.*s needs a value", (int)len, arg);
			a->vals[a->n] = eq ? eq + 1 : argv[++i];
		} else {
			if (eq != NULL)
				return cli_usage(cmd, "--%.*s takes no value", (int)len, arg);
			a->vals[a->n] = "";
		}
		if (len == 4 && strncmp(arg, "json", 4) == 0)
			a->json = true;
		a->n++;
	}
	if (a->npos < pmin)
		return cli_usage(cmd, "missing argument");
	return 0;
}

const char *mgr_opt(const struct mgr_args *a, const char *name)
{
	size_t len = strlen(name);

	for (int i = a->n - 1; i >= 0; i--)
		if (strncmp(a->names[i], name, len) == 0 &&
		    (a->names[i][len] == '=' || a->names[i][len] == ' ' ||
		     a->names[i][len] == '\0'))
			return a->vals[i];
	return NULL;
}

/* ---- session file ---------------------------------------------------------- */

static int mgr_config_path(char *out, size_t n, bool mkdirs)
{
	const char *x = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
	char dir[4096];

	if (x && *x)
		snprintf(dir, sizeof(dir), "%s/ccm", x);
	else if (home && *home)
		snprintf(dir, sizeof(dir), "%s/.config/ccm", home);
	else
		return -1;
	if (mkdirs) {
		char parent[4096];
		snprintf(parent, sizeof(parent), "%.*s", (int)(strrchr(dir, '/') - dir), dir);
		if (mkdir(parent, 0700) != 0 && errno != EEXIST)
			return -1;
		if (mkdir(dir, 0700) != 0 && errno != EEXIST)
			return -1;
	}
	snprintf(out, n, "%s/session.json", dir);
	return 0;
}

static json_t *mgr_session_load(void)
{
	char path[4200];

	if (mgr_config_path(path, sizeof(path), false) != 0)
		return NULL;
	return json_load_file(path, 0, NULL);
}

int mgr_init(struct mgr *m, bool need_token)
{
	json_t *s = mgr_session_load();
	const char *v;

	memset(m, 0, sizeof(*m));
	if ((v = getenv("CCM_SERVER")) != NULL && *v)
		snprintf(m->server, sizeof(m->server), "%s", v);
	else if (s && (v = json_string_value(json_object_get(s, "server"))) != NULL)
		snprintf(m->server, sizeof(m->server), "%s", v);
	if ((v = getenv("CCM_CACERT")) != NULL && *v)
		snprintf(m->cacert, sizeof(m->cacert), "%s", v);
	else if (s && (v = json_string_value(json_object_get(s, "cacert"))) != NULL)
		snprintf(m->cacert, sizeof(m->cacert), "%s", v);
	if ((v = getenv("CCM_TOKEN")) != NULL && *v)
		snprintf(m->token, sizeof(m->token), "%s", v);
	else if (s && (v = json_string_value(json_object_get(s, "token"))) != NULL &&
	         json_string_value(json_object_get(s, "server")) != NULL &&
	         strcmp(json_string_value(json_object_get(s, "server")), m->server) == 0)
		snprintf(m->token, sizeof(m->token), "%s", v);
	json_decref(s);
	while (m->server[0] && m->server[strlen(m->server) - 1] == '/')
		m->server[strlen(m->server) - 1] = '\0';
	if (m->server[0] == '\0')
		return cli_failf(CCM_E_USAGE, "no manager: give --server URL or set CCM_SERVER");
	if (need_token && m->token[0] == '\0')
		return cli_failf(CCM_E_AUTH, "not logged in (run 'ccm login' or set CCM_TOKEN)");
	return 0;
}

static int mgr_session_save(const struct mgr *m, const char *token)
{
	char path[4200];
	struct ccm_error err;
	json_t *o;
	char *s;
	ccm_code rc;

	if (mgr_config_path(path, sizeof(path), true) != 0)
		return cli_failf(CCM_E_IO, "cannot find a config directory (set XDG_CONFIG_HOME)");
	o = json_pack("{s:s,s:s,s:s}", "server", m->server, "cacert", m->cacert, "token", token);
	s = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	if (s == NULL)
		return cli_failf(CCM_E_NOMEM, "out of memory");
	rc = util_write_file(path, s, strlen(s), 0600, &err);
	OPENSSL_cleanse(s, strlen(s));
	free(s);
	return rc == CCM_OK ? 0 : cli_fail(&err);
}

/* ---- HTTP ---------------------------------------------------------------------- */

/* One request. Returns the HTTP status (0 on transport failure, printed);
 * *out gets the reply text (malloc'ed). */
long mgr_http(const struct mgr *m, const char *method, const char *path, json_t *body,
              const char *userpwd, char **out)
{
	struct util_capbuf b = {.max = MGR_MAX_REPLY};
	struct curl_slist *h = NULL;
	char url[2048], auth[160];
	char *data = NULL;
	long status = 0;
	CURLcode cc;
	CURL *c = curl_easy_init();

	*out = NULL;
	if (c == NULL)
		return 0;
	snprintf(url, sizeof(url), "%s%s", m->server, path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https,http");
	curl_easy_setopt(c, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 120L);
	if (m->cacert[0])
		curl_easy_setopt(c, CURLOPT_CAINFO, m->cacert);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, util_capbuf_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	if (userpwd != NULL) {
		curl_easy_setopt(c, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		curl_easy_setopt(c, CURLOPT_USERPWD, userpwd);
	} else if (m->token[0]) {
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", m->token);
		h = curl_slist_append(h, auth);
		OPENSSL_cleanse(auth, sizeof(auth));
	}
	if (body != NULL) {
		data = json_dumps(body, JSON_COMPACT);
		h = curl_slist_append(h, "Content-Type: application/json");
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, data ? data : "{}");
	} else if (strcmp(method, "POST") == 0) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
	}
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	cc = curl_easy_perform(c);
	if (cc == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	else
		fprintf(stderr, "ccm: %s: %s\n", url,
		        b.over ? "reply too large" : curl_easy_strerror(cc));
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	if (data != NULL) /* may hold a password */
		OPENSSL_clear_free(data, strlen(data) + 1);
	if (status == 0) {
		free(b.p);
		return 0;
	}
	*out = b.p ? b.p : strdup("");
	return status;
}

/* Print a server error; exit status for it. */
int mgr_error(long status, const char *text)
{
	json_t *j = json_loads(text ? text : "", 0, NULL);
	json_t *e = json_object_get(j, "error");
	const char *code = json_string_value(json_object_get(e, "code"));
	const char *msg = json_string_value(json_object_get(e, "message"));

	fprintf(stderr, "ccm: %s: %s (HTTP %ld)\n", code ? code : "error", msg ? msg : "no message",
	        status);
	json_decref(j);
	return status == 401 || status == 403 || status == 429 ? 1 : 2;
}

/* Call and parse a JSON reply; returns 0 with *out set, or an exit status. */
int mgr_call(const struct mgr *m, const char *method, const char *path, json_t *body, json_t **out)
{
	char *text = NULL;
	long st = mgr_http(m, method, path, body, NULL, &text);
	int rc = 0;

	json_decref(body);
	*out = NULL;
	if (st == 0)
		return 2;
	if (st >= 300)
		rc = mgr_error(st, text);
	else if ((*out = json_loads(text, 0, NULL)) == NULL)
		rc = cli_failf(CCM_E_INPUT, "%s %s: the reply is not JSON", method, path);
	free(text);
	return rc;
}

static void mgr_print_value(const char *key, json_t *v)
{
	char *s;

	if (json_is_string(v)) {
		printf("%-24s %s\n", key, json_string_value(v));
		return;
	}
	s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
	printf("%-24s %s\n", key, s ? s : "?");
	free(s);
}

/* Text output: objects as "key value" lines, listings one item a line. */
int mgr_show(const struct mgr_args *a, json_t *o)
{
	json_t *items = json_object_get(o, "items"), *v, *it;
	const char *k;
	size_t i;

	if (a->json) {
		cli_json_print(o);
		return 0;
	}
	if (json_is_array(items)) {
		json_array_foreach(items, i, it)
		{
			const char *sep = "";
			json_object_foreach(it, k, v)
			{
				char *s = json_is_string(v)
				                  ? NULL
				                  : json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
				printf("%s%s=%s", sep, k, s ? s : json_string_value(v));
				free(s);
				sep = " ";
			}
			putchar('\n');
		}
	} else {
		json_object_foreach(o, k, v) mgr_print_value(k, v);
	}
	json_decref(o);
	return 0;
}

int mgr_simple(const struct mgr_args *a, const char *method, const char *path, json_t *body)
{
	struct mgr m;
	json_t *out;
	int rc = mgr_init(&m, true);

	if (rc != 0) {
		json_decref(body);
		return rc;
	}
	rc = mgr_call(&m, method, path, body, &out);
	return rc ? rc : mgr_show(a, out);
}

/* --account ID, or CCM_ACCOUNT: every account-scoped command needs one. */
int mgr_account(const struct mgr_args *a, uint64_t *out)
{
	const char *acc = mgr_opt(a, "account");

	if (acc == NULL)
		acc = getenv("CCM_ACCOUNT");
	if (acc == NULL || *acc == '\0')
		return cli_usage(a->cmd, "--account ID is required (or set CCM_ACCOUNT)");
	return cli_u64("--account", acc, (uint64_t)1 << 53, out);
}

int mgr_id(const struct mgr_args *a, int i, uint64_t *out)
{
	struct ccm_error err;

	if (util_parse_u64(a->pos[i], (uint64_t)1 << 53, out, "id", &err) != CCM_OK || *out == 0)
		return cli_usage(a->cmd, "'%s' is not an id", a->pos[i]);
	return 0;
}

/* Read a password from a file ('-' = stdin), first line only. */
static int mgr_read_secret(const char *path, char *out, size_t n)
{
	struct ccm_error err;
	uint8_t *buf = NULL;
	size_t len = 0;

	if (util_read_file(path, 4096, &buf, &len, &err) != CCM_OK)
		return cli_fail(&err);
	len = strcspn((char *)buf, "\r\n");
	if (len == 0 || len >= n) {
		OPENSSL_clear_free(buf, len);
		return cli_failf(CCM_E_INPUT, "%s: expected a password on the first line", path);
	}
	memcpy(out, buf, len);
	out[len] = '\0';
	OPENSSL_cleanse(buf, len);
	free(buf);
	return 0;
}

/* Append "&key=value" (escaped) to a path. */
void mgr_q(char *q, size_t n, const char *key, const char *val)
{
	char *e;
	size_t used = strlen(q);

	if (val == NULL)
		return;
	e = curl_easy_escape(NULL, val, 0);
	snprintf(q + used, n - used, "%s%s=%s", strchr(q, '?') ? "&" : "?", key, e ? e : "");
	curl_free(e);
}

void mgr_paging(const struct mgr_args *a, char *q, size_t n)
{
	mgr_q(q, n, "limit", mgr_opt(a, "limit"));
	mgr_q(q, n, "offset", mgr_opt(a, "offset"));
}

/* ---- login, logout, whoami, passwd ------------------------------------------------ */

static int mgr_change_password(struct mgr *m, const char *old, const char *new, json_t **out)
{
	json_t *body = json_pack("{s:s,s:s}", "old_password", old, "new_password", new);
	int rc = mgr_call(m, "POST", "/v1/users/me/password", body, out);
	const char *tok;

	if (rc != 0)
		return rc;
	tok = json_string_value(json_object_get(*out, "token"));
	if (tok == NULL)
		return cli_failf(CCM_E_INPUT, "the reply holds no token");
	snprintf(m->token, sizeof(m->token), "%s", tok);
	return mgr_session_save(m, tok);
}

static int mgr_login_reply(const struct mgr_args *a, json_t *o)
{
	json_object_del(o, "token");
	if (!a->json)
		printf("logged in as %s (session until %s)\n",
		       json_string_value(json_object_get(json_object_get(o, "user"), "email")),
		       json_string_value(json_object_get(o, "expires_at")));
	if (json_is_true(json_object_get(o, "must_change_password")))
		fprintf(stderr, "ccm: password change required: run 'ccm user passwd' "
		                "(or 'ccm login --new-password-file F')\n");
	return a->json ? (cli_json_print(o), 0) : (json_decref(o), 0);
}

/* POST /v1/sys/signup (ccmd --open-signup): a user, no session; log in next. */
static int cmd_signup(int argc, char **argv)
{
	struct mgr_args a;
	struct mgr m;
	char pw[260] = "";
	const char *email, *pf;
	json_t *body, *out = NULL;
	int rc = mgr_parse("signup", argc, argv, "email= name= password-file= json", 0, 0, &a);

	if (rc != 0)
		return rc;
	email = mgr_opt(&a, "email") ? mgr_opt(&a, "email") : getenv("CCM_EMAIL");
	pf = mgr_opt(&a, "password-file");
	if (email == NULL)
		return cli_usage("signup", "--email is required (or CCM_EMAIL)");
	if (pf == NULL)
		return cli_usage("signup", "--password-file FILE is required");
	if ((rc = mgr_read_secret(pf, pw, sizeof(pw))) != 0)
		goto out;
	if ((rc = mgr_init(&m, false)) != 0)
		goto out;
	m.token[0] = '\0';
	body = json_pack("{s:s,s:s}", "email", email, "password", pw);
	if (mgr_opt(&a, "name"))
		json_object_set_new(body, "name", json_string(mgr_opt(&a, "name")));
	rc = mgr_call(&m, "POST", "/v1/sys/signup", body, &out);
	if (rc == 0)
		rc = mgr_show(&a, out);
out:
	OPENSSL_cleanse(pw, sizeof(pw));
	return rc;
}

static int cmd_login(int argc, char **argv)
{
	struct mgr_args a;
	struct mgr m;
	char pw[260] = "", npw[260] = "", userpwd[600];
	const char *email, *pf, *npf, *tok;
	char *text = NULL;
	json_t *o = NULL;
	long st;
	int rc = mgr_parse("login", argc, argv, "email= password-file= new-password-file= json", 0,
	                   0, &a);

	if (rc != 0)
		return rc;
	email = mgr_opt(&a, "email") ? mgr_opt(&a, "email") : getenv("CCM_EMAIL");
	pf = mgr_opt(&a, "password-file");
	npf = mgr_opt(&a, "new-password-file");
	if (email == NULL)
		return cli_usage("login", "--email is required (or CCM_EMAIL)");
	if (pf != NULL && (rc = mgr_read_secret(pf, pw, sizeof(pw))) != 0)
		return rc;
	if (pf == NULL && getenv("CCM_PASSWORD") != NULL)
		snprintf(pw, sizeof(pw), "%s", getenv("CCM_PASSWORD"));
	if (pw[0] == '\0')
		return cli_usage("login", "--password-file FILE is required (or CCM_PASSWORD)");
	if (npf != NULL && (rc = mgr_read_secret(npf, npw, sizeof(npw))) != 0)
		goto out;
	if ((rc = mgr_init(&m, false)) != 0)
		goto out;
	m.token[0] = '\0';
	snprintf(userpwd, sizeof(userpwd), "%s:%s", email, pw);
	st = mgr_http(&m, "POST", "/v1/sys/auth", NULL, userpwd, &text);
	OPENSSL_cleanse(userpwd, sizeof(userpwd));
	if (st == 0 || st >= 300) {
		rc = st ? mgr_error(st, text) : 2;
		goto out;
	}
	o = json_loads(text, 0, NULL);
	tok = json_string_value(json_object_get(o, "token"));
	if (tok == NULL) {
		rc = cli_failf(CCM_E_INPUT, "the login reply holds no token");
		goto out;
	}
	snprintf(m.token, sizeof(m.token), "%s", tok);
	if ((rc = mgr_session_save(&m, tok)) != 0)
		goto out;
	if (npw[0] && json_is_true(json_object_get(o, "must_change_password"))) {
		json_decref(o);
		o = NULL;
		if ((rc = mgr_change_password(&m, pw, npw, &o)) != 0)
			goto out;
	}
	rc = mgr_login_reply(&a, o);
	o = NULL;
out:
	json_decref(o);
	if (text)
		OPENSSL_cleanse(text, strlen(text));
	free(text);
	OPENSSL_cleanse(pw, sizeof(pw));
	OPENSSL_cleanse(npw, sizeof(npw));
	return rc;
}

static int cmd_logout(int argc, char **argv)
{
	struct mgr_args a;
	struct mgr m;
	char path[4200];
	json_t *o;
	int rc = mgr_parse("logout", argc, argv, "json", 0, 0, &a);

	if (rc != 0 || (rc = mgr_init(&m, true)) != 0)
		return rc;
	rc = mgr_call(&m, "POST", "/v1/sys/logout", NULL, &o);
	if (mgr_config_path(path, sizeof(path), false) == 0 && getenv("CCM_TOKEN") == NULL)
		unlink(path);
	if (rc != 0)
		return rc;
	return mgr_show(&a, o);
}

static int cmd_whoami(int argc, char **argv)
{
	struct mgr_args a;
	int rc = mgr_parse("whoami", argc, argv, "json", 0, 0, &a);

	return rc ? rc : mgr_simple(&a, "GET", "/v1/sys/whoami", NULL);
}

static int cmd_user_passwd(int argc, char **argv)
{
	struct mgr_args a;
	struct mgr m;
	char old[260], new[260];
	json_t *o = NULL;
	int rc = mgr_parse("user passwd", argc, argv, "old-password-file= new-password-file= json",
	                   0, 0, &a);

	if (rc != 0)
		return rc;
	if (!mgr_opt(&a, "old-password-file") || !mgr_opt(&a, "new-password-file"))
		return cli_usage("user passwd", "--old-password-file and --new-password-file are "
		                                "required");
	if ((rc = mgr_read_secret(mgr_opt(&a, "old-password-file"), old, sizeof(old))) != 0 ||
	    (rc = mgr_read_secret(mgr_opt(&a, "new-password-file"), new, sizeof(new))) != 0 ||
	    (rc = mgr_init(&m, true)) != 0 || (rc = mgr_change_password(&m, old, new, &o)) != 0)
		goto out;
	json_object_del(o, "token");
	rc = mgr_show(&a, o);
out:
	OPENSSL_cleanse(old, sizeof(old));
	OPENSSL_cleanse(new, sizeof(new));
	return rc;
}

/* ---- accounts ---------------------------------------------------------------------- */

/* "A,B" -> ["A","B"] */
json_t *mgr_list(const char *s)
{
	json_t *arr = json_array();

	while (s && *s) {
		size_t n = strcspn(s, ",");
		if (n > 0)
			json_array_append_new(arr, json_stringn(s, n));
		s += n + (s[n] == ',');
	}
	return arr;
}

int mgr_int_field(const struct mgr_args *a, json_t *body, const char *opt, const char *field,
                  uint64_t max)
{
	const char *v = mgr_opt(a, opt);
	char name[40];
	uint64_t n;

	if (v == NULL)
		return 0;
	snprintf(name, sizeof(name), "--%s", opt);
	if (cli_u64(name, v, max, &n) != 0)
		return 2;
	json_object_set_new(body, field, json_integer((json_int_t)n));
	return 0;
}

static int mgr_account_body(const struct mgr_args *a, json_t *body)
{
	const char *v;

	if (mgr_opt(a, "name"))
		json_object_set_new(body, "name", json_string(mgr_opt(a, "name")));
	if (mgr_opt(a, "description"))
		json_object_set_new(body, "description", json_string(mgr_opt(a, "description")));
	if (mgr_opt(a, "tcb"))
		json_object_set_new(body, "accepted_tcb_statuses", mgr_list(mgr_opt(a, "tcb")));
	if ((v = mgr_opt(a, "node-approval")) != NULL) {
		if (strcmp(v, "on") != 0 && strcmp(v, "off") != 0)
			return cli_usage(a->cmd, "--node-approval: expected on or off, got '%s'",
			                 v);
		json_object_set_new(body, "node_approval", json_boolean(strcmp(v, "on") == 0));
	}
	return mgr_int_field(a, body, "quorum", "approval_quorum", 1000);
}

static int cmd_account_create(int argc, char **argv)
{
	struct mgr_args a;
	json_t *body;
	int rc = mgr_parse("account create", argc, argv,
	                   "test-only description= quorum= tcb= node-approval= json", 1, 1, &a);

	if (rc != 0)
		return rc;
	body = json_pack("{s:s}", "name", a.pos[0]);
	if (mgr_opt(&a, "test-only"))
		json_object_set_new(body, "test_only", json_true());
	if ((rc = mgr_account_body(&a, body)) != 0) {
		json_decref(body);
		return rc;
	}
	return mgr_simple(&a, "POST", "/v1/accounts", body);
}

static int cmd_account_list(int argc, char **argv)
{
	struct mgr_args a;
	char path[256] = "/v1/accounts";
	int rc = mgr_parse("account list", argc, argv, "all limit= offset= json", 0, 0, &a);

	if (rc != 0)
		return rc;
	if (mgr_opt(&a, "all"))
		mgr_q(path, sizeof(path), "all", "true");
	mgr_paging(&a, path, sizeof(path));
	return mgr_simple(&a, "GET", path, NULL);
}

/* Commands of the form "... ID" on /v1/accounts/ID[suffix]. */
static int mgr_account_path(const struct mgr_args *a, const char *suffix, char *path, size_t n)
{
	uint64_t id;
	int rc = mgr_id(a, 0, &id);

	if (rc == 0)
		snprintf(path, n, "/v1/accounts/%" PRIu64 "%s", id, suffix);
	return rc;
}

static int cmd_account_show(int argc, char **argv)
{
	struct mgr_args a;
	char path[256];
	int rc = mgr_parse("account show", argc, argv, "json", 1, 1, &a);

	if (rc != 0 || (rc = mgr_account_path(&a, "", path, sizeof(path))) != 0)
		return rc;
	return mgr_simple(&a, "GET", path, NULL);
}

static int cmd_account_update(int argc, char **argv)
{
	struct mgr_args a;
	char path[256];
	json_t *body = json_object();
	int rc = mgr_parse("account update", argc, argv,
	                   "name= description= quorum= tcb= node-approval= json", 1, 1, &a);

	if (rc != 0 || (rc = mgr_account_path(&a, "", path, sizeof(path))) != 0 ||
	    (rc = mgr_account_body(&a, body)) != 0) {
		json_decref(body);
		return rc;
	}
	return mgr_simple(&a, "PATCH", path, body);
}

static int cmd_account_test_only(int argc, char **argv)
{
	struct mgr_args a;
	char path[256];
	int rc = mgr_parse("account test-only", argc, argv, "reason= json", 2, 2, &a);

	if (rc != 0 || (rc = mgr_account_path(&a, "/test-only", path, sizeof(path))) != 0)
		return rc;
	if (strcmp(a.pos[1], "true") != 0 && strcmp(a.pos[1], "false") != 0)
		return cli_usage("account test-only", "expected true or false");
	if (mgr_opt(&a, "reason") == NULL)
		return cli_usage("account test-only", "--reason is required");
	return mgr_simple(&a, "POST", path,
	                  json_pack("{s:b,s:s}", "test_only", strcmp(a.pos[1], "true") == 0,
	                            "reason", mgr_opt(&a, "reason")));
}

static int cmd_account_delete(int argc, char **argv)
{
	struct mgr_args a;
	char path[256];
	int rc = mgr_parse("account delete", argc, argv, "force json", 1, 1, &a);

	if (rc != 0 || (rc = mgr_account_path(&a, mgr_opt(&a, "force") ? "?force=true" : "", path,
	                                      sizeof(path))) != 0)
		return rc;
	return mgr_simple(&a, "DELETE", path, NULL);
}

/* GET an account's PEM document (CA certificate, CRL) to stdout or -o. */
static int account_pem(int argc, char **argv, const char *cmd, const char *suffix)
{
	struct mgr_args a;
	struct mgr m;
	struct ccm_error err;
	char path[256], *text = NULL;
	long st;
	int rc = mgr_parse(cmd, argc, argv, "output=", 1, 1, &a);

	if (rc != 0 || (rc = mgr_account_path(&a, suffix, path, sizeof(path))) != 0 ||
	    (rc = mgr_init(&m, true)) != 0)
		return rc;
	st = mgr_http(&m, "GET", path, NULL, NULL, &text);
	if (st == 0 || st >= 300) {
		rc = st ? mgr_error(st, text) : 2;
	} else if (mgr_opt(&a, "output")) {
		if (util_write_file(mgr_opt(&a, "output"), text, strlen(text), 0644, &err) !=
		    CCM_OK)
			rc = cli_fail(&err);
	} else {
		fputs(text, stdout);
	}
	free(text);
	return rc;
}

static int cmd_account_ca(int argc, char **argv)
{
	return account_pem(argc, argv, "account ca", "/ca.pem");
}

static int cmd_account_crl(int argc, char **argv)
{
	return account_pem(argc, argv, "account crl", "/crl.pem");
}

static int cmd_account_members(int argc, char **argv)
{
	struct mgr_args a;
	char path[256];
	int rc = mgr_parse("account members", argc, argv, "limit= offset= json", 1, 1, &a);

	if (rc != 0 || (rc = mgr_account_path(&a, "/members", path, sizeof(path))) != 0)
		return rc;
	mgr_paging(&a, path, sizeof(path));
	return mgr_simple(&a, "GET", path, NULL);
}

/* ---- users ------------------------------------------------------------------------- */

static int cmd_user_list(int argc, char **argv)
{
	struct mgr_args a;
	char path[256] = "/v1/users";
	int rc = mgr_parse("user list", argc, argv, "limit= offset= json", 0, 0, &a);

	if (rc != 0)
		return rc;
	mgr_paging(&a, path, sizeof(path));
	return mgr_simple(&a, "GET", path, NULL);
}

static int cmd_user_create(int argc, char **argv)
{
	struct mgr_args a;
	char pw[260];
	json_t *body;
	int rc = mgr_parse("user create", argc, argv, "name= password-file= admin json", 1, 1, &a);

	if (rc != 0)
		return rc;
	body = json_pack("{s:s}", "email", a.pos[0]);
	if (mgr_opt(&a, "name"))
		json_object_set_new(body, "name", json_string(mgr_opt(&a, "name")));
	if (mgr_opt(&a, "admin"))
		json_object_set_new(body, "is_admin", json_true());
	if (mgr_opt(&a, "password-file")) {
		if ((rc = mgr_read_secret(mgr_opt(&a, "password-file"), pw, sizeof(pw))) != 0) {
			json_decref(body);
			return rc;
		}
		json_object_set_new(body, "password", json_string(pw));
		OPENSSL_cleanse(pw, sizeof(pw));
	}
	return mgr_simple(&a, "POST", "/v1/users", body);
}

static int mgr_user_path(const struct mgr_args *a, char *path, size_t n)
{
	uint64_t id;
	int rc = mgr_id(a, 0, &id);

	if (rc == 0)
		snprintf(path, n, "/v1/users/%" PRIu64, id);
	return rc;
}

static int cmd_user_show(int argc, char **argv)
{
	struct mgr_args a;
	char path[128];
	int rc = mgr_parse("user show", argc, argv, "json", 1, 1, &a);

	if (rc != 0 || (rc = mgr_user_path(&a, path, sizeof(path))) != 0)
		return rc;
	return mgr_simple(&a, "GET", path, NULL);
}

static int mgr_user_set(int argc, char **argv, const char *cmd, const char *field, bool v)
{
	struct mgr_args a;
	char path[128];
	int rc = mgr_parse(cmd, argc, argv, "json", 1, 1, &a);

	if (rc != 0 || (rc = mgr_user_path(&a, path, sizeof(path))) != 0)
		return rc;
	return mgr_simple(&a, "PATCH", path, json_pack("{s:b}", field, v));
}

static int cmd_user_disable(int argc, char **argv)
{
	return mgr_user_set(argc, argv, "user disable", "disabled", true);
}

static int cmd_user_enable(int argc, char **argv)
{
	return mgr_user_set(argc, argv, "user enable", "disabled", false);
}

static int cmd_user_add(int argc, char **argv)
{
	struct mgr_args a;
	char path[256];
	json_t *body;
	int rc = mgr_parse("user add", argc, argv, "role= name= json", 2, 2, &a);

	if (rc != 0 || (rc = mgr_account_path(&a, "/members", path, sizeof(path))) != 0)
		return rc;
	if (mgr_opt(&a, "role") == NULL)
		return cli_usage("user add", "--role READER|WRITER|MANAGER is required");
	body = json_pack("{s:s,s:s}", "email", a.pos[1], "role", mgr_opt(&a, "role"));
	if (mgr_opt(&a, "name"))
		json_object_set_new(body, "name", json_string(mgr_opt(&a, "name")));
	return mgr_simple(&a, "POST", path, body);
}

static int mgr_member_path(const struct mgr_args *a, char *path, size_t n)
{
	uint64_t acc, uid;
	int rc = mgr_id(a, 0, &acc);

	if (rc == 0 && (rc = mgr_id(a, 1, &uid)) == 0)
		snprintf(path, n, "/v1/accounts/%" PRIu64 "/members/%" PRIu64, acc, uid);
	return rc;
}

static int cmd_user_role(int argc, char **argv)
{
	struct mgr_args a;
	char path[256];
	int rc = mgr_parse("user role", argc, argv, "json", 3, 3, &a);

	if (rc != 0 || (rc = mgr_member_path(&a, path, sizeof(path))) != 0)
		return rc;
	return mgr_simple(&a, "PATCH", path, json_pack("{s:s}", "role", a.pos[2]));
}

static int cmd_user_remove(int argc, char **argv)
{
	struct mgr_args a;
	char path[256];
	int rc = mgr_parse("user remove", argc, argv, "json", 2, 2, &a);

	if (rc != 0 || (rc = mgr_member_path(&a, path, sizeof(path))) != 0)
		return rc;
	return mgr_simple(&a, "DELETE", path, NULL);
}

/* ---- API tokens ------------------------------------------------------------------------ */

static int cmd_token_create(int argc, char **argv)
{
	struct mgr_args a;
	char path[256];
	json_t *body;
	int rc = mgr_parse("token create", argc, argv, "name= role= expires= json", 1, 1, &a);

	if (rc != 0 || (rc = mgr_account_path(&a, "/tokens", path, sizeof(path))) != 0)
		return rc;
	if (!mgr_opt(&a, "name") || !mgr_opt(&a, "role"))
		return cli_usage("token create", "--name and --role are required");
	body = json_pack("{s:s,s:s}", "name", mgr_opt(&a, "name"), "role", mgr_opt(&a, "role"));
	if ((rc = mgr_int_field(&a, body, "expires", "expires_in", 31536000)) != 0) {
		json_decref(body);
		return rc;
	}
	return mgr_simple(&a, "POST", path, body);
}

static int cmd_token_list(int argc, char **argv)
{
	struct mgr_args a;
	char path[256];
	int rc = mgr_parse("token list", argc, argv, "limit= offset= json", 1, 1, &a);

	if (rc != 0 || (rc = mgr_account_path(&a, "/tokens", path, sizeof(path))) != 0)
		return rc;
	mgr_paging(&a, path, sizeof(path));
	return mgr_simple(&a, "GET", path, NULL);
}

static int cmd_token_revoke(int argc, char **argv)
{
	struct mgr_args a;
	char path[256];
	uint64_t acc, id;
	int rc = mgr_parse("token revoke", argc, argv, "json", 2, 2, &a);

	if (rc != 0 || (rc = mgr_id(&a, 0, &acc)) != 0 || (rc = mgr_id(&a, 1, &id)) != 0)
		return rc;
	snprintf(path, sizeof(path), "/v1/accounts/%" PRIu64 "/tokens/%" PRIu64, acc, id);
	return mgr_simple(&a, "DELETE", path, NULL);
}

/* ---- audit ------------------------------------------------------------------------------ */

static int cmd_audit_list(int argc, char **argv)
{
	struct mgr_args a;
	char path[1024];
	int rc = mgr_parse("audit list", argc, argv,
	                   "account= action= actor= result= since= limit= offset= json", 0, 0, &a);

	if (rc != 0)
		return rc;
	/* One account's entries through its own route, which its MANAGER may
	 * read too (GET /v1/audit?account= is for administrators only). */
	if (mgr_opt(&a, "account") != NULL) {
		uint64_t id;
		if ((rc = cli_u64("--account", mgr_opt(&a, "account"), (uint64_t)1 << 53, &id)) !=
		    0)
			return rc;
		snprintf(path, sizeof(path), "/v1/accounts/%" PRIu64 "/audit", id);
	} else {
		snprintf(path, sizeof(path), "/v1/audit");
	}
	mgr_q(path, sizeof(path), "action", mgr_opt(&a, "action"));
	mgr_q(path, sizeof(path), "actor", mgr_opt(&a, "actor"));
	mgr_q(path, sizeof(path), "result", mgr_opt(&a, "result"));
	mgr_q(path, sizeof(path), "since", mgr_opt(&a, "since"));
	mgr_paging(&a, path, sizeof(path));
	return mgr_simple(&a, "GET", path, NULL);
}

static void mgr_copy(char *dst, size_t n, json_t *o, const char *key)
{
	const char *v = json_string_value(json_object_get(o, key));

	snprintf(dst, n, "%s", v ? v : "");
}

/* Check one entry against its predecessor; NULL when it fits. */
static const char *mgr_audit_check(json_t *it, int64_t prev_seq, const char *prev_hash)
{
	struct store_audit e;
	uint8_t h[STORE_DIGEST];
	char hex[2 * STORE_DIGEST + 1];

	memset(&e, 0, sizeof(e));
	e.seq = json_integer_value(json_object_get(it, "seq"));
	e.time_ms = json_integer_value(json_object_get(it, "time_ms"));
	e.account_id = json_integer_value(json_object_get(it, "account_id"));
	mgr_copy(e.actor, sizeof(e.actor), it, "actor");
	mgr_copy(e.action, sizeof(e.action), it, "action");
	mgr_copy(e.object, sizeof(e.object), it, "object");
	mgr_copy(e.result, sizeof(e.result), it, "result");
	mgr_copy(e.reason, sizeof(e.reason), it, "reason");
	mgr_copy(e.prev_hash, sizeof(e.prev_hash), it, "prev_hash");
	mgr_copy(e.hash, sizeof(e.hash), it, "hash");
	if (e.seq != prev_seq + 1)
		return "a gap in the sequence (an entry was removed)";
	if (strcmp(e.prev_hash, prev_hash) != 0)
		return "prev_hash is not the hash of the entry before";
	if (store_audit_hash(&e, h, NULL) != CCM_OK)
		return "cannot hash";
	util_hex(h, sizeof(h), hex);
	if (strcmp(hex, e.hash) != 0)
		return "its fields do not hash to its recorded hash (the entry was altered)";
	return NULL;
}

static int mgr_audit_report(const struct mgr_args *a, int64_t n, const char *head, int64_t bad,
                            const char *why)
{
	if (a->json) {
		cli_json_print(bad ? json_pack("{s:b,s:I,s:I,s:s}", "ok", 0, "entries",
		                               (json_int_t)n, "first_bad_seq", (json_int_t)bad,
		                               "reason", why)
		                   : json_pack("{s:b,s:I,s:s}", "ok", 1, "entries", (json_int_t)n,
		                               "head", head));
	}
	if (bad) {
		fprintf(stderr, "ccm: audit entry %" PRId64 " does not fit: %s\n", bad, why);
		return 1;
	}
	if (!a->json)
		printf("audit chain verifies: %" PRId64 " entries, head %s\n", n, head);
	return 0;
}

static int cmd_audit_verify(int argc, char **argv)
{
	struct mgr_args a;
	struct mgr m;
	char path[128], prev[2 * STORE_DIGEST + 1];
	int64_t seq = 0, n = 0;
	size_t i, got;
	json_t *o, *it;
	int rc = mgr_parse("audit verify", argc, argv, "json", 0, 0, &a);

	if (rc != 0 || (rc = mgr_init(&m, true)) != 0)
		return rc;
	memset(prev, '0', 2 * STORE_DIGEST);
	prev[2 * STORE_DIGEST] = '\0';
	do {
		snprintf(path, sizeof(path), "/v1/audit?limit=1000&since=%" PRId64, seq);
		if ((rc = mgr_call(&m, "GET", path, NULL, &o)) != 0)
			return rc;
		got = json_array_size(json_object_get(o, "items"));
		json_array_foreach(json_object_get(o, "items"), i, it)
		{
			const char *why = mgr_audit_check(it, seq, prev);
			int64_t s = json_integer_value(json_object_get(it, "seq"));
			if (why != NULL) {
				json_decref(o);
				return mgr_audit_report(&a, n, prev, s ? s : seq + 1, why);
			}
			seq = s;
			mgr_copy(prev, sizeof(prev), it, "hash");
			n++;
		}
		json_decref(o);
	} while (got == 1000);
	return mgr_audit_report(&a, n, prev, 0, NULL);
}

#define JSONOPT "  --json                 print one JSON object\n"

const struct cmd_entry cmd_manager_entries[] = {
        {"login", "--email EMAIL --password-file FILE [--new-password-file FILE] [--json]",
         "log in to ccmd; the session token is kept in ~/.config/ccm (mode 0600)",
         "  --email EMAIL          or CCM_EMAIL\n"
         "  --password-file FILE   first line is the password ('-': stdin), or CCM_PASSWORD\n"
         "  --new-password-file F  set this password when a change is required\n" JSONOPT
         "The manager comes from --server/--cacert before the command, or CCM_SERVER and\n"
         "CCM_CACERT, e.g. 'ccm --server https://localhost:8443 --cacert ca.pem login ...'\n",
         cmd_login},
        {"signup", "--email EMAIL --password-file FILE [--name NAME] [--json]",
         "create your own user (POST /v1/sys/signup; ccmd --open-signup), then 'ccm login'",
         "  --email EMAIL          or CCM_EMAIL\n"
         "  --password-file FILE   first line is the password ('-': stdin), 8+ characters\n"
         "  --name NAME            display name\n" JSONOPT,
         cmd_signup},
        {"logout", "[--json]", "revoke the session token and forget it", JSONOPT, cmd_logout},
        {"whoami", "[--json]", "the logged-in user and its accounts", JSONOPT, cmd_whoami},
        {"account create",
         "NAME [--test-only] [--description D] [--quorum N] [--tcb LIST] [--node-approval on|off]",
         "create an account (you become its MANAGER); it gets its own CA and signing key",
         "  --test-only            nodes may enroll without hardware attestation\n"
         "  --quorum N             approvals needed per task (default 1)\n"
         "  --tcb LIST             accepted TCB statuses, comma-separated\n"
         "  --node-approval on     a new node waits ENROLLING (serving no app) until its\n"
         "                         node_attestation task is approved (default off)\n" JSONOPT,
         cmd_account_create},
        {"account list", "[--all] [--limit N] [--offset N] [--json]",
         "your accounts (--all: every account, administrators only)", JSONOPT, cmd_account_list},
        {"account show", "ID [--json]", "show an account", JSONOPT, cmd_account_show},
        {"account update",
         "ID [--name N] [--description D] [--quorum N] [--tcb LIST] [--node-approval on|off]",
         "change account settings (MANAGER)", JSONOPT, cmd_account_update},
        {"account test-only", "ID true|false --reason TEXT",
         "change the test-only mark (MANAGER; audited with the reason)", JSONOPT,
         cmd_account_test_only},
        {"account delete", "ID [--force]",
         "delete an account (refused while it holds apps or nodes unless --force)", JSONOPT,
         cmd_account_delete},
        {"account ca", "ID [--output FILE]", "the account CA certificate (PEM)", NULL,
         cmd_account_ca},
        {"account crl", "ID [--output FILE]",
         "the account CA's certificate revocation list (PEM; GET /v1/accounts/ID/crl.pem)", NULL,
         cmd_account_crl},
        {"account members", "ID [--json]", "members of an account and their roles", JSONOPT,
         cmd_account_members},
        {"user list", "[--limit N] [--offset N] [--json]", "all users (administrator)", JSONOPT,
         cmd_user_list},
        {"user create", "EMAIL [--name N] [--password-file F] [--admin]",
         "create a user (administrator); without a password a one-time one is printed", JSONOPT,
         cmd_user_create},
        {"user show", "ID [--json]", "show a user (administrator)", JSONOPT, cmd_user_show},
        {"user disable", "ID", "disable a user and end its sessions (administrator)", JSONOPT,
         cmd_user_disable},
        {"user enable", "ID", "enable a user again (administrator)", JSONOPT, cmd_user_enable},
        {"user add", "ACCOUNT EMAIL --role ROLE [--name N]",
         "add a user to an account, inviting it when new (MANAGER)", JSONOPT, cmd_user_add},
        {"user role", "ACCOUNT USER ROLE", "change a member's role (MANAGER)", JSONOPT,
         cmd_user_role},
        {"user remove", "ACCOUNT USER", "remove a member (MANAGER)", JSONOPT, cmd_user_remove},
        {"user passwd", "--old-password-file F --new-password-file F", "change your own password",
         JSONOPT, cmd_user_passwd},
        {"token create", "ACCOUNT --name N --role ROLE [--expires SECONDS]",
         "create an API token scoped to one account and role (shown once)", JSONOPT,
         cmd_token_create},
        {"token list", "ACCOUNT [--json]", "API tokens of an account", JSONOPT, cmd_token_list},
        {"token revoke", "ACCOUNT ID", "revoke an API token", JSONOPT, cmd_token_revoke},
        {"audit list",
         "[--account ID] [--action A] [--actor X] [--result R] [--since SEQ] [--limit N] "
         "[--offset N]",
         "audit entries (administrator; with --account also that account's MANAGER)",
         "  --account ID           only this account (GET /v1/accounts/ID/audit)\n" JSONOPT,
         cmd_audit_list},
        {"audit verify", "[--json]",
         "recompute the audit hash chain; names the first entry that does not fit", JSONOPT,
         cmd_audit_verify},
        {NULL, NULL, NULL, NULL, NULL},
};
