/*
 * DESIGN: app certificate issuance (the manager side of the node
 * channel's /v1/node/issue) and the certificates an account CA has
 * issued. Issuance gathers every fact the policy reads (the calling
 * node, the build found by the evidence's MRENCLAVE, its app, the
 * account) into one ccm_policy_input and lets ccm_policy_check decide;
 * the evidence is verified here first (a simulated quote against the
 * calling node's own certificate, a DCAP quote against the collateral).
 * A refusal is 403 policy_refused "<check>: <reason>" and, like every
 * refusal, an audit entry with that reason and nothing else stored. A
 * grant records the certificate (ISSUED; EXPIRED is derived from
 * not_after when listed; revocation puts it on the account CRL).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "api/apiframe.h"
#include "ccm/attest.h"
#include "ccm/cert.h"
#include "ccm/policy.h"
#include "ccmd.h"
#include "par.h"
#include "pki/pki.h"
#include "util/util.h"

/* A build found by MRENCLAVE, its app and the app's lists parsed. */
struct api_cert_found {
	struct store_build build;
	struct store_app app;
	json_t *app_labels, *domains;
};

/* Everything an issuance decision reads, with the storage behind it. */
struct api_cert_ctx {
	struct ccm_policy_input in;
	const struct api_cert_found *found; /* the build and app, in the memo */
	json_t *dns;
	const char *app_lv[CCM_LABELS_MAX], *node_lv[CCM_LABELS_MAX];
	const char *dom_v[CCM_DOMAINS_MAX], *dns_v[CCM_DOMAINS_MAX];
	uint8_t *evidence;
	size_t evidence_len;
	X509_REQ *csr;
	/* api_cert_check, on any thread: inputs taken from the body on the
	 * loop, then the outcome (pre_status 0: passed) */
	const char *csr_pem, *ev_type, *ev_quote;
	X509 *node_cert;
	bool dcap;    /* verified on the loop (collateral) */
	bool decided; /* every check passed: to be signed and recorded */
	struct ccm_quote_report rep;
	int pre_status;
	const char *pre_code;
	char pre_msg[CCM_ERRMSG_MAX + 64];
	/* api_cert_sign, on any thread: the decided profile in, the signed
	 * certificate out (sign_rc/sign_err) */
	struct ccm_cert_app profile;
	X509 *cert;
	char *pem;
	char serial[STORE_SERIAL_MAX + 1];
	ccm_code sign_rc;
	struct ccm_error sign_err;
};

/* What the items of one call share, looked up once per call and kept
 * until its end (items point into it): the account CA (its PEM is the
 * chain answered), the calling node's labels and every build found by
 * MRENCLAVE with its app (some 40 KB each, so items do not copy them). A
 * batch is one transaction, and issuing changes none of these, so reuse
 * within it sees what a fresh lookup would. */
struct api_cert_memo {
	X509 *ca;
	EVP_PKEY *key;
	char *ca_pem;
	json_t *node_labels;
	struct api_cert_found **found;
	size_t nfound;
};

static void api_cert_memo_drop_ca(struct api_cert_memo *m)
{
	X509_free(m->ca);
	EVP_PKEY_free(m->key);
	free(m->ca_pem);
	m->ca = NULL;
	m->key = NULL;
	m->ca_pem = NULL;
}

static void api_cert_memo_clear(struct api_cert_memo *m)
{
	api_cert_memo_drop_ca(m);
	json_decref(m->node_labels);
	for (size_t i = 0; i < m->nfound; i++) {
		json_decref(m->found[i]->app_labels);
		json_decref(m->found[i]->domains);
		free(m->found[i]);
	}
	free(m->found);
	memset(m, 0, sizeof(*m));
}

static ccm_code api_cert_memo_ca(struct req *r, struct api_cert_memo *m, struct ccm_error *err)
{
	ccm_code rc;

	if (m->ca != NULL)
		return CCM_OK;
	rc = bootstrap_account_ca(r->d, r->account.id, &m->ca, &m->key, err);
	if (rc == CCM_OK)
		rc = pki_cert_pem(m->ca, &m->ca_pem, err);
	/* Its extensions cached now, so par helpers signing with it only read. */
	if (rc == CCM_OK)
		X509_check_purpose(m->ca, -1, 0);
	if (rc != CCM_OK) /* the CA only: items may point into the rest */
		api_cert_memo_drop_ca(m);
	return rc;
}

