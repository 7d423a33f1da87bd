/*
 * DESIGN: applications. One row per app, named uniquely in its account.
 * List-valued fields (labels, domains, runtime overrides) are stored as
 * the JSON text the API validated, so the row is the API object and a
 * label filter is a JSON lookup (json_each) rather than a second table.
 * An app cannot be deleted while a build or certificate refers to it.
 */
#include <stdio.h>
#include <string.h>

#include "store-int.h"

#define APP_COLS                                                                                   \
	"id, account_id, name, description, input_image, output_image, isvprodid, isvsvn,"         \
	" min_isvsvn, mem_bytes, mem_enclave, threads, allow_debug, runtime, labels,"              \
	" domains_pending, whitelisted_domains, cert_subject, cert_key_type, cert_key_path,"       \
	" cert_cert_path, cert_chain_path, cert_days, created_at, updated_at"

static void app_row(sqlite3_stmt *st, void *out)
{
	struct store_app *a = out;

	memset(a, 0, sizeof(*a));
	a->id = sqlite3_column_int64(st, 0);
	a->account_id = sqlite3_column_int64(st, 1);
	store_text(st, 2, a->name, sizeof(a->name));
	store_text(st, 3, a->description, sizeof(a->description));
	store_text(st, 4, a->input_image, sizeof(a->input_image));
	store_text(st, 5, a->output_image, sizeof(a->output_image));
	a->isvprodid = sqlite3_column_int64(st, 6);
	a->isvsvn = sqlite3_column_int64(st, 7);
	a->min_isvsvn = sqlite3_column_int64(st, 8);
	a->mem_bytes = sqlite3_column_int64(st, 9);
	a->mem_enclave = sqlite3_column_int64(st, 10);
	a->threads = sqlite3_column_int64(st, 11);
	a->allow_debug = sqlite3_column_int(st, 12) != 0;
	store_text(st, 13, a->runtime, sizeof(a->runtime));
	store_text(st, 14, a->labels, sizeof(a->labels));
	store_text(st, 15, a->domains_pending, sizeof(a->domains_pending));
	store_text(st, 16, a->whitelisted_domains, sizeof(a->whitelisted_domains));
	store_text(st, 17, a->cert_subject, sizeof(a->cert_subject));
	store_text(st, 18, a->cert_key_type, sizeof(a->cert_key_type));
	store_text(st, 19, a->cert_key_path, sizeof(a->cert_key_path));
	store_text(st, 20, a->cert_cert_path, sizeof(a->cert_cert_path));
	store_text(st, 21, a->cert_chain_path, sizeof(a->cert_chain_path));
	a->cert_days = sqlite3_column_int64(st, 22);
	a->created_at = sqlite3_column_int64(st, 23);
	a->updated_at = sqlite3_column_int64(st, 24);
}

/* Bind the mutable fields at 1..21 (name .. updated_at). */
static void app_bind(sqlite3_stmt *st, const struct store_app *a)
{
	store_bind_text(st, 1, a->name);
	store_bind_text(st, 2, a->description);
	store_bind_text(st, 3, a->input_image);
	store_bind_text(st, 4, a->output_image);
	sqlite3_bind_int64(st, 5, a->isvprodid);
	sqlite3_bind_int64(st, 6, a->isvsvn);
	sqlite3_bind_int64(st, 7, a->min_isvsvn);
	sqlite3_bind_int64(st, 8, a->mem_bytes);
	sqlite3_bind_int64(st, 9, a->mem_enclave);
	sqlite3_bind_int64(st, 10, a->threads);
	sqlite3_bind_int(st, 11, a->allow_debug);
	store_bind_text(st, 12, a->runtime);
	store_bind_text(st, 13, a->labels);
	store_bind_text(st, 14, a->domains_pending);
	store_bind_text(st, 15, a->whitelisted_domains);
	store_bind_text(st, 16, a->cert_subject);
	store_bind_text(st, 17, a->cert_key_type);
	store_bind_text(st, 18, a->cert_key_path);
	store_bind_text(st, 19, a->cert_cert_path);
	store_bind_text(st, 20, a->cert_chain_path);
	sqlite3_bind_int64(st, 21, a->cert_days);
	sqlite3_bind_int64(st, 22, a->updated_at);
}

