/*
 * DESIGN: the node channel. An enrolled node authenticates with its client
 * certificate alone (mTLS): the TLS layer accepts any certificate (account
 * CAs are many and change), and api_nodechan_auth decides per request.
 * The URI SAN spiffe://ccm/account/A/node/N names the node; the
 * certificate must be signed by account A's CA, be inside its validity,
 * be recorded as ISSUED for node N (so a revoked one, on the CRL, is
 * refused) and the node must not be DEACTIVATED. Heartbeats are not
 * audited (the node's last_seen records them); renewals are.
 * Also here: node certificate issuance (enroll and renew), DCAP quote
 * verification against the configured collateral, shared with issuance,
 * and the app config a node's runtimes may read (own account only).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/bufferevent_ssl.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "ccm/cert.h"
#include "ca-cache.h"
#include "ccmd.h"
#include "pki/pki.h"

/* Account and node ids from the certificate's URI SAN; false if absent. */
static bool api_nodechan_uri(X509 *cert, int64_t *acc, int64_t *node)
{
	GENERAL_NAMES *gns = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
	bool ok = false;

	for (int i = 0; gns && !ok && i < sk_GENERAL_NAME_num(gns); i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(gns, i);
		char uri[128], tail[2];
		long long a, n;
		int len;

		if (g->type != GEN_URI)
			continue;
		len = ASN1_STRING_length(g->d.uniformResourceIdentifier);
		if (len <= 0 || (size_t)len >= sizeof(uri))
			continue;
		memcpy(uri, ASN1_STRING_get0_data(g->d.uniformResourceIdentifier), (size_t)len);
		uri[len] = '\0';
		if (sscanf(uri, "spiffe://ccm/account/%lld/node/%lld%1s", &a, &n, tail) == 2 &&
		    a > 0 && n > 0) {
			char back[128];
			ccm_cert_uri_node(a, n, back, sizeof(back));
			ok = strcmp(back, uri) == 0;
			*acc = a;
			*node = n;
		}
	}
	GENERAL_NAMES_free(gns);
	return ok;
}

/* Signed by the account CA and valid now. */
static bool api_nodechan_chain(struct req *r, X509 *cert, int64_t acc)
{
	X509 *ca = NULL;
	struct ccm_error err;
	bool ok;

	if (bootstrap_account_ca(r->d, acc, &ca, NULL, &err) != CCM_OK)
		return false;
	ok = X509_check_issued(ca, cert) == X509_V_OK &&
	     ca_cache_signed(r->d->ca_cache, acc, ca, cert) &&
	     X509_cmp_current_time(X509_get0_notBefore(cert)) < 0 &&
	     X509_cmp_current_time(X509_get0_notAfter(cert)) > 0;
	X509_free(ca);
	return ok;
}

static X509 *api_nodechan_peer(struct req *r)
{
	struct evhttp_connection *c = evhttp_request_get_connection(r->ev);
	struct bufferevent *bev = c ? evhttp_connection_get_bufferevent(c) : NULL;
	SSL *ssl = bev ? bufferevent_openssl_get_ssl(bev) : NULL;

	return ssl ? SSL_get0_peer_certificate(ssl) : NULL;
}

bool api_nodechan_auth(struct req *r)
{
	X509 *cert = api_nodechan_peer(r);
	struct store_cert sc;
	struct ccm_error err;
	int64_t acc = 0, node = 0;
	char serial[STORE_SERIAL_MAX + 1];

	if (cert == NULL)
		return server_error(r, 401, "unauthorized",
		                    "this route needs the node's client certificate (mTLS)");
	if (!api_nodechan_uri(cert, &acc, &node) ||
	    store_account_get(r->d->store, acc, &r->account, &err) != CCM_OK ||
	    !api_nodechan_chain(r, cert, acc))
		return server_error(r, 403, "forbidden",
		                    "client certificate: not a valid ccm node certificate");
	r->has_account = true;
	r->audit_account = acc;
	snprintf(r->actor, sizeof(r->actor), "node:%" PRId64, node);
	snprintf(r->object, sizeof(r->object), "node:%" PRId64, node);
	if (ccm_cert_serial_hex(cert, serial, sizeof(serial), &err) != CCM_OK ||
	    store_cert_by_serial(r->d->store, acc, serial, &sc, &err) != CCM_OK ||
	    strcmp(sc.kind, "node") != 0 || sc.node_id != node)
		return server_error(r, 403, "forbidden",
		                    "client certificate: not issued to a node");
	if (store_node_get(r->d->store, acc, node, &r->node, &err) != CCM_OK ||
	    strcmp(r->node.state, "DEACTIVATED") == 0)
		return server_error(r, 403, "node_deactivated", "node %" PRId64 " is deactivated",
		                    node);
	if (strcmp(sc.state, "ISSUED") != 0)
		return server_error(r, 403, "certificate_revoked",
		                    "client certificate %s is revoked", serial);
	r->has_node = true;
	r->node_cert = cert;
	return true;
}