static void api_cert_ctx_free(struct api_cert_ctx *c)
{
	json_decref(c->dns);
	free(c->evidence);
	X509_REQ_free(c->csr);
	X509_free(c->cert);
	free(c->pem);
	free(c);
}

static bool api_cert_refuse(struct req *r, const char *check, const char *what, const char *arg)
{
	return server_error(r, 403, "policy_refused", "%s: %s%s", check, what, arg);
}

/* Point vec at the strings of a JSON array (at most max). */
static size_t api_cert_vec(json_t *arr, const char **vec, size_t max)
{
	size_t i, n = 0;
	json_t *v;

	json_array_foreach(arr, i, v)
	{
		if (n < max && json_is_string(v))
			vec[n++] = json_string_value(v);
	}
	return n;
}

static unsigned api_cert_tcb_mask(const char *list)
{
	unsigned mask = 0;

	for (int s = 1; s < 31; s++) {
		const char *name = ccm_tcb_status_name((enum ccm_tcb_status)s);
		const char *p = list;
		size_t n = name ? strlen(name) : 0;
		while (n && *p) {
			size_t k = strcspn(p, ",");
			if (k == n && strncmp(p, name, n) == 0)
				mask |= 1u << (unsigned)s;
			p += k + (p[k] == ',');
		}
	}
	return mask;
}

static void api_cert_pre_fail(struct api_cert_ctx *c, int status, const char *code,
                              const char *prefix, const char *msg)
{
	c->pre_status = status;
	c->pre_code = code;
	snprintf(c->pre_msg, sizeof(c->pre_msg), "%s%s", prefix, msg);
}

/* The body's parts the checks read, taken on the loop (jansson values are
 * not read from other threads). */
static void api_cert_take(struct api_cert_ctx *c, json_t *body, X509 *node_cert)
{
	json_t *ev = json_object_get(body, "evidence");

	c->csr_pem = json_string_value(json_object_get(body, "csr"));
	c->ev_type = json_string_value(json_object_get(ev, "type"));
	c->ev_quote = json_string_value(json_object_get(ev, "quote"));
	c->node_cert = node_cert;
}

/* The checks that need no store: the CSR (form, key strength,
 * self-signature) and simulated evidence against the calling node's
 * certificate; in this order, the first refusal kept. Pure: runs on the
 * loop or on a par helper. */
static void api_cert_check(struct api_cert_ctx *c)
{
	struct ccm_simquote sq;
	struct ccm_error err;
	const char *type = c->ev_type, *q = c->ev_quote;

	if (ccm_csr_parse_key(c->csr_pem, strlen(c->csr_pem), &c->csr, c->in.spki_sha256, &err) !=
	    CCM_OK)
		api_cert_pre_fail(c, 400, "invalid_csr", "", err.msg);
	else if (type == NULL || q == NULL ||
	         (strcmp(type, "simulated") != 0 && strcmp(type, "dcap") != 0))
		api_cert_pre_fail(c, 400, "invalid_field", "",
		                  "evidence: expected {\"type\":\"simulated\"|\"dcap\","
		                  "\"quote\":base64}");
	else if (util_b64_decode(q, strlen(q), 64 * 1024, &c->evidence, &c->evidence_len,
	                         "evidence.quote", &err) != CCM_OK)
		api_cert_pre_fail(c, 400, "invalid_field", "evidence.quote: ", err.msg);
	else if (strcmp(type, "dcap") == 0)
		c->dcap = true;
	else if (ccm_simquote_verify(c->evidence, c->evidence_len, c->node_cert, &sq, &err) !=
	         CCM_OK)
		api_cert_pre_fail(c, 403, "policy_refused", "evidence: simulated quote: ", err.msg);
	else {
		c->rep = sq.report;
		c->in.evidence_kind = CCM_EVIDENCE_SIMULATED;
	}
}

static void api_cert_check_one(void *arg, size_t i)
{
	api_cert_check(((struct api_cert_ctx **)arg)[i]);
}

/* On the loop: the check's outcome as the reply, DCAP evidence verified
 * against the collateral, and the report's facts; false with the reply. */
