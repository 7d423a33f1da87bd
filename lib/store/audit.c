/*
 * DESIGN: the audit log as a hash chain. Each entry's hash covers every
 * field and the previous entry's hash, so editing, deleting or reordering
 * any row breaks the chain from that row on; `ccm audit verify` recomputes
 * it with store_audit_hash (the same code) from what the API returns.
 * Fields are length-prefixed before hashing, so no choice of field
 * contents can make two different entries hash alike. The append reads
 * the last hash inside the caller's write transaction (BEGIN IMMEDIATE),
 * so two appends can never chain to the same predecessor.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

#include "store-int.h"
#include "util/util.h"

#define AUDIT_GENESIS "0000000000000000000000000000000000000000000000000000000000000000"

static int audit_field(EVP_MD_CTX *md, const char *v)
{
	uint8_t len[8];
	size_t n = strlen(v);

	for (int i = 0; i < 8; i++)
		len[i] = (uint8_t)((uint64_t)n >> (56 - 8 * i));
	return EVP_DigestUpdate(md, len, sizeof(len)) && EVP_DigestUpdate(md, v, n);
}

static int audit_num(EVP_MD_CTX *md, int64_t v)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%" PRId64, v);
	return audit_field(md, buf);
}

ccm_code store_audit_hash(const struct store_audit *e, uint8_t out[STORE_DIGEST],
                          struct ccm_error *err)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned int n = 0;
	int ok;

	ok = md != NULL && EVP_DigestInit_ex(md, EVP_sha256(), NULL) &&
	     audit_field(md, "ccm-audit-v1") && audit_num(md, e->seq) &&
	     audit_num(md, e->time_ms) && audit_field(md, e->actor) &&
	     audit_num(md, e->account_id) && audit_field(md, e->action) &&
	     audit_field(md, e->object) && audit_field(md, e->result) &&
	     audit_field(md, e->reason) && audit_field(md, e->prev_hash) &&
	     EVP_DigestFinal_ex(md, out, &n) && n == STORE_DIGEST;
	EVP_MD_CTX_free(md);
	if (!ok)
		return ccm_fail(err, CCM_E_CRYPTO, "audit: SHA-256 failed");
	return CCM_OK;
}

static ccm_code audit_last(struct store *s, int64_t *seq, char prev[2 * STORE_DIGEST + 1],
                           struct ccm_error *err)
{
	sqlite3_stmt *st;
	int rc;

	if (store_prepare(s, "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1", &st,
	                  "audit last", err) != CCM_OK)
		return CCM_E_INTERNAL;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*seq = sqlite3_column_int64(st, 0);
		store_text(st, 1, prev, 2 * STORE_DIGEST + 1);
	} else {
		*seq = 0;
		memcpy(prev, AUDIT_GENESIS, sizeof(AUDIT_GENESIS));
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return store_sqlfail(s, rc, "audit", err);
	return CCM_OK;
}

ccm_code store_audit_append(struct store *s, struct store_audit *e, struct ccm_error *err)
{
	uint8_t h[STORE_DIGEST];
	sqlite3_stmt *st;
	int64_t last;

	if (audit_last(s, &last, e->prev_hash, err) != CCM_OK)
		return err ? err->code : CCM_E_IO;
	e->seq = last + 1;
	if (store_audit_hash(e, h, err) != CCM_OK)
		return CCM_E_CRYPTO;
	util_hex(h, sizeof(h), e->hash);
	if (store_prepare(s,
	                  "INSERT INTO audit(seq, time_ms, actor, account_id, action, object,"
	                  " result, reason, prev_hash, hash) VALUES (?,?,?,?,?,?,?,?,?,?)",
	                  &st, "audit append", err) != CCM_OK)
		return CCM_E_INTERNAL;
	sqlite3_bind_int64(st, 1, e->seq);
	sqlite3_bind_int64(st, 2, e->time_ms);
	store_bind_text(st, 3, e->actor);
	sqlite3_bind_int64(st, 4, e->account_id);
	store_bind_text(st, 5, e->action);
	store_bind_text(st, 6, e->object);
	store_bind_text(st, 7, e->result);
	store_bind_text(st, 8, e->reason);
	store_bind_text(st, 9, e->prev_hash);
	store_bind_text(st, 10, e->hash);
	return store_step_done(s, st, false, "audit", err);
}

ccm_code store_audit_list(struct store *s, const struct store_audit_filter *f,
                          const struct store_page *pg, store_audit_cb cb, void *ctx,
                          struct ccm_error *err)
{
	struct store_audit e;
	sqlite3_stmt *st;
	ccm_code rc = CCM_OK;

	if (store_prepare(s,
	                  "SELECT seq, time_ms, actor, account_id, action, object, result, reason,"
	                  " prev_hash, hash FROM audit WHERE (?1 = 0 OR account_id = ?1)"
	                  " AND (?2 IS NULL OR actor = ?2) AND (?3 IS NULL OR action = ?3)"
	                  " AND (?4 IS NULL OR result = ?4) AND seq > ?5"
	                  " ORDER BY seq LIMIT ?6 OFFSET ?7",
	                  &st, "audit list", err) != CCM_OK)
		return CCM_E_INTERNAL;
	sqlite3_bind_int64(st, 1, f->account_id);
	if (f->actor)
		store_bind_text(st, 2, f->actor);
	if (f->action)
		store_bind_text(st, 3, f->action);
	if (f->result)
		store_bind_text(st, 4, f->result);
	sqlite3_bind_int64(st, 5, f->since_seq);
	store_page_bind(st, 6, pg);
	while (rc == CCM_OK && sqlite3_step(st) == SQLITE_ROW) {
		memset(&e, 0, sizeof(e));
		e.seq = sqlite3_column_int64(st, 0);
		e.time_ms = sqlite3_column_int64(st, 1);
		store_text(st, 2, e.actor, sizeof(e.actor));
		e.account_id = sqlite3_column_int64(st, 3);
		store_text(st, 4, e.action, sizeof(e.action));
		store_text(st, 5, e.object, sizeof(e.object));
		store_text(st, 6, e.result, sizeof(e.result));
		store_text(st, 7, e.reason, sizeof(e.reason));
		store_text(st, 8, e.prev_hash, sizeof(e.prev_hash));
		store_text(st, 9, e.hash, sizeof(e.hash));
		rc = cb(ctx, &e);
	}
	sqlite3_finalize(st);
	return rc;
}
