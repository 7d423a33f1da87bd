/*
 * DESIGN: the manager side of POST /v1/attest, in batches. A call to ccmd
 * costs about the same whatever it carries (TLS records, an HTTP parse, a
 * node check, a transaction and a log line at the manager; a libcurl round
 * trip here), so a few batcher threads each take every attest request
 * queued at the moment (up to the manager's 64 and 1 MiB), prepare them
 * (report, key binding, the quote signed with the node key), send them as
 * one POST /v1/node/issue/batch and hand each runtime its own answer.
 * The batch is answered as frames (api/apiframe.h): each runtime gets the
 * bytes ccmd wrote for it, a grant with its instance handle spliced in,
 * so no answer is parsed or serialized again here (with one JSON answer
 * that was the larger part of the agent's work per request). A JSON
 * answer (--batch-answers json, or a manager without frames) is parsed
 * and split as before.
 * Nothing waits to fill a batch: a lone request goes out at once (as a
 * plain /v1/node/issue), and requests that arrive while a batch is in
 * flight form the next one. A manager without the batch route (404/405)
 * gets one /v1/node/issue per request and is asked again a few minutes
 * later. See docs/internals/agent.md.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/x509.h>

#include "agent.h"
#include "api/apiframe.h"
#include "ccm/attest.h"
#include "ccm/cert.h"
#include "pki/pki.h"
#include "util/util.h"

#define ATTEST_RETRY_S 300 /* a manager without the batch route: asked again after */
/* Answers of a whole batch: 64 grants of up to 128 KiB (64 names each). */
#define ATTEST_ITEM_MAX ((size_t)128 * 1024)
#define ATTEST_MAX_RESPONSE ((size_t)AGENT_BATCH_MAX * ATTEST_ITEM_MAX)
#define ATTEST_WRAP (sizeof("{\"requests\":[]}") - 1)

/* The node certificate parsed once per renewal, not per request (with
 * OpenSSL 3.0 the parse costs more than the quote's signature); guarded
 * by a->lock like the PEM it was parsed from. */
static char *attest_cert_pem;
static X509 *attest_cert_x;

static ccm_code attest_node_cert(struct agent *a, X509 **out, struct ccm_error *err)
{
	ccm_code rc = CCM_OK;
	X509 *x = NULL;
	char *pem;

	pthread_mutex_lock(&a->lock);
	if (attest_cert_pem == NULL || strcmp(attest_cert_pem, a->cert_pem) != 0) {
		rc = pki_cert_from_pem(a->cert_pem, strlen(a->cert_pem), &x, err);
		pem = rc == CCM_OK ? strdup(a->cert_pem) : NULL;
		if (rc == CCM_OK && pem == NULL)
			rc = ccm_fail(err, CCM_E_NOMEM, "out of memory");
		if (rc == CCM_OK) {
			free(attest_cert_pem);
			X509_free(attest_cert_x);
			attest_cert_pem = pem;
			attest_cert_x = x;
			x = NULL;
		}
		X509_free(x);
	}
	if (rc == CCM_OK && X509_up_ref(attest_cert_x) == 1)
		*out = attest_cert_x;
	pthread_mutex_unlock(&a->lock);
	return rc;
}

/* Wrap the runtime's report into evidence the manager can check. */
static json_t *attest_evidence(struct agent *a, X509 *cert, const uint8_t report[384],
                               struct ccm_error *err)
{
	uint8_t q[CCM_SIMQ_SIZE_MAX];
	size_t qlen = 0;
	char *b64;
	json_t *ev;

	if (ccm_simquote_sign(report, cert, a->key, (int64_t)time(NULL), q, &qlen, err) != CCM_OK)
		return NULL;
	b64 = util_b64_encode(q, qlen);
	ev = b64 ? json_pack("{s:s,s:s}", "type", "simulated", "quote", b64) : NULL;
	free(b64);
	if (ev == NULL)
		ccm_fail(err, CCM_E_NOMEM, "out of memory");
	return ev;
}

/* The /v1/node/issue body of a checked request, serialized into j->item. */
static bool attest_item(struct agent_job *j, json_t *evidence)
{
	json_t *item = json_pack("{s:O,s:o}", "csr", json_object_get(j->body, "csr"), "evidence",
	                         evidence);
	json_t *names = json_object_get(j->body, "dns_names");

	if (item != NULL && names != NULL)
		json_object_set(item, "dns_names", names);
	j->item = item ? json_dumps(item, JSON_COMPACT) : NULL;
	json_decref(item);
	if (j->item == NULL) {
		local_job_fail(j, 500, "internal", "out of memory");
		return false;
	}
	j->item_len = strlen(j->item);
	return true;
}

/* Check a request as the manager will and vouch for its report. False:
 * j holds the refusal. cert is the node certificate (NULL: cert_err). */
