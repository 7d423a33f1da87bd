/*
 * DESIGN: enclave builds. A build is registered from a SIGSTRUCT (identity
 * known at once) or created as a record the image converter fills in
 * (identity NULL until converted, so the per-account UNIQUE MRENCLAVE
 * constraint ignores it). Whitelisting state (status, revoked) and the
 * conversion progress are separate columns: one is a decision, the other
 * a job. store_build_converted is the single entry point of the build
 * worker: identity, DONE and the build_whitelist task in one go.
 */
#include <stdio.h>
#include <string.h>

#include "store-int.h"

#define BUILD_COLS                                                                                 \
	"id, account_id, app_id, source, image_name, image_digest, coalesce(mrenclave, ''),"       \
	" mrsigner, isvprodid, isvsvn, debug, mem_bytes, threads, status, revoked, conv_status,"   \
	" conv_reason, bytes_done, bytes_total, created_at, updated_at, output_image"

/* A conversion job may only write to a build that is being converted: a
 * job queued by a request whose transaction then rolled back (a retry of a
 * FAILED build, say) must not turn that build DONE behind its back. */
#define BUILD_ACTIVE "conv_status IN ('QUEUED', 'PULLING', 'CONVERTING', 'PUSHING')"

static void build_row(sqlite3_stmt *st, void *out)
{
	struct store_build *b = out;

	memset(b, 0, sizeof(*b));
	b->id = sqlite3_column_int64(st, 0);
	b->account_id = sqlite3_column_int64(st, 1);
	b->app_id = sqlite3_column_int64(st, 2);
	store_text(st, 3, b->source, sizeof(b->source));
	store_text(st, 4, b->image_name, sizeof(b->image_name));
	store_text(st, 5, b->image_digest, sizeof(b->image_digest));
	store_text(st, 6, b->mrenclave, sizeof(b->mrenclave));
	store_text(st, 7, b->mrsigner, sizeof(b->mrsigner));
	b->isvprodid = sqlite3_column_int64(st, 8);
	b->isvsvn = sqlite3_column_int64(st, 9);
	b->debug = sqlite3_column_int(st, 10) != 0;
	b->mem_bytes = sqlite3_column_int64(st, 11);
	b->threads = sqlite3_column_int64(st, 12);
	store_text(st, 13, b->status, sizeof(b->status));
	b->revoked = sqlite3_column_int(st, 14) != 0;
	store_text(st, 15, b->conv_status, sizeof(b->conv_status));
	store_text(st, 16, b->conv_reason, sizeof(b->conv_reason));
	b->bytes_done = sqlite3_column_int64(st, 17);
	b->bytes_total = sqlite3_column_int64(st, 18);
	b->created_at = sqlite3_column_int64(st, 19);
	b->updated_at = sqlite3_column_int64(st, 20);
	store_text(st, 21, b->output_image, sizeof(b->output_image));
}

ccm_code store_build_create(struct store *s, struct store_build *b, struct ccm_error *err)
{
	sqlite3_stmt *st;
	ccm_code rc;

	if (store_prepare(
	            s,
	            "INSERT INTO builds(account_id, app_id, source, image_name, image_digest,"
	            " mrenclave, mrsigner, isvprodid, isvsvn, debug, mem_bytes, threads, status,"
	            " conv_status, conv_reason, bytes_done, bytes_total, created_at, updated_at,"
	            " output_image) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
	            &st, "build create", err) != CCM_OK)
		return CCM_E_INTERNAL;
	sqlite3_bind_int64(st, 1, b->account_id);
	sqlite3_bind_int64(st, 2, b->app_id);
	store_bind_text(st, 3, b->source);
	store_bind_text(st, 4, b->image_name);
	store_bind_text(st, 5, b->image_digest);
	if (b->mrenclave[0])
		store_bind_text(st, 6, b->mrenclave);
	store_bind_text(st, 7, b->mrsigner);
	sqlite3_bind_int64(st, 8, b->isvprodid);
	sqlite3_bind_int64(st, 9, b->isvsvn);
	sqlite3_bind_int(st, 10, b->debug);
	sqlite3_bind_int64(st, 11, b->mem_bytes);
	sqlite3_bind_int64(st, 12, b->threads);
	store_bind_text(st, 13, b->status);
	store_bind_text(st, 14, b->conv_status);
	store_bind_text(st, 15, b->conv_reason);
	sqlite3_bind_int64(st, 16, b->bytes_done);
	sqlite3_bind_int64(st, 17, b->bytes_total);
	sqlite3_bind_int64(st, 18, b->created_at);
	sqlite3_bind_int64(st, 19, b->created_at);
	store_bind_text(st, 20, b->output_image);
	rc = store_step_done(s, st, false, "build MRENCLAVE in this account", err);
	if (rc == CCM_OK) {
		b->id = sqlite3_last_insert_rowid(s->db);
		b->updated_at = b->created_at;
	}
	return rc;
}

