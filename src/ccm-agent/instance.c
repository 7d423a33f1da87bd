/*
 * DESIGN: which apps run on this node, as the manager sees them in the
 * heartbeat's "apps". The agent cannot watch containers, so runtimes say
 * it themselves, and a runtime that dies without a word must still end as
 * STOPPED: each one reports RUNNING when its app has started and again
 * every keepalive_s seconds, STOPPED when the app exits or it is told to
 * stop; three missed keepalives count as STOPPED.
 *
 * Only a runtime that was granted a certificate through this agent may
 * report: the grant carries an instance handle (random id + a MAC over id,
 * app and build with the agent's instance key), and a report must present
 * it. The MAC makes the handle checkable without a table entry per grant
 * (no state on the hot attest path, nothing for a benchmark to fill up)
 * and, because the key is kept in the data directory, a restarted agent
 * still accepts the keepalives of runtimes started before it. A restarted
 * agent leaves "apps" out of its heartbeats (the manager then keeps what
 * it has) until every live runtime had the time to report once, so a
 * restart never flips running apps to STOPPED. Nothing here is secret
 * but the key (0600, like node.key).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "agent.h"
#include "util/util.h"

#define INST_KEY_FILE "instance.key"
#define INST_LAPSES 3          /* missed keepalives before STOPPED */
#define INST_KEEP_STOPPED 3600 /* seconds a STOPPED entry stays listed */

ccm_code instance_init(struct agent *a, struct ccm_error *err)
{
	char path[4096];
	uint8_t *buf = NULL;
	size_t len = 0;
	struct stat st;

	pthread_mutex_init(&a->inst_lock, NULL);
	snprintf(path, sizeof(path), "%s/%s", a->cfg.data_dir, INST_KEY_FILE);
	if (stat(path, &st) != 0) {
		/* First start: no runtime can hold a handle of this agent yet. */
		if (RAND_bytes(a->inst_key, sizeof(a->inst_key)) != 1)
			return ccm_fail(err, CCM_E_CRYPTO, "instance key: no randomness");
		return util_write_file(path, a->inst_key, sizeof(a->inst_key), 0600, err);
	}
	if ((st.st_mode & 077) != 0)
		return ccm_fail(err, CCM_E_INPUT, "%s: mode %03o, must be 0600", path,
		                (unsigned)(st.st_mode & 0777));
	if (util_read_file(path, 64, &buf, &len, err) != CCM_OK)
		return err->code;
	if (len != sizeof(a->inst_key)) {
		OPENSSL_cleanse(buf, len);
		free(buf);
		return ccm_fail(err, CCM_E_INPUT, "%s: not a %zu-byte key", path,
		                sizeof(a->inst_key));
	}
	memcpy(a->inst_key, buf, len);
	OPENSSL_cleanse(buf, len);
	free(buf);
	a->restarted = time(NULL);
	return CCM_OK;
}

/* hex(HMAC-SHA256(key, "ccm-instance-v1|id|app|build")). */
static bool instance_mac(struct agent *a, const char *id, int64_t app, int64_t build, char out[65])
{
	char msg[128];
	uint8_t mac[32];
	size_t n = 0;
	int len = snprintf(msg, sizeof(msg), "ccm-instance-v1|%s|%lld|%lld", id, (long long)app,
	                   (long long)build);

	if (len <= 0 || (size_t)len >= sizeof(msg) ||
	    EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, a->inst_key, sizeof(a->inst_key),
	              (const unsigned char *)msg, (size_t)len, mac, sizeof(mac), &n) == NULL ||
	    n != sizeof(mac))
		return false;
	util_hex(mac, sizeof(mac), out);
	return true;
}

json_t *instance_new(struct agent *a, int64_t app, int64_t build)
{
	uint8_t raw[16];
	char id[33], token[65];

	if (app < 1 || build < 1 || RAND_bytes(raw, sizeof(raw)) != 1)
		return NULL;
	util_hex(raw, sizeof(raw), id);
	if (!instance_mac(a, id, app, build, token))
		return NULL;
	return json_pack("{s:s,s:s,s:i}", "id", id, "token", token, "keepalive_s",
	                 a->cfg.keepalive_s);
}

void instance_grant(struct agent *a, json_t *reply)
{
	json_t *inst = instance_new(a, json_integer_value(json_object_get(reply, "app_id")),
	                            json_integer_value(json_object_get(reply, "build_id")));

	if (inst != NULL)
		json_object_set_new(reply, "instance", inst);
}

/* RUNNING entries whose keepalives stopped become STOPPED; old STOPPED
 * ones are forgotten. Under inst_lock. */
static void instance_sweep(struct agent *a, time_t now)
{
	time_t lapse = (time_t)a->cfg.keepalive_s * INST_LAPSES;
	size_t i = 0;

	while (i < a->ninst) {
		struct agent_instance *e = &a->inst[i];
		if (e->running && now - e->last_seen > lapse) {
			e->running = false;
			e->stopped_at = now;
			a->report_now = 1;
			agent_log("warn", "instance keepalive lapsed: STOPPED", e->id);
		}
		if (!e->running && now - e->stopped_at > INST_KEEP_STOPPED) {
			a->inst[i] = a->inst[--a->ninst];
			continue;
		}
		i++;
	}
}

static bool instance_app_running(struct agent *a, int64_t app)
{
	for (size_t i = 0; i < a->ninst; i++)
		if (a->inst[i].app_id == app && a->inst[i].running)
			return true;
	return false;
}

