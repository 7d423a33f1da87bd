/*
 * DESIGN: approval tasks and their votes. A vote is one row per (task,
 * user), so "distinct approvers" is a primary key, not a convention; the
 * quorum rule itself (who counts, when a task closes, what approving
 * does) lives in ccmd, which calls these inside one transaction.
 */
#include <stdio.h>
#include <string.h>

#include "store-int.h"

#define TASK_COLS                                                                                  \
	"id, account_id, type, status, app_id, build_id, domains, requester_id, reason,"           \
	" created_at, updated_at, node_id"

static void task_row(sqlite3_stmt *st, void *out)
{
	struct store_task *t = out;

	memset(t, 0, sizeof(*t));
	t->id = sqlite3_column_int64(st, 0);
	t->account_id = sqlite3_column_int64(st, 1);
	store_text(st, 2, t->type, sizeof(t->type));
	store_text(st, 3, t->status, sizeof(t->status));
	t->app_id = sqlite3_column_int64(st, 4);
	t->build_id = sqlite3_column_int64(st, 5);
	store_text(st, 6, t->domains, sizeof(t->domains));
	t->requester_id = sqlite3_column_int64(st, 7);
	store_text(st, 8, t->reason, sizeof(t->reason));
	t->created_at = sqlite3_column_int64(st, 9);
	t->updated_at = sqlite3_column_int64(st, 10);
	t->node_id = sqlite3_column_int64(st, 11);
}

ccm_code store_task_create(struct store *s, struct store_task *t, struct ccm_error *err)
{
	sqlite3_stmt *st;
	ccm_code rc;

	if (t->status[0] == '\0')
		snprintf(t->status, sizeof(t->status), "PENDING");
	if (t->domains[0] == '\0')
		snprintf(t->domains, sizeof(t->domains), "[]");
	if (store_prepare(s,
	                  "INSERT INTO tasks(account_id, type, status, app_id, build_id, domains,"
	                  " requester_id, reason, created_at, updated_at, node_id)"
	                  " VALUES (?,?,?,?,?,?,?,?,?,?,?)",
	                  &st, "task create", err) != CCM_OK)
		return CCM_E_INTERNAL;
	sqlite3_bind_int64(st, 1, t->account_id);
	store_bind_text(st, 2, t->type);
	store_bind_text(st, 3, t->status);
	sqlite3_bind_int64(st, 4, t->app_id);
	sqlite3_bind_int64(st, 5, t->build_id);
	store_bind_text(st, 6, t->domains);
	sqlite3_bind_int64(st, 7, t->requester_id);
	store_bind_text(st, 8, t->reason);
	sqlite3_bind_int64(st, 9, t->created_at);
	sqlite3_bind_int64(st, 10, t->created_at);
	sqlite3_bind_int64(st, 11, t->node_id);
	rc = store_step_done(s, st, false, "task", err);
	if (rc == CCM_OK) {
		t->id = sqlite3_last_insert_rowid(s->db);
		t->updated_at = t->created_at;
	}
	return rc;
}

ccm_code store_task_get(struct store *s, int64_t account_id, int64_t id, struct store_task *t,
                        struct ccm_error *err)
{
	sqlite3_stmt *st;

	if (store_prepare(s, "SELECT " TASK_COLS " FROM tasks WHERE id = ? AND account_id = ?", &st,
	                  "task get", err) != CCM_OK)
		return CCM_E_INTERNAL;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, account_id);
	return store_row(s, st, task_row, t, "task", err);
}

ccm_code store_task_set_status(struct store *s, int64_t id, const char *status, const char *reason,
                               int64_t now, struct ccm_error *err)
{
	sqlite3_stmt *st;

	if (store_prepare(s,
	                  "UPDATE tasks SET status = ?, reason = ?, updated_at = ? WHERE id = ?"
	                  " AND status = 'PENDING'",
	                  &st, "task status", err) != CCM_OK)
		return CCM_E_INTERNAL;
	store_bind_text(st, 1, status);
	store_bind_text(st, 2, reason);
	sqlite3_bind_int64(st, 3, now);
	sqlite3_bind_int64(st, 4, id);
	return store_step_done(s, st, true, "pending task", err);
}

ccm_code store_task_vote(struct store *s, int64_t task_id, const struct store_vote *v,
                         struct ccm_error *err)
{
	sqlite3_stmt *st;

