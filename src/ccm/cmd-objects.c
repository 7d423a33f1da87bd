/*
 * DESIGN: the manager commands for an account's objects (apps, builds,
 * approval tasks, nodes and join tokens, certificates), each one REST
 * call of ccmd under /v1/accounts/ID/... with the account given by
 * --account ID (or CCM_ACCOUNT). Options become the JSON body; replies
 * print like every manager command (--json: one JSON object). Lists are
 * given comma-separated (--labels zone=a,gpu=no).
 * Also here, offline: `ccm attest report`, the SGX report body an
 * enclave launched from a SIGSTRUCT would get, with report data binding
 * a key, for tests and for driving a node agent by hand.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "ccm/attest.h"
#include "ccm/sgx.h"
#include "cli.h"
#include "mgr.h"
#include "util/util.h"

#define OBJ_COMMON "account= json"

/* "/v1/accounts/A/<what>[/<pos id>]<suffix>" */
static int objects_path(const struct mgr_args *a, const char *what, int id_pos, const char *suffix,
                        char *path, size_t n)
{
	uint64_t aid, id = 0;
	int rc;

	if ((rc = mgr_account(a, &aid)) != 0)
		return rc;
	if (id_pos >= 0 && (rc = mgr_id(a, id_pos, &id)) != 0)
		return rc;
	if (id_pos >= 0)
		snprintf(path, n, "/v1/accounts/%" PRIu64 "/%s/%" PRIu64 "%s", aid, what, id,
		         suffix);
	else
		snprintf(path, n, "/v1/accounts/%" PRIu64 "/%s%s", aid, what, suffix);
	return 0;
}

static void objects_str(const struct mgr_args *a, json_t *body, const char *opt, const char *field)
{
	const char *v = mgr_opt(a, opt);

	if (v != NULL)
		json_object_set_new(body, field, json_string(v));
}

static void objects_list(const struct mgr_args *a, json_t *body, const char *opt, const char *field)
{
	const char *v = mgr_opt(a, opt);

	if (v != NULL)
		json_object_set_new(body, field, mgr_list(v));
}

/* ---- apps ------------------------------------------------------------------------ */

#define APP_OPTS                                                                                   \
	OBJ_COMMON                                                                                 \
	" description= input-image= output-image= isvprodid= isvsvn= min-isvsvn="                  \
	" memory= threads= entrypoint= args= env= rw-dirs= labels= domains="                       \
	" allow-debug subject= key-type= key-path= cert-path= chain-path= validity-days="

static int objects_app_body(const struct mgr_args *a, json_t *body)
{
	static const char *const strs[][2] = {
	        {"description", "description"},   {"input-image", "input_image"},
	        {"output-image", "output_image"}, {"memory", "memory"},
	        {"subject", "cert_subject"},      {"key-type", "cert_key_type"},
	        {"key-path", "cert_key_path"},    {"cert-path", "cert_cert_path"},
	        {"chain-path", "cert_chain_path"}};
	static const char *const lists[][2] = {
	        {"entrypoint", "entrypoint"}, {"args", "args"},     {"env", "env"},
	        {"rw-dirs", "rw_dirs"},       {"labels", "labels"}, {"domains", "allowed_domains"}};

	for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++)
		objects_str(a, body, strs[i][0], strs[i][1]);
	for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++)
		objects_list(a, body, lists[i][0], lists[i][1]);
	if (mgr_opt(a, "allow-debug"))
		json_object_set_new(body, "allow_debug", json_true());
	if (mgr_int_field(a, body, "isvprodid", "isvprodid", 65535) != 0 ||
	    mgr_int_field(a, body, "isvsvn", "isvsvn", 65535) != 0 ||
	    mgr_int_field(a, body, "min-isvsvn", "min_isvsvn", 65535) != 0 ||
	    mgr_int_field(a, body, "threads", "threads", 1024) != 0 ||
	    mgr_int_field(a, body, "validity-days", "cert_validity_days", 825) != 0)
		return 2;
	return 0;
}