/* not_after of a certificate as seconds since the epoch. */
static int64_t api_nodechan_not_after(X509 *cert)
{
	int days = 0, secs = 0;

	ASN1_TIME_diff(&days, &secs, NULL, X509_get0_notAfter(cert));
	return (int64_t)time(NULL) + (int64_t)days * 86400 + secs;
}

bool api_nodechan_issue_node(struct req *r, X509_REQ *csr, const struct store_node *n,
                             json_t *reply)
{
	struct ccm_cert_node p = {n->account_id, n->id, n->name, r->d->cfg.node_cert_days, 0};
	X509 *ca = NULL, *cert = NULL;
	EVP_PKEY *key = NULL;
	struct store_cert sc;
	struct ccm_error err;
	char *pem = NULL, *capem = NULL;
	bool ok = false;

	memset(&sc, 0, sizeof(sc));
	if (bootstrap_account_ca(r->d, n->account_id, &ca, &key, &err) != CCM_OK ||
	    ccm_cert_issue_node(ca, key, csr, &p, &cert, &err) != CCM_OK ||
	    ccm_cert_serial_hex(cert, sc.serial, sizeof(sc.serial), &err) != CCM_OK ||
	    pki_cert_pem(cert, &pem, &err) != CCM_OK || pki_cert_pem(ca, &capem, &err) != CCM_OK) {
		server_fail(r, &err);
		goto out;
	}
	sc.account_id = n->account_id;
	snprintf(sc.kind, sizeof(sc.kind), "node");
	sc.node_id = n->id;
	sc.not_after = api_nodechan_not_after(cert);
	sc.created_at = (int64_t)time(NULL);
	if (store_cert_create(r->d->store, &sc, &err) != CCM_OK) {
		server_fail(r, &err);
		goto out;
	}
	json_object_set_new(reply, "certificate", json_string(pem));
	json_object_set_new(reply, "ca_chain", json_string(capem));
	json_object_set_new(reply, "serial", json_string(sc.serial));
	ok = true;
out:
	free(pem);
	free(capem);
	X509_free(cert);
	X509_free(ca);
	EVP_PKEY_free(key);
	return ok;
}

bool api_nodechan_dcap(struct req *r, const uint8_t *quote, size_t len, const char *code,
                       struct ccm_quote_report *report, int *tcb)
{
	struct ccm_quote_verify_opts opts = {r->d->cfg.collateral_at, false};
	struct ccm_quote_result *res = malloc(sizeof(*res));
	struct ccm_quote *q = NULL;
	struct ccm_error err;
	bool ok = false;

	if (res == NULL)
		return server_error(r, 500, "internal", "out of memory");
	if (opts.at == 0)
		opts.at = (int64_t)time(NULL);
	if (ccm_quote_parse(quote, len, &q, &err) != CCM_OK) {
		server_error(r, 400, "invalid_field", "evidence.quote: %s", err.msg);
		goto out;
	}
	if (r->d->ncollateral == 0) {
		server_error(r, 403, code,
		             "evidence: the manager has no DCAP collateral (--collateral)");
		goto out;
	}
	if (ccm_quote_verify(r->d->verifier, q, NULL, &opts, res) != CCM_OK) {
		server_error(r, 403, code, "evidence: quote verification failed at %s: %s",
		             res->failure ? res->failure : "failed", res->error.msg);
		goto out;
	}
	memset(report, 0, sizeof(*report));
	if (ccm_quote_is_tdx(q))
		memcpy(report->reportdata, q->td.report_data, sizeof(report->reportdata));
	else
		*report = q->sgx;
	*tcb = (int)res->tcb_status;
	ok = true;
out:
	ccm_quote_free(q);
	free(res);
	return ok;
}

/* ---- heartbeat and renewal ------------------------------------------------------ */

static bool api_nodechan_apps(struct req *r, json_t *apps, int64_t now)
{
	struct ccm_error err;
	json_t *a;
	size_t i;

	json_array_foreach(apps, i, a)
	{
		json_t *id = json_object_get(a, "app_id");
		const char *st = json_string_value(json_object_get(a, "state"));
		if (!json_is_object(a) || !json_is_integer(id) || json_integer_value(id) < 1 ||
		    st == NULL || (strcmp(st, "RUNNING") != 0 && strcmp(st, "STOPPED") != 0))
			return server_error(r, 400, "invalid_field",
			                    "apps[%zu]: expected {\"app_id\": N, \"state\":"
			                    " \"RUNNING\"|\"STOPPED\"}",
			                    i);
		if (store_instance_set(r->d->store, r->node.id, json_integer_value(id), st, now,
		                       &err) != CCM_OK)
			return server_fail(r, &err);
	}
	if (store_instance_stop_others(r->d->store, r->node.id, now, &err) != CCM_OK)
		return server_fail(r, &err);
	return true;
}