static bool api_cert_evidence(struct req *r, struct api_cert_ctx *c)
{
	int tcb = 0;

	if (c->pre_status != 0)
		return server_error(r, c->pre_status, c->pre_code, "%s", c->pre_msg);
	if (c->dcap) {
		if (!api_nodechan_dcap(r, c->evidence, c->evidence_len, "policy_refused", &c->rep,
		                       &tcb))
			return false;
		c->in.evidence_kind = CCM_EVIDENCE_DCAP;
		c->in.tcb_status = tcb;
	}
	c->in.evidence_verified = true;
	memcpy(c->in.mrenclave, c->rep.mrenclave, 32);
	memcpy(c->in.mrsigner, c->rep.mrsigner, 32);
	c->in.isvprodid = c->rep.isvprodid;
	c->in.isvsvn = c->rep.isvsvn;
	c->in.debug = (c->rep.attributes[0] & 0x02) != 0;
	memcpy(c->in.report_data, c->rep.reportdata, 64);
	return true;
}

/* The build with MRENCLAVE hex and its app: from the memo, or from the
 * store into it. NULL: r holds the refusal or the store's error. */
static const struct api_cert_found *api_cert_find(struct req *r, struct api_cert_memo *m,
                                                  const char *hex)
{
	struct api_cert_found *f, **grown;
	struct ccm_error err;

	for (size_t i = 0; i < m->nfound; i++)
		if (strcmp(m->found[i]->build.mrenclave, hex) == 0)
			return m->found[i];
	grown = realloc(m->found, (m->nfound + 1) * sizeof(*grown));
	if (grown == NULL || (f = calloc(1, sizeof(*f))) == NULL) {
		m->found = grown ? grown : m->found;
		server_error(r, 500, "internal", "out of memory");
		return NULL;
	}
	m->found = grown;
	if (store_build_by_mrenclave(r->d->store, r->account.id, hex, &f->build, &err) != CCM_OK) {
		free(f);
		api_cert_refuse(r, "build_status", "no build in the account has MRENCLAVE ", hex);
		return NULL;
	}
	if (store_app_get(r->d->store, r->account.id, f->build.app_id, &f->app, &err) != CCM_OK) {
		free(f);
		server_fail(r, &err);
		return NULL;
	}
	f->app_labels = api_app_parse(f->app.labels);
	f->domains = api_app_parse(f->app.whitelisted_domains);
	m->found[m->nfound++] = f;
	return f;
}

/* The build of the evidence's MRENCLAVE, and its app. */
static bool api_cert_build(struct req *r, struct api_cert_ctx *c, struct api_cert_memo *m)
{
	const struct api_cert_found *f;
	char hex[65];
	size_t n;

	util_hex(c->in.mrenclave, 32, hex);
	if ((f = api_cert_find(r, m, hex)) == NULL)
		return false;
	c->found = f;
	c->in.build_account_id = c->found->build.account_id;
	c->in.build_app_id = c->found->build.app_id;
	c->in.build_state = strcmp(c->found->build.status, "WHITELISTED") == 0
	                            ? CCM_BUILD_WHITELISTED
	                    : strcmp(c->found->build.status, "REJECTED") == 0 ? CCM_BUILD_REJECTED
	                                                                      : CCM_BUILD_PENDING;
	c->in.build_revoked = c->found->build.revoked;
	util_unhex(c->found->build.mrenclave, 64, c->in.build_mrenclave, 32, &n);
	util_unhex(c->found->build.mrsigner, 64, c->in.build_mrsigner, 32, &n);
	c->in.build_isvprodid = (uint16_t)c->found->build.isvprodid;
	c->in.app_id = c->found->app.id;
	c->in.app_account_id = c->found->app.account_id;
	c->in.app_isvprodid = (uint16_t)c->found->app.isvprodid;
	c->in.app_min_isvsvn = (uint16_t)c->found->app.min_isvsvn;
	c->in.app_allow_debug = c->found->app.allow_debug;
	return true;
}

static enum ccm_node_state api_cert_node_state(const char *s)
{
	if (strcmp(s, "ACTIVE") == 0)
		return CCM_NODE_ACTIVE;
	if (strcmp(s, "UNREACHABLE") == 0)
		return CCM_NODE_UNREACHABLE;
	if (strcmp(s, "DEACTIVATED") == 0)
		return CCM_NODE_DEACTIVATED;
	return CCM_NODE_ENROLLING;
}

