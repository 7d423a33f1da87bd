/*
 * DESIGN: reading the audit log. Entries come back with every field that
 * enters their hash plus the hash itself, so a client can recompute the
 * chain (`ccm audit verify`) without trusting ccmd's word. The whole log
 * is for system administrators; an account's MANAGER reads its account's
 * entries (a filtered view: its hashes verify one by one, the chain links
 * only where entries are consecutive).
 */
#include <stdio.h>
#include <string.h>

#include "ccmd.h"
#include "util/util.h"

static ccm_code api_audit_cb(void *ctx, const struct store_audit *e)
{
	json_array_append_new(
	        ctx, json_pack("{s:I,s:I,s:s,s:I,s:s,s:s,s:s,s:s,s:s,s:s}", "seq",
	                       (json_int_t)e->seq, "time_ms", (json_int_t)e->time_ms, "actor",
	                       e->actor, "account_id", (json_int_t)e->account_id, "action",
	                       e->action, "object", e->object, "result", e->result, "reason",
	                       e->reason, "prev_hash", e->prev_hash, "hash", e->hash));
	return CCM_OK;
}

static void api_audit_run(struct req *r, int64_t account)
{
	struct store_audit_filter f = {account, server_query(r, "actor"), server_query(r, "action"),
	                               server_query(r, "result"), 0};
	const char *since = server_query(r, "since");
	json_t *items = json_array();
	struct ccm_error err;
	uint64_t v;

	if (since != NULL) {
		if (util_parse_u64(since, (uint64_t)1 << 53, &v, "since", &err) != CCM_OK) {
			json_decref(items);
			server_error(r, 400, "bad_parameter", "since must be an entry number");
			return;
		}
		f.since_seq = (int64_t)v;
	}
	if (store_audit_list(r->d->store, &f, &r->page, api_audit_cb, items, &err) != CCM_OK) {
		json_decref(items);
		server_fail(r, &err);
		return;
	}
	server_reply_list(r, items);
}

void api_audit_list(struct req *r)
{
	const char *acc = server_query(r, "account");
	struct ccm_error err;
	uint64_t v = 0;

	if (acc != NULL && util_parse_u64(acc, (uint64_t)1 << 53, &v, "account", &err) != CCM_OK) {
		server_error(r, 400, "bad_parameter", "account must be an account id");
		return;
	}
	api_audit_run(r, (int64_t)v);
}

void api_audit_account(struct req *r)
{
	api_audit_run(r, r->account.id);
}
