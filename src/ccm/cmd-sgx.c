/*
 * DESIGN: the offline SGX identity tools. Each handler parses its options
 * strictly (every value checked, every error names the option), calls
 * lib/sgx, and prints either aligned text for people or one JSON object for
 * scripts. Nothing here knows a byte offset: layouts live in the library.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "ccm/sgx.h"
#include "cli.h"
#include "util/util.h"

static json_t *jhex(const uint8_t *p, size_t n)
{
	char buf[2 * CCM_SGX_KEY_BYTES + 1];

	util_hex(p, n, buf);
	return json_string(buf);
}

static void print_hex(const char *name, const uint8_t *p, size_t n)
{
	char buf[2 * CCM_SGX_KEY_BYTES + 1];

	util_hex(p, n, buf);
	printf("%-20s %s\n", name, buf);
}

/* ---- sgx keygen ------------------------------------------------------ */

static int cmd_sgx_keygen(int argc, char **argv)
{
	static const struct option opts[] = {
	        {"output", required_argument, NULL, 'o'}, {"force", no_argument, NULL, 'f'}, {0}};
	const char *out = NULL;
	struct ccm_error err;
	EVP_PKEY *key = NULL;
	int c, force = 0;
	ccm_code rc;

	optind = 0;
	while ((c = getopt_long(argc, argv, "o:f", opts, NULL)) != -1) {
		if (c == 'o')
			out = optarg;
		else if (c == 'f')
			force = 1;
		else
			return cli_usage("sgx keygen", "unknown option");
	}
	if (out == NULL || optind != argc)
		return cli_usage("sgx keygen",
		                 "-o KEY.pem is required and takes no other arguments");
	if (!force && access(out, F_OK) == 0)
		return cli_failf(CCM_E_CONFLICT, "%s: exists (use --force to replace it)", out);
	rc = ccm_sgx_keygen(&key, &err);
	if (rc == CCM_OK)
		rc = ccm_sgx_key_save(key, out, &err);
	EVP_PKEY_free(key);
	if (rc != CCM_OK)
		return cli_fail(&err);
	fprintf(stderr, "wrote %s (RSA-3072, e = 3, mode 0600)\n", out);
	return 0;
}

/* ---- sgx measure ----------------------------------------------------- */

static int cmd_sgx_measure(int argc, char **argv)
{
	static const struct option opts[] = {{"json", no_argument, NULL, 'j'}, {0}};
	uint8_t mr[CCM_SGX_HASH_SIZE];
	char hex[2 * CCM_SGX_HASH_SIZE + 1];
	const uint8_t *buf;
	struct ccm_error err;
	size_t len;
	int c, json = 0;
	ccm_code rc;

	optind = 0;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c != 'j')
			return cli_usage("sgx measure", "unknown option");
		json = 1;
	}
	if (optind != argc - 1)
		return cli_usage("sgx measure", "expected one FILE.sgxs");
	rc = util_map_file(argv[optind], CCM_SGXS_MAX_STREAM, &buf, &len, &err);
	if (rc != CCM_OK)
		return cli_fail(&err);
	rc = ccm_sgxs_measure(buf, len, mr, &err);
	util_unmap(buf, len);
	if (rc != CCM_OK) {
		ccm_error_prefix(&err, "%s", argv[optind]);
		return cli_fail(&err);
	}
	util_hex(mr, sizeof(mr), hex);
	if (json)
		cli_json_print(json_pack("{s:s}", "mrenclave", hex));
	else
		puts(hex);
	return 0;
}

/* ---- sgx sign -------------------------------------------------------- */

enum {
	O_KEY = 256,
	O_SGXS,
	O_HASH,
	O_VENDOR,
	O_DATE,
	O_SWDEF,
	O_MISCSEL,
	O_MISCMASK,
	O_ATTR,
	O_ATTRMASK,
	O_PRODID,
	O_SVN,
	O_FAMILY,
	O_EXTPROD,
	O_DEBUG,
	O_JSON,
};