/* Account, node, labels, domains and the request into c->in. */
static void api_cert_facts(struct req *r, struct api_cert_ctx *c, struct api_cert_memo *m)
{
	json_t *req_dns = json_object_get(r->body, "dns_names");
	const struct api_cert_found *f = c->found;

	c->in.account_id = r->account.id;
	c->in.test_only = r->account.test_only;
	c->in.accepted_tcb = api_cert_tcb_mask(r->account.accepted_tcb);
	c->in.node_account_id = r->node.account_id;
	c->in.node_state = api_cert_node_state(r->node.state);
	if (m->node_labels == NULL)
		m->node_labels = api_app_parse(r->node.labels);
	c->dns = req_dns ? json_incref(req_dns) : json_incref(f->domains);
	c->in.app_labels = c->app_lv;
	c->in.n_app_labels = api_cert_vec(f->app_labels, c->app_lv, CCM_LABELS_MAX);
	c->in.node_labels = c->node_lv;
	c->in.n_node_labels = api_cert_vec(m->node_labels, c->node_lv, CCM_LABELS_MAX);
	c->in.whitelisted_domains = c->dom_v;
	c->in.n_whitelisted_domains = api_cert_vec(f->domains, c->dom_v, CCM_DOMAINS_MAX);
	c->in.dns_names = c->dns_v;
	c->in.n_dns_names = api_cert_vec(c->dns, c->dns_v, CCM_DOMAINS_MAX);
}

/* The certificate's profile from the decided request; the account CA
 * loaded into the memo (so signing reads nothing but c and m). */
static bool api_cert_prepare(struct req *r, struct api_cert_ctx *c, struct api_cert_memo *m)
{
	struct ccm_cert_app *p = &c->profile;
	struct ccm_error err;

	memset(p, 0, sizeof(*p));
	p->account_id = r->account.id;
	p->app_id = c->found->app.id;
	p->build_id = c->found->build.id;
	p->subject = c->found->app.cert_subject[0] ? c->found->app.cert_subject : NULL;
	p->dns_names = c->dns_v;
	p->n_dns_names = c->in.n_dns_names;
	p->days = (int)c->found->app.cert_days;
	memcpy(p->identity.mrenclave, c->in.mrenclave, 32);
	memcpy(p->identity.mrsigner, c->in.mrsigner, 32);
	p->identity.isvprodid = c->in.isvprodid;
	p->identity.isvsvn = c->in.isvsvn;
	p->identity.debug = c->in.debug;
	p->identity.simulated = c->in.evidence_kind == CCM_EVIDENCE_SIMULATED;
	p->evidence = c->evidence;
	p->evidence_len = c->evidence_len;
	if (api_cert_memo_ca(r, m, &err) != CCM_OK)
		return server_fail(r, &err);
	return true;
}

/* Every check of DESIGN.md "Policy" on one request whose store-free
 * checks have run (c->pre_*); reads the store, writes nothing. True: c
 * is ready to be signed; false: r holds the refusal. */
static bool api_cert_decide(struct req *r, struct api_cert_ctx *c, struct api_cert_memo *m)
{
	struct ccm_policy_decision d;

	if (!api_cert_evidence(r, c) || !api_cert_build(r, c, m))
		return false;
	api_cert_facts(r, c, m);
	if (ccm_policy_check(&c->in, &d) != CCM_OK) {
		snprintf(r->object, sizeof(r->object), "build:%" PRId64, c->found->build.id);
		return server_error(r, 403, "policy_refused", "%s: %s", d.check, d.reason);
	}
	return api_cert_prepare(r, c, m);
}

/* Build and sign the certificate of a decided request with the account
 * CA, and its serial and PEM. Pure (reads c and the memo's CA, which
 * OpenSSL 3 lets threads share for signing): runs on the loop or on a
 * par helper; the outcome is c->sign_rc. */
static void api_cert_sign(struct api_cert_ctx *c, const struct api_cert_memo *m)
{
	c->sign_rc = ccm_cert_issue_app(m->ca, m->key, c->csr, &c->profile, &c->cert, &c->sign_err);
	if (c->sign_rc == CCM_OK)
		c->sign_rc =
		        ccm_cert_serial_hex(c->cert, c->serial, sizeof(c->serial), &c->sign_err);
	if (c->sign_rc == CCM_OK)
		c->sign_rc = pki_cert_pem(c->cert, &c->pem, &c->sign_err);
}

