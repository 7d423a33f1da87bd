/*
 * DESIGN: ccm-agent start-up in the order that makes failures obvious:
 * options, platform, identity (key created 0600 on first start), then
 * enrollment (synchronous on first start, so a bad join token is one clear
 * line and exit status 1), then the local API and the manager thread.
 * SIGTERM/SIGINT stop the loop; workers finish what they hold.
 */
#include <getopt.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <event2/thread.h>
#include <openssl/evp.h>

#include "agent.h"
#include "ccm/policy.h"
#include "util/util.h"

static struct agent agent;

void agent_log(const char *level, const char *msg, const char *detail)
{
	json_t *o = json_pack("{s:I,s:s,s:s,s:s}", "ts", (json_int_t)time(NULL), "level", level,
	                      "msg", msg, "detail", detail ? detail : "");
	char *s = json_dumps(o, JSON_COMPACT);

	if (s != NULL)
		fprintf(stderr, "%s\n", s);
	free(s);
	json_decref(o);
}

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: ccm-agent --manager URL --join-token TOKEN [--listen ADDR:PORT]\n"
	        "                 --data DIR [--cacert FILE] [--name NAME] [--label k=v ...]\n"
	        "                 [--keepalive SECONDS] [--renew-before SECONDS]\n"
	        "                 [--batch-answers frames|json] [--once]\n\n"
	        "The ccm node agent: enrolls this node with the manager (join token on first\n"
	        "start only), keeps its identity in DIR, sends heartbeats, and serves the local\n"
	        "attestation API to runtimes on this node (default 127.0.0.1:9092).\n\n"
	        "  --manager URL       the manager, e.g. https://127.0.0.1:8443\n"
	        "  --cacert FILE       the manager's CA certificate (PEM; its DATA/ca.pem), or\n"
	        "                      CCM_CACERT; without either the system trust store, which\n"
	        "                      only trusts a manager started with --tls-cert\n"
	        "  --join-token TOKEN  or the environment variable CCM_JOIN_TOKEN (needed on the\n"
	        "                      first start only)\n"
	        "  --data DIR          node key (0600), certificate, state\n"
	        "  --listen ADDR:PORT  local API address (default 127.0.0.1:9092)\n"
	        "  --name NAME         node name (default: the host name)\n"
	        "  --label k=v         a label to report (repeatable)\n"
	        "  --keepalive S       runtimes report their app every S seconds (default 15);\n"
	        "                      three missed reports count as STOPPED\n"
	        "  --renew-before S    renew the node certificate when less than S seconds of\n"
	        "                      it are left (default: what the manager says, a third\n"
	        "                      of its validity)\n"
	        "  --batch-answers F   how the manager answers attest batches: frames (default;\n"
	        "                      each runtime's answer passed on unparsed) or json (one\n"
	        "                      document, parsed and split here: to read the traffic)\n"
	        "  --once              enroll if needed, send one heartbeat, exit\n");
}

static int parse_listen(struct agent_config *c, const char *s)
{
	const char *colon = strrchr(s, ':');
	uint64_t port;

	if (colon == NULL || (size_t)(colon - s) >= sizeof(c->listen_addr) ||
	    util_parse_u64(colon + 1, 65535, &port, "--listen port", NULL) != CCM_OK || port == 0) {
		fprintf(stderr, "ccm-agent: --listen: expected ADDR:PORT, got '%s'\n", s);
		return -1;
	}
	memcpy(c->listen_addr, s, (size_t)(colon - s));
	c->listen_addr[colon - s] = '\0';
	c->port = (uint16_t)port;
	return 0;
}

static int parse_args(struct agent_config *c, int argc, char **argv)
{
	static const struct option opts[] = {{"manager", required_argument, NULL, 'm'},
	                                     {"cacert", required_argument, NULL, 'c'},
	                                     {"join-token", required_argument, NULL, 't'},
	                                     {"data", required_argument, NULL, 'd'},
	                                     {"listen", required_argument, NULL, 'l'},
	                                     {"name", required_argument, NULL, 'n'},
	                                     {"label", required_argument, NULL, 'L'},
	                                     {"once", no_argument, NULL, 'o'},
	                                     {"keepalive", required_argument, NULL, 'k'},
	                                     {"renew-before", required_argument, NULL, 'r'},
	                                     {"batch-answers", required_argument, NULL, 'b'},
	                                     {"help", no_argument, NULL, 'h'},
	                                     {0}};
	struct ccm_error err;
	uint64_t v;
	int ch;

	snprintf(c->listen_addr, sizeof(c->listen_addr), "127.0.0.1");
	c->keepalive_s = AGENT_DEFAULT_KEEPALIVE;
	c->port = AGENT_DEFAULT_PORT;
	c->join_token = getenv("CCM_JOIN_TOKEN");
	c->cacert = getenv("CCM_CACERT");
	if (c->cacert != NULL && c->cacert[0] == '\0')
		c->cacert = NULL;
	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (ch) {
		case 'm':
			c->manager_url = optarg;
			break;
		case 'c':
			c->cacert = optarg;
			break;
		case 't':
			c->join_token = optarg;
			break;
		case 'd':
			c->data_dir = optarg;
			break;
		case 'n':
			c->name = optarg;
			break;
		case 'o':
			c->once = true;
			break;
		case 'k':
			if (util_parse_u64(optarg, 3600, &v, "--keepalive", &err) != CCM_OK ||
			    v == 0) {
				fprintf(stderr, "ccm-agent: --keepalive: 1 to 3600 seconds\n");
				return 2;
			}
			c->keepalive_s = (int)v;
			break;
		case 'r':
			if (util_parse_u64(optarg, 10L * 365 * 86400, &v, "--renew-before", &err) !=
			            CCM_OK ||
			    v < 60) {
				fprintf(stderr,
				        "ccm-agent: --renew-before: 60 seconds to 10 years\n");
				return 2;
			}
			c->renew_before_s = (int)v;
			break;
		case 'b':
			if (strcmp(optarg, "frames") != 0 && strcmp(optarg, "json") != 0) {
				fprintf(stderr,
				        "ccm-agent: --batch-answers: frames or json, got "
				        "'%s'\n",
				        optarg);
				return 2;
			}
			c->batch_json = strcmp(optarg, "json") == 0;
			break;
		case 'l':
			if (parse_listen(c, optarg) != 0)
				return 2;
			break;
		case 'L':
			if (ccm_label_validate(optarg, &err) != CCM_OK) {
				fprintf(stderr, "ccm-agent: --label: %s\n", err.msg);
				return 2;
			}
			if (c->nlabels == AGENT_MAX_LABELS) {
				fprintf(stderr, "ccm-agent: more than %d labels\n",
				        AGENT_MAX_LABELS);
				return 2;
			}
			c->labels[c->nlabels++] = optarg;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc || c->manager_url == NULL || c->data_dir == NULL) {
		fprintf(stderr, "ccm-agent: --manager and --data are required (see --help)\n");
		return 2;
	}
	if (strncmp(c->manager_url, "https://", 8) != 0) {
		fprintf(stderr, "ccm-agent: --manager: must be an https:// URL\n");
		return 2;
	}
	return 0;
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	(void)sig;
	(void)what;
	agent.stopping = 1;
	event_base_loopexit(arg, NULL);
}

