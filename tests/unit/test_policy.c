/*
 * DESIGN: one granted baseline, then one mutation per rule; each must be
 * refused by exactly the rule it targets, with a reason a person can act
 * on. The validators get the edge cases of their grammars.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "ccm/policy.h"
#include "ccm/quote.h"

static const char *const app_labels[] = {"zone=eu", "sgx=yes"};
static const char *const node_labels[] = {"sgx=yes", "zone=eu", "rack=7"};
static const char *const domains[] = {"app.example.com", "*.svc.example.com"};
static const char *const names[] = {"app.example.com", "a.svc.example.com"};

static void base(struct ccm_policy_input *in)
{
	memset(in, 0, sizeof(*in));
	in->account_id = in->app_account_id = in->build_account_id = in->node_account_id = 7;
	in->app_id = in->build_app_id = 3;
	in->test_only = false;
	in->accepted_tcb = 1u << CCM_TCB_UP_TO_DATE | 1u << CCM_TCB_SW_HARDENING_NEEDED;
	in->app_isvprodid = in->build_isvprodid = in->isvprodid = 1;
	in->app_min_isvsvn = 2;
	in->isvsvn = 2;
	in->app_labels = app_labels;
	in->n_app_labels = 2;
	in->node_labels = node_labels;
	in->n_node_labels = 3;
	in->whitelisted_domains = domains;
	in->n_whitelisted_domains = 2;
	in->dns_names = names;
	in->n_dns_names = 2;
	in->build_state = CCM_BUILD_WHITELISTED;
	memset(in->build_mrenclave, 0xaa, 32);
	memset(in->mrenclave, 0xaa, 32);
	memset(in->build_mrsigner, 0xbb, 32);
	memset(in->mrsigner, 0xbb, 32);
	in->node_state = CCM_NODE_ACTIVE;
	in->evidence_kind = CCM_EVIDENCE_DCAP;
	in->evidence_verified = true;
	in->tcb_status = CCM_TCB_UP_TO_DATE;
	memset(in->spki_sha256, 0x11, 32);
	memset(in->report_data, 0x11, 32);
}

static void refused(const struct ccm_policy_input *in, const char *check, const char *why)
{
	struct ccm_policy_decision d;

	assert_int_equal(ccm_policy_check(in, &d), CCM_E_VERIFY);
	assert_false(d.granted);
	assert_string_equal(d.check, check);
	if (strstr(d.reason, why) == NULL)
		fail_msg("reason '%s' lacks '%s'", d.reason, why);
}

static void test_granted(void **state)
{
	struct ccm_policy_input in;
	struct ccm_policy_decision d;

	(void)state;
	base(&in);
	assert_int_equal(ccm_policy_check(&in, &d), CCM_OK);
	assert_true(d.granted);
	assert_string_equal(d.check, "granted");
	/* Simulated evidence in a test-only account: granted, no TCB needed. */
	in.test_only = true;
	in.evidence_kind = CCM_EVIDENCE_SIMULATED;
	in.tcb_status = 0;
	assert_int_equal(ccm_policy_check(&in, &d), CCM_OK);
}

static void test_each_rule(void **state)
{
	struct ccm_policy_input in;
	uint8_t nonce[32];

	(void)state;
	base(&in);
	in.node_account_id = 8;
	refused(&in, "node", "does not belong");
	base(&in);
	in.node_state = CCM_NODE_DEACTIVATED;
	refused(&in, "node", "DEACTIVATED");
	base(&in);
	in.evidence_verified = false;
	refused(&in, "evidence", "did not verify");
	base(&in);
	in.evidence_kind = CCM_EVIDENCE_SIMULATED;
	refused(&in, "simulated_evidence", "not test-only");
	base(&in);
	in.tcb_status = CCM_TCB_OUT_OF_DATE;
	refused(&in, "tcb_status", "OutOfDate is not accepted");
	base(&in);
	in.report_data[5] ^= 1;
	refused(&in, "key_binding", "does not bind the CSR key");
	base(&in);
	memset(nonce, 0x22, 32);
	in.nonce_hash = nonce;
	refused(&in, "key_binding", "nonce");
	base(&in);
	in.build_state = CCM_BUILD_PENDING;
	refused(&in, "build_status", "PENDING");
	base(&in);
	in.build_state = CCM_BUILD_REJECTED;
	refused(&in, "build_status", "REJECTED");
	base(&in);
	in.build_revoked = true;
	refused(&in, "build_status", "revoked");
	base(&in);
	in.build_account_id = 9;
	refused(&in, "build_status", "not a build of this application");
	base(&in);
	in.mrenclave[0] = 0;
	refused(&in, "identity", "MRENCLAVE");
	base(&in);
	in.mrsigner[31] = 0;
	refused(&in, "identity", "MRSIGNER");
	base(&in);
	in.isvprodid = 2;
	refused(&in, "identity", "ISVPRODID 2");
	base(&in);
	in.isvsvn = 1;
	refused(&in, "isvsvn", "ISVSVN 1 is below the application's minimum 2");
	base(&in);
	in.debug = true;
	refused(&in, "debug", "debug");
	base(&in);
	in.n_node_labels = 1;
	refused(&in, "node_labels", "zone=eu");
	base(&in);
	static const char *const bad[] = {"evil.example.org"};
	in.dns_names = bad;
	in.n_dns_names = 1;
	refused(&in, "domains", "evil.example.org is not whitelisted");
	base(&in);
	static const char *const deep[] = {"a.b.svc.example.com"};
	in.dns_names = deep;
	in.n_dns_names = 1;
	refused(&in, "domains", "a.b.svc.example.com");
}