static const struct option sign_opts[] = {
        {"key", required_argument, NULL, O_KEY},
        {"sgxs", required_argument, NULL, O_SGXS},
        {"enclavehash", required_argument, NULL, O_HASH},
        {"vendor", required_argument, NULL, O_VENDOR},
        {"date", required_argument, NULL, O_DATE},
        {"swdefined", required_argument, NULL, O_SWDEF},
        {"miscselect", required_argument, NULL, O_MISCSEL},
        {"miscmask", required_argument, NULL, O_MISCMASK},
        {"attributes", required_argument, NULL, O_ATTR},
        {"attributemask", required_argument, NULL, O_ATTRMASK},
        {"isvprodid", required_argument, NULL, O_PRODID},
        {"isvsvn", required_argument, NULL, O_SVN},
        {"isvfamilyid", required_argument, NULL, O_FAMILY},
        {"isvextprodid", required_argument, NULL, O_EXTPROD},
        {"debug", no_argument, NULL, O_DEBUG},
        {"json", no_argument, NULL, O_JSON},
        {"output", required_argument, NULL, 'o'},
        {0},
};

struct sign_args {
	struct ccm_sgx_sigfields f;
	const char *key, *sgxs, *out;
	int have_hash, have_date, debug, kss, json;
};

/* A u32 given in hex, with or without 0x. */
static int hex_u32(const char *opt, const char *val, uint32_t *out)
{
	char buf[32];
	uint64_t v;
	int n = snprintf(buf, sizeof(buf), "%s%s",
	                 (val[0] == '0' && (val[1] == 'x' || val[1] == 'X')) ? "" : "0x", val);

	if (n < 0 || (size_t)n >= sizeof(buf))
		return cli_failf(CCM_E_INPUT, "%s: '%s' is too long for a 32-bit hex value", opt,
		                 val);
	if (cli_u64(opt, buf, 0xffffffffu, &v) != 0)
		return 2;
	*out = (uint32_t)v;
	return 0;
}

static int u32_opt(const char *opt, const char *val, uint64_t max, uint32_t *out)
{
	uint64_t v;

	if (cli_u64(opt, val, max, &v) != 0)
		return 2;
	*out = (uint32_t)v;
	return 0;
}

static int sign_option(struct sign_args *a, int c, const char *val)
{
	struct ccm_error err;
	uint32_t v = 0;
	int rc = 0;

	switch (c) {
	case O_KEY:
		a->key = val;
		return 0;
	case O_SGXS:
		a->sgxs = val;
		return 0;
	case 'o':
		a->out = val;
		return 0;
	case O_DEBUG:
		a->debug = 1;
		return 0;
	case O_JSON:
		a->json = 1;
		return 0;
	case O_HASH:
		a->have_hash = 1;
		return cli_hex("--enclavehash", val, a->f.enclavehash, 32);
	case O_DATE:
		a->have_date = 1;
		return ccm_sgx_parse_date(val, &a->f.date, &err) == CCM_OK ? 0 : cli_fail(&err);
	case O_VENDOR:
		rc = u32_opt("--vendor", val, 0xffffffffu, &a->f.vendor);
		if (rc == 0 && a->f.vendor != 0 && a->f.vendor != 0x8086)
			return cli_failf(CCM_E_RANGE, "--vendor: must be 0 or 0x8086 (Intel)");
		return rc;
	case O_SWDEF:
		return u32_opt("--swdefined", val, 0xffffffffu, &a->f.swdefined);
	case O_MISCSEL:
		return hex_u32("--miscselect", val, &a->f.miscselect);
	case O_MISCMASK:
		return hex_u32("--miscmask", val, &a->f.miscmask);
	case O_ATTR:
		return cli_hex("--attributes", val, a->f.attributes, 16);
	case O_ATTRMASK:
		return cli_hex("--attributemask", val, a->f.attributemask, 16);
	case O_FAMILY:
		a->kss = 1;
		return cli_hex("--isvfamilyid", val, a->f.isvfamilyid, 16);
	case O_EXTPROD:
		a->kss = 1;
		return cli_hex("--isvextprodid", val, a->f.isvextprodid, 16);
	case O_PRODID:
		rc = u32_opt("--isvprodid", val, 0xffff, &v);
		a->f.isvprodid = (uint16_t)v;
		return rc;
	case O_SVN:
		rc = u32_opt("--isvsvn", val, 0xffff, &v);
		a->f.isvsvn = (uint16_t)v;
		return rc;
	}
	return cli_usage("sgx sign", "unknown option");
}