static int cmd_app_create(int argc, char **argv)
{
	struct mgr_args a;
	char path[256];
	json_t *body;
	int rc = mgr_parse("app create", argc, argv, APP_OPTS, 1, 1, &a);

	if (rc != 0 || (rc = objects_path(&a, "apps", -1, "", path, sizeof(path))) != 0)
		return rc;
	if (mgr_opt(&a, "isvprodid") == NULL)
		return cli_usage("app create", "--isvprodid N is required");
	body = json_pack("{s:s}", "name", a.pos[0]);
	if ((rc = objects_app_body(&a, body)) != 0) {
		json_decref(body);
		return rc;
	}
	return mgr_simple(&a, "POST", path, body);
}

static int cmd_app_update(int argc, char **argv)
{
	struct mgr_args a;
	char path[256];
	json_t *body = json_object();
	int rc = mgr_parse("app update", argc, argv, APP_OPTS " name=", 1, 1, &a);

	if (rc != 0 || (rc = objects_path(&a, "apps", 0, "", path, sizeof(path))) != 0 ||
	    (rc = objects_app_body(&a, body)) != 0) {
		json_decref(body);
		return rc;
	}
	objects_str(&a, body, "name", "name");
	return mgr_simple(&a, "PATCH", path, body);
}

/* GET a listing with optional filters: spec names the filter options. */
static int objects_list_cmd(int argc, char **argv, const char *cmd, const char *what,
                            const char *spec, const char *const *filters, size_t nf)
{
	struct mgr_args a;
	char path[512];
	int rc = mgr_parse(cmd, argc, argv, spec, 0, 0, &a);

	if (rc != 0 || (rc = objects_path(&a, what, -1, "", path, sizeof(path))) != 0)
		return rc;
	for (size_t i = 0; i < nf; i++)
		mgr_q(path, sizeof(path), filters[i], mgr_opt(&a, filters[i]));
	mgr_paging(&a, path, sizeof(path));
	return mgr_simple(&a, "GET", path, NULL);
}

/* METHOD on one object, with an optional --reason body. */
static int objects_one(int argc, char **argv, const char *cmd, const char *method, const char *what,
                       const char *suffix, bool reason)
{
	struct mgr_args a;
	char path[256];
	json_t *body = NULL;
	int rc = mgr_parse(cmd, argc, argv, reason ? OBJ_COMMON " reason=" : OBJ_COMMON, 1, 1, &a);

	if (rc != 0 || (rc = objects_path(&a, what, 0, suffix, path, sizeof(path))) != 0)
		return rc;
	if (reason) {
		body = json_object();
		objects_str(&a, body, "reason", "reason");
	}
	return mgr_simple(&a, method, path, body);
}

static int cmd_app_list(int argc, char **argv)
{
	static const char *const f[] = {"label"};
	return objects_list_cmd(argc, argv, "app list", "apps",
	                        OBJ_COMMON " label= limit= offset=", f, 1);
}

static int cmd_app_show(int argc, char **argv)
{
	return objects_one(argc, argv, "app show", "GET", "apps", "", false);
}

static int cmd_app_delete(int argc, char **argv)
{
	return objects_one(argc, argv, "app delete", "DELETE", "apps", "", false);
}

/* ---- builds ---------------------------------------------------------------------------- */

static int cmd_build_register(int argc, char **argv)
{
	struct mgr_args a;
	struct ccm_error err;
	char path[256], *b64;
	uint8_t *raw = NULL;
	size_t len = 0;
	uint64_t app;
	json_t *body;
	int rc = mgr_parse("build register", argc, argv,
	                   OBJ_COMMON " app= sigstruct= image= digest=", 0, 0, &a);

	if (rc != 0 || (rc = objects_path(&a, "builds", -1, "", path, sizeof(path))) != 0)
		return rc;
	if (mgr_opt(&a, "app") == NULL)
		return cli_usage("build register", "--app ID is required");
	if ((rc = cli_u64("--app", mgr_opt(&a, "app"), (uint64_t)1 << 53, &app)) != 0)
		return rc;
	if ((mgr_opt(&a, "sigstruct") == NULL) == (mgr_opt(&a, "image") == NULL))
		return cli_usage("build register", "give --sigstruct FILE or --image REF");
	body = json_pack("{s:I}", "app_id", (json_int_t)app);
	if (mgr_opt(&a, "sigstruct") != NULL) {
		if (util_read_file(mgr_opt(&a, "sigstruct"), 4096, &raw, &len, &err) != CCM_OK) {
			json_decref(body);
			return cli_fail(&err);
		}
		b64 = util_b64_encode(raw, len);
		free(raw);
		json_object_set_new(body, "sigstruct", json_string(b64 ? b64 : ""));
		free(b64);
	}
	objects_str(&a, body, "image", "image_name");
	objects_str(&a, body, "digest", "image_digest");
	return mgr_simple(&a, "POST", path, body);
}