static void test_labels(void **state)
{
	(void)state;
	assert_int_equal(ccm_label_validate("zone=eu-west.1", NULL), CCM_OK);
	assert_int_equal(ccm_label_validate("k8s.io/role=", NULL), CCM_OK);
	assert_int_equal(ccm_label_validate("noequals", NULL), CCM_E_INPUT);
	assert_int_equal(ccm_label_validate("=v", NULL), CCM_E_INPUT);
	assert_int_equal(ccm_label_validate("-k=v", NULL), CCM_E_INPUT);
	assert_int_equal(ccm_label_validate("k=v v", NULL), CCM_E_INPUT);
	assert_int_equal(ccm_label_validate("k=v=w", NULL), CCM_E_INPUT);
	char longkey[80];
	memset(longkey, 'a', 64);
	memcpy(longkey + 64, "=v", 3);
	struct ccm_error err;
	assert_int_equal(ccm_label_validate(longkey, &err), CCM_E_INPUT);
	assert_non_null(strstr(err.msg, "1-63"));
}

static void test_dns(void **state)
{
	struct ccm_error err;

	(void)state;
	assert_int_equal(ccm_dns_name_validate("app.example.com", false, &err), CCM_OK);
	assert_int_equal(ccm_dns_name_validate("localhost", false, &err), CCM_OK);
	assert_int_equal(ccm_dns_name_validate("*.example.com", true, &err), CCM_OK);
	assert_int_equal(ccm_dns_name_validate("*.example.com", false, &err), CCM_E_INPUT);
	assert_int_equal(ccm_dns_name_validate("a..b", false, &err), CCM_E_INPUT);
	assert_non_null(strstr(err.msg, "empty label"));
	assert_int_equal(ccm_dns_name_validate("-a.b", false, &err), CCM_E_INPUT);
	assert_int_equal(ccm_dns_name_validate("a.b.", false, &err), CCM_E_INPUT);
	assert_non_null(strstr(err.msg, "trailing dot"));
	assert_int_equal(ccm_dns_name_validate("a_b.c", false, &err), CCM_E_INPUT);
	assert_non_null(strstr(err.msg, "'_'"));
	assert_int_equal(ccm_dns_name_validate("10.0.0.1", false, &err), CCM_E_INPUT);
	assert_int_equal(ccm_dns_name_validate("", false, &err), CCM_E_INPUT);
	assert_int_equal(ccm_dns_name_validate("a.*.b", true, &err), CCM_E_INPUT);
	assert_true(ccm_dns_name_matches("App.Example.com", "app.example.COM"));
	assert_true(ccm_dns_name_matches("*.example.com", "x.example.com"));
	assert_false(ccm_dns_name_matches("*.example.com", "example.com"));
	assert_false(ccm_dns_name_matches("*.example.com", ".example.com"));
	assert_false(ccm_dns_name_matches("*.example.com", "a.b.example.com"));
}

static void test_mem(void **state)
{
	struct ccm_error err;
	uint64_t b, e;

	(void)state;
	assert_int_equal(ccm_mem_size_parse("256M", &b, &e, &err), CCM_OK);
	assert_int_equal(b, 256u << 20);
	assert_int_equal(e, 256u << 20);
	assert_int_equal(ccm_mem_size_parse("300M", &b, &e, &err), CCM_OK);
	assert_int_equal(e, 512u << 20);
	assert_int_equal(ccm_mem_size_parse("2G", &b, &e, &err), CCM_OK);
	assert_int_equal(e, (uint64_t)2 << 30);
	assert_int_equal(ccm_mem_size_parse("65536", &b, &e, &err), CCM_OK);
	assert_int_equal(ccm_mem_size_parse("1K", &b, &e, &err), CCM_E_RANGE);
	assert_int_equal(ccm_mem_size_parse("65G", &b, &e, &err), CCM_E_RANGE);
	assert_int_equal(ccm_mem_size_parse("12X", &b, &e, &err), CCM_E_INPUT);
	assert_non_null(strstr(err.msg, "unknown unit"));
	assert_int_equal(ccm_mem_size_parse("-1M", &b, &e, &err), CCM_E_INPUT);
	assert_int_equal(ccm_mem_size_parse("99999999999999999999G", &b, &e, &err), CCM_E_RANGE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_granted), cmocka_unit_test(test_each_rule),
	        cmocka_unit_test(test_labels),  cmocka_unit_test(test_dns),
	        cmocka_unit_test(test_mem),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
