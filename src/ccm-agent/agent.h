/*
 * DESIGN: the node agent is two loops. The main thread runs libevent: the
 * local HTTP API on port 9092 that runtimes on this node talk to. A manager
 * thread owns every conversation with ccmd (enrollment, heartbeats,
 * renewal) so a slow or absent manager never stalls a local request; a few
 * batcher threads turn the attest requests queued at the moment into one
 * manager call (attest.c), and a small pool of workers makes the other
 * calls; each thread has its own keep-alive mTLS connection and hands the
 * answers back to the event loop with event_base_once. The node identity
 * (key, certificate) is read-mostly and guarded by one mutex; the key never
 * leaves the process.
 */
#ifndef CCM_AGENT_H
#define CCM_AGENT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include <event2/event.h>
#include <event2/http.h>
#include <jansson.h>
#include <openssl/types.h>

#include "ccm/ccm.h"

#define AGENT_DEFAULT_PORT 9092
#define AGENT_MAX_LABELS 64
#define AGENT_MAX_BODY (64 * 1024)
#define AGENT_WORKERS 4                 /* app config calls (attest requests go to the batchers) */
#define AGENT_BATCHERS 3                /* attest batches in flight to the manager (attest.c) */
#define AGENT_BATCH_MAX 64              /* requests per batch: the manager's cap */
#define AGENT_BATCH_BYTES (1024 * 1024) /* batch body cap: the manager's */
#define MGR_MAX_RESPONSE (1u << 20)
#define AGENT_MAX_INSTANCES 256
#define AGENT_DEFAULT_KEEPALIVE 15

struct agent_config {
	const char *manager_url;
	const char *cacert;
	const char *join_token;
	const char *data_dir;
	const char *name;
	char listen_addr[64];
	uint16_t port;
	const char *labels[AGENT_MAX_LABELS];
	size_t nlabels;
	bool once;          /* enroll, one heartbeat, exit (for scripts and tests) */
	int keepalive_s;    /* runtimes report this often; 3 missed = STOPPED */
	int renew_before_s; /* --renew-before; 0: the manager's renew_before_s */
	bool batch_json;    /* --batch-answers json: ask for one JSON document */
};

/* One runtime on this node, as it last reported itself (instance.c). */
struct agent_instance {
	char id[33]; /* hex, minted with the certificate */
	int64_t app_id, build_id;
	int64_t pid;
	bool running;
	time_t started, last_seen, stopped_at;
};

struct mgr_conn;

/* A local request that needs the manager: made on the loop, answered on a
 * worker or batcher, replied to on the loop (local_done). */
struct agent_job {
	struct agent_job *next;
	struct agent *a;
	struct evhttp_request *req;
	void (*run)(struct agent_job *j, struct mgr_conn *c); /* on a worker */
	json_t *body;
	int64_t app_id; /* GET /v1/apps/{id}/config */
	char *item;     /* attest: its /v1/node/issue body, serialized */
	size_t item_len;
	int status; /* the answer: reply, or reply_text when not NULL */
	json_t *reply;
	char *reply_text; /* a JSON body as the manager wrote it (frames) */
	size_t reply_len;
};

struct agent {
	struct agent_config cfg;
	pthread_mutex_t lock;
	EVP_PKEY *key;   /* node key, EC P-256 */
	char *cert_pem;  /* node certificate */
	char *chain_pem; /* account CA chain */
	char node_id[64];
	bool test_only;
	atomic_bool enrolled; /* set by the manager thread, read by batchers and workers */
	int interval_s;       /* heartbeat interval given by the manager */
	int renew_before_s;   /* renew when the certificate expires sooner */
	json_t *sysinfo;
	struct event_base *base;
	struct evhttp *http;
	atomic_int stopping; /* read by every thread, set once on the way out */
	/* worker pool */
	pthread_t workers[AGENT_WORKERS];
	pthread_cond_t cond;
	struct agent_job *queue_head, *queue_tail;
	/* attest batchers (attest.c), under their own lock */
	pthread_t batchers[AGENT_BATCHERS];
	pthread_mutex_t attest_lock;
	pthread_cond_t attest_cond;
	/* Held for reading by an attest round from signing its quotes with the
	 * node certificate to the manager's answer (the quotes must reach the
	 * manager over a connection with that same certificate); a renewal
	 * takes it for writing to swap the certificate (writers first). */
	pthread_rwlock_t cert_rw;
	struct agent_job *attest_head, *attest_tail;
	atomic_llong batch_retry; /* manager without the batch route: single calls until then */
	pthread_t manager_thread;
	/* app instances (instance.c), under their own lock */
	pthread_mutex_t inst_lock;
	struct agent_instance inst[AGENT_MAX_INSTANCES];
	size_t ninst;
	uint8_t inst_key[32];  /* MACs the instance handles; instance.key */
	time_t restarted;      /* start time when instance.key existed, else 0 */
	atomic_int report_now; /* an app changed state: heartbeat now */
};