static int sign_enclavehash(struct sign_args *a)
{
	struct ccm_error err;
	const uint8_t *buf;
	size_t len;
	ccm_code rc;

	if ((a->sgxs == NULL) == (a->have_hash == 0))
		return cli_usage("sgx sign",
		                 "give exactly one of --sgxs FILE and --enclavehash HEX");
	if (a->sgxs == NULL)
		return 0;
	rc = util_map_file(a->sgxs, CCM_SGXS_MAX_STREAM, &buf, &len, &err);
	if (rc != CCM_OK)
		return cli_fail(&err);
	rc = ccm_sgxs_measure(buf, len, a->f.enclavehash, &err);
	util_unmap(buf, len);
	if (rc != CCM_OK) {
		ccm_error_prefix(&err, "%s", a->sgxs);
		return cli_fail(&err);
	}
	return 0;
}

static void sign_report(const struct sign_args *a, const uint8_t *sig)
{
	char mre[65], mrs[65];
	uint8_t signer[32];

	ccm_sgx_mrsigner(sig + 128, signer, NULL);
	util_hex(a->f.enclavehash, 32, mre);
	util_hex(signer, 32, mrs);
	if (a->json) {
		cli_json_print(json_pack("{s:s,s:s,s:s,s:i,s:i,s:b}", "output", a->out, "mrenclave",
		                         mre, "mrsigner", mrs, "isvprodid", (int)a->f.isvprodid,
		                         "isvsvn", (int)a->f.isvsvn, "debug", a->debug));
		return;
	}
	printf("%-10s %s\n%-10s %s\n%-10s %s\n", "output", a->out, "mrenclave", mre, "mrsigner",
	       mrs);
}

/* Applied after every field option, as sgxs-sign does. --debug sets DEBUG
 * and takes it out of the mask, so the signature allows a debug launch
 * whatever --attributemask said. ISVFAMILYID and ISVEXTPRODID belong to
 * Key Separation and Sharing, so giving either makes KSS required (set and
 * masked), like sgxs-sign's --isvextprodid: a host without KSS then refuses
 * the enclave instead of running it without the identity it was signed for. */
static void sign_flags(struct sign_args *a)
{
	if (a->debug) {
		a->f.attributes[0] |= CCM_SGX_FLAG_DEBUG;
		a->f.attributemask[0] &= (uint8_t)~CCM_SGX_FLAG_DEBUG;
	}
	if (a->kss) {
		a->f.attributes[0] |= CCM_SGX_FLAG_KSS;
		a->f.attributemask[0] |= CCM_SGX_FLAG_KSS;
	}
}

static int cmd_sgx_sign(int argc, char **argv)
{
	uint8_t sig[CCM_SGX_SIGSTRUCT_SIZE];
	struct sign_args a;
	struct ccm_error err;
	EVP_PKEY *key = NULL;
	int c, rc;

	memset(&a, 0, sizeof(a));
	ccm_sgx_sigfields_default(&a.f);
	optind = 0;
	while ((c = getopt_long(argc, argv, "o:", sign_opts, NULL)) != -1) {
		if (c == '?')
			return cli_usage("sgx sign", "unknown option or missing value");
		if ((rc = sign_option(&a, c, optarg)) != 0)
			return rc;
	}
	if (optind != argc)
		return cli_usage("sgx sign", "unexpected argument '%s'", argv[optind]);
	if (a.key == NULL || a.out == NULL)
		return cli_usage("sgx sign", "--key KEY.pem and -o OUT.sig are required");
	if ((rc = sign_enclavehash(&a)) != 0)
		return rc;
	if (!a.have_date)
		a.f.date = ccm_sgx_date_today();
	sign_flags(&a);
	if (ccm_sgx_key_load(a.key, &key, &err) != CCM_OK)
		return cli_fail(&err);
	rc = ccm_sgx_sign(&a.f, key, sig, &err) != CCM_OK ||
	     util_write_file(a.out, sig, sizeof(sig), 0644, &err) != CCM_OK;
	EVP_PKEY_free(key);
	if (rc)
		return cli_fail(&err);
	sign_report(&a, sig);
	return 0;
}

/* ---- sgx sigstruct --------------------------------------------------- */

/* The DATE field read as the YYYYMMDD number it spells. */
static long long date_number(uint32_t bcd)
{
	long long v = 0;

	for (int i = 7; i >= 0; i--) {
		unsigned d = (bcd >> (4 * i)) & 0xf;
		if (d > 9)
			return -1;
		v = v * 10 + d;
	}
	return v;
}

