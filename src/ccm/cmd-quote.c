/*
 * DESIGN: `ccm quote verify` and `ccm quote show`, thin wrappers over
 * lib/quote: read the files, call the library once, print aligned text
 * or one JSON object. The exit status follows DESIGN.md (0 verified with
 * a non-terminal status, 1 a check failed or the status is terminal, 2
 * unusable input); the JSON carries the same verdict plus the step that
 * failed, so scripts never parse the human text.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ccm/quote.h"
#include "cli.h"
#include "util/util.h"

static json_t *quote_hex(const uint8_t *p, size_t n)
{
	char buf[2 * 64 + 1];

	util_hex(p, n, buf);
	return json_string(buf);
}

static void quote_set_hex(json_t *o, const char *k, const uint8_t *p, size_t n)
{
	json_object_set_new(o, k, quote_hex(p, n));
}

static void quote_sgx_identity(json_t *o, const struct ccm_quote_report *r)
{
	quote_set_hex(o, "mrenclave", r->mrenclave, 32);
	quote_set_hex(o, "mrsigner", r->mrsigner, 32);
	json_object_set_new(o, "isvprodid", json_integer(r->isvprodid));
	json_object_set_new(o, "isvsvn", json_integer(r->isvsvn));
	json_object_set_new(o, "debug", json_boolean((r->attributes[0] & 0x02) != 0));
	quote_set_hex(o, "report_data", r->reportdata, 64);
}

static void quote_td_identity(json_t *o, const struct ccm_quote *q)
{
	const struct ccm_quote_td_report *t = &q->td;
	json_t *rtmrs = json_array();
	char key[8];

	quote_set_hex(o, "mr_td", t->mr_td, 48);
	for (int i = 0; i < 4; i++) {
		snprintf(key, sizeof(key), "rtmr%d", i);
		quote_set_hex(o, key, t->rtmr[i], 48);
		json_array_append_new(rtmrs, quote_hex(t->rtmr[i], 48));
	}
	json_object_set_new(o, "rtmrs", rtmrs);
	quote_set_hex(o, "mr_config_id", t->mr_config_id, 48);
	quote_set_hex(o, "mr_owner", t->mr_owner, 48);
	quote_set_hex(o, "mr_owner_config", t->mr_owner_config, 48);
	quote_set_hex(o, "mr_seam", t->mr_seam, 48);
	quote_set_hex(o, "mr_signer_seam", t->mr_signer_seam, 48);
	quote_set_hex(o, "seam_attributes", t->seam_attributes, 8);
	quote_set_hex(o, "td_attributes", t->td_attributes, 8);
	quote_set_hex(o, "xfam", t->xfam, 8);
	quote_set_hex(o, "tee_tcb_svn", t->tee_tcb_svn, 16);
	if (q->body_type == CCM_QUOTE_BODY_TD15) {
		quote_set_hex(o, "tee_tcb_svn2", t->tee_tcb_svn2, 16);
		quote_set_hex(o, "mr_servicetd", t->mr_servicetd, 48);
	}
	json_object_set_new(o, "debug", json_boolean((t->td_attributes[0] & 0x01) != 0));
	quote_set_hex(o, "report_data", t->report_data, 64);
}

static json_t *quote_identity(const struct ccm_quote *q)
{
	json_t *o = json_object();

	json_object_set_new(o, "quote_version", json_integer(q->version));
	json_object_set_new(o, "tee", json_string(ccm_quote_is_tdx(q) ? "tdx" : "sgx"));
	if (q->body_type == CCM_QUOTE_BODY_SGX)
		quote_sgx_identity(o, &q->sgx);
	else
		quote_td_identity(o, q);
	return o;
}

static void quote_print_json_text(json_t *o)
{
	const char *k;
	json_t *v;

	json_object_foreach(o, k, v)
	{
		char *s = json_is_string(v) ? NULL : json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
		printf("%-22s %s\n", k, s ? s : json_string_value(v));
		free(s);
	}
}

/* Unusable input: the message on stderr and, for --json, one object
 * naming what could not be used. */
static int quote_unusable(const struct ccm_error *err, bool json, const char *what)
{
	if (json)
		cli_json_print(json_pack("{s:b,s:n,s:s,s:s}", "verified", 0, "tcb_status",
		                         "failure", what, "error", err->msg));
	return cli_fail(err);
}

static int quote_read(const char *path, struct ccm_quote **q, bool json)
{
	struct ccm_error err;
	uint8_t *buf = NULL;
	size_t len = 0;
	ccm_code rc = util_read_file(path, CCM_QUOTE_MAX_BYTES, &buf, &len, &err);

	if (rc != CCM_OK) /* the message names the path already */
		return quote_unusable(&err, json, "quote file");
	rc = ccm_quote_parse(buf, len, q, &err);
	free(buf);
	if (rc != CCM_OK) {
		ccm_error_prefix(&err, "%s", path);
		return quote_unusable(&err, json, "quote format");
	}
	return 0;
}

