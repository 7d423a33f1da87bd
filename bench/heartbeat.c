/*
 * DESIGN: heartbeat load on ccmd's node channel. N simulated nodes, each
 * with its own enrolled client certificate (DIR/nodeI.crt, DIR/nodeI.key),
 * each on its own keep-alive mTLS connection, all driven by one libcurl
 * multi handle: every node posts POST /v1/node/status back to back for
 * the given time. Prints heartbeats/s and failures as one JSON line.
 * Usage: heartbeat URL CACERT DIR NODES SECONDS
 */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define HEARTBEAT_BODY "{\"load\":[0.1,0.2,0.3],\"apps\":[]}"

struct heartbeat_node {
	CURL *h;
	char crt[512], key[512];
};

static size_t heartbeat_sink(char *p, size_t s, size_t n, void *u)
{
	(void)p;
	(void)u;
	return s * n;
}

static double heartbeat_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static CURL *heartbeat_handle(struct heartbeat_node *n, const char *url, const char *ca,
                              struct curl_slist *hdr)
{
	CURL *h = curl_easy_init();

	if (h == NULL)
		return NULL;
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_CAINFO, ca);
	curl_easy_setopt(h, CURLOPT_SSLCERT, n->crt);
	curl_easy_setopt(h, CURLOPT_SSLKEY, n->key);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, HEARTBEAT_BODY);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, heartbeat_sink);
	curl_easy_setopt(h, CURLOPT_PRIVATE, n);
	curl_easy_setopt(h, CURLOPT_MAXCONNECTS, 1L);
	return h;
}

/* Re-arm a finished handle; counts its result. */
static void heartbeat_done(CURLM *m, CURLMsg *msg, long *ok, long *bad)
{
	long code = 0;

	curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &code);
	if (msg->data.result == CURLE_OK && code == 200)
		(*ok)++;
	else
		(*bad)++;
	curl_multi_remove_handle(m, msg->easy_handle);
	curl_multi_add_handle(m, msg->easy_handle);
}

int main(int argc, char **argv)
{
	struct curl_slist *hdr = NULL;
	struct heartbeat_node *nodes;
	long ok = 0, bad = 0, warm = 0;
	double t0, t1, secs;
	char url[1024];
	int n, running = 1;
	CURLM *m;

	if (argc != 6) {
		fprintf(stderr, "usage: heartbeat URL CACERT DIR NODES SECONDS\n");
		return 2;
	}
	n = (int)strtol(argv[4], NULL, 10);
	secs = strtod(argv[5], NULL);
	if (n < 1 || n > 100000 || secs <= 0) {
		fprintf(stderr, "heartbeat: bad NODES or SECONDS\n");
		return 2;
	}
	snprintf(url, sizeof(url), "%s/v1/node/status", argv[1]);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	hdr = curl_slist_append(hdr, "Content-Type: application/json");
	m = curl_multi_init();
	curl_multi_setopt(m, CURLMOPT_MAXCONNECTS, (long)n);
	nodes = calloc((size_t)n, sizeof(*nodes));
	if (nodes == NULL || m == NULL)
		return 1;
	for (int i = 0; i < n; i++) {
		snprintf(nodes[i].crt, sizeof(nodes[i].crt), "%s/node%d.crt", argv[3], i);
		snprintf(nodes[i].key, sizeof(nodes[i].key), "%s/node%d.key", argv[3], i);
		nodes[i].h = heartbeat_handle(&nodes[i], url, argv[2], hdr);
		if (nodes[i].h == NULL)
			return 1;
		curl_multi_add_handle(m, nodes[i].h);
	}
	/* Warm-up: one round so every TLS handshake is done before timing. */
	t0 = heartbeat_now();
	while (running && warm < n && heartbeat_now() - t0 < 60) {
		CURLMsg *msg;
		int q;
		curl_multi_perform(m, &running);
		while ((msg = curl_multi_info_read(m, &q)) != NULL)
			if (msg->msg == CURLMSG_DONE)
				heartbeat_done(m, msg, &warm, &bad);
		curl_multi_poll(m, NULL, 0, 100, NULL);
	}
	bad = 0;
	t0 = heartbeat_now();
	while ((t1 = heartbeat_now()) - t0 < secs) {
		CURLMsg *msg;
		int q;
		curl_multi_perform(m, &running);
		while ((msg = curl_multi_info_read(m, &q)) != NULL)
			if (msg->msg == CURLMSG_DONE)
				heartbeat_done(m, msg, &ok, &bad);
		curl_multi_poll(m, NULL, 0, 100, NULL);
	}
	printf("{\"nodes\":%d,\"seconds\":%.1f,\"heartbeats\":%ld,\"failed\":%ld,"
	       "\"heartbeats_per_s\":%.0f}\n",
	       n, t1 - t0, ok, bad, (double)ok / (t1 - t0));
	for (int i = 0; i < n; i++) {
		curl_multi_remove_handle(m, nodes[i].h);
		curl_easy_cleanup(nodes[i].h);
	}
	curl_multi_cleanup(m);
	curl_slist_free_all(hdr);
	free(nodes);
	curl_global_cleanup();
	return bad > 0 ? 1 : 0;
}
