/*
 * DESIGN: `ccm image convert` and `ccm image inspect`, offline (no
 * manager): option parsing and presentation only; the pipeline is
 * lib/image and the transport lib/oci. Registry passwords come from
 * --src-creds/--dest-creds or, better (not visible in ps), the
 * CCM_SRC_CREDS/CCM_DEST_CREDS environment variables. The runtime binary
 * defaults to ccm-enclave next to this ccm executable, which is where the
 * build puts it.
 */
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "ccm/image.h"
#include "ccm/sgx.h"
#include "cli.h"
#include "util/util.h"

enum {
	O_FROM = 256,
	O_TO,
	O_KEY,
	O_PRODID,
	O_SVN,
	O_MEM,
	O_THREADS,
	O_RW,
	O_ENTRY,
	O_CMD,
	O_ENV,
	O_WORKDIR,
	O_USER,
	O_INSECURE,
	O_RUNTIME,
	O_JSON,
	O_SRC_CREDS,
	O_DEST_CREDS,
	O_CREDS,
	O_APP,
	O_ACCOUNT,
	O_CERT,
	O_DATE,
	O_DEBUG,
	O_VERBOSE,
	O_TMPDIR,
	O_CHUNK,
	O_CACERT,
};

static const struct option convert_opts[] = {
        {"from", required_argument, NULL, O_FROM},
        {"to", required_argument, NULL, O_TO},
        {"key", required_argument, NULL, O_KEY},
        {"isvprodid", required_argument, NULL, O_PRODID},
        {"isvsvn", required_argument, NULL, O_SVN},
        {"mem", required_argument, NULL, O_MEM},
        {"threads", required_argument, NULL, O_THREADS},
        {"rw-dir", required_argument, NULL, O_RW},
        {"entrypoint", required_argument, NULL, O_ENTRY},
        {"cmd", required_argument, NULL, O_CMD},
        {"env", required_argument, NULL, O_ENV},
        {"workdir", required_argument, NULL, O_WORKDIR},
        {"user", required_argument, NULL, O_USER},
        {"insecure-registry", required_argument, NULL, O_INSECURE},
        {"runtime", required_argument, NULL, O_RUNTIME},
        {"json", no_argument, NULL, O_JSON},
        {"src-creds", required_argument, NULL, O_SRC_CREDS},
        {"dest-creds", required_argument, NULL, O_DEST_CREDS},
        {"app-id", required_argument, NULL, O_APP},
        {"account-id", required_argument, NULL, O_ACCOUNT},
        {"cert-config", required_argument, NULL, O_CERT},
        {"date", required_argument, NULL, O_DATE},
        {"debug", no_argument, NULL, O_DEBUG},
        {"verbose", no_argument, NULL, O_VERBOSE},
        {"tmpdir", required_argument, NULL, O_TMPDIR},
        {"chunk-size", required_argument, NULL, O_CHUNK},
        {"cacert", required_argument, NULL, O_CACERT},
        {0},
};

struct image_args {
	struct ccm_image_convert_opts o;
	const char *key_path, *cert_path, *src_creds, *dest_creds;
	char src_user[256], dst_user[256];
	char runtime[PATH_MAX];
	int json;
};

/* SIZE with an optional K, M or G suffix (binary units). */
static int image_size(const char *opt, const char *val, uint64_t *out)
{
	char num[32];
	size_t n = strlen(val);
	unsigned shift = 0;
	uint64_t v;

	if (n == 0 || n >= sizeof(num))
		return cli_failf(CCM_E_INPUT, "%s: '%s' is not a size", opt, val);
	memcpy(num, val, n + 1);
	switch (num[n - 1]) {
	case 'K':
	case 'k':
		shift = 10;
		break;
	case 'M':
	case 'm':
		shift = 20;
		break;
	case 'G':
	case 'g':
		shift = 30;
		break;
	default:
		break;
	}
	if (shift)
		num[n - 1] = '\0';
	if (cli_u64(opt, num, CCM_IMAGE_MAX_MEM >> shift, &v) != 0)
		return 2;
	*out = v << shift;
	return 0;
}