/* ---- quote show -------------------------------------------------------- */

/* The PCK extension, parsed only; null when the quote carries no chain. */
static json_t *quote_pck_json(const struct ccm_quote *q)
{
	struct ccm_quote_pck_info pi;
	struct ccm_error err;
	json_t *o, *comps;

	if (ccm_quote_pck_info(q, &pi, &err) != CCM_OK)
		return json_null();
	o = json_object();
	comps = json_array();
	quote_set_hex(o, "fmspc", pi.fmspc, 6);
	quote_set_hex(o, "pceid", pi.pceid, 2);
	for (int i = 0; i < 16; i++)
		json_array_append_new(comps, json_integer(pi.tcb_comp[i]));
	json_object_set_new(o, "tcb_components", comps);
	json_object_set_new(o, "pcesvn", json_integer(pi.pcesvn));
	quote_set_hex(o, "cpusvn", pi.cpusvn, 16);
	json_object_set_new(o, "sgx_type", json_integer(pi.sgx_type));
	json_object_set_new(o, "ca", json_string(pi.platform ? "platform" : "processor"));
	return o;
}

static json_t *quote_show_json(const struct ccm_quote *q)
{
	json_t *o = quote_identity(q), *qe = json_object();

	json_object_set_new(o, "att_key_type", json_integer(q->att_key_type));
	json_object_set_new(o, "tee_type", json_integer(q->tee_type));
	json_object_set_new(o, "body_type", json_integer(q->body_type));
	json_object_set_new(o, "qe_svn", json_integer(q->qe_svn));
	json_object_set_new(o, "pce_svn", json_integer(q->pce_svn));
	quote_set_hex(o, "qe_vendor_id", q->qe_vendor_id, 16);
	quote_set_hex(o, "user_data", q->user_data, 20);
	quote_set_hex(o, "attestation_key", q->attest_key, 64);
	quote_sgx_identity(qe, &q->qe_report);
	json_object_set_new(o, "qe_report", qe);
	json_object_set_new(o, "qe_auth_data_size", json_integer(q->qe_auth_len));
	json_object_set_new(o, "cert_type", json_integer(q->cert_type));
	json_object_set_new(o, "cert_data_size", json_integer(q->cert_len));
	json_object_set_new(o, "signature_data_size", json_integer(q->sig_data_len));
	json_object_set_new(o, "size", json_integer((json_int_t)q->len));
	json_object_set_new(o, "trailing_bytes", json_integer((json_int_t)q->trailing));
	json_object_set_new(o, "pck", quote_pck_json(q));
	return o;
}

static int cmd_quote_show(int argc, char **argv)
{
	static const struct option opts[] = {{"json", no_argument, NULL, 'j'}, {0}};
	struct ccm_quote *q = NULL;
	json_t *o;
	int c, json = 0, st;

	optind = 0;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c != 'j')
			return cli_usage("quote show", "unknown option");
		json = 1;
	}
	if (optind != argc - 1)
		return cli_usage("quote show", "expected one QUOTE file");
	if ((st = quote_read(argv[optind], &q, json)) != 0)
		return st;
	o = quote_show_json(q);
	ccm_quote_free(q);
	if (json) {
		cli_json_print(o);
		return 0;
	}
	quote_print_json_text(o);
	json_decref(o);
	return 0;
}

/* ---- quote verify ------------------------------------------------------ */

struct verify_args {
	const char *quote, *collateral, *at;
	bool allow_expired, json;
};

static json_t *quote_result_json(const struct ccm_quote *q, const struct ccm_quote_result *r)
{
	json_t *o = json_object(), *adv = json_array(), *exp = json_array(), *id;
	char t[32];

	json_object_set_new(o, "verified", json_boolean(r->verified));
	json_object_set_new(o, "tcb_status",
	                    r->tcb_status == CCM_TCB_NONE
	                            ? json_null()
	                            : json_string(ccm_tcb_status_name(r->tcb_status)));
	for (size_t i = 0; i < r->n_advisory_ids; i++)
		json_array_append_new(adv, json_string(r->advisory_ids[i]));
	json_object_set_new(o, "advisory_ids", adv);
	id = quote_identity(q);
	json_object_update(o, id);
	json_decref(id);
	json_object_set_new(o, "fmspc", r->have_fmspc ? quote_hex(r->fmspc, 6) : json_null());
	json_object_set_new(o, "trailing_bytes", json_integer((json_int_t)q->trailing));
	ccm_quote_format_time(r->earliest_expiry, t);
	json_object_set_new(o, "earliest_expiry",
	                    r->earliest_expiry ? json_string(t) : json_null());
	for (int i = 0; i < CCM_PIECE_COUNT; i++)
		if (r->collateral_expired & (1u << i))
			json_array_append_new(exp, json_string(ccm_quote_piece_name(1u << i)));
	json_object_set_new(o, "collateral_expired", exp);
	json_object_set_new(o, "failure", r->failure ? json_string(r->failure) : json_null());
	if (r->failure != NULL)
		json_object_set_new(o, "error", json_string(r->error.msg));
	return o;
}

