/*
 * DESIGN: the only file that talks libcurl. A request is a plain record
 * (method, URL, body from memory or a file range, response to a capped
 * buffer or to a file through SHA-256), so the registry operations read
 * like the distribution spec. Authentication follows the registry's
 * challenge: a 401 names Basic or Bearer (realm, service, scope); Bearer
 * tokens are fetched from the realm (with Basic credentials when the user
 * gave some) and cached per scope; a bearer token of the user's own
 * (opts.token) is sent as is and never exchanged. Tokens are wiped when
 * dropped. TLS is verified unless the host was
 * declared insecure, in which case plain HTTP is used, never "HTTPS without
 * checks". Only http and https are followed, redirects included.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include "oci-int.h"

#define ERR_BODY_MAX (64u << 10)
#define TOKEN_MAX (64u << 10)

struct http_call {
	CURL *curl;
	const struct oci_req *q;
	struct oci_resp *r;
	uint64_t sent;
	uint64_t ready; /* body_fd with a feed: bytes known to be readable */
	size_t cap;
	bool overflow, io_error, too_big, cancelled;
};

static CURLcode http_global_rc;

static void http_global_init(void)
{
	http_global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

void oci_req_init(struct oci_req *q, const char *method, const char *url, const char *scope)
{
	memset(q, 0, sizeof(*q));
	q->method = method;
	q->url = url;
	q->scope = scope;
	q->body_fd = -1;
	q->out_fd = -1;
	q->max_resp = ERR_BODY_MAX;
}

void oci_resp_free(struct oci_resp *r)
{
	free(r->body);
	memset(r, 0, sizeof(*r));
}

ccm_code oci_http_init(struct oci_http *h, const char *host, bool insecure,
                       const struct ccm_oci_opts *o, struct ccm_error *err)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	int n;

	memset(h, 0, sizeof(*h));
	pthread_once(&once, http_global_init);
	if (http_global_rc != CURLE_OK)
		return ccm_fail(err, CCM_E_INTERNAL, "curl_global_init failed");
	n = snprintf(h->base, sizeof(h->base), "%s://%s", insecure ? "http" : "https", host);
	if (n < 0 || (size_t)n >= sizeof(h->base))
		return ccm_fail(err, CCM_E_LIMIT, "registry host too long");
	snprintf(h->host, sizeof(h->host), "%s", host);
	h->user = o->username;
	h->pass = o->password;
	if (o->token != NULL) {
		/* A token of the user's own: sent as is, never exchanged. */
		h->token = strdup(o->token);
		if (h->token == NULL)
			return ccm_fail(err, CCM_E_NOMEM, "out of memory");
		h->scheme = OCI_AUTH_BEARER;
		h->fixed_token = true;
	}
	h->cafile = o->cafile;
	h->verbose = o->verbose;
	h->chunk = o->chunk ? o->chunk : CCM_OCI_CHUNK;
	h->curl = curl_easy_init();
	if (h->curl == NULL)
		return ccm_fail(err, CCM_E_NOMEM, "curl_easy_init failed");
	return CCM_OK;
}

void oci_http_cleanup(struct oci_http *h)
{
	if (h->curl != NULL)
		curl_easy_cleanup(h->curl);
	if (h->token != NULL)
		OPENSSL_clear_free(h->token, strlen(h->token));
	memset(h, 0, sizeof(*h));
}

static size_t http_write(char *p, size_t sz, size_t nm, void *ud)
{
	struct http_call *c = ud;
	size_t n = sz * nm;
	long st = 0;

	curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &st);
	if (st >= 200 && st < 300 && c->q->out_fd >= 0) {
		if (c->r->written + n > c->q->max_out) {
			c->too_big = true;
			return 0;
		}
		if (c->q->md != NULL && !EVP_DigestUpdate(c->q->md, p, n))
			return 0;
		for (size_t off = 0; off < n;) {
			ssize_t w = write(c->q->out_fd, p + off, n - off);
			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0) {
				c->io_error = true;
				return 0;
			}
			off += (size_t)w;
		}
		c->r->written += n;
		if (c->q->feed != NULL && c->q->feed->grow != NULL &&
		    !c->q->feed->grow(c->q->feed->ctx, c->r->written)) {
			c->cancelled = true;
			return 0;
		}
		return n;
	}
	if (c->r->len + n > c->cap) {
		c->overflow = true;
		return 0;
	}
	uint8_t *nb = realloc(c->r->body, c->r->len + n + 1);
	if (nb == NULL)
		return 0;
	memcpy(nb + c->r->len, p, n);
	c->r->body = nb;
	c->r->len += n;
	nb[c->r->len] = '\0';
	return n;
}