void api_nodechan_status(struct req *r)
{
	json_t *load = json_object_get(r->body, "load"), *apps = json_object_get(r->body, "apps");
	int64_t now = (int64_t)time(NULL);
	struct ccm_error err;
	char *ls = load ? json_dumps(load, JSON_COMPACT) : NULL;
	bool ok;

	if (ls != NULL && strlen(ls) >= sizeof(r->node.load)) {
		free(ls);
		server_error(r, 400, "invalid_field", "load: too long");
		return;
	}
	ok = store_node_seen(r->d->store, r->node.id, ls ? ls : "null", now, &err) == CCM_OK;
	free(ls);
	if (!ok) {
		server_fail(r, &err);
		return;
	}
	if (apps && !api_nodechan_apps(r, apps, now))
		return;
	server_reply(
	        r, 200,
	        json_pack("{s:i,s:I,s:s}", "interval_s", r->d->cfg.node_interval, "renew_before_s",
	                  (json_int_t)r->d->cfg.node_cert_days * 86400 / 3,
	                  "state", /* this heartbeat just made an UNREACHABLE node ACTIVE */
	                  strcmp(r->node.state, "UNREACHABLE") == 0 ? "ACTIVE" : r->node.state));
}

/* ---- app config for the runtime ------------------------------------------------- */

/* Runtime settings from the stored object, each always an array. */
static json_t *api_nodechan_runtime(const struct store_app *a)
{
	static const char *const f[] = {"entrypoint", "args", "env", "rw_dirs"};
	json_t *rt = api_app_parse(a->runtime), *o = json_object();

	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
		json_t *v = json_is_object(rt) ? json_object_get(rt, f[i]) : NULL;
		json_object_set_new(o, f[i], json_is_array(v) ? json_incref(v) : json_array());
	}
	json_decref(rt);
	return o;
}

/*
 * GET /v1/node/apps/{app}/config: what a runtime on this node may learn
 * about an app of the node's own account, and nothing secret (no keys, no
 * tokens; the env is the one baked into the image). The store lookup is
 * scoped to the node's account, so another account's app and a missing
 * one get the same 404 and ids do not leak across accounts.
 */
void api_nodechan_app_config(struct req *r)
{
	struct store_app *a = malloc(sizeof(*a));
	struct ccm_error err;
	json_t *o;

	snprintf(r->object, sizeof(r->object), "app:%" PRId64, r->params[0]);
	if (a == NULL) {
		server_error(r, 500, "internal", "out of memory");
		return;
	}
	if (store_app_get(r->d->store, r->account.id, r->params[0], a, &err) != CCM_OK) {
		server_fail(r, &err);
		free(a);
		return;
	}
	o = json_pack("{s:I,s:I,s:s,s:s,s:I,s:I,s:I,s:b,s:I,s:I,s:o,s:o}", "app_id",
	              (json_int_t)a->id, "account_id", (json_int_t)a->account_id, "name", a->name,
	              "output_image", a->output_image, "isvprodid", (json_int_t)a->isvprodid,
	              "isvsvn", (json_int_t)a->isvsvn, "min_isvsvn", (json_int_t)a->min_isvsvn,
	              "allow_debug", a->allow_debug, "enclave_size", (json_int_t)a->mem_enclave,
	              "threads", (json_int_t)a->threads, "labels", api_app_parse(a->labels),
	              "runtime", api_nodechan_runtime(a));
	json_object_set_new(o, "certificate",
	                    json_pack("{s:s,s:o,s:s,s:s,s:s,s:s,s:I}", "subject", a->cert_subject,
	                              "dns_names", api_app_parse(a->whitelisted_domains),
	                              "key_type", a->cert_key_type, "key_path", a->cert_key_path,
	                              "cert_path", a->cert_cert_path, "chain_path",
	                              a->cert_chain_path, "validity_days",
	                              (json_int_t)a->cert_days));
	server_reply(r, 200, o);
	free(a);
}

void api_nodechan_renew(struct req *r)
{
	const char *pem = json_string_value(json_object_get(r->body, "csr"));
	struct ccm_error err;
	X509_REQ *csr = NULL;
	uint8_t spki[32];
	json_t *o;

	if (ccm_csr_parse(pem, strlen(pem), &csr, spki, &err) != CCM_OK) {
		server_error(r, 400, "invalid_csr", "%s", err.msg);
		return;
	}
	if (EVP_PKEY_eq(X509_REQ_get0_pubkey(csr), X509_get0_pubkey(r->node_cert)) != 1) {
		X509_REQ_free(csr);
		server_error(r, 400, "key_mismatch",
		             "csr: renewal keeps the node key; this CSR has another key");
		return;
	}
	o = json_object();
	if (api_nodechan_issue_node(r, csr, &r->node, o)) {
		snprintf(r->reason, sizeof(r->reason), "serial %s",
		         json_string_value(json_object_get(o, "serial")));
		server_reply(r, 200, o);
	} else {
		json_decref(o);
	}
	X509_REQ_free(csr);
}