/* A JSON array of strings, or one string meaning a one-element list. */
static int image_list(const char *opt, const char *val, json_t **out)
{
	json_t *j;

	if (val[0] != '[') {
		*out = json_pack("[s]", val);
		return *out ? 0 : cli_failf(CCM_E_INPUT, "%s: not UTF-8", opt);
	}
	j = json_loads(val, 0, NULL);
	for (size_t i = 0; json_is_array(j) && i < json_array_size(j); i++)
		if (!json_is_string(json_array_get(j, i))) {
			json_decref(j);
			j = NULL;
		}
	if (!json_is_array(j))
		return cli_failf(CCM_E_INPUT, "%s: expected a JSON array of strings", opt);
	json_decref(*out);
	*out = j;
	return 0;
}

/* USER:PASS into opts (the string stays owned by argv/env). */
static int image_creds(const char *what, const char *val, char *user, size_t n,
                       struct ccm_oci_opts *o)
{
	const char *colon = val ? strchr(val, ':') : NULL;

	if (val == NULL)
		return 0;
	if (colon == NULL || (size_t)(colon - val) >= n || colon == val)
		return cli_failf(CCM_E_USAGE, "%s: expected USER:PASSWORD", what);
	memcpy(user, val, (size_t)(colon - val));
	user[colon - val] = '\0';
	o->username = user;
	o->password = colon + 1;
	return 0;
}

static int image_u16(const char *opt, const char *val, uint16_t *out)
{
	uint64_t v;

	if (cli_u64(opt, val, 65535, &v) != 0)
		return 2;
	*out = (uint16_t)v;
	return 0;
}

static int image_add(const char *opt, const char **list, size_t *n, const char *val)
{
	if (*n >= CCM_IMAGE_MAX_LIST)
		return cli_failf(CCM_E_LIMIT, "%s: at most %u", opt, CCM_IMAGE_MAX_LIST);
	list[(*n)++] = val;
	return 0;
}

static int image_option(struct image_args *a, int c, const char *v)
{
	struct ccm_oci_opts *s = &a->o.src, *d = &a->o.dst;
	uint64_t n;

	switch (c) {
	case O_FROM:
		a->o.from = v;
		return 0;
	case O_TO:
		a->o.to = v;
		return 0;
	case O_KEY:
		a->key_path = v;
		return 0;
	case O_PRODID:
		return image_u16("--isvprodid", v, &a->o.isvprodid);
	case O_SVN:
		return image_u16("--isvsvn", v, &a->o.isvsvn);
	case O_MEM:
		return image_size("--mem", v, &a->o.mem);
	case O_THREADS:
		if (cli_u64("--threads", v, CCM_IMAGE_MAX_THREADS, &n) != 0)
			return 2;
		a->o.threads = (uint32_t)n;
		return n == 0 ? cli_failf(CCM_E_RANGE, "--threads: must be at least 1") : 0;
	case O_RW:
		return image_add("--rw-dir", a->o.rw_dirs, &a->o.n_rw, v);
	case O_ENV:
		return image_add("--env", a->o.env, &a->o.n_env, v);
	case O_ENTRY:
		return image_list("--entrypoint", v, &a->o.entrypoint);
	case O_CMD:
		return image_list("--cmd", v, &a->o.cmd);
	case O_WORKDIR:
		a->o.workdir = v;
		return 0;
	case O_USER:
		a->o.user = v;
		return 0;
	case O_INSECURE:
		if (image_add("--insecure-registry", s->insecure, &s->n_insecure, v) != 0)
			return 2;
		return image_add("--insecure-registry", d->insecure, &d->n_insecure, v);
	case O_RUNTIME:
		a->o.runtime = v;
		return 0;
	case O_JSON:
		a->json = 1;
		return 0;
	case O_SRC_CREDS:
		a->src_creds = v;
		return 0;
	case O_DEST_CREDS:
		a->dest_creds = v;
		return 0;
	case O_APP:
		a->o.app_id = v;
		return 0;
	case O_ACCOUNT:
		a->o.account_id = v;
		return 0;
	case O_CERT:
		a->cert_path = v;
		return 0;
	case O_DEBUG:
		a->o.debug = true;
		return 0;
	case O_VERBOSE:
		s->verbose = d->verbose = a->o.verbose = true;
		return 0;
	case O_CACERT:
		s->cafile = d->cafile = v;
		return access(v, R_OK) == 0
		               ? 0
		               : cli_failf(CCM_E_USAGE, "--cacert %s: not readable", v);
	case O_TMPDIR:
		a->o.tmpdir = v;
		return 0;
	case O_CHUNK:
		if (image_size("--chunk-size", v, &d->chunk) != 0)
			return 2;
		return d->chunk < 4096 ? cli_failf(CCM_E_RANGE, "--chunk-size: at least 4K") : 0;
	case O_DATE: {
		struct ccm_error err;
		if (ccm_sgx_parse_date(v, &a->o.date, &err) != CCM_OK)
			return cli_fail(&err);
		return 0;
	}
	default:
		return cli_usage("image convert", "unknown option");
	}
}