static bool attest_prepare(struct agent_job *j, X509 *cert, const char *cert_err)
{
	const char *report_b64 = json_string_value(json_object_get(j->body, "report"));
	const char *csr = json_string_value(json_object_get(j->body, "csr"));
	uint8_t *report = NULL, spki[32];
	json_t *evidence = NULL;
	struct ccm_error err;
	size_t rlen = 0;
	bool ok = false;

	if (!j->a->enrolled) {
		local_job_fail(j, 503, "not_enrolled",
		               "this node is not enrolled with a manager yet");
		return false;
	}
	if (util_b64_decode(report_b64, strlen(report_b64), 384, &report, &rlen, "report", &err) !=
	            CCM_OK ||
	    rlen != 384) {
		local_job_fail(j, 400, "invalid_report",
		               rlen != 384 && report ? "report: not 384 bytes" : err.msg);
		goto out;
	}
	/* Only the key's hash: the manager checks the CSR's signature. */
	if (ccm_csr_key_hash(csr, strlen(csr), spki, &err) != CCM_OK) {
		local_job_fail(j, 400, "invalid_csr", err.msg);
		goto out;
	}
	if (CRYPTO_memcmp(spki, report + 320, 32) != 0) {
		local_job_fail(j, 400, "key_binding",
		               "report data does not bind the CSR key (SHA-256 of its "
		               "SubjectPublicKeyInfo)");
		goto out;
	}
	if (cert == NULL || (evidence = attest_evidence(j->a, cert, report, &err)) == NULL) {
		local_job_fail(j, 500, "evidence", cert == NULL ? cert_err : err.msg);
		goto out;
	}
	ok = attest_item(j, evidence);
out:
	free(report);
	return ok;
}

/* A manager answer for one request; body is taken over. */
static void attest_answer(struct agent_job *j, long status, json_t *body)
{
	j->status = (int)status;
	j->reply = body ? body : local_error("manager_error", "empty answer from the manager");
	/* The handle the runtime reports its instance with (instance.c). */
	if ((status == 200 || status == 201) && json_is_object(j->reply))
		instance_grant(j->a, j->reply);
}

static void attest_single(struct mgr_conn *c, struct agent_job *j)
{
	struct ccm_error err;
	json_t *resp = NULL;
	long status = 0;

	if (mgr_post(c, "/v1/node/issue", j->item, j->item_len, MGR_MAX_RESPONSE, &status, &resp,
	             NULL, &err) != CCM_OK)
		local_job_fail(j, 502, "manager_unreachable", err.msg);
	else
		attest_answer(j, status, resp);
}

/* A 200 to a batch in JSON (--batch-answers json): {"results": [{status,
 * body}, ...]}, one per request in order. Bodies stay children of resp
 * until the caller drops it. */
static void attest_split_json(struct agent_job **v, size_t n, json_t *resp)
{
	json_t *results = json_object_get(resp, "results"), *st;
	bool ok = json_is_array(results) && json_array_size(results) == n;

	for (size_t i = 0; ok && i < n; i++) {
		st = json_object_get(json_array_get(results, i), "status");
		ok = json_is_integer(st) && json_integer_value(st) >= 100 &&
		     json_integer_value(st) <= 599 &&
		     json_is_object(json_object_get(json_array_get(results, i), "body"));
	}
	for (size_t i = 0; i < n; i++) {
		json_t *r = json_array_get(results, i);
		if (ok)
			attest_answer(v[i], (long)json_integer_value(json_object_get(r, "status")),
			              json_incref(json_object_get(r, "body")));
		else
			local_job_fail(v[i], 502, "manager_error",
			               "the manager's batch answer does not match the batch");
	}
}

/* A framed grant's body (an object with members, checked by the caller)
 * with the instance handle added as its last member, before the closing
 * brace: nothing is parsed. Without a handle (no randomness, say) the
 * grant goes as it came, as instance_grant leaves a JSON one. */
static char *attest_splice(struct agent *a, const struct apiframe *f, size_t *len)
{
	static const char key[] = ",\"instance\":";
	json_t *inst = instance_new(a, f->app_id, f->build_id);
	char *is = inst ? json_dumps(inst, JSON_COMPACT) : NULL, *out;
	size_t il = is ? strlen(is) : 0, k = f->len - 1;

	if ((out = malloc(f->len + sizeof(key) + il + 1)) == NULL)
		goto done;
	memcpy(out, f->body, f->len);
	*len = f->len;
	if (is != NULL) {
		memcpy(out + k, key, sizeof(key) - 1);
		k += sizeof(key) - 1;
		memcpy(out + k, is, il);
		k += il;
		out[k++] = '}';
		*len = k;
	}
	out[*len] = '\0';
done:
	json_decref(inst);
	free(is);
	return out;
}