/* Record the signed certificate and the app instance, and answer. */
static bool api_cert_record(struct req *r, struct api_cert_ctx *c, struct api_cert_memo *m)
{
	struct store_cert sc;
	struct ccm_error err;
	char na[32];
	int days = 0, secs = 0;

	if (c->sign_rc != CCM_OK)
		return server_fail(r, &c->sign_err);
	memset(&sc, 0, sizeof(sc));
	ASN1_TIME_diff(&days, &secs, NULL, X509_get0_notAfter(c->cert));
	sc.account_id = r->account.id;
	snprintf(sc.kind, sizeof(sc.kind), "app");
	snprintf(sc.serial, sizeof(sc.serial), "%s", c->serial);
	sc.node_id = r->node.id;
	sc.app_id = c->found->app.id;
	sc.build_id = c->found->build.id;
	sc.created_at = (int64_t)time(NULL);
	sc.not_after = sc.created_at + (int64_t)days * 86400 + secs;
	if (store_cert_create(r->d->store, &sc, &err) != CCM_OK ||
	    store_instance_set(r->d->store, r->node.id, c->found->app.id, "RUNNING", sc.created_at,
	                       &err) != CCM_OK)
		return server_fail(r, &err);
	snprintf(r->object, sizeof(r->object), "certificate:%" PRId64, sc.id);
	snprintf(r->reason, sizeof(r->reason),
	         "granted: app:%" PRId64 " build:%" PRId64 " node:%" PRId64 " serial %s%s",
	         c->found->app.id, c->found->build.id, r->node.id, sc.serial,
	         c->profile.identity.simulated ? " (simulated evidence)" : "");
	server_reply(r, 200,
	             json_pack("{s:s,s:s,s:I,s:I,s:s,s:s,s:I}", "certificate", c->pem, "chain",
	                       m->ca_pem, "app_id", (json_int_t)c->found->app.id, "build_id",
	                       (json_int_t)c->found->build.id, "not_after",
	                       api_user_time(sc.not_after, na), "serial", sc.serial, "id",
	                       (json_int_t)sc.id));
	return true;
}

void api_cert_issue(struct req *r)
{
	struct api_cert_memo *m = calloc(1, sizeof(*m));
	struct api_cert_ctx *c = calloc(1, sizeof(*c));

	if (m == NULL || c == NULL) {
		server_error(r, 500, "internal", "out of memory");
	} else {
		api_cert_take(c, r->body, r->node_cert);
		api_cert_check(c);
		if (api_cert_decide(r, c, m)) {
			api_cert_sign(c, m);
			api_cert_record(r, c, m);
		}
		api_cert_memo_clear(m);
	}
	if (c != NULL)
		api_cert_ctx_free(c);
	free(m);
}

/* ---- batches ----------------------------------------------------------------------- */

/* What one item of a batch came to, kept between its decision and its
 * record (the batch's one struct req, some 20 KB, is reused for all). */
struct api_cert_outcome {
	int status;
	json_t *resp;
	char object[sizeof(((struct req *)0)->object)];
	char reason[sizeof(((struct req *)0)->reason)];
};

/* sub as the request of one item: the caller's node and account (copied
 * once from the batch), the item as body, the single route's row (schema,
 * audit action) and o's outcome so far (NULL: none). */
static void api_cert_item_begin(struct req *sub, json_t *item, const struct api_cert_outcome *o)
{
	sub->body = item;
	sub->status = o ? o->status : 0;
	sub->resp = o ? o->resp : NULL;
	snprintf(sub->object, sizeof(sub->object), "%s", o ? o->object : "");
	snprintf(sub->reason, sizeof(sub->reason), "%s", o ? o->reason : "");
}

static void api_cert_item_end(struct req *sub, struct api_cert_outcome *o)
{
	o->status = sub->status;
	o->resp = sub->resp;
	sub->resp = NULL;
	memcpy(o->object, sub->object, sizeof(o->object));
	memcpy(o->reason, sub->reason, sizeof(o->reason));
}

/* Record and audit one decided and signed item under its own savepoint:
 * a refused item leaves its audit entry and nothing else. False: the
 * store failed and the whole batch must be undone. */
static bool api_cert_item(struct req *sub, struct api_cert_memo *m, struct api_cert_ctx *c,
                          struct ccm_error *err)
{
	struct store *st = sub->d->store;
	bool granted;