ccm_code store_build_get(struct store *s, int64_t account_id, int64_t id, struct store_build *b,
                         struct ccm_error *err)
{
	sqlite3_stmt *st;

	if (store_prepare(s, "SELECT " BUILD_COLS " FROM builds WHERE id = ? AND account_id = ?",
	                  &st, "build get", err) != CCM_OK)
		return CCM_E_INTERNAL;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, account_id);
	return store_row(s, st, build_row, b, "build", err);
}

ccm_code store_build_by_mrenclave(struct store *s, int64_t account_id, const char *mrenclave_hex,
                                  struct store_build *b, struct ccm_error *err)
{
	sqlite3_stmt *st;

	if (store_prepare(
	            s, "SELECT " BUILD_COLS " FROM builds WHERE account_id = ? AND mrenclave = ?",
	            &st, "build by mrenclave", err) != CCM_OK)
		return CCM_E_INTERNAL;
	sqlite3_bind_int64(st, 1, account_id);
	store_bind_text(st, 2, mrenclave_hex);
	return store_row(s, st, build_row, b, "build", err);
}

ccm_code store_build_set_status(struct store *s, int64_t id, const char *status, bool revoked,
                                int64_t now, struct ccm_error *err)
{
	sqlite3_stmt *st;

	if (store_prepare(s,
	                  "UPDATE builds SET status = ?, revoked = ?, updated_at = ? WHERE id = ?",
	                  &st, "build status", err) != CCM_OK)
		return CCM_E_INTERNAL;
	store_bind_text(st, 1, status);
	sqlite3_bind_int(st, 2, revoked);
	sqlite3_bind_int64(st, 3, now);
	sqlite3_bind_int64(st, 4, id);
	return store_step_done(s, st, true, "build", err);
}

ccm_code store_build_progress(struct store *s, int64_t id, const char *conv_status,
                              const char *reason, int64_t done, int64_t total, int64_t now,
                              struct ccm_error *err)
{
	sqlite3_stmt *st;

	if (store_prepare(s,
	                  "UPDATE builds SET conv_status = ?, conv_reason = ?, bytes_done = ?,"
	                  " bytes_total = ?, updated_at = ? WHERE id = ? AND source = 'image'"
	                  " AND " BUILD_ACTIVE,
	                  &st, "build progress", err) != CCM_OK)
		return CCM_E_INTERNAL;
	store_bind_text(st, 1, conv_status);
	store_bind_text(st, 2, reason);
	sqlite3_bind_int64(st, 3, done);
	sqlite3_bind_int64(st, 4, total);
	sqlite3_bind_int64(st, 5, now);
	sqlite3_bind_int64(st, 6, id);
	return store_step_done(s, st, true, "build", err);
}

ccm_code store_build_requeue(struct store *s, int64_t account_id, int64_t id, int64_t now,
                             struct ccm_error *err)
{
	sqlite3_stmt *st;

	if (store_prepare(
	            s,
	            "UPDATE builds SET conv_status = 'QUEUED', conv_reason = '', bytes_done = 0,"
	            " bytes_total = 0, updated_at = ? WHERE id = ? AND account_id = ?"
	            " AND source = 'image' AND conv_status = 'FAILED' AND mrenclave IS NULL",
	            &st, "build requeue", err) != CCM_OK)
		return CCM_E_INTERNAL;
	sqlite3_bind_int64(st, 1, now);
	sqlite3_bind_int64(st, 2, id);
	sqlite3_bind_int64(st, 3, account_id);
	return store_step_done(s, st, true, "failed image build", err);
}