	if (store_prepare(s,
	                  "INSERT INTO task_votes(task_id, user_id, approve, reason, at)"
	                  " VALUES (?,?,?,?,?)",
	                  &st, "task vote", err) != CCM_OK)
		return CCM_E_INTERNAL;
	sqlite3_bind_int64(st, 1, task_id);
	sqlite3_bind_int64(st, 2, v->user_id);
	sqlite3_bind_int(st, 3, v->approve);
	store_bind_text(st, 4, v->reason);
	sqlite3_bind_int64(st, 5, v->at);
	return store_step_done(s, st, false, "vote of this user on the task", err);
}

int64_t store_task_approvals(struct store *s, int64_t task_id, int64_t exclude_user)
{
	sqlite3_stmt *st;
	int64_t n = 0;

	if (sqlite3_prepare_v2(s->db,
	                       "SELECT count(DISTINCT user_id) FROM task_votes WHERE task_id = ?"
	                       " AND approve = 1 AND user_id != ?",
	                       -1, &st, NULL) != SQLITE_OK)
		return 0;
	sqlite3_bind_int64(st, 1, task_id);
	sqlite3_bind_int64(st, 2, exclude_user);
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return n;
}

static void vote_row(sqlite3_stmt *st, void *out)
{
	struct store_vote *v = out;

	memset(v, 0, sizeof(*v));
	v->user_id = sqlite3_column_int64(st, 0);
	v->approve = sqlite3_column_int(st, 1) != 0;
	store_text(st, 2, v->reason, sizeof(v->reason));
	v->at = sqlite3_column_int64(st, 3);
}

static ccm_code vote_emit(void *ctx, const void *row)
{
	struct store_emit *e = ctx;

	return ((store_vote_cb)e->fn)(e->ctx, row);
}

ccm_code store_task_votes(struct store *s, int64_t task_id, store_vote_cb cb, void *ctx,
                          struct ccm_error *err)
{
	struct store_emit e = {(void (*)(void))cb, ctx};
	struct store_vote tmp;
	sqlite3_stmt *st;

	if (store_prepare(s,
	                  "SELECT user_id, approve, reason, at FROM task_votes WHERE task_id = ?"
	                  " ORDER BY at, user_id",
	                  &st, "task votes", err) != CCM_OK)
		return CCM_E_INTERNAL;
	sqlite3_bind_int64(st, 1, task_id);
	return store_rows(s, st, vote_row, &tmp, vote_emit, &e, "task votes", err);
}

int64_t store_task_pending_for_app(struct store *s, int64_t app_id, const char *type)
{
	sqlite3_stmt *st;
	int64_t id = 0;

	if (sqlite3_prepare_v2(s->db,
	                       "SELECT id FROM tasks WHERE app_id = ? AND type = ? AND"
	                       " status = 'PENDING' LIMIT 1",
	                       -1, &st, NULL) != SQLITE_OK)
		return 0;
	sqlite3_bind_int64(st, 1, app_id);
	store_bind_text(st, 2, type);
	if (sqlite3_step(st) == SQLITE_ROW)
		id = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return id;
}

static ccm_code task_emit(void *ctx, const void *row)
{
	struct store_emit *e = ctx;

	return ((store_task_cb)e->fn)(e->ctx, row);
}

ccm_code store_task_list(struct store *s, int64_t account_id, const char *status, const char *type,
                         const struct store_page *pg, store_task_cb cb, void *ctx,
                         struct ccm_error *err)
{
	struct store_emit e = {(void (*)(void))cb, ctx};
	struct store_task tmp;
	sqlite3_stmt *st;

	if (store_prepare(s,
	                  "SELECT " TASK_COLS " FROM tasks WHERE account_id = ?1 AND"
	                  " (?2 IS NULL OR status = ?2) AND (?3 IS NULL OR type = ?3)"
	                  " ORDER BY id LIMIT ?4 OFFSET ?5",
	                  &st, "task list", err) != CCM_OK)
		return CCM_E_INTERNAL;
	sqlite3_bind_int64(st, 1, account_id);
	if (status)
		store_bind_text(st, 2, status);
	if (type)
		store_bind_text(st, 3, type);
	store_page_bind(st, 4, pg);
	return store_rows(s, st, task_row, &tmp, task_emit, &e, "task list", err);
}
