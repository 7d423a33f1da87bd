/*
 * DESIGN: `ccm registry add|list|remove`, the account's registry
 * credentials that ccmd's build worker uses to pull input images and push
 * output images (/v1/accounts/ID/registries). A secret never comes from
 * the command line, where ps and shell history would show it: it is read
 * from a file or from stdin ('-'), first line only, and wiped from this
 * process's memory (the file buffer, the JSON body and its text) once
 * sent. Replies never carry it back. `remove` takes the id or the host,
 * which is resolved through the listing with the same folding ccmd
 * applies (lowercase, Docker Hub's names as docker.io).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

#include "cli.h"
#include "mgr.h"
#include "util/util.h"

#define REG_SECRET_MAX 8192

/* "/v1/accounts/A/registries[/ID]" */
static int registry_path(const struct mgr_args *a, uint64_t id, char *path, size_t n)
{
	uint64_t aid;
	int rc;

	if ((rc = mgr_account(a, &aid)) != 0)
		return rc;
	if (id != 0)
		snprintf(path, n, "/v1/accounts/%" PRIu64 "/registries/%" PRIu64, aid, id);
	else
		snprintf(path, n, "/v1/accounts/%" PRIu64 "/registries", aid);
	return 0;
}

/* The first line of a file ('-': stdin) into a malloc'ed string. */
static int registry_read_secret(const char *opt, const char *path, char **out)
{
	struct ccm_error err;
	uint8_t *buf = NULL;
	size_t len = 0, line;

	*out = NULL;
	if (util_read_file(path, REG_SECRET_MAX + 2, &buf, &len, &err) != CCM_OK)
		return cli_fail(&err);
	line = strcspn((char *)buf, "\r\n");
	if (line == 0 || line > REG_SECRET_MAX) {
		OPENSSL_clear_free(buf, len + 1);
		return cli_failf(CCM_E_INPUT,
		                 "%s %s: expected the secret on the first line (1 to %d bytes)",
		                 opt, path, REG_SECRET_MAX);
	}
	buf[line] = '\0';
	*out = (char *)buf;
	OPENSSL_cleanse(buf + line, len - line);
	return 0;
}

static int cmd_registry_add(int argc, char **argv)
{
	const char *user, *pwf, *tokf;
	struct mgr_args a;
	char path[256], *secret = NULL;
	json_t *body, *o = NULL;
	struct mgr m;
	int rc = mgr_parse("registry add", argc, argv,
	                   "account= json username= password-file= token-file=", 1, 1, &a);

	if (rc != 0 || (rc = registry_path(&a, 0, path, sizeof(path))) != 0)
		return rc;
	user = mgr_opt(&a, "username");
	pwf = mgr_opt(&a, "password-file");
	tokf = mgr_opt(&a, "token-file");
	if ((pwf == NULL) == (tokf == NULL))
		return cli_usage("registry add", "give --password-file F (with --username U) or "
		                                 "--token-file F");
	if (pwf != NULL && user == NULL)
		return cli_usage("registry add", "--password-file needs --username U");
	if (tokf != NULL && user != NULL)
		return cli_usage("registry add",
		                 "a --token-file token is sent alone as a bearer token; for a "
		                 "token the registry wants with a user name use --username U "
		                 "--password-file F");
	if ((rc = mgr_init(&m, true)) != 0 ||
	    (rc = registry_read_secret(pwf ? "--password-file" : "--token-file", pwf ? pwf : tokf,
	                               &secret)) != 0)
		return rc;
	body = json_pack("{s:s,s:s}", "host", a.pos[0], pwf ? "password" : "token", secret);
	OPENSSL_clear_free(secret, strlen(secret) + 1);
	if (body == NULL)
		return cli_failf(CCM_E_NOMEM, "out of memory");
	if (user != NULL)
		json_object_set_new(body, "username", json_string(user));
	json_incref(body); /* mgr_call drops one reference; the wipe needs the other */
	rc = mgr_call(&m, "POST", path, body, &o);
	{
		json_t *s = json_object_get(body, pwf ? "password" : "token");
		OPENSSL_cleanse((char *)json_string_value(s), json_string_length(s));
	}
	json_decref(body);
	return rc != 0 ? rc : mgr_show(&a, o);
}