static size_t http_read(char *p, size_t sz, size_t nm, void *ud)
{
	struct http_call *c = ud;
	const struct oci_req *q = c->q;
	size_t want = sz * nm;

	if (q->body_fd >= 0) {
		uint64_t left = q->body_n - c->sent;
		ssize_t got;
		if (want > left)
			want = (size_t)left;
		if (want == 0)
			return 0;
		if (q->feed != NULL && q->body_off + c->sent >= c->ready) {
			/* The file is still landing: wait for more of it. */
			int64_t r = q->feed->wait(q->feed->ctx, q->body_off + c->sent);
			if (r < 0 || (uint64_t)r <= q->body_off + c->sent) {
				c->cancelled = true;
				return CURL_READFUNC_ABORT;
			}
			c->ready = (uint64_t)r;
		}
		if (q->feed != NULL && want > c->ready - q->body_off - c->sent)
			want = (size_t)(c->ready - q->body_off - c->sent);
		got = pread(q->body_fd, p, want, (off_t)(q->body_off + c->sent));
		if (got <= 0) {
			c->io_error = true;
			return CURL_READFUNC_ABORT;
		}
		c->sent += (uint64_t)got;
		return (size_t)got;
	}
	if (want > q->body_len - c->sent)
		want = q->body_len - (size_t)c->sent;
	memcpy(p, q->body + c->sent, want);
	c->sent += want;
	return want;
}

static void http_header(CURL *curl, const char *name, char *out, size_t n)
{
	struct curl_header *hd = NULL;

	out[0] = '\0';
	if (curl_easy_header(curl, name, 0, CURLH_HEADER, -1, &hd) == CURLHE_OK && hd != NULL)
		snprintf(out, n, "%s", hd->value);
}

static bool http_same_origin(const struct oci_http *h, const char *url)
{
	size_t n = strlen(h->base);

	return strncmp(url, h->base, n) == 0 && (url[n] == '/' || url[n] == '\0');
}

static struct curl_slist *http_headers(const struct oci_http *h, const struct oci_req *q,
                                       const char *url)
{
	struct curl_slist *l = curl_slist_append(NULL, "Expect:");
	char line[9000];

	if (q->accept != NULL && snprintf(line, sizeof(line), "Accept: %s", q->accept) > 0)
		l = curl_slist_append(l, line);
	if (q->ctype != NULL && snprintf(line, sizeof(line), "Content-Type: %s", q->ctype) > 0)
		l = curl_slist_append(l, line);
	if (q->range != NULL && snprintf(line, sizeof(line), "Content-Range: %s", q->range) > 0)
		l = curl_slist_append(l, line);
	if (h->scheme == OCI_AUTH_BEARER && h->token != NULL && http_same_origin(h, url) &&
	    (size_t)snprintf(line, sizeof(line), "Authorization: Bearer %s", h->token) <
	            sizeof(line))
		l = curl_slist_append(l, line);
	OPENSSL_cleanse(line, sizeof(line));
	return l;
}

