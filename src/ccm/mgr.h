/*
 * DESIGN: the manager client's shared helpers (defined in cmd-manager.c),
 * so that every group of manager commands (cmd-manager.c for accounts,
 * users and tokens, cmd-objects.c for apps, builds, tasks, nodes and
 * certificates) parses options, talks to ccmd and prints replies the same
 * way.
 */
#ifndef CCM_MGR_H
#define CCM_MGR_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#define MGR_MAX_OPTS 24

struct mgr_args {
	const char *cmd;
	const char *pos[4];
	int npos;
	const char *names[MGR_MAX_OPTS];
	const char *vals[MGR_MAX_OPTS];
	int n;
	bool json;
};

struct mgr {
	char server[1024];
	char cacert[4096];
	char token[128];
};

/* spec: space-separated option names; "name=" takes a value. */
int mgr_parse(const char *cmd, int argc, char **argv, const char *spec, int pmin, int pmax,
              struct mgr_args *a);
const char *mgr_opt(const struct mgr_args *a, const char *name);
int mgr_init(struct mgr *m, bool need_token);
long mgr_http(const struct mgr *m, const char *method, const char *path, json_t *body,
              const char *userpwd, char **out);
int mgr_error(long status, const char *text);
/* Call and parse a JSON reply (body stolen); 0 with *out set, or an exit status. */
int mgr_call(const struct mgr *m, const char *method, const char *path, json_t *body, json_t **out);
int mgr_show(const struct mgr_args *a, json_t *o);
int mgr_simple(const struct mgr_args *a, const char *method, const char *path, json_t *body);
int mgr_id(const struct mgr_args *a, int i, uint64_t *out);
int mgr_account(const struct mgr_args *a, uint64_t *out);
void mgr_q(char *q, size_t n, const char *key, const char *val);
void mgr_paging(const struct mgr_args *a, char *q, size_t n);
/* "a,b,c" as a JSON array of strings. */
json_t *mgr_list(const char *s);
int mgr_int_field(const struct mgr_args *a, json_t *body, const char *opt, const char *field,
                  uint64_t max);

#endif