/* ccm-enclave next to this executable (build/bin/). */
static int image_default_runtime(struct image_args *a)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	if (n <= 0)
		return cli_failf(CCM_E_USAGE, "cannot find ccm-enclave: give --runtime PATH");
	self[n] = '\0';
	if ((size_t)snprintf(a->runtime, sizeof(a->runtime), "%s/ccm-enclave", dirname(self)) >=
	    sizeof(a->runtime))
		return cli_failf(CCM_E_LIMIT, "runtime path too long");
	a->o.runtime = a->runtime;
	return 0;
}

static int image_prepare(struct image_args *a)
{
	struct ccm_error err;
	ccm_code rc = CCM_OK;

	if (a->o.from == NULL || a->o.to == NULL)
		return cli_usage("image convert", "--from REF and --to REF are required");
	if (a->o.runtime == NULL && image_default_runtime(a) != 0)
		return 2;
	if (access(a->o.runtime, R_OK) != 0)
		return cli_failf(CCM_E_USAGE,
		                 "runtime %s: not readable (build it, or give --runtime)",
		                 a->o.runtime);
	if (image_creds("--src-creds", a->src_creds ? a->src_creds : getenv("CCM_SRC_CREDS"),
	                a->src_user, sizeof(a->src_user), &a->o.src) ||
	    image_creds("--dest-creds", a->dest_creds ? a->dest_creds : getenv("CCM_DEST_CREDS"),
	                a->dst_user, sizeof(a->dst_user), &a->o.dst))
		return 2;
	if (a->cert_path != NULL) {
		json_error_t je;
		a->o.certificate = json_load_file(a->cert_path, JSON_REJECT_DUPLICATES, &je);
		if (!json_is_object(a->o.certificate))
			return cli_failf(CCM_E_INPUT, "--cert-config %s: not a JSON object (%s)",
			                 a->cert_path, je.text);
	}
	if (a->key_path != NULL) {
		rc = ccm_sgx_key_load(a->key_path, &a->o.key, &err);
	} else {
		fprintf(stderr, "ccm: no --key: signing with a throwaway key (MRSIGNER and the "
		                "output digest will differ on every run)\n");
		rc = ccm_sgx_keygen(&a->o.key, &err);
	}
	return rc == CCM_OK ? 0 : cli_fail(&err);
}

static void image_print(const struct image_args *a, const struct ccm_image_convert_result *r)
{
	char mre[65], mrs[65];

	util_hex(r->mrenclave, 32, mre);
	util_hex(r->mrsigner, 32, mrs);
	if (a->json) {
		cli_json_print(json_pack(
		        "{s:s,s:s,s:i,s:i,s:s,s:s,s:s,s:I,s:I,s:I,s:I,s:s,s:s}", "mrenclave", mre,
		        "mrsigner", mrs, "isvprodid", r->isvprodid, "isvsvn", r->isvsvn, "digest",
		        r->digest, "config_digest", r->config_digest, "layer_digest",
		        r->layer_digest, "layer_size", (json_int_t)r->layer_size, "layers",
		        (json_int_t)r->layers, "files", (json_int_t)r->files, "enclave_size",
		        (json_int_t)r->enclave_size, "media_type", r->media_type, "to", a->o.to));
		return;
	}
	printf("%-14s %s\n%-14s %s\n%-14s %u\n%-14s %u\n%-14s %s\n%-14s %zu (added %s, %llu "
	       "bytes)\n%-14s %llu\n",
	       "mrenclave", mre, "mrsigner", mrs, "isvprodid", r->isvprodid, "isvsvn", r->isvsvn,
	       "digest", r->digest, "layers", r->layers, r->layer_digest,
	       (unsigned long long)r->layer_size, "files", (unsigned long long)r->files);
}