static void http_setup(struct oci_http *h, struct http_call *c, const char *url)
{
	const struct oci_req *q = c->q;
	CURL *cu = h->curl;

	curl_easy_reset(cu);
	curl_easy_setopt(cu, CURLOPT_URL, url);
	curl_easy_setopt(cu, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(cu, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(cu, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(cu, CURLOPT_USERAGENT, "ccm/" CCM_VERSION);
	curl_easy_setopt(cu, CURLOPT_CONNECTTIMEOUT, 30L);
	curl_easy_setopt(cu, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(cu, CURLOPT_LOW_SPEED_TIME, 60L);
	curl_easy_setopt(cu, CURLOPT_WRITEFUNCTION, http_write);
	curl_easy_setopt(cu, CURLOPT_WRITEDATA, c);
	/* Blobs: bigger buffers, a tenth of the system calls (16/64 KiB). */
	if (q->out_fd >= 0)
		curl_easy_setopt(cu, CURLOPT_BUFFERSIZE, 512L << 10);
	if (q->body_fd >= 0)
		curl_easy_setopt(cu, CURLOPT_UPLOAD_BUFFERSIZE, 512L << 10);
	if (h->cafile != NULL)
		curl_easy_setopt(cu, CURLOPT_CAINFO, h->cafile);
	if (q->follow) {
		curl_easy_setopt(cu, CURLOPT_FOLLOWLOCATION, 1L);
		curl_easy_setopt(cu, CURLOPT_MAXREDIRS, 5L);
	}
	if (h->scheme == OCI_AUTH_BASIC && h->user != NULL) {
		curl_easy_setopt(cu, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		curl_easy_setopt(cu, CURLOPT_USERNAME, h->user);
		curl_easy_setopt(cu, CURLOPT_PASSWORD, h->pass != NULL ? h->pass : "");
	}
	if (strcmp(q->method, "HEAD") == 0) {
		curl_easy_setopt(cu, CURLOPT_NOBODY, 1L);
	} else if (strcmp(q->method, "POST") == 0) {
		curl_easy_setopt(cu, CURLOPT_POST, 1L);
		curl_easy_setopt(cu, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)q->body_len);
		curl_easy_setopt(cu, CURLOPT_READFUNCTION, http_read);
		curl_easy_setopt(cu, CURLOPT_READDATA, c);
	} else if (strcmp(q->method, "PUT") == 0 || strcmp(q->method, "PATCH") == 0) {
		uint64_t n = q->body_fd >= 0 ? q->body_n : q->body_len;
		curl_easy_setopt(cu, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(cu, CURLOPT_INFILESIZE_LARGE, (curl_off_t)n);
		curl_easy_setopt(cu, CURLOPT_READFUNCTION, http_read);
		curl_easy_setopt(cu, CURLOPT_READDATA, c);
		if (q->method[1] == 'A')
			curl_easy_setopt(cu, CURLOPT_CUSTOMREQUEST, "PATCH");
	}
}

static ccm_code http_once(struct oci_http *h, const struct oci_req *q, struct oci_resp *r,
                          struct ccm_error *err)
{
	char url[4096];
	struct http_call c = {.curl = h->curl, .q = q, .r = r};
	struct curl_slist *hdrs;
	curl_off_t clen = -1;
	CURLcode cc;
	int n;

	oci_resp_free(r);
	c.cap = q->max_resp;
	if (q->out_fd >= 0 && (ftruncate(q->out_fd, 0) != 0 || lseek(q->out_fd, 0, SEEK_SET) != 0))
		return ccm_fail(err, CCM_E_IO, "cannot reset download file: %s", strerror(errno));
	if (q->md != NULL && !EVP_DigestInit_ex(q->md, EVP_sha256(), NULL))
		return ccm_fail(err, CCM_E_CRYPTO, "SHA-256 init failed");
	n = strncmp(q->url, "http", 4) == 0 ? snprintf(url, sizeof(url), "%s", q->url)
	                                    : snprintf(url, sizeof(url), "%s%s", h->base, q->url);
	if (n < 0 || (size_t)n >= sizeof(url))
		return ccm_fail(err, CCM_E_LIMIT, "URL too long");
	http_setup(h, &c, url);
	hdrs = http_headers(h, q, url);
	curl_easy_setopt(h->curl, CURLOPT_HTTPHEADER, hdrs);
	cc = curl_easy_perform(h->curl);
	curl_slist_free_all(hdrs);
	curl_easy_getinfo(h->curl, CURLINFO_RESPONSE_CODE, &r->status);
	curl_easy_getinfo(h->curl, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &clen);
	r->clen = clen;
	http_header(h->curl, "Location", r->location, sizeof(r->location));
	http_header(h->curl, "Content-Type", r->ctype, sizeof(r->ctype));
	http_header(h->curl, "Docker-Content-Digest", r->digest, sizeof(r->digest));
	http_header(h->curl, "WWW-Authenticate", r->www_auth, sizeof(r->www_auth));
	if (c.too_big)
		return ccm_fail(err, CCM_E_LIMIT,
		                "%s %s: response larger than the %llu bytes expected", q->method,
		                q->url, (unsigned long long)q->max_out);
	if (c.overflow)
		return ccm_fail(err, CCM_E_LIMIT, "%s %s: response larger than %zu bytes",
		                q->method, q->url, c.cap);
	if (c.io_error)
		return ccm_fail(err, CCM_E_IO, "%s %s: local I/O error: %s", q->method, q->url,
		                strerror(errno));
	if (c.cancelled)
		return ccm_fail(err, CCM_E_IO, "%s %.*s: cancelled (the conversion stopped)",
		                q->method, (int)strcspn(q->url, "?"), q->url);
	/* Without the query: an upload location's opaque _state would push
	 * curl's words out of the message (and a build's failure reason). */
	if (cc != CURLE_OK)
		return ccm_fail(err, CCM_E_IO, "%s %s%.*s: %s", q->method,
		                strncmp(q->url, "http", 4) ? h->base : "",
		                (int)strcspn(q->url, "?"), q->url, curl_easy_strerror(cc));
	return CCM_OK;
}

/* key="value" or key=token pairs after the scheme word. */
static void http_param(const char *v, const char *key, char *out, size_t n)
{
	size_t klen = strlen(key);
	const char *p = v;

	out[0] = '\0';
	while (*p) {
		while (*p == ' ' || *p == ',')
			p++;
		const char *k = p;
		while (*p && *p != '=' && *p != ',')
			p++;
		if (*p != '=')
			continue;
		size_t kl = (size_t)(p - k);
		p++;
		const char *val = p;
		size_t vl;
		if (*p == '"') {
			val = ++p;
			while (*p && *p != '"')
				p++;
			vl = (size_t)(p - val);
			if (*p)
				p++;
		} else {
			while (*p && *p != ',')
				p++;
			vl = (size_t)(p - val);
		}
		if (kl == klen && strncasecmp(k, key, klen) == 0 && vl < n) {
			memcpy(out, val, vl);
			out[vl] = '\0';
			return;
		}
	}
}

ccm_code oci_http_parse_challenge(const char *v, int *scheme, char *realm, size_t realm_n,
                                  char *service, size_t service_n, char *scope, size_t scope_n)
{
	if (strncasecmp(v, "Basic", 5) == 0 && (v[5] == ' ' || v[5] == '\0')) {
		*scheme = OCI_AUTH_BASIC;
		http_param(v + 5, "realm", realm, realm_n);
		service[0] = scope[0] = '\0';
		return CCM_OK;
	}
	if (strncasecmp(v, "Bearer ", 7) != 0)
		return CCM_E_UNSUPPORTED;
	*scheme = OCI_AUTH_BEARER;
	http_param(v + 7, "realm", realm, realm_n);
	http_param(v + 7, "service", service, service_n);
	http_param(v + 7, "scope", scope, scope_n);
	if (strncmp(realm, "https://", 8) != 0 && strncmp(realm, "http://", 7) != 0)
		return CCM_E_INPUT;
	return CCM_OK;
}

static ccm_code http_token_url(struct oci_http *h, const char *scope, char *url, size_t n,
                               struct ccm_error *err)
{
	char *svc = curl_easy_escape(h->curl, h->service, 0);
	char *sc = curl_easy_escape(h->curl, scope, 0);
	int w = -1;

	if (svc != NULL && sc != NULL)
		w = snprintf(url, n, "%s%sservice=%s%s%s", h->realm,
		             strchr(h->realm, '?') ? "&" : "?", svc, scope[0] ? "&scope=" : "",
		             scope[0] ? sc : "");
	curl_free(svc);
	curl_free(sc);
	if (w < 0 || (size_t)w >= n)
		return ccm_fail(err, CCM_E_LIMIT, "token URL too long");
	return CCM_OK;
}

static ccm_code http_fetch_token(struct oci_http *h, const char *scope, struct ccm_error *err)
{
	char url[4096];
	struct oci_req q;
	struct oci_resp r = {0};
	json_t *j = NULL, *t;
	int saved = h->scheme;
	ccm_code rc;

	if (http_token_url(h, scope, url, sizeof(url), err) != CCM_OK)
		return err->code;
	oci_req_init(&q, "GET", url, NULL);
	q.max_resp = TOKEN_MAX;
	q.follow = true;
	h->scheme = OCI_AUTH_BASIC; /* credentials (if any) go to the realm */
	rc = http_once(h, &q, &r, err);
	h->scheme = saved;
	if (rc != CCM_OK)
		goto fail;
	if (r.status == 401 || r.status == 403) {
		rc = ccm_fail(err, CCM_E_AUTH, "token service %s refused %s (HTTP %ld)", h->realm,
		              h->user ? "the credentials" : "anonymous access", r.status);
		goto fail;
	}
	if (r.status != 200) {
		rc = ccm_fail(err, CCM_E_AUTH, "token service %s: HTTP %ld", h->realm, r.status);
		goto fail;
	}
	j = json_loadb((const char *)r.body, r.len, 0, NULL);
	t = json_object_get(j, "token");
	if (!json_is_string(t))
		t = json_object_get(j, "access_token");
	if (!json_is_string(t) || json_string_length(t) == 0 || json_string_length(t) > 8000 ||
	    strpbrk(json_string_value(t), "\r\n") != NULL) {
		rc = ccm_fail(err, CCM_E_AUTH, "token service %s: no usable token in the answer",
		              h->realm);
		goto fail;
	}
	if (h->token != NULL)
		OPENSSL_clear_free(h->token, strlen(h->token));
	h->token = strdup(json_string_value(t));
	snprintf(h->token_scope, sizeof(h->token_scope), "%s", scope);
	rc = h->token != NULL ? CCM_OK : ccm_fail(err, CCM_E_NOMEM, "out of memory");
fail:
	json_decref(j);
	oci_resp_free(&r);
	return rc;
}

/* After a 401: learn the scheme and get what is needed to retry. */
static ccm_code http_answer_challenge(struct oci_http *h, const struct oci_req *q,
                                      const struct oci_resp *r, struct ccm_error *err)
{
	char scope[1024];
	int scheme = OCI_AUTH_NONE;

	if (oci_http_parse_challenge(r->www_auth, &scheme, h->realm, sizeof(h->realm), h->service,
	                             sizeof(h->service), scope, sizeof(scope)) != CCM_OK)
		return ccm_fail(err, CCM_E_AUTH,
		                "%s: unsupported authentication challenge '%.200s'", h->host,
		                r->www_auth);
	h->scheme = scheme;
	if (scheme == OCI_AUTH_BASIC) {
		if (h->user == NULL)
			return ccm_fail(err, CCM_E_AUTH,
			                "%s: authentication required (give registry credentials)",
			                h->host);
		return CCM_OK;
	}
	if (q->scope != NULL && strlen(q->scope) > strlen(scope))
		snprintf(scope, sizeof(scope), "%s", q->scope);
	return http_fetch_token(h, scope, err);
}

ccm_code oci_http_do(struct oci_http *h, const struct oci_req *q, struct oci_resp *r,
                     struct ccm_error *err)
{
	if (h->scheme == OCI_AUTH_BEARER && !h->fixed_token && q->scope != NULL &&
	    strcmp(q->scope, h->token_scope) != 0 && http_fetch_token(h, q->scope, err) != CCM_OK)
		return err->code;
	if (http_once(h, q, r, err) != CCM_OK)
		return err->code;
	if (r->status != 401)
		return CCM_OK;
	if (h->fixed_token)
		return ccm_fail(err, CCM_E_AUTH,
		                "%s: the registry refused the bearer token"
		                " (HTTP 401) for %s %s",
		                h->host, q->method, q->url);
	if (h->scheme == OCI_AUTH_BASIC && h->user != NULL)
		return ccm_fail(err, CCM_E_AUTH,
		                "%s: the registry refused the credentials for user '%s'", h->host,
		                h->user);
	if (http_answer_challenge(h, q, r, err) != CCM_OK)
		return err->code;
	if (http_once(h, q, r, err) != CCM_OK)
		return err->code;
	if (r->status == 401 && h->scheme == OCI_AUTH_BASIC)
		return ccm_fail(err, CCM_E_AUTH,
		                "%s: the registry refused the credentials for user '%s'", h->host,
		                h->user);
	if (r->status == 401)
		return ccm_fail(err, CCM_E_AUTH, "%s: authentication refused (HTTP 401) for %s %s",
		                h->host, q->method, q->url);
	return CCM_OK;
}

ccm_code oci_http_status_error(const struct oci_resp *r, const char *what, struct ccm_error *err)
{
	json_t *j = r->len ? json_loadb((const char *)r->body, r->len, 0, NULL) : NULL;
	json_t *e0 = json_array_get(json_object_get(j, "errors"), 0);
	const char *code = json_string_value(json_object_get(e0, "code"));
	const char *msg = json_string_value(json_object_get(e0, "message"));
	ccm_code c = CCM_E_IO;

	if (r->status == 404)
		c = CCM_E_NOTFOUND;
	else if (r->status == 401 || r->status == 403)
		c = CCM_E_AUTH;
	else if (r->status == 400)
		c = CCM_E_INPUT;
	if (code != NULL)
		ccm_fail(err, c, "%s: HTTP %ld %s: %.200s", what, r->status, code, msg ? msg : "");
	else
		ccm_fail(err, c, "%s: HTTP %ld", what, r->status);
	json_decref(j);
	return c;
}