/* platform.c: what this machine offers, reported honestly. */
json_t *platform_detect(void);
bool platform_has_sgx(const json_t *sysinfo);

/* identity.c: node key, CSR and certificate under the data directory. */
ccm_code identity_load(struct agent *a, struct ccm_error *err);
ccm_code identity_store(struct agent *a, const char *cert, const char *chain, const char *node_id,
                        bool test_only, struct ccm_error *err);
/* Seconds until the node certificate expires (negative when expired). */
long identity_cert_remaining(struct agent *a);

/* mgr.c: calls to ccmd. status is the HTTP status; *resp a new reference. */
struct mgr_conn *mgr_conn_new(struct agent *a);
void mgr_conn_free(struct mgr_conn *c);
ccm_code mgr_call(struct mgr_conn *c, const char *method, const char *path, json_t *body, bool mtls,
                  long *status, json_t **resp, struct ccm_error *err);
/* POST of an already serialized JSON body over mTLS; answers up to max
 * bytes. A framed answer (api/apiframe.h) goes unparsed into *frames
 * (the caller frees frames->p) when frames is not NULL, *resp NULL. */
struct util_capbuf;
ccm_code mgr_post(struct mgr_conn *c, const char *path, const char *payload, size_t len, size_t max,
                  long *status, json_t **resp, struct util_capbuf *frames, struct ccm_error *err);
ccm_code mgr_enroll(struct agent *a, struct ccm_error *err);
void *mgr_thread_main(void *arg);

/* instance.c: app instances of this node (see docs/internals/agent.md). */
ccm_code instance_init(struct agent *a, struct ccm_error *err);
/* Add {"instance": {id, token, keepalive_s}} to a certificate grant. */
void instance_grant(struct agent *a, json_t *reply);
/* The {id, token, keepalive_s} of a new instance of app's build; NULL
 * when app or build is not a positive id (nothing granted). */
json_t *instance_new(struct agent *a, int64_t app, int64_t build);
/* POST /v1/instances: HTTP status; *reply a new reference. */
int instance_report(struct agent *a, json_t *body, json_t **reply);
/* GET /v1/instances. */
json_t *instance_list(struct agent *a);
/* The heartbeat's "apps" array, or NULL while runtimes may not have
 * reported to a just-started agent yet (the manager keeps what it has). */
json_t *instance_heartbeat(struct agent *a);

/* local.c: the local API. */
ccm_code local_start(struct agent *a, struct ccm_error *err);
void local_stop(struct agent *a);
/* {"error": {code, message}}. */
json_t *local_error(const char *code, const char *msg);
void local_job_fail(struct agent_job *j, int status, const char *code, const char *msg);
/* Reply to a list of answered jobs (linked by next) on the event loop. */
void local_done(struct agent *a, struct agent_job *list);

/* attest.c: POST /v1/attest, batched to the manager. */
ccm_code attest_start(struct agent *a, struct ccm_error *err);
void attest_stop(struct agent *a);
/* Queue a job whose body passed the local API's JSON gates. */
void attest_enqueue(struct agent *a, struct agent_job *j);

/* Log one JSON line on stderr. */
void agent_log(const char *level, const char *msg, const char *detail);

#endif