static int cmd_build_list(int argc, char **argv)
{
	static const char *const f[] = {"app"};
	return objects_list_cmd(argc, argv, "build list", "builds",
	                        OBJ_COMMON " app= limit= offset=", f, 1);
}

static int cmd_build_show(int argc, char **argv)
{
	return objects_one(argc, argv, "build show", "GET", "builds", "", false);
}

static int cmd_build_revoke(int argc, char **argv)
{
	return objects_one(argc, argv, "build revoke", "POST", "builds", "/revoke", true);
}

/* ---- tasks ------------------------------------------------------------------------------- */

static int cmd_task_list(int argc, char **argv)
{
	static const char *const f[] = {"status", "type"};
	return objects_list_cmd(argc, argv, "task list", "tasks",
	                        OBJ_COMMON " status= type= limit= offset=", f, 2);
}

static int cmd_task_show(int argc, char **argv)
{
	return objects_one(argc, argv, "task show", "GET", "tasks", "", false);
}

static int cmd_task_approve(int argc, char **argv)
{
	return objects_one(argc, argv, "task approve", "POST", "tasks", "/approve", true);
}

static int cmd_task_deny(int argc, char **argv)
{
	struct mgr_args a;
	int rc;

	/* Usage first, so that an unknown option is named as such. */
	if ((rc = mgr_parse("task deny", argc, argv, OBJ_COMMON " reason=", 1, 1, &a)) != 0)
		return rc;
	if (mgr_opt(&a, "reason") == NULL)
		return cli_usage("task deny", "--reason TEXT is required");
	return objects_one(argc, argv, "task deny", "POST", "tasks", "/deny", true);
}

/* ---- nodes and join tokens ---------------------------------------------------------------------
 */

static int cmd_node_token_create(int argc, char **argv)
{
	struct mgr_args a;
	char path[256];
	json_t *body;
	int rc = mgr_parse("node token create", argc, argv,
	                   OBJ_COMMON " uses= expires-in= labels=", 1, 1, &a);

	if (rc != 0 || (rc = objects_path(&a, "join-tokens", -1, "", path, sizeof(path))) != 0)
		return rc;
	body = json_pack("{s:s}", "name", a.pos[0]);
	objects_list(&a, body, "labels", "labels");
	if (mgr_int_field(&a, body, "uses", "uses", 100000) != 0 ||
	    mgr_int_field(&a, body, "expires-in", "expires_in", 31536000) != 0) {
		json_decref(body);
		return 2;
	}
	return mgr_simple(&a, "POST", path, body);
}

static int cmd_node_token_list(int argc, char **argv)
{
	return objects_list_cmd(argc, argv, "node token list", "join-tokens",
	                        OBJ_COMMON " limit= offset=", NULL, 0);
}

static int cmd_node_token_revoke(int argc, char **argv)
{
	return objects_one(argc, argv, "node token revoke", "DELETE", "join-tokens", "", false);
}

static int cmd_node_list(int argc, char **argv)
{
	return objects_list_cmd(argc, argv, "node list", "nodes",
	                        OBJ_COMMON " limit= offset=", NULL, 0);
}

static int cmd_node_show(int argc, char **argv)
{
	return objects_one(argc, argv, "node show", "GET", "nodes", "", false);
}

static int cmd_node_label(int argc, char **argv)
{
	struct mgr_args a;
	char path[256];
	int rc = mgr_parse("node label", argc, argv, OBJ_COMMON, 2, 2, &a);

	if (rc != 0 || (rc = objects_path(&a, "nodes", 0, "", path, sizeof(path))) != 0)
		return rc;
	return mgr_simple(&a, "PATCH", path, json_pack("{s:o}", "labels", mgr_list(a.pos[1])));
}