	if (store_savepoint(st, err) != CCM_OK)
		return false;
	if (c->decided)
		api_cert_record(sub, c, m);
	granted = sub->status < 400;
	if (!granted && store_savepoint_rollback(st, err) != CCM_OK)
		return false;
	if (server_audit_append(sub,
	                        granted              ? "ok"
	                        : sub->status >= 500 ? "error"
	                                             : "refused",
	                        err) != CCM_OK)
		return false;
	return !granted || store_savepoint_release(st, err) == CCM_OK;
}

struct api_cert_signing {
	struct api_cert_ctx **todo;
	const struct api_cert_memo *m;
};

static void api_cert_sign_one(void *arg, size_t i)
{
	struct api_cert_signing *s = arg;

	api_cert_sign(s->todo[i], s->m);
}

/* Decide every item in order on the loop (store reads only), then sign
 * the granted ones on the par helpers and the loop together. False: out
 * of memory. */
static bool api_cert_batch_decide(struct req *sub, json_t *items, struct api_cert_ctx **ctx,
                                  struct api_cert_outcome *out, struct api_cert_memo *m)
{
	size_t n = json_array_size(items), k = 0;
	struct api_cert_signing s = {.todo = calloc(n + 1, sizeof(*s.todo)), .m = m};

	if (s.todo == NULL)
		return false;
	for (size_t i = 0; i < n; i++) {
		api_cert_item_begin(sub, json_array_get(items, i), NULL);
		if ((ctx[i]->decided = api_cert_decide(sub, ctx[i], m)))
			s.todo[k++] = ctx[i];
		api_cert_item_end(sub, &out[i]);
	}
	par_for(sub->d->par, k, api_cert_sign_one, &s);
	free(s.todo);
	return true;
}

/* Every item's context, its schema checked against the single route's
 * table (one) and its store-free checks run (on the par helpers and the
 * loop together); NULL when out of memory. */
static struct api_cert_ctx **api_cert_batch_check(struct req *r, const struct route *one,
                                                  json_t *items)
{
	size_t n = json_array_size(items), k = 0, i = 0;
	struct api_cert_ctx **all = calloc(n + 1, sizeof(*all)),
	                    **todo = calloc(n + 1, sizeof(*todo));
	struct apijson_result res;

	for (; all != NULL && todo != NULL && i < n; i++) {
		json_t *item = json_array_get(items, i);
		if ((all[i] = calloc(1, sizeof(**all))) == NULL)
			break;
		if (!apijson_check(item, one->body, &res)) /* statuses as server_body_ok's */
			api_cert_pre_fail(all[i], res.status == APIJSON_TOO_LONG ? 413 : 400,
			                  apijson_status_code(res.status), "", res.msg);
		else {
			api_cert_take(all[i], item, r->node_cert);
			todo[k++] = all[i];
		}
	}
	if (i < n) { /* out of memory: all[0..i) were made */
		for (size_t j = 0; all != NULL && j < i; j++)
			api_cert_ctx_free(all[j]);
		free(all);
		free(todo);
		return NULL;
	}
	par_for(r->d->par, k, api_cert_check_one, todo);
	free(todo);
	return all;
}

/* The items' answers as {"results": [{status, body}, ...]}. */
static void api_cert_results_json(struct req *r, struct api_cert_outcome *oc, size_t n)
{
	json_t *results = json_array();

	for (size_t i = 0; results != NULL && i < n; i++) {
		json_array_append_new(results,
		                      json_pack("{s:i,s:o}", "status", oc[i].status, "body",
		                                oc[i].resp ? oc[i].resp : json_object()));
		oc[i].resp = NULL;
	}
	if (results == NULL)
		server_error(r, 500, "internal", "out of memory");
	else
		server_reply(r, 200, json_pack("{s:o}", "results", results));
}

/* The items' answers as frames (api/apiframe.h): the agent hands each
 * body on as is and reads the grant's app and build from the header. */
struct api_cert_dumping {
	const struct api_cert_outcome *oc;
	char **body;
};

/* Pure: each body is a tree of its own (jansson keeps no shared state
 * while serializing), so they are written on the par helpers too. */
static void api_cert_dump_one(void *arg, size_t i)
{
	struct api_cert_dumping *d = arg;

	d->body[i] = d->oc[i].resp ? json_dumps(d->oc[i].resp, JSON_COMPACT) : strdup("{}");
}

