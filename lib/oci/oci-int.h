/*
 * DESIGN: what lib/oci's files share and nothing else sees: the HTTP client
 * state of a registry connection (one curl handle reused, so keep-alive
 * works across the hundreds of requests a push makes), the request and
 * response records, and the two repository backends behind ccm_oci_repo.
 */
#ifndef CCM_OCI_INT_H
#define CCM_OCI_INT_H

#include <curl/curl.h>
#include <openssl/evp.h>

#include "ccm/oci.h"

enum { OCI_AUTH_NONE, OCI_AUTH_BASIC, OCI_AUTH_BEARER };

struct oci_http {
	CURL *curl;
	char base[300]; /* scheme://host[:port] */
	char host[256]; /* host[:port] as in the reference */
	const char *user, *pass, *cafile;
	bool verbose;
	uint64_t chunk;
	int scheme;
	char realm[512], service[256];
	char *token;
	char token_scope[1024];
	bool fixed_token; /* the user's own bearer token (opts.token): never fetched */
};

struct oci_req {
	const char *method; /* GET HEAD POST PUT PATCH */
	const char *url;    /* absolute, or a path under base */
	const char *scope;  /* token scope, e.g. repository:x:pull */
	const char *accept, *ctype, *range;
	const uint8_t *body; /* memory body */
	size_t body_len;
	int body_fd; /* file body when >= 0: body_n bytes from body_off */
	uint64_t body_off, body_n;
	size_t max_resp; /* memory response cap */
	int out_fd;      /* when >= 0 a 2xx body goes here (hashed into md) */
	EVP_MD_CTX *md;
	uint64_t max_out;
	bool follow;
	const struct ccm_oci_feed *feed; /* out_fd: grow; body_fd: wait */
};

struct oci_resp {
	long status;
	char location[2048];
	char ctype[128];
	char digest[80];
	char www_auth[1024];
	uint8_t *body;
	size_t len;
	uint64_t written; /* bytes written to out_fd */
	int64_t clen;     /* Content-Length, -1 unknown */
};

ccm_code oci_http_init(struct oci_http *h, const char *host, bool insecure,
                       const struct ccm_oci_opts *o, struct ccm_error *err);
void oci_http_cleanup(struct oci_http *h);
/* One request with the auth dance: on 401, learn the challenge, get a
 * token (or switch to Basic) and try once more. */
ccm_code oci_http_do(struct oci_http *h, const struct oci_req *q, struct oci_resp *r,
                     struct ccm_error *err);
void oci_resp_free(struct oci_resp *r);
/* Error for an unexpected status, with the registry's error code and
 * message when the body has them. */
ccm_code oci_http_status_error(const struct oci_resp *r, const char *what, struct ccm_error *err);
/* Parse a WWW-Authenticate value (exposed for unit tests). */
ccm_code oci_http_parse_challenge(const char *v, int *scheme, char *realm, size_t realm_n,
                                  char *service, size_t service_n, char *scope, size_t scope_n);
void oci_req_init(struct oci_req *q, const char *method, const char *url, const char *scope);

/* ---- backends --------------------------------------------------------- */

struct ccm_oci_repo {
	struct ccm_oci_ref ref;
	struct oci_http http; /* registry */
	char dir[1024];       /* layout */
	bool verbose;
};

ccm_code oci_reg_open(struct ccm_oci_repo *r, const struct ccm_oci_opts *o, struct ccm_error *err);
ccm_code oci_reg_get_manifest(struct ccm_oci_repo *r, const char *ref, struct oci_resp *resp,
                              struct ccm_error *err);
ccm_code oci_reg_get_blob(struct ccm_oci_repo *r, const struct ccm_oci_desc *d, int fd,
                          const struct ccm_oci_feed *feed, size_t max_mem, uint8_t **mem,
                          struct ccm_error *err);
ccm_code oci_reg_has_blob(struct ccm_oci_repo *r, const struct ccm_oci_desc *d, bool *has,
                          struct ccm_error *err);
ccm_code oci_reg_push_blob(struct ccm_oci_repo *r, const struct ccm_oci_desc *d, int fd,
                           const uint8_t *mem, const struct ccm_oci_feed *feed,
                           const struct ccm_oci_repo *from, const char **how,
                           struct ccm_error *err);
ccm_code oci_reg_put_manifest(struct ccm_oci_repo *r, const char *tag, const uint8_t *buf,
                              size_t len, const char *mt, struct ccm_error *err);

ccm_code oci_dir_open(struct ccm_oci_repo *r, bool create, struct ccm_error *err);
ccm_code oci_dir_get_manifest(struct ccm_oci_repo *r, const char *ref, uint8_t **buf, size_t *len,
                              char mt[128], struct ccm_error *err);
ccm_code oci_dir_blob_path(const struct ccm_oci_repo *r, const char *digest, char *out, size_t n,
                           struct ccm_error *err);
ccm_code oci_dir_put_blob(struct ccm_oci_repo *r, const struct ccm_oci_desc *d, int fd,
                          const uint8_t *mem, struct ccm_error *err);
ccm_code oci_dir_put_manifest(struct ccm_oci_repo *r, const char *tag, const uint8_t *buf,
                              size_t len, const char *mt, struct ccm_error *err);

/* Stream a file through SHA-256, checking its size: the local half of
 * every digest check. */
ccm_code oci_file_digest_check(int fd, const struct ccm_oci_desc *d, const char *what,
                               struct ccm_error *err);
#endif