static json_t *sigstruct_json(const struct ccm_sgx_sigstruct *s, const struct ccm_sgx_sigcheck *k)
{
	const struct ccm_sgx_sigfields *f = &s->f;
	json_t *o = json_object();
	long long date = date_number(f->date);

	json_object_set_new(o, "header", jhex(s->header, 16));
	json_object_set_new(o, "vendor", json_integer(f->vendor));
	json_object_set_new(o, "date", date >= 0 ? json_integer(date) : json_integer(f->date));
	json_object_set_new(o, "header2", jhex(s->header2, 16));
	json_object_set_new(o, "swdefined", json_integer(f->swdefined));
	json_object_set_new(o, "modulus", jhex(s->modulus, CCM_SGX_KEY_BYTES));
	json_object_set_new(o, "exponent", json_integer(s->exponent));
	json_object_set_new(o, "signature", jhex(s->signature, CCM_SGX_KEY_BYTES));
	json_object_set_new(o, "miscselect", json_integer(f->miscselect));
	json_object_set_new(o, "miscmask", json_integer(f->miscmask));
	json_object_set_new(o, "cet_attributes", json_integer(f->cet_attributes));
	json_object_set_new(o, "cet_attributes_mask", json_integer(f->cet_attributes_mask));
	json_object_set_new(o, "isvfamilyid", jhex(f->isvfamilyid, 16));
	json_object_set_new(o, "attributes", jhex(f->attributes, 16));
	json_object_set_new(o, "attributemask", jhex(f->attributemask, 16));
	json_object_set_new(o, "enclavehash", jhex(f->enclavehash, 32));
	json_object_set_new(o, "isvextprodid", jhex(f->isvextprodid, 16));
	json_object_set_new(o, "isvprodid", json_integer(f->isvprodid));
	json_object_set_new(o, "isvsvn", json_integer(f->isvsvn));
	json_object_set_new(o, "q1", jhex(s->q1, CCM_SGX_KEY_BYTES));
	json_object_set_new(o, "q2", jhex(s->q2, CCM_SGX_KEY_BYTES));
	json_object_set_new(o, "mrenclave", jhex(f->enclavehash, 32));
	json_object_set_new(o, "mrsigner", jhex(k->mrsigner, 32));
	json_object_set_new(o, "debug", json_boolean(f->attributes[0] & CCM_SGX_FLAG_DEBUG));
	json_object_set_new(o, "header_valid", json_boolean(k->header_ok));
	json_object_set_new(o, "exponent_valid", json_boolean(k->exponent_ok));
	json_object_set_new(o, "signature_valid", json_boolean(k->signature_ok));
	json_object_set_new(o, "q1q2_valid", json_boolean(k->q1q2_ok));
	json_object_set_new(
	        o, "valid",
	        json_boolean(k->header_ok && k->exponent_ok && k->signature_ok && k->q1q2_ok));
	return o;
}

static void sigstruct_text(const struct ccm_sgx_sigstruct *s, const struct ccm_sgx_sigcheck *k)
{
	const struct ccm_sgx_sigfields *f = &s->f;

	printf("%-20s 0x%08x\n%-20s %08x\n%-20s %u\n", "vendor", f->vendor, "date", f->date,
	       "swdefined", f->swdefined);
	printf("%-20s %u\n%-20s 0x%08x\n%-20s 0x%08x\n", "exponent", s->exponent, "miscselect",
	       f->miscselect, "miscmask", f->miscmask);
	printf("%-20s 0x%02x\n%-20s 0x%02x\n", "cet_attributes", f->cet_attributes,
	       "cet_attributes_mask", f->cet_attributes_mask);
	print_hex("isvfamilyid", f->isvfamilyid, 16);
	print_hex("attributes", f->attributes, 16);
	print_hex("attributemask", f->attributemask, 16);
	print_hex("isvextprodid", f->isvextprodid, 16);
	printf("%-20s %u\n%-20s %u\n", "isvprodid", f->isvprodid, "isvsvn", f->isvsvn);
	print_hex("mrenclave", f->enclavehash, 32);
	print_hex("mrsigner", k->mrsigner, 32);
	printf("%-20s %s\n", "debug", (f->attributes[0] & CCM_SGX_FLAG_DEBUG) ? "yes" : "no");
	printf("%-20s %s\n%-20s %s\n", "header", k->header_ok ? "ok" : "INVALID", "exponent",
	       k->exponent_ok ? "ok" : "INVALID");
	printf("%-20s %s\n%-20s %s\n", "signature", k->signature_ok ? "ok" : "INVALID", "q1/q2",
	       k->q1q2_ok ? "ok" : "INVALID");
}