static void api_cert_results_frames(struct req *r, const struct api_cert_outcome *oc,
                                    struct api_cert_ctx **ctx, size_t n)
{
	char **body = calloc(n + 1, sizeof(*body)), *out = NULL;
	struct api_cert_dumping d = {.oc = oc, .body = body};
	size_t total = 1, k = 0;
	bool ok = body != NULL;

	if (ok)
		par_for(r->d->par, n, api_cert_dump_one, &d);
	for (size_t i = 0; ok && i < n; i++) {
		ok = body[i] != NULL;
		total += ok ? strlen(body[i]) + APIFRAME_HEADER_MAX + 1 : 0;
	}
	if (ok && (out = malloc(total)) != NULL) {
		for (size_t i = 0; i < n; i++) {
			bool granted = oc[i].status == 200;
			struct apiframe f = {.status = oc[i].status,
			                     .len = strlen(body[i]),
			                     .app_id = granted ? ctx[i]->found->app.id : 0,
			                     .build_id = granted ? ctx[i]->found->build.id : 0};
			k += apiframe_header(&f, out + k);
			memcpy(out + k, body[i], f.len);
			k += f.len;
			out[k++] = '\n';
		}
		out[k] = '\0';
		server_reply_text(r, 200, APIFRAME_CT, out);
	} else
		server_error(r, 500, "internal", "out of memory");
	for (size_t i = 0; body != NULL && i < n; i++)
		free(body[i]);
	free(body);
}

static bool api_cert_wants_frames(struct req *r)
{
	const char *acc = evhttp_find_header(evhttp_request_get_input_headers(r->ev), "Accept");

	return acc != NULL && strstr(acc, APIFRAME_CT) != NULL;
}

/* POST /v1/node/issue/batch: what a node agent sends when several
 * runtimes attest at once. One TLS request, one node check and one
 * transaction (one disk sync) for all, the signature checks and the
 * certificates' signatures spread over the CPUs, while each item is
 * decided, audited and answered exactly as /v1/node/issue would. Deciding
 * every item before recording any is sound because issuing changes none
 * of the facts a decision reads (see api_cert_memo). The answers come as
 * JSON, or as frames when asked for (api/apiframe.h). */