ccm_code store_app_create(struct store *s, struct store_app *a, struct ccm_error *err)
{
	sqlite3_stmt *st;
	ccm_code rc;

	if (store_prepare(
	            s,
	            "INSERT INTO apps(name, description, input_image, output_image, isvprodid,"
	            " isvsvn, min_isvsvn, mem_bytes, mem_enclave, threads, allow_debug, runtime,"
	            " labels, domains_pending, whitelisted_domains, cert_subject, cert_key_type,"
	            " cert_key_path, cert_cert_path, cert_chain_path, cert_days, updated_at,"
	            " account_id, created_at) VALUES"
	            " (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
	            &st, "app create", err) != CCM_OK)
		return CCM_E_INTERNAL;
	app_bind(st, a);
	sqlite3_bind_int64(st, 23, a->account_id);
	sqlite3_bind_int64(st, 24, a->created_at);
	rc = store_step_done(s, st, false, "app name", err);
	if (rc == CCM_OK)
		a->id = sqlite3_last_insert_rowid(s->db);
	return rc;
}

ccm_code store_app_get(struct store *s, int64_t account_id, int64_t id, struct store_app *a,
                       struct ccm_error *err)
{
	sqlite3_stmt *st;

	if (store_prepare(s, "SELECT " APP_COLS " FROM apps WHERE id = ? AND account_id = ?", &st,
	                  "app get", err) != CCM_OK)
		return CCM_E_INTERNAL;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, account_id);
	return store_row(s, st, app_row, a, "app", err);
}

ccm_code store_app_update(struct store *s, const struct store_app *a, struct ccm_error *err)
{
	sqlite3_stmt *st;

	if (store_prepare(
	            s,
	            "UPDATE apps SET name = ?, description = ?, input_image = ?,"
	            " output_image = ?, isvprodid = ?, isvsvn = ?, min_isvsvn = ?,"
	            " mem_bytes = ?, mem_enclave = ?, threads = ?, allow_debug = ?, runtime = ?,"
	            " labels = ?, domains_pending = ?, whitelisted_domains = ?, cert_subject = ?,"
	            " cert_key_type = ?, cert_key_path = ?, cert_cert_path = ?,"
	            " cert_chain_path = ?, cert_days = ?, updated_at = ?"
	            " WHERE id = ? AND account_id = ?",
	            &st, "app update", err) != CCM_OK)
		return CCM_E_INTERNAL;
	app_bind(st, a);
	sqlite3_bind_int64(st, 23, a->id);
	sqlite3_bind_int64(st, 24, a->account_id);
	return store_step_done(s, st, true, "app name", err);
}

ccm_code store_app_delete(struct store *s, int64_t account_id, int64_t id, struct ccm_error *err)
{
	sqlite3_stmt *st;
	int64_t refs = 0;

	if (store_prepare(s,
	                  "SELECT (SELECT count(*) FROM builds WHERE app_id = ?1) +"
	                  " (SELECT count(*) FROM certificates WHERE app_id = ?1 AND kind = 'app')",
	                  &st, "app refs", err) != CCM_OK)
		return CCM_E_INTERNAL;
	sqlite3_bind_int64(st, 1, id);
	if (sqlite3_step(st) == SQLITE_ROW)
		refs = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	if (refs > 0)
		return ccm_fail(err, CCM_E_CONFLICT,
		                "app: %lld builds or certificates refer to it (revoke/delete them)",
		                (long long)refs);
	if (store_prepare(s, "DELETE FROM apps WHERE id = ? AND account_id = ?", &st, "app delete",
	                  err) != CCM_OK)
		return CCM_E_INTERNAL;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, account_id);
	return store_step_done(s, st, true, "app", err);
}

static ccm_code app_emit(void *ctx, const void *row)
{
	struct store_emit *e = ctx;

	return ((store_app_cb)e->fn)(e->ctx, row);
}

ccm_code store_app_list(struct store *s, int64_t account_id, const char *label,
                        const struct store_page *pg, store_app_cb cb, void *ctx,
                        struct ccm_error *err)
{
	struct store_emit e = {(void (*)(void))cb, ctx};
	struct store_app tmp;
	sqlite3_stmt *st;

	if (store_prepare(s,
	                  "SELECT " APP_COLS " FROM apps WHERE account_id = ?1 AND (?2 IS NULL OR"
	                  " EXISTS (SELECT 1 FROM json_each(apps.labels) WHERE value = ?2))"
	                  " ORDER BY id LIMIT ?3 OFFSET ?4",
	                  &st, "app list", err) != CCM_OK)
		return CCM_E_INTERNAL;
	sqlite3_bind_int64(st, 1, account_id);
	if (label != NULL)
		store_bind_text(st, 2, label);
	store_page_bind(st, 3, pg);
	return store_rows(s, st, app_row, &tmp, app_emit, &e, "app list", err);
}