static int cmd_image_convert(int argc, char **argv)
{
	struct image_args *a = calloc(1, sizeof(*a));
	struct ccm_image_convert_result res;
	struct ccm_error err;
	int c, st = 0;

	if (a == NULL)
		return cli_failf(CCM_E_NOMEM, "out of memory");
	optind = 0;
	while (st == 0 && (c = getopt_long(argc, argv, "", convert_opts, NULL)) != -1)
		st = image_option(a, c, optarg);
	if (st == 0 && optind != argc)
		st = cli_usage("image convert", "unexpected argument '%s'", argv[optind]);
	if (st == 0)
		st = image_prepare(a);
	if (st == 0) {
		if (ccm_image_convert(&a->o, &res, &err) != CCM_OK)
			st = cli_fail(&err);
		else
			image_print(a, &res);
	}
	EVP_PKEY_free(a->o.key);
	json_decref(a->o.entrypoint);
	json_decref(a->o.cmd);
	json_decref(a->o.certificate);
	free(a);
	return st;
}

/* ---- image inspect --------------------------------------------------- */

static json_t *image_inspect_json(struct ccm_oci_repo *r, const struct ccm_oci_manifest *m,
                                  const uint8_t *raw, size_t raw_len, struct ccm_error *err)
{
	char dg[CCM_OCI_DIGEST_LEN + 1];
	uint8_t *cfg = NULL;
	json_t *out, *layers = json_array(), *cj, *conf, *labels = json_object(), *v;
	const char *k;

	if (ccm_oci_digest_of(raw, raw_len, dg, err) != CCM_OK ||
	    ccm_oci_repo_get_blob_mem(r, &m->config, CCM_OCI_MAX_CONFIG, &cfg, err) != CCM_OK) {
		json_decref(layers);
		json_decref(labels);
		return NULL;
	}
	cj = json_loadb((const char *)cfg, m->config.size, 0, NULL);
	free(cfg);
	for (size_t i = 0; i < m->n_layers; i++)
		json_array_append_new(layers,
		                      json_pack("{s:s,s:s,s:I}", "digest", m->layers[i].digest,
		                                "media_type", m->layers[i].media_type, "size",
		                                (json_int_t)m->layers[i].size));
	conf = json_object_get(cj, "config");
	json_object_foreach(json_object_get(conf, "Labels"), k, v)
	{
		if (strncmp(k, "io.ccm.", 7) == 0)
			json_object_set(labels, k, v);
	}
	out = json_pack("{s:s,s:s,s:s,s:o,s:O,s:O,s:o}", "digest", dg, "media_type", m->media_type,
	                "config_digest", m->config.digest, "layers", layers, "entrypoint",
	                json_object_get(conf, "Entrypoint") ? json_object_get(conf, "Entrypoint")
	                                                    : json_null(),
	                "cmd",
	                json_object_get(conf, "Cmd") ? json_object_get(conf, "Cmd") : json_null(),
	                "labels", labels);
	json_decref(cj);
	return out;
}

