/*
 * DESIGN: `ccm cert inspect` reads what a relying party needs from a ccm
 * certificate with nothing but the file: names, validity, and the enclave
 * identity and evidence extensions (lib/cert decodes them with OpenSSL's
 * ASN.1 templates). It states plainly when the certificate was issued on
 * simulated evidence. Verifying the chain is left to openssl verify with
 * the account CA.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "ccm/cert.h"
#include "cli.h"
#include "util/util.h"

static json_t *cert_names(X509 *x)
{
	GENERAL_NAMES *g = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	json_t *dns = json_array(), *uri = json_array();

	for (int i = 0; g != NULL && i < sk_GENERAL_NAME_num(g); i++) {
		int t;
		ASN1_STRING *s = GENERAL_NAME_get0_value(sk_GENERAL_NAME_value(g, i), &t);
		const char *v = (const char *)ASN1_STRING_get0_data(s);
		if (t == GEN_DNS)
			json_array_append_new(dns, json_string(v));
		else if (t == GEN_URI)
			json_array_append_new(uri, json_string(v));
	}
	GENERAL_NAMES_free(g);
	return json_pack("{s:o,s:o}", "dns", dns, "uri", uri);
}

static json_t *cert_time(const ASN1_TIME *t)
{
	struct tm tm;
	char buf[32];

	if (!ASN1_TIME_to_tm(t, &tm))
		return json_null();
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
	return json_string(buf);
}

static json_t *cert_json(X509 *x)
{
	struct ccm_cert_identity id;
	char subject[512], hex[65];
	uint8_t *ev = NULL;
	size_t evlen = 0;
	int64_t tag = 0;
	json_t *o = json_object();

	X509_NAME_oneline(X509_get_subject_name(x), subject, sizeof(subject));
	json_object_set_new(o, "subject", json_string(subject));
	json_object_set_new(o, "names", cert_names(x));
	json_object_set_new(o, "not_before", cert_time(X509_get0_notBefore(x)));
	json_object_set_new(o, "not_after", cert_time(X509_get0_notAfter(x)));
	if (ccm_cert_identity_get(x, &id, NULL) == CCM_OK) {
		json_t *e = json_object();
		util_hex(id.mrenclave, 32, hex);
		json_object_set_new(e, "mrenclave", json_string(hex));
		util_hex(id.mrsigner, 32, hex);
		json_object_set_new(e, "mrsigner", json_string(hex));
		json_object_set_new(e, "isvprodid", json_integer(id.isvprodid));
		json_object_set_new(e, "isvsvn", json_integer(id.isvsvn));
		json_object_set_new(e, "debug", json_boolean(id.debug));
		json_object_set_new(e, "simulated", json_boolean(id.simulated));
		json_object_set_new(o, "enclave", e);
	}
	if (ccm_cert_evidence_get(x, &tag, &ev, &evlen, NULL) == CCM_OK) {
		const char *kind = tag == CCM_EVIDENCE_TAG_SGX_DCAP    ? "sgx-dcap-quote"
		                   : tag == CCM_EVIDENCE_TAG_SIMULATED ? "ccm-simulated-quote"
		                                                       : "unknown";
		json_object_set_new(o, "evidence",
		                    json_pack("{s:I,s:s,s:I}", "tag", (json_int_t)tag, "type", kind,
		                              "bytes", (json_int_t)evlen));
		OPENSSL_free(ev);
	}
	return o;
}

static void cert_text(json_t *o)
{
	json_t *e = json_object_get(o, "enclave"), *ev = json_object_get(o, "evidence"), *v;
	size_t i;

	printf("%-12s %s\n", "subject", json_string_value(json_object_get(o, "subject")));
	json_array_foreach(json_object_get(json_object_get(o, "names"), "dns"), i, v)
	        printf("%-12s %s\n", "dns", json_string_value(v));
	json_array_foreach(json_object_get(json_object_get(o, "names"), "uri"), i, v)
	        printf("%-12s %s\n", "uri", json_string_value(v));
	printf("%-12s %s\n%-12s %s\n", "not_before",
	       json_string_value(json_object_get(o, "not_before")), "not_after",
	       json_string_value(json_object_get(o, "not_after")));
	if (e == NULL) {
		printf("no enclave identity extension: not an app certificate of ccm\n");
		return;
	}
	printf("%-12s %s\n%-12s %s\n", "mrenclave",
	       json_string_value(json_object_get(e, "mrenclave")), "mrsigner",
	       json_string_value(json_object_get(e, "mrsigner")));
	printf("%-12s %lld\n%-12s %lld\n", "isvprodid",
	       (long long)json_integer_value(json_object_get(e, "isvprodid")), "isvsvn",
	       (long long)json_integer_value(json_object_get(e, "isvsvn")));
	printf("%-12s %s\n", "debug", json_is_true(json_object_get(e, "debug")) ? "yes" : "no");
	if (ev != NULL)
		printf("%-12s %s (%lld bytes)\n", "evidence",
		       json_string_value(json_object_get(ev, "type")),
		       (long long)json_integer_value(json_object_get(ev, "bytes")));
	if (json_is_true(json_object_get(e, "simulated")))
		printf("SIMULATED EVIDENCE: issued for a test-only account; no hardware isolation "
		       "is attested\n");
}

static int cmd_cert_inspect(int argc, char **argv)
{
	static const struct option opts[] = {{"json", no_argument, NULL, 'j'}, {0}};
	struct ccm_error err;
	uint8_t *buf = NULL;
	size_t len = 0;
	int c, json = 0;
	BIO *bio;
	X509 *x;
	json_t *o;

	optind = 0;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c != 'j')
			return cli_usage("cert inspect", "unknown option");
		json = 1;
	}
	if (optind != argc - 1)
		return cli_usage("cert inspect", "expected one CERT.pem");
	if (util_read_file(argv[optind], 1u << 20, &buf, &len, &err) != CCM_OK)
		return cli_fail(&err);
	bio = BIO_new_mem_buf(buf, (int)len);
	x = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
	BIO_free(bio);
	free(buf);
	if (x == NULL)
		return cli_failf(CCM_E_INPUT, "%s: not a PEM certificate", argv[optind]);
	o = cert_json(x);
	X509_free(x);
	if (json) {
		cli_json_print(o);
		return 0;
	}
	cert_text(o);
	json_decref(o);
	return 0;
}

const struct cmd_entry cmd_cert_entries[] = {
        {"cert inspect", "CERT.pem [--json]",
         "show a certificate's names, validity, enclave identity and evidence",
         "  --json         {subject, names{dns,uri}, not_before, not_after,\n"
         "                  enclave{mrenclave,mrsigner,isvprodid,isvsvn,debug,simulated},\n"
         "                  evidence{tag,type,bytes}}\n",
         cmd_cert_inspect},
        {NULL, NULL, NULL, NULL, NULL},
};