static int cmd_sgx_sigstruct(int argc, char **argv)
{
	static const struct option opts[] = {{"json", no_argument, NULL, 'j'}, {0}};
	struct ccm_sgx_sigstruct s;
	struct ccm_sgx_sigcheck k;
	struct ccm_error err, verr;
	uint8_t *buf = NULL;
	size_t len = 0;
	int c, json = 0;
	ccm_code vrc;

	optind = 0;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c != 'j')
			return cli_usage("sgx sigstruct", "unknown option");
		json = 1;
	}
	if (optind != argc - 1)
		return cli_usage("sgx sigstruct", "expected one FILE.sig");
	if (util_read_file(argv[optind], 4 * CCM_SGX_SIGSTRUCT_SIZE, &buf, &len, &err) != CCM_OK)
		return cli_fail(&err);
	vrc = ccm_sgx_sigstruct_parse(buf, len, &s, &err);
	free(buf);
	if (vrc != CCM_OK) {
		ccm_error_prefix(&err, "%s", argv[optind]);
		return cli_fail(&err);
	}
	vrc = ccm_sgx_sigstruct_check(&s, &k, &verr);
	if (vrc != CCM_OK && vrc != CCM_E_VERIFY)
		return cli_fail(&verr);
	if (json)
		cli_json_print(sigstruct_json(&s, &k));
	else
		sigstruct_text(&s, &k);
	if (vrc != CCM_OK)
		return cli_fail(&verr);
	return 0;
}

const struct cmd_entry cmd_sgx_entries[] = {
        {"sgx keygen", "-o KEY.pem [--force]",
         "make an enclave signing key: RSA-3072 with e = 3, written mode 0600",
         "  -o, --output FILE   where to write the PEM (PKCS#8) key\n"
         "  -f, --force         replace an existing file\n",
         cmd_sgx_keygen},
        {"sgx measure", "FILE.sgxs [--json]",
         "print the MRENCLAVE of an SGXS/ESGXS stream (lowercase hex)",
         "  --json              print {\"mrenclave\": HEX}\n"
         "The stream must be canonical; the first violation is named.\n",
         cmd_sgx_measure},
        {"sgx sign",
         "--key KEY.pem (--sgxs FILE.sgxs | --enclavehash HEX) -o OUT.sig [field options]",
         "build and sign a SIGSTRUCT (defaults as Intel's sgx_sign)",
         "  --key FILE             RSA-3072 e=3 private key (PEM)\n"
         "  --sgxs FILE            measure this stream for ENCLAVEHASH\n"
         "  --enclavehash HEX      or give MRENCLAVE directly (64 hex digits)\n"
         "  -o, --output FILE      where to write the 1808-byte SIGSTRUCT\n"
         "  --vendor N             0 (default) or 0x8086\n"
         "  --date YYYYMMDD        default: today (UTC)\n"
         "  --swdefined N          32-bit software-defined field (default 0)\n"
         "  --miscselect HEX       default 0\n"
         "  --miscmask HEX         default ffffffff\n"
         "  --attributes HEX32     16 bytes, FLAGS||XFRM little-endian\n"
         "                         (default 04000000000000000300000000000000)\n"
         "  --attributemask HEX32  (default fdffffffffffffff1bffffffffffffff)\n"
         "  --isvprodid N          0-65535 (default 0)\n"
         "  --isvsvn N             0-65535 (default 0)\n"
         "  --isvfamilyid HEX32    16 bytes (default zero); sets and masks ATTRIBUTES.KSS\n"
         "  --isvextprodid HEX32   16 bytes (default zero); sets and masks ATTRIBUTES.KSS\n"
         "  --debug                set ATTRIBUTES.DEBUG and clear it in ATTRIBUTEMASK\n"
         "  --json                 print {output, mrenclave, mrsigner, isvprodid, isvsvn, debug}\n",
         cmd_sgx_sign},
        {"sgx sigstruct", "FILE.sig [--json]",
         "print every SIGSTRUCT field, MRENCLAVE, MRSIGNER, and whether it verifies",
         "  --json              one object; fields as in the SDM, lowercased, plus\n"
         "                      mrenclave, mrsigner, signature_valid, q1q2_valid, valid\n"
         "Exit status 1 when the header, exponent, signature or q1/q2 check fails.\n",
         cmd_sgx_sigstruct},
        {NULL, NULL, NULL, NULL, NULL},
};
