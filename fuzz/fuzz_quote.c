/*
 * DESIGN: the quote parser is the first code to touch an untrusted quote.
 * Fuzz it with the invariants a caller relies on: an accepted quote has
 * every pointer inside its own copy, consumes the bytes exactly (only zero
 * padding may follow), and a type-5 chain goes on to the PEM/X.509 layer.
 * When the vectors are at hand ($CCM_VECTORS, else ../shared/vectors from
 * the repository root), accepted quotes are also verified against one real
 * collateral set through a caching verifier, so mutations reach every step.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ccm/quote.h"
#include "quote/internal.h"

static void inside(const struct ccm_quote *q, const uint8_t *p, size_t n)
{
	if (p < q->raw || p + n > q->raw + q->len)
		abort();
}

static struct ccm_quote_verifier *fz_v;
static struct ccm_quote_collateral *fz_c;
static struct ccm_quote_result fz_r;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *vec = getenv("CCM_VECTORS");
	char dir[4096];
	struct ccm_error err;

	(void)argc;
	(void)argv;
	snprintf(dir, sizeof(dir), "%s/quotes/phala-sgx-v3-00a067110000/collateral",
	         vec ? vec : "../shared/vectors");
	if (ccm_quote_collateral_load(dir, &fz_c, &err) != CCM_OK ||
	    ccm_quote_verifier_new(&fz_v, &err) != CCM_OK) {
		ccm_quote_collateral_free(fz_c);
		fz_c = NULL;
	}
	return 0;
}

static void fz_verify(const struct ccm_quote *q)
{
	struct ccm_quote_verify_opts o = {1752919277, true}; /* 2025-07-19T10:01:17Z */
	ccm_code rc;

	if (fz_c == NULL)
		return;
	rc = ccm_quote_verify(fz_v, q, fz_c, &o, &fz_r);
	if ((rc == CCM_OK) != fz_r.verified || (rc != CCM_OK && fz_r.failure == NULL))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ccm_quote *q = NULL;
	struct pck_chain *ch = NULL;
	struct ccm_error err;

	if (ccm_quote_parse(data, size, &q, &err) != CCM_OK) {
		if (q != NULL || err.msg[0] == '\0')
			abort();
		return 0;
	}
	inside(q, q->signature, 64);
	inside(q, q->attest_key, 64);
	inside(q, q->qe_report_raw, 384);
	inside(q, q->qe_report_sig, 64);
	inside(q, q->qe_auth, q->qe_auth_len);
	inside(q, q->cert_data, q->cert_len);
	if (q->signed_len > q->len || q->trailing > q->len)
		abort();
	if (q->cert_type == 5 && pckchain_from_pem(q->cert_data, q->cert_len, &ch, &err) == CCM_OK)
		pckchain_free(ch);
	fz_verify(q);
	ccm_quote_free(q);
	return 0;
}