/* The entry for id, a new one, or NULL when the table is full of running
 * instances. Under inst_lock. */
static struct agent_instance *instance_slot(struct agent *a, const char *id)
{
	size_t i, oldest = SIZE_MAX;

	for (i = 0; i < a->ninst; i++) {
		if (strcmp(a->inst[i].id, id) == 0)
			return &a->inst[i];
		if (!a->inst[i].running &&
		    (oldest == SIZE_MAX || a->inst[i].stopped_at < a->inst[oldest].stopped_at))
			oldest = i;
	}
	if (a->ninst < AGENT_MAX_INSTANCES)
		i = a->ninst++;
	else if (oldest != SIZE_MAX)
		i = oldest;
	else
		return NULL;
	memset(&a->inst[i], 0, sizeof(a->inst[i]));
	snprintf(a->inst[i].id, sizeof(a->inst[i].id), "%s", id);
	return &a->inst[i];
}

static json_t *instance_error(const char *code, const char *msg)
{
	return json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", msg);
}

int instance_report(struct agent *a, json_t *body, json_t **reply)
{
	const char *id = json_string_value(json_object_get(body, "id"));
	const char *token = json_string_value(json_object_get(body, "token"));
	const char *state = json_string_value(json_object_get(body, "state"));
	int64_t app = json_integer_value(json_object_get(body, "app_id"));
	int64_t build = json_integer_value(json_object_get(body, "build_id"));
	bool running = strcmp(state, "RUNNING") == 0;
	time_t now = time(NULL);
	struct agent_instance *e;
	char want[65];

	if (!running && strcmp(state, "STOPPED") != 0) {
		*reply = instance_error("invalid_field", "state: expected RUNNING or STOPPED");
		return 400;
	}
	if (strspn(id, "0123456789abcdef") != 32 || !instance_mac(a, id, app, build, want) ||
	    CRYPTO_memcmp(want, token, 64) != 0) {
		*reply = instance_error("invalid_token",
		                        "id/token: not an instance handle this agent granted "
		                        "for that app and build");
		return 403;
	}
	pthread_mutex_lock(&a->inst_lock);
	instance_sweep(a, now);
	e = instance_slot(a, id);
	if (e == NULL) {
		pthread_mutex_unlock(&a->inst_lock);
		*reply = instance_error("too_many_instances",
		                        "this agent tracks at most 256 running instances");
		return 503;
	}
	if (running != instance_app_running(a, app))
		a->report_now = 1;
	if (running && (!e->running || e->started == 0))
		e->started = now;
	if (!running && (e->running || e->stopped_at == 0))
		e->stopped_at = now;
	e->app_id = app;
	e->build_id = build;
	e->pid = json_integer_value(json_object_get(body, "pid"));
	e->running = running;
	e->last_seen = now;
	pthread_mutex_unlock(&a->inst_lock);
	*reply = json_pack("{s:s,s:s,s:i}", "id", id, "state", state, "keepalive_s",
	                   a->cfg.keepalive_s);
	return 200;
}

json_t *instance_list(struct agent *a)
{
	json_t *items = json_array();
	time_t now = time(NULL);

	pthread_mutex_lock(&a->inst_lock);
	instance_sweep(a, now);
	for (size_t i = 0; i < a->ninst; i++) {
		const struct agent_instance *e = &a->inst[i];
		json_array_append_new(items,
		                      json_pack("{s:s,s:I,s:I,s:I,s:s,s:I,s:I,s:I}", "id", e->id,
		                                "app_id", (json_int_t)e->app_id, "build_id",
		                                (json_int_t)e->build_id, "pid", (json_int_t)e->pid,
		                                "state", e->running ? "RUNNING" : "STOPPED",
		                                "started", (json_int_t)e->started, "last_seen",
		                                (json_int_t)e->last_seen, "stopped_at",
		                                (json_int_t)(e->running ? 0 : e->stopped_at)));
	}
	pthread_mutex_unlock(&a->inst_lock);
	return json_pack("{s:o,s:i,s:i}", "items", items, "keepalive_s", a->cfg.keepalive_s,
	                 "lapse_s", a->cfg.keepalive_s * INST_LAPSES);
}

/* Append {app_id, state} unless the app is already listed. */
static void instance_add_app(json_t *apps, int64_t app, bool running)
{
	size_t i;
	json_t *v;

	json_array_foreach(apps, i, v)
	{
		if (json_integer_value(json_object_get(v, "app_id")) == app)
			return;
	}
	json_array_append_new(apps, json_pack("{s:I,s:s}", "app_id", (json_int_t)app, "state",
	                                      running ? "RUNNING" : "STOPPED"));
}

json_t *instance_heartbeat(struct agent *a)
{
	time_t now = time(NULL);
	json_t *apps;

	a->report_now = 0;
	if (a->restarted != 0 && now - a->restarted <= (time_t)a->cfg.keepalive_s * INST_LAPSES)
		return NULL;
	apps = json_array();
	pthread_mutex_lock(&a->inst_lock);
	instance_sweep(a, now);
	a->report_now = 0;
	/* An app is RUNNING when any of its instances is. */
	for (size_t i = 0; i < a->ninst; i++)
		if (a->inst[i].running)
			instance_add_app(apps, a->inst[i].app_id, true);
	for (size_t i = 0; i < a->ninst; i++)
		if (!a->inst[i].running)
			instance_add_app(apps, a->inst[i].app_id, false);
	pthread_mutex_unlock(&a->inst_lock);
	return apps;
}