/* One framed answer for its request: the body as ccmd wrote it, a
 * grant's with its instance handle. A body must look like the object
 * ccmd writes ("{...}"); the runtime parses it. */
static void attest_frame_answer(struct agent_job *j, const struct apiframe *f)
{
	bool grant = (f->status == 200 || f->status == 201) && f->app_id > 0 && f->build_id > 0;

	if (f->len < 2 || f->body[0] != '{' || f->body[f->len - 1] != '}') {
		local_job_fail(j, 502, "manager_error",
		               "the manager's answer for this request is not a JSON object");
		return;
	}
	j->status = f->status;
	if (grant && f->len > 2)
		j->reply_text = attest_splice(j->a, f, &j->reply_len);
	else if ((j->reply_text = malloc(f->len + 1)) != NULL) {
		memcpy(j->reply_text, f->body, f->len);
		j->reply_text[f->len] = '\0';
		j->reply_len = f->len;
	}
	if (j->reply_text == NULL)
		local_job_fail(j, 500, "internal", "out of memory");
}

/* A 200 to a batch as frames: exactly one per request, in order. */
static void attest_split_frames(struct agent_job **v, size_t n, const struct util_capbuf *b)
{
	struct apiframe f[AGENT_BATCH_MAX];
	const char *msg = "";
	size_t off = 0;
	bool ok = n <= AGENT_BATCH_MAX;
	char why[160];

	for (size_t i = 0; ok && i < n; i++) {
		if (off == b->n) {
			ok = false;
			msg = "fewer answers than requests";
		} else
			ok = apiframe_next(b->p, b->n, &off, ATTEST_ITEM_MAX, &f[i], &msg);
	}
	if (ok && off != b->n) {
		ok = false;
		msg = "more answers than requests";
	}
	snprintf(why, sizeof(why), "the manager's batch answer does not match the batch: %s", msg);
	for (size_t i = 0; i < n; i++) {
		if (ok)
			attest_frame_answer(v[i], &f[i]);
		else
			local_job_fail(v[i], 502, "manager_error", why);
	}
}

/* {"requests":[item,...]} from the serialized items. */
static char *attest_body(struct agent_job **v, size_t n, size_t *len)
{
	size_t total = ATTEST_WRAP + n, k;
	char *b;

	for (size_t i = 0; i < n; i++)
		total += v[i]->item_len;
	if ((b = malloc(total + 1)) == NULL)
		return NULL;
	k = ATTEST_WRAP - 2;
	memcpy(b, "{\"requests\":[", k);
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			b[k++] = ',';
		memcpy(b + k, v[i]->item, v[i]->item_len);
		k += v[i]->item_len;
	}
	memcpy(b + k, "]}", 3);
	*len = k + 2;
	return b;
}

/* Ask the manager for n prepared requests and answer each of them. */
static void attest_send(struct agent *a, struct mgr_conn *c, struct agent_job **v, size_t n)
{
	struct util_capbuf frames = {0};
	struct ccm_error err;
	json_t *resp = NULL;
	long status = 0;
	size_t len = 0;
	char *body;

	if (n == 0)
		return;
	if (n == 1 || (long long)time(NULL) < atomic_load(&a->batch_retry)) {
		for (size_t i = 0; i < n; i++)
			attest_single(c, v[i]);
		return;
	}
	if ((body = attest_body(v, n, &len)) == NULL) {
		for (size_t i = 0; i < n; i++)
			local_job_fail(v[i], 500, "internal", "out of memory");
		return;
	}
	if (mgr_post(c, "/v1/node/issue/batch", body, len, ATTEST_MAX_RESPONSE, &status, &resp,
	             &frames, &err) != CCM_OK) {
		for (size_t i = 0; i < n; i++)
			local_job_fail(v[i], 502, "manager_unreachable", err.msg);
	} else if (status == 200 && frames.p != NULL) {
		attest_split_frames(v, n, &frames);
	} else if (status == 200) {
		/* --batch-answers json, or a manager that has no frames */
		attest_split_json(v, n, resp);
	} else if (status == 404 || status == 405) {
		/* An older manager: one call each, and the batch route again later. */
		atomic_store(&a->batch_retry, (long long)time(NULL) + ATTEST_RETRY_S);
		agent_log("info", "the manager has no batch route: one call per request",
		          "POST /v1/node/issue/batch");
		for (size_t i = 0; i < n; i++)
			attest_single(c, v[i]);
	} else {
		/* Refused as a whole (401, 403, 413, 503...): each gets that answer. */
		for (size_t i = 0; i < n; i++) {
			if (status >= 300 && json_is_object(resp))
				attest_answer(v[i], status, json_deep_copy(resp));
			else
				local_job_fail(v[i], 502, "manager_error",
				               "unexpected answer to the batch from the manager");
		}
	}
	json_decref(resp);
	free(frames.p);
	free(body);
}