void api_cert_issue_batch(struct req *r)
{
	const struct route *one = route_find("POST", "/v1/node/issue");
	json_t *items = json_object_get(r->body, "requests");
	size_t n = json_array_size(items);
	struct api_cert_outcome *out = calloc(n + 1, sizeof(*out));
	struct req *sub = malloc(sizeof(*sub));
	struct api_cert_memo *m = calloc(1, sizeof(*m));
	struct api_cert_ctx **ctx = NULL;
	struct ccm_error err;

	if (sub != NULL) {
		*sub = *r;
		sub->route = one;
		sub->resp_text = NULL;
	}
	if (one == NULL || out == NULL || sub == NULL || m == NULL ||
	    (ctx = api_cert_batch_check(r, one, items)) == NULL ||
	    !api_cert_batch_decide(sub, items, ctx, out, m)) {
		server_error(r, 500, "internal", "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		api_cert_item_begin(sub, json_array_get(items, i), &out[i]);
		bool ok = api_cert_item(sub, m, ctx[i], &err);
		api_cert_item_end(sub, &out[i]);
		if (!ok) {
			server_fail(r, &err);
			goto out;
		}
	}
	snprintf(r->reason, sizeof(r->reason), "%zu requests", n);
	if (api_cert_wants_frames(r))
		api_cert_results_frames(r, out, ctx, n);
	else
		api_cert_results_json(r, out, n);
out:
	for (size_t i = 0; ctx != NULL && i < n; i++)
		api_cert_ctx_free(ctx[i]);
	for (size_t i = 0; out != NULL && i < n; i++)
		json_decref(out[i].resp);
	free(ctx);
	free(out);
	free(sub);
	if (m != NULL)
		api_cert_memo_clear(m);
	free(m);
}

/* ---- listing, revocation, CRL ---------------------------------------------------- */

static json_t *api_cert_json(const struct store_cert *c)
{
	char na[32], ca[32];
	const char *state = strcmp(c->state, "ISSUED") == 0 && c->not_after <= (int64_t)time(NULL)
	                            ? "EXPIRED"
	                            : c->state;

	return json_pack("{s:I,s:s,s:s,s:I,s:I,s:I,s:s,s:s,s:s}", "id", (json_int_t)c->id, "kind",
	                 c->kind, "serial", c->serial, "node_id", (json_int_t)c->node_id, "app_id",
	                 (json_int_t)c->app_id, "build_id", (json_int_t)c->build_id, "not_after",
	                 api_user_time(c->not_after, na), "state", state, "created_at",
	                 api_user_time(c->created_at, ca));
}

static ccm_code api_cert_list_cb(void *ctx, const struct store_cert *c)
{
	json_array_append_new(ctx, api_cert_json(c));
	return CCM_OK;
}

void api_cert_list(struct req *r)
{
	struct ccm_error err;
	int64_t app_id = 0;
	json_t *items;

	if (!server_query_id(r, "app", "an app id", &app_id))
		return;
	items = json_array();
	if (store_cert_list(r->d->store, r->account.id, app_id, false, &r->page, api_cert_list_cb,
	                    items, &err) != CCM_OK) {
		json_decref(items);
		server_fail(r, &err);
		return;
	}
	server_reply_list(r, items);
}

void api_cert_revoke(struct req *r)
{
	const char *why = json_string_value(json_object_get(r->body, "reason"));
	int64_t now = (int64_t)time(NULL);
	struct store_cert c;
	struct ccm_error err;

	snprintf(r->object, sizeof(r->object), "certificate:%" PRId64, r->params[1]);
	if (store_cert_get(r->d->store, r->account.id, r->params[1], &c, &err) != CCM_OK ||
	    store_cert_revoke(r->d->store, c.id, now, &err) != CCM_OK) {
		server_fail(r, &err);
		return;
	}
	snprintf(c.state, sizeof(c.state), "REVOKED");
	c.revoked_at = now;
	snprintf(r->reason, sizeof(r->reason), "serial %.64s: %.160s", c.serial, why ? why : "");
	server_reply(r, 200, api_cert_json(&c));
}

struct api_cert_crl_ctx {
	struct ccm_crl_entry *e;
	char (*serials)[STORE_SERIAL_MAX + 1];
	size_t n, cap;
};

static ccm_code api_cert_crl_cb(void *ctx, const struct store_cert *c)
{
	struct api_cert_crl_ctx *x = ctx;

	if (x->n == x->cap) {
		size_t cap = x->cap ? 2 * x->cap : 64;
		void *e = realloc(x->e, cap * sizeof(*x->e));
		if (e == NULL)
			return CCM_E_NOMEM;
		x->e = e;
		void *s = realloc(x->serials, cap * sizeof(*x->serials));
		if (s == NULL)
			return CCM_E_NOMEM;
		x->serials = s;
		x->cap = cap;
	}
	snprintf(x->serials[x->n], sizeof(x->serials[x->n]), "%s", c->serial);
	x->e[x->n].revoked_at = c->revoked_at;
	x->n++;
	return CCM_OK;
}

void api_cert_crl(struct req *r)
{
	struct api_cert_crl_ctx x = {NULL, NULL, 0, 0};
	struct ccm_error err;
	X509 *ca = NULL;
	EVP_PKEY *key = NULL;
	X509_CRL *crl = NULL;
	BIO *bio = NULL;
	char *text, *data;
	long len;

	if (store_cert_list(r->d->store, r->account.id, 0, true, NULL, api_cert_crl_cb, &x, &err) !=
	            CCM_OK ||
	    bootstrap_account_ca(r->d, r->account.id, &ca, &key, &err) != CCM_OK)
		goto fail;
	for (size_t i = 0; i < x.n; i++)
		x.e[i].serial_hex = x.serials[i];
	if (ccm_crl_build(ca, key, x.e, x.n, (int64_t)time(NULL), 7, &crl, &err) != CCM_OK)
		goto fail;
	bio = BIO_new(BIO_s_mem());
	if (bio == NULL || PEM_write_bio_X509_CRL(bio, crl) != 1 ||
	    (len = BIO_get_mem_data(bio, &data)) <= 0 || (text = malloc((size_t)len + 1)) == NULL) {
		server_error(r, 500, "internal", "cannot encode the CRL");
		goto out;
	}
	memcpy(text, data, (size_t)len);
	text[len] = '\0';
	server_reply_text(r, 200, "application/x-pem-file", text);
	goto out;
fail:
	server_fail(r, &err);
out:
	BIO_free(bio);
	X509_CRL_free(crl);
	X509_free(ca);
	EVP_PKEY_free(key);
	free(x.e);
	free(x.serials);
}