static int quote_verify_args(int argc, char **argv, struct verify_args *a)
{
	static const struct option opts[] = {{"collateral", required_argument, NULL, 'c'},
	                                     {"at", required_argument, NULL, 'a'},
	                                     {"allow-expired-collateral", no_argument, NULL, 'e'},
	                                     {"json", no_argument, NULL, 'j'},
	                                     {0}};
	int c;

	memset(a, 0, sizeof(*a));
	optind = 0;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'c')
			a->collateral = optarg;
		else if (c == 'a')
			a->at = optarg;
		else if (c == 'e')
			a->allow_expired = true;
		else if (c == 'j')
			a->json = true;
		else
			return cli_usage("quote verify", "unknown option");
	}
	if (optind != argc - 1 || a->collateral == NULL)
		return cli_usage("quote verify", "expected QUOTE and --collateral DIR");
	a->quote = argv[optind];
	return 0;
}

static int quote_report(const struct verify_args *a, const struct ccm_quote *q,
                        const struct ccm_quote_result *r, ccm_code rc)
{
	json_t *o = quote_result_json(q, r);

	if (q->trailing > 0 && !a->json)
		fprintf(stderr, "note: %zu unsigned bytes follow the signature data (ignored)\n",
		        q->trailing);
	if (a->json)
		cli_json_print(o);
	else {
		quote_print_json_text(o);
		json_decref(o);
	}
	if (rc != CCM_OK && !a->json)
		fprintf(stderr, "ccm: %s\n", r->error.msg);
	return ccm_code_exit(rc);
}

static int cmd_quote_verify(int argc, char **argv)
{
	struct verify_args a;
	struct ccm_quote_verify_opts vo = {0};
	struct ccm_quote_collateral *coll = NULL;
	struct ccm_quote_result *res = NULL;
	struct ccm_quote *q = NULL;
	struct ccm_error err;
	ccm_code rc;
	int st;

	if ((st = quote_verify_args(argc, argv, &a)) != 0)
		return st;
	vo.at = (int64_t)time(NULL);
	vo.allow_expired = a.allow_expired;
	if (a.at != NULL && ccm_quote_parse_time(a.at, &vo.at, &err) != CCM_OK) {
		ccm_error_prefix(&err, "--at");
		return cli_fail(&err);
	}
	if ((st = quote_read(a.quote, &q, a.json)) != 0)
		return st;
	if ((rc = ccm_quote_collateral_load(a.collateral, &coll, &err)) != CCM_OK) {
		st = quote_unusable(&err, a.json, "collateral");
		goto out;
	}
	res = malloc(sizeof(*res));
	if (res == NULL) {
		st = cli_failf(CCM_E_NOMEM, "out of memory");
		goto out;
	}
	rc = ccm_quote_verify(NULL, q, coll, &vo, res);
	st = quote_report(&a, q, res, rc);
out:
	free(res);
	ccm_quote_collateral_free(coll);
	ccm_quote_free(q);
	return st;
}

const struct cmd_entry cmd_quote_entries[] = {
        {"quote verify",
         "QUOTE --collateral DIR [--at RFC3339] [--allow-expired-collateral] [--json]",
         "verify an SGX/TDX DCAP quote against Intel collateral (offline)",
         "  --collateral DIR            pck_crl_issuer_chain.pem, pck_crl.der, root_ca_crl.der,\n"
         "                              tcb_info_issuer_chain.pem, tcb_info.json,\n"
         "                              qe_identity_issuer_chain.pem, qe_identity.json,\n"
         "                              optional root_ca.pem (test anchor), pck_cert.pem\n"
         "  --at RFC3339                verification time (default: now)\n"
         "  --allow-expired-collateral  report expired collateral instead of failing\n"
         "  --json                      one JSON object: verified, tcb_status, advisory_ids,\n"
         "                              identity fields, fmspc, earliest_expiry, failure, ...\n",
         cmd_quote_verify},
        {"quote show", "QUOTE [--json]", "print a parsed quote without verifying it",
         "  --json   one JSON object\n", cmd_quote_show},
        {NULL, NULL, NULL, NULL, NULL},
};