/* Link v[0..n) and reply to them on the loop. */
static void attest_done(struct agent *a, struct agent_job **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		v[i]->next = i + 1 < n ? v[i + 1] : NULL;
	local_done(a, n > 0 ? v[0] : NULL);
}

/* One take of the queue: refusals answered at once, the rest sent in
 * batches under the manager's byte cap. */
static void attest_run(struct agent *a, struct mgr_conn *c, struct agent_job **v, size_t n)
{
	struct agent_job *ok[AGENT_BATCH_MAX], *bad[AGENT_BATCH_MAX];
	struct ccm_error err = {.msg = "the node certificate is not loaded"};
	size_t nok = 0, nbad = 0, start = 0, bytes = ATTEST_WRAP, calls = 1;
	X509 *cert = NULL;

	pthread_rwlock_rdlock(&a->cert_rw); /* quotes and connection: one certificate */
	if (c != NULL && a->enrolled)
		attest_node_cert(a, &cert, &err);
	for (size_t i = 0; i < n; i++) {
		if (c == NULL)
			local_job_fail(v[i], 500, "internal", "no manager connection");
		if (c != NULL && attest_prepare(v[i], cert, err.msg))
			ok[nok++] = v[i];
		else
			bad[nbad++] = v[i];
	}
	X509_free(cert);
	attest_done(a, bad, nbad);
	for (size_t i = 0; i <= nok; i++) {
		if (i == nok || bytes + ok[i]->item_len + 1 > AGENT_BATCH_BYTES) {
			attest_send(a, c, ok + start, i - start);
			attest_done(a, ok + start, i - start);
			start = i;
			bytes = ATTEST_WRAP;
			calls += i < nok;
		}
		if (i < nok)
			bytes += ok[i]->item_len + 1;
	}
	pthread_rwlock_unlock(&a->cert_rw);
	if (calls > 1) { /* rare: requests near the local API's 64 KiB cap */
		char detail[96];
		snprintf(detail, sizeof(detail), "%zu requests in %zu calls", nok, calls);
		agent_log("info", "attest batch split at the manager's 1 MiB cap", detail);
	}
}

/* Every queued request, up to a batch; 0 when stopping with none left. */
static size_t attest_take(struct agent *a, struct agent_job **v)
{
	size_t n = 0;

	pthread_mutex_lock(&a->attest_lock);
	while (a->attest_head == NULL && !a->stopping)
		pthread_cond_wait(&a->attest_cond, &a->attest_lock);
	for (; n < AGENT_BATCH_MAX && a->attest_head != NULL; n++) {
		v[n] = a->attest_head;
		a->attest_head = v[n]->next;
	}
	if (a->attest_head == NULL)
		a->attest_tail = NULL;
	else /* more than a batch: the next batcher takes the rest */
		pthread_cond_signal(&a->attest_cond);
	pthread_mutex_unlock(&a->attest_lock);
	return n;
}

static void *attest_batcher(void *arg)
{
	struct agent *a = arg;
	struct mgr_conn *c = mgr_conn_new(a);
	struct agent_job *v[AGENT_BATCH_MAX];
	size_t n;

	while ((n = attest_take(a, v)) > 0)
		attest_run(a, c, v, n);
	mgr_conn_free(c);
	return NULL;
}

void attest_enqueue(struct agent *a, struct agent_job *j)
{
	j->next = NULL;
	pthread_mutex_lock(&a->attest_lock);
	if (a->attest_tail != NULL)
		a->attest_tail->next = j;
	else
		a->attest_head = j;
	a->attest_tail = j;
	pthread_cond_signal(&a->attest_cond);
	pthread_mutex_unlock(&a->attest_lock);
}

ccm_code attest_start(struct agent *a, struct ccm_error *err)
{
	if (pthread_mutex_init(&a->attest_lock, NULL) != 0 ||
	    pthread_cond_init(&a->attest_cond, NULL) != 0)
		return ccm_fail(err, CCM_E_NOMEM, "attest: cannot set up the queue");
	atomic_init(&a->batch_retry, 0);
	for (int i = 0; i < AGENT_BATCHERS; i++)
		if (pthread_create(&a->batchers[i], NULL, attest_batcher, a) != 0)
			return ccm_fail(err, CCM_E_NOMEM, "attest: cannot start a batcher");
	return CCM_OK;
}

void attest_stop(struct agent *a)
{
	pthread_mutex_lock(&a->attest_lock);
	a->stopping = 1;
	pthread_cond_broadcast(&a->attest_cond);
	pthread_mutex_unlock(&a->attest_lock);
	for (int i = 0; i < AGENT_BATCHERS; i++)
		pthread_join(a->batchers[i], NULL);
	free(attest_cert_pem);
	X509_free(attest_cert_x);
	attest_cert_pem = NULL;
	attest_cert_x = NULL;
}