static int cmd_image_inspect(int argc, char **argv)
{
	static const struct option opts[] = {
	        {"json", no_argument, NULL, O_JSON},
	        {"insecure-registry", required_argument, NULL, O_INSECURE},
	        {"creds", required_argument, NULL, O_CREDS},
	        {"cacert", required_argument, NULL, O_CACERT},
	        {0}};
	struct ccm_oci_opts o = {0};
	struct ccm_oci_ref ref;
	struct ccm_oci_repo *r = NULL;
	struct ccm_oci_manifest m = {0};
	struct ccm_error err;
	const char *creds = getenv("CCM_SRC_CREDS");
	char user[256];
	uint8_t *raw = NULL;
	size_t raw_len = 0;
	json_t *j = NULL;
	int c, json = 0, st = 0;

	optind = 0;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == O_JSON)
			json = 1;
		else if (c == O_INSECURE && o.n_insecure < 8)
			o.insecure[o.n_insecure++] = optarg;
		else if (c == O_CREDS)
			creds = optarg;
		else if (c == O_CACERT)
			o.cafile = optarg;
		else
			return cli_usage("image inspect", "unknown option");
	}
	if (optind != argc - 1)
		return cli_usage("image inspect", "expected one image REF");
	if (image_creds("--creds", creds, user, sizeof(user), &o) != 0)
		return 2;
	if (ccm_oci_ref_parse(argv[optind], &ref, &err) != CCM_OK ||
	    ccm_oci_repo_open(&ref, &o, false, &r, &err) != CCM_OK ||
	    ccm_oci_repo_resolve(r, ccm_oci_ref_target(&ref), &m, &raw, &raw_len, &err) != CCM_OK ||
	    (j = image_inspect_json(r, &m, raw, raw_len, &err)) == NULL)
		st = cli_fail(&err);
	if (st == 0 && json) {
		cli_json_print(json_incref(j));
	} else if (st == 0) {
		char *s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		if (s != NULL)
			puts(s);
		free(s);
	}
	json_decref(j);
	ccm_oci_manifest_free(&m);
	free(raw);
	ccm_oci_repo_free(r);
	return st;
}

const struct cmd_entry cmd_image_entries[] = {
        {"image convert", "--from REF --to REF [--key KEY.pem] [options]",
         "convert a container image into an SGX enclave image (pull, measure, sign, push)",
         "  --from REF               input: docker://HOST[:PORT]/REPO:TAG, HOST/REPO:TAG, "
         "oci:DIR[:TAG]\n"
         "  --to REF                 output, same forms (a tag is required)\n"
         "  --key KEY.pem            enclave signing key (RSA-3072, e=3); default: throwaway\n"
         "  --isvprodid N --isvsvn N enclave product id and security version (0-65535)\n"
         "  --mem SIZE               enclave heap (K/M/G suffix; default 256M)\n"
         "  --threads N              enclave threads (default 8)\n"
         "  --rw-dir DIR             read-write directory, not integrity-protected (repeat)\n"
         "  --entrypoint JSON|PATH   override the entrypoint (clears cmd unless --cmd)\n"
         "  --cmd JSON|ARG           override the command\n"
         "  --env NAME=VALUE         add or replace an environment variable (repeat)\n"
         "  --workdir DIR --user U   override working directory and user\n"
         "  --app-id ID --account-id ID --cert-config FILE.json   recorded in the manifest\n"
         "  --insecure-registry HOST:PORT   plain HTTP for this registry (repeat)\n"
         "  --cacert FILE            trust these CAs for registry TLS (default: system store)\n"
         "  --src-creds U:P --dest-creds U:P  registry credentials (or CCM_SRC_CREDS,\n"
         "                           CCM_DEST_CREDS in the environment)\n"
         "  --runtime PATH           static ccm-enclave (default: next to ccm)\n"
         "  --date YYYYMMDD          SIGSTRUCT date (default: the input's created date)\n"
         "  --debug                  sign a debug enclave\n"
         "  --tmpdir DIR             where the work directory goes (default $TMPDIR)\n"
         "  --chunk-size SIZE        upload blobs above SIZE in PATCH chunks (default 32M)\n"
         "  --verbose                progress on stderr\n"
         "  --json                   print one JSON object\n",
         cmd_image_convert},
        {"image inspect", "REF [--json]",
         "show an image's manifest, layers, command and ccm labels",
         "  --insecure-registry HOST:PORT   plain HTTP for this registry\n"
         "  --creds USER:PASS        registry credentials (or CCM_SRC_CREDS)\n"
         "  --cacert FILE            trust these CAs for registry TLS\n"
         "  --json                   one JSON object\n",
         cmd_image_inspect},
        {0},
};