static int cmd_node_deactivate(int argc, char **argv)
{
	return objects_one(argc, argv, "node deactivate", "POST", "nodes", "/deactivate", true);
}

/* ---- certificates ------------------------------------------------------------------------------
 */

static int cmd_cert_list(int argc, char **argv)
{
	static const char *const f[] = {"app"};
	return objects_list_cmd(argc, argv, "cert list", "certificates",
	                        OBJ_COMMON " app= limit= offset=", f, 1);
}

static int cmd_cert_revoke(int argc, char **argv)
{
	return objects_one(argc, argv, "cert revoke", "POST", "certificates", "/revoke", true);
}

/* ---- attest report (offline)
 * --------------------------------------------------------------------- */

static int objects_load_key(const char *path, EVP_PKEY **key)
{
	BIO *b = BIO_new_file(path, "r");

	*key = b ? PEM_read_bio_PrivateKey(b, NULL, NULL, NULL) : NULL;
	if (*key == NULL && b != NULL && BIO_reset(b) == 0)
		*key = PEM_read_bio_PUBKEY(b, NULL, NULL, NULL);
	BIO_free(b);
	if (*key == NULL)
		return cli_failf(CCM_E_INPUT, "%s: not a PEM private or public key", path);
	return 0;
}

static int cmd_attest_report(int argc, char **argv)
{
	struct ccm_sgx_sigstruct *ss = malloc(sizeof(*ss));
	struct ccm_quote_report rep;
	struct ccm_error err;
	struct mgr_args a;
	EVP_PKEY *key = NULL;
	uint8_t *raw = NULL, rd[64], mre[32], body[CCM_REPORT_BODY_SIZE];
	static char output_opt[] = "--output";
	size_t len = 0;
	int rc;

	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "-o") == 0)
			argv[i] = output_opt;
	rc = mgr_parse("attest report", argc, argv, "sigstruct= key= mrenclave= output=", 0, 0, &a);

	if (ss == NULL)
		return cli_failf(CCM_E_NOMEM, "out of memory");
	if (rc != 0)
		goto out;
	if (!mgr_opt(&a, "sigstruct") || !mgr_opt(&a, "key") || !mgr_opt(&a, "output")) {
		rc = cli_usage("attest report", "--sigstruct, --key and --output are required");
		goto out;
	}
	if (util_read_file(mgr_opt(&a, "sigstruct"), 4096, &raw, &len, &err) != CCM_OK ||
	    ccm_sgx_sigstruct_parse(raw, len, ss, &err) != CCM_OK) {
		rc = cli_fail(&err);
		goto out;
	}
	memcpy(mre, ss->f.enclavehash, sizeof(mre));
	if (mgr_opt(&a, "mrenclave") &&
	    (rc = cli_hex("--mrenclave", mgr_opt(&a, "mrenclave"), mre, sizeof(mre))) != 0)
		goto out;
	if ((rc = objects_load_key(mgr_opt(&a, "key"), &key)) != 0)
		goto out;
	if (ccm_report_data_for_key(key, NULL, rd, &err) != CCM_OK ||
	    ccm_report_from_sigstruct(ss, mre, rd, &rep, &err) != CCM_OK) {
		rc = cli_fail(&err);
		goto out;
	}
	ccm_quote_report_encode(&rep, body);
	if (util_write_file(mgr_opt(&a, "output"), body, sizeof(body), 0644, &err) != CCM_OK)
		rc = cli_fail(&err);
out:
	EVP_PKEY_free(key);
	free(raw);
	free(ss);
	return rc;
}

#define ACC_OPT "  --account ID           the account (default $CCM_ACCOUNT)\n"
#define JSON_OPT "  --json                 print one JSON object\n"
#define PAGE_OPT "  --limit N, --offset N  paging\n"