static char hostname_buf[256];

static int setup(struct agent *a)
{
	struct ccm_error err;

	if (a->cfg.name == NULL) {
		if (gethostname(hostname_buf, sizeof(hostname_buf) - 1) != 0)
			snprintf(hostname_buf, sizeof(hostname_buf), "node");
		a->cfg.name = hostname_buf;
	}
	a->sysinfo = platform_detect();
	json_object_set_new(a->sysinfo, "labels", json_array());
	for (size_t i = 0; i < a->cfg.nlabels; i++)
		json_array_append_new(json_object_get(a->sysinfo, "labels"),
		                      json_string(a->cfg.labels[i]));
	if (identity_load(a, &err) != CCM_OK || instance_init(a, &err) != CCM_OK) {
		fprintf(stderr, "ccm-agent: %s\n", err.msg);
		return 2;
	}
	if (!a->enrolled && mgr_enroll(a, &err) != CCM_OK) {
		fprintf(stderr, "ccm-agent: %s\n", err.msg);
		/* A refusal is final; an unreachable manager is retried later. */
		if (err.code != CCM_E_IO || a->cfg.once)
			return err.code == CCM_E_USAGE ? 2 : 1;
	}
	if (a->enrolled)
		agent_log("info", "enrolled", a->node_id);
	return 0;
}

static int run(struct agent *a)
{
	struct ccm_error err;
	struct event *sigs[2];

	a->base = event_base_new();
	if (a->base == NULL || local_start(a, &err) != CCM_OK) {
		fprintf(stderr, "ccm-agent: %s\n",
		        a->base ? err.msg : "cannot start the event loop");
		return 2;
	}
	sigs[0] = evsignal_new(a->base, SIGTERM, on_signal, a->base);
	sigs[1] = evsignal_new(a->base, SIGINT, on_signal, a->base);
	event_add(sigs[0], NULL);
	event_add(sigs[1], NULL);
	pthread_create(&a->manager_thread, NULL, mgr_thread_main, a);
	agent_log("info", "listening", a->cfg.listen_addr);
	event_base_dispatch(a->base);
	a->stopping = 1;
	pthread_join(a->manager_thread, NULL);
	local_stop(a);
	event_free(sigs[0]);
	event_free(sigs[1]);
	event_base_free(a->base);
	return 0;
}

/* Writer-preferring: with attest rounds always in flight, a renewal must
 * still get its turn. */
static void main_cert_rw_init(pthread_rwlock_t *rw)
{
	pthread_rwlockattr_t at;

	pthread_rwlockattr_init(&at);
	pthread_rwlockattr_setkind_np(&at, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(rw, &at);
	pthread_rwlockattr_destroy(&at);
}

int main(int argc, char **argv)
{
	int rc;

	signal(SIGPIPE, SIG_IGN);
	/* A batch's request and answer (a few hundred KiB, at most 1 and 8
	 * MiB) are reused from the batcher threads' heaps: with glibc's
	 * defaults each was mapped or trimmed back per batch, and every trim
	 * flushes the TLB. */
	mallopt(M_MMAP_THRESHOLD, 4 * 1024 * 1024);
	mallopt(M_TRIM_THRESHOLD, 8 * 1024 * 1024);
	if ((rc = parse_args(&agent.cfg, argc, argv)) != 0)
		return rc;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	evthread_use_pthreads();
	pthread_mutex_init(&agent.lock, NULL);
	pthread_cond_init(&agent.cond, NULL);
	main_cert_rw_init(&agent.cert_rw);
	agent.interval_s = 10;
	agent.renew_before_s = 86400;
	rc = setup(&agent);
	if (rc == 0 && agent.cfg.once)
		printf("{\"node_id\":\"%s\",\"enrolled\":%s}\n", agent.node_id,
		       agent.enrolled ? "true" : "false");
	else if (rc == 0)
		rc = run(&agent);
	EVP_PKEY_free(agent.key);
	free(agent.cert_pem);
	free(agent.chain_pem);
	json_decref(agent.sysinfo);
	curl_global_cleanup();
	return rc;
}