static int cmd_registry_list(int argc, char **argv)
{
	struct mgr_args a;
	char path[512];
	int rc = mgr_parse("registry list", argc, argv, "account= json limit= offset=", 0, 0, &a);

	if (rc != 0 || (rc = registry_path(&a, 0, path, sizeof(path))) != 0)
		return rc;
	mgr_paging(&a, path, sizeof(path));
	return mgr_simple(&a, "GET", path, NULL);
}

/* Docker Hub's names, as ccmd folds them. */
static bool registry_same_host(const char *want, const char *stored)
{
	static const char *const hub[] = {"docker.io", "index.docker.io", "registry-1.docker.io",
	                                  "registry.hub.docker.com"};
	bool w = false;

	for (size_t i = 0; i < sizeof(hub) / sizeof(hub[0]); i++)
		w = w || strcasecmp(want, hub[i]) == 0;
	return strcasecmp(want, stored) == 0 || (w && strcmp(stored, "docker.io") == 0);
}

/* ID, or HOST looked up in the listing. */
static int registry_resolve(const struct mgr *m, const struct mgr_args *a, const char *path,
                            uint64_t *id)
{
	struct ccm_error err;
	char list[512];
	json_t *o = NULL, *it;
	size_t i;
	int rc;

	if (util_parse_u64(a->pos[0], (uint64_t)1 << 53, id, "id", &err) == CCM_OK && *id > 0)
		return 0;
	snprintf(list, sizeof(list), "%s?limit=1000", path);
	if ((rc = mgr_call(m, "GET", list, NULL, &o)) != 0)
		return rc;
	*id = 0;
	json_array_foreach(json_object_get(o, "items"), i, it)
	{
		const char *h = json_string_value(json_object_get(it, "host"));
		if (h != NULL && registry_same_host(a->pos[0], h))
			*id = (uint64_t)json_integer_value(json_object_get(it, "id"));
	}
	json_decref(o);
	if (*id == 0)
		return cli_failf(CCM_E_NOTFOUND, "no credentials for registry '%s' in this account",
		                 a->pos[0]);
	return 0;
}

static int cmd_registry_remove(int argc, char **argv)
{
	struct mgr_args a;
	char path[256], one[256];
	struct mgr m;
	json_t *o = NULL;
	uint64_t id = 0;
	int rc = mgr_parse("registry remove", argc, argv, "account= json", 1, 1, &a);

	if (rc != 0 || (rc = registry_path(&a, 0, path, sizeof(path))) != 0 ||
	    (rc = mgr_init(&m, true)) != 0 || (rc = registry_resolve(&m, &a, path, &id)) != 0 ||
	    (rc = registry_path(&a, id, one, sizeof(one))) != 0 ||
	    (rc = mgr_call(&m, "DELETE", one, NULL, &o)) != 0)
		return rc;
	return mgr_show(&a, o);
}

#define REG_ACC "  --account ID           the account (default $CCM_ACCOUNT)\n"

const struct cmd_entry cmd_registry_entries[] = {
        {"registry add", "HOST (--username U --password-file F | --token-file F)",
         "store credentials ccmd uses for a registry (pull and push of builds)",
         "  HOST                   registry HOST[:PORT] as in image references\n"
         "                         (docker.io for Docker Hub)\n"
         "  --username U           user name for --password-file\n"
         "  --password-file F      password, or an access token the registry takes as\n"
         "                         a password (Docker Hub, GHCR, GitLab, Quay, ECR...);\n"
         "                         '-' reads stdin; first line only\n"
         "  --token-file F         a registry bearer token, sent as is\n"
         "                         ('Authorization: Bearer'), never exchanged\n" REG_ACC
         "  --json                 print one JSON object\n"
         "Secrets are never taken from the command line. Adding credentials for a\n"
         "host that has some replaces them. ccmd seals them with its master key; no\n"
         "reply, log or audit entry shows them again.\n",
         cmd_registry_add},
        {"registry list", "", "list registry credentials (hosts and user names, never secrets)",
         REG_ACC "  --limit N, --offset N  paging\n"
                 "  --json                 print one JSON object\n",
         cmd_registry_list},
        {"registry remove", "ID|HOST", "remove the credentials for a registry",
         REG_ACC "  --json                 print one JSON object\n", cmd_registry_remove},
        {NULL, NULL, NULL, NULL, NULL},
};