const struct cmd_entry cmd_objects_entries[] = {
        {"app create", "NAME --isvprodid N [options]", "create an application",
         ACC_OPT "  --isvsvn N, --min-isvsvn N, --memory SIZE, --threads N\n"
                 "  --input-image REF, --output-image REF, --description TEXT\n"
                 "  --entrypoint A,B  --args A,B  --env K=V,..  --rw-dirs /a,/b\n"
                 "  --labels k=v,..         labels a node must carry\n"
                 "  --domains a.example,..  DNS names (approved through a task)\n"
                 "  --allow-debug, --subject CN=..., --key-type ec-p256|rsa-2048|rsa-3072\n"
                 "  --key-path P, --cert-path P, --chain-path P, --validity-days N\n" JSON_OPT,
         cmd_app_create},
        {"app list", "[--label k=v]", "list applications", ACC_OPT PAGE_OPT JSON_OPT, cmd_app_list},
        {"app show", "ID", "show an application", ACC_OPT JSON_OPT, cmd_app_show},
        {"app update", "ID [options]", "update an application (options as app create)",
         ACC_OPT "  --name NAME and the options of app create\n" JSON_OPT, cmd_app_update},
        {"app delete", "ID", "delete an application without builds", ACC_OPT JSON_OPT,
         cmd_app_delete},
        {"build register", "--app ID (--sigstruct FILE | --image REF)",
         "register a build from a SIGSTRUCT (or a build record for the converter)",
         ACC_OPT "  --digest sha256:...     image digest when known\n" JSON_OPT,
         cmd_build_register},
        {"build list", "[--app ID]", "list builds", ACC_OPT PAGE_OPT JSON_OPT, cmd_build_list},
        {"build show", "ID", "show a build", ACC_OPT JSON_OPT, cmd_build_show},
        {"build revoke", "ID [--reason TEXT]", "revoke a whitelisted build", ACC_OPT JSON_OPT,
         cmd_build_revoke},
        {"task list", "[--status S] [--type T]", "list approval tasks", ACC_OPT PAGE_OPT JSON_OPT,
         cmd_task_list},
        {"task show", "ID", "show a task and its votes", ACC_OPT JSON_OPT, cmd_task_show},
        {"task approve", "ID [--reason TEXT]", "approve a task", ACC_OPT JSON_OPT,
         cmd_task_approve},
        {"task deny", "ID --reason TEXT", "deny a task", ACC_OPT JSON_OPT, cmd_task_deny},
        {"node token create", "NAME [--uses N] [--expires-in S] [--labels k=v,..]",
         "create a join token (shown once)", ACC_OPT JSON_OPT, cmd_node_token_create},
        {"node token list", "", "list join tokens", ACC_OPT PAGE_OPT JSON_OPT, cmd_node_token_list},
        {"node token revoke", "ID", "revoke a join token", ACC_OPT JSON_OPT, cmd_node_token_revoke},
        {"node list", "", "list compute nodes", ACC_OPT PAGE_OPT JSON_OPT, cmd_node_list},
        {"node show", "ID", "show a node and its app instances", ACC_OPT JSON_OPT, cmd_node_show},
        {"node label", "ID k=v,..", "set a node's labels", ACC_OPT JSON_OPT, cmd_node_label},
        {"node deactivate", "ID [--reason TEXT]", "deactivate a node for good", ACC_OPT JSON_OPT,
         cmd_node_deactivate},
        {"cert list", "[--app ID]", "list issued certificates", ACC_OPT PAGE_OPT JSON_OPT,
         cmd_cert_list},
        {"cert revoke", "ID [--reason TEXT]", "revoke a certificate (CRL)", ACC_OPT JSON_OPT,
         cmd_cert_revoke},
        {"attest report", "--sigstruct FILE --key KEY.pem -o FILE",
         "offline: the SGX report body for a SIGSTRUCT, report data binding KEY",
         "  --sigstruct FILE       identity (MRENCLAVE from its ENCLAVEHASH)\n"
         "  --mrenclave HEX        another MRENCLAVE instead\n"
         "  --key FILE             PEM private or public key to bind\n"
         "  -o, --output FILE      where to write the 384-byte report body\n",
         cmd_attest_report},
        {NULL, NULL, NULL, NULL, NULL},
};