ccm_code store_build_converted(struct store *s, const struct store_build *b, int64_t now,
                               int64_t *task_id, struct ccm_error *err)
{
	struct store_task t;
	sqlite3_stmt *st;
	ccm_code rc;

	if (store_prepare(s,
	                  "UPDATE builds SET image_digest = ?, mrenclave = ?, mrsigner = ?,"
	                  " isvprodid = ?, isvsvn = ?, debug = ?, mem_bytes = ?, threads = ?,"
	                  " conv_status = 'DONE', conv_reason = '', bytes_done = bytes_total,"
	                  " updated_at = ? WHERE id = ? AND account_id = ? AND source = 'image'"
	                  " AND mrenclave IS NULL AND " BUILD_ACTIVE,
	                  &st, "build converted", err) != CCM_OK)
		return CCM_E_INTERNAL;
	store_bind_text(st, 1, b->image_digest);
	store_bind_text(st, 2, b->mrenclave);
	store_bind_text(st, 3, b->mrsigner);
	sqlite3_bind_int64(st, 4, b->isvprodid);
	sqlite3_bind_int64(st, 5, b->isvsvn);
	sqlite3_bind_int(st, 6, b->debug);
	sqlite3_bind_int64(st, 7, b->mem_bytes);
	sqlite3_bind_int64(st, 8, b->threads);
	sqlite3_bind_int64(st, 9, now);
	sqlite3_bind_int64(st, 10, b->id);
	sqlite3_bind_int64(st, 11, b->account_id);
	if ((rc = store_step_done(s, st, true, "unconverted image build", err)) != CCM_OK)
		return rc;
	memset(&t, 0, sizeof(t));
	t.account_id = b->account_id;
	snprintf(t.type, sizeof(t.type), "build_whitelist");
	t.app_id = b->app_id;
	t.build_id = b->id;
	t.created_at = now;
	if ((rc = store_task_create(s, &t, err)) == CCM_OK && task_id)
		*task_id = t.id;
	return rc;
}

static ccm_code build_emit(void *ctx, const void *row)
{
	struct store_emit *e = ctx;

	return ((store_build_cb)e->fn)(e->ctx, row);
}

ccm_code store_build_list(struct store *s, int64_t account_id, int64_t app_id,
                          const struct store_page *pg, store_build_cb cb, void *ctx,
                          struct ccm_error *err)
{
	struct store_emit e = {(void (*)(void))cb, ctx};
	struct store_build tmp;
	sqlite3_stmt *st;

	if (store_prepare(s,
	                  "SELECT " BUILD_COLS " FROM builds WHERE account_id = ?1 AND"
	                  " (?2 = 0 OR app_id = ?2) ORDER BY id LIMIT ?3 OFFSET ?4",
	                  &st, "build list", err) != CCM_OK)
		return CCM_E_INTERNAL;
	sqlite3_bind_int64(st, 1, account_id);
	sqlite3_bind_int64(st, 2, app_id);
	store_page_bind(st, 3, pg);
	return store_rows(s, st, build_row, &tmp, build_emit, &e, "build list", err);
}

ccm_code store_build_list_unfinished(struct store *s, const struct store_page *pg,
                                     store_build_cb cb, void *ctx, struct ccm_error *err)
{
	struct store_emit e = {(void (*)(void))cb, ctx};
	struct store_build tmp;
	sqlite3_stmt *st;

	if (store_prepare(
	            s,
	            "SELECT " BUILD_COLS " FROM builds WHERE source = 'image' AND"
	            " conv_status NOT IN ('', 'DONE', 'FAILED') ORDER BY id LIMIT ?1 OFFSET ?2",
	            &st, "unfinished builds", err) != CCM_OK)
		return CCM_E_INTERNAL;
	store_page_bind(st, 1, pg);
	return store_rows(s, st, build_row, &tmp, build_emit, &e, "unfinished builds", err);
}
