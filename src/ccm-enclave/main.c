/*
 * DESIGN: ccm-enclave, the entrypoint of every converted image. It trusts
 * nothing it has not checked: it re-measures the enclave layout over its
 * own binary and the manifest it is about to obey (lib/image core, the
 * same code the converter signed with) and refuses to start unless that is
 * the SIGSTRUCT's ENCLAVEHASH, checks the SIGSTRUCT's signature, then
 * checks every protected file, then gets its certificate through the node
 * agent (provision.c), and only then starts the original entrypoint + cmd
 * with the manifest's env, working directory and user, staying as its
 * PID-1 supervisor (supervise.c).
 * Statically linked (libcrypto + jansson), so it runs in images without a
 * libc. One line on stderr and a non-zero exit for every failure.
 *
 * CCM_ENCLAVE_ROOT (tests, debugging) names a directory to check and then
 * chroot into, so the files checked are the files the app sees.
 */
#include <ctype.h>
#include <errno.h>
#include <grp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ccm/image.h"
#include "enclave.h"
#include "ccm/sgx.h"
#include "util/util.h"

#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

int enclave_die(const struct ccm_error *err)
{
	fprintf(stderr, "ccm-enclave: %s\n", err->msg);
	return ccm_code_exit(err->code) ? ccm_code_exit(err->code) : 2;
}

static ccm_code enclave_read(const struct enclave *e, const char *path, size_t max, uint8_t **out,
                             size_t *len, struct ccm_error *err)
{
	char p[4200];

	snprintf(p, sizeof(p), "%s%s", strcmp(e->root, "/") ? e->root : "", path);
	return util_read_file(p, max, out, len, err);
}

static ccm_code enclave_load(struct enclave *e, struct ccm_error *err)
{
	if (enclave_read(e, CCM_IMAGE_MANIFEST_PATH, CCM_IMAGE_MAX_MANIFEST, &e->man, &e->man_len,
	                 err) ||
	    ccm_image_manifest_parse(e->man, e->man_len, &e->m, err))
		return err->code;
	if (enclave_read(e, CCM_IMAGE_SIG_PATH, CCM_SGX_SIGSTRUCT_SIZE + 1, &e->sig, &e->sig_len,
	                 err) ||
	    ccm_sgx_sigstruct_parse(e->sig, e->sig_len, &e->s, err)) {
		ccm_error_prefix(err, "%s", CCM_IMAGE_SIG_PATH);
		return err->code;
	}
	/* The binary that is running; the image's copy when /proc is absent. */
	if (util_read_file("/proc/self/exe", CCM_IMAGE_MAX_RUNTIME, &e->self, &e->self_len, err) &&
	    enclave_read(e, CCM_IMAGE_RUNTIME_PATH, CCM_IMAGE_MAX_RUNTIME, &e->self, &e->self_len,
	                 err))
		return err->code;
	return CCM_OK;
}

static ccm_code enclave_measure(struct enclave *e, struct ccm_error *err)
{
	struct ccm_sgx_sigcheck chk;
	uint8_t *mr = e->mrenclave;
	char got[65], want[65];

	if (ccm_sgx_sigstruct_check(&e->s, &chk, err) != CCM_OK) {
		ccm_error_prefix(err, "%s", CCM_IMAGE_SIG_PATH);
		return err->code;
	}
	if (ccm_image_layout_measure(e->self, e->self_len, e->man, e->man_len, e->m.mem,
	                             e->m.threads, mr, NULL, err) != CCM_OK)
		return err->code;
	if (memcmp(mr, e->s.f.enclavehash, 32) != 0) {
		util_hex(mr, 32, got);
		util_hex(e->s.f.enclavehash, 32, want);
		return ccm_fail(
		        err, CCM_E_VERIFY,
		        "MRENCLAVE %s differs from the SIGSTRUCT's ENCLAVEHASH %s (runtime or "
		        "manifest changed)",
		        got, want);
	}
	if (e->s.f.isvprodid != e->m.isvprodid || e->s.f.isvsvn != e->m.isvsvn)
		return ccm_fail(err, CCM_E_VERIFY,
		                "ISVPRODID/ISVSVN of the SIGSTRUCT differ from the manifest");
	return CCM_OK;
}

/* Split a passwd or group line at ':' into its first four fields (the
 * fourth keeps the rest of the line, newline stripped). */
static bool enclave_fields(char *line, char *fields[4])
{
	char *p = line;

	line[strcspn(line, "\n")] = '\0';
	for (int i = 0; i < 4; i++) {
		fields[i] = p;
		p = p != NULL ? strchr(p, ':') : NULL;
		if (p != NULL && i < 3)
			*p++ = '\0';
	}
	return fields[2] != NULL;
}

/* The passwd line whose name (or, when by_uid, whose uid field) is key:
 * uid, gid and name, as runc and Docker resolve a USER. */
static bool enclave_passwd(const char *key, bool by_uid, unsigned long *uid, unsigned long *gid,
                           char *name, size_t name_len)
{
	char line[1024], *f[4];
	FILE *fp = fopen("/etc/passwd", "re");
	bool found = false;

	while (fp != NULL && !found && fgets(line, sizeof(line), fp) != NULL) {
		if (!enclave_fields(line, f) || strcmp(by_uid ? f[2] : f[0], key) != 0)
			continue;
		*uid = strtoul(f[2], NULL, 10);
		if (f[3] != NULL)
			*gid = strtoul(f[3], NULL, 10);
		snprintf(name, name_len, "%s", f[0]);
		found = true;
	}
	if (fp != NULL)
		fclose(fp);
	return found;
}

/* The gid of group name; or, with user set, the groups listing user as a
 * member (the supplementary groups an engine gives a named user). */
static size_t enclave_groups(const char *name, const char *user, gid_t *out, size_t max)
{
	char line[4096], *f[4];
	FILE *fp = fopen("/etc/group", "re");
	size_t n = 0;

	while (fp != NULL && n < max && fgets(line, sizeof(line), fp) != NULL) {
		bool hit = false;
		if (!enclave_fields(line, f))
			continue;
		if (user == NULL)
			hit = strcmp(f[0], name) == 0;
		for (char *m = f[3], *next; user != NULL && !hit && m != NULL; m = next) {
			next = strchr(m, ',');
			if (next != NULL)
				*next++ = '\0';
			hit = strcmp(m, user) == 0;
		}
		if (hit)
			out[n++] = (gid_t)strtoul(f[2], NULL, 10);
	}
	if (fp != NULL)
		fclose(fp);
	return n;
}

static bool enclave_numeric(const char *s, unsigned long *out)
{
	struct ccm_error err;
	uint64_t v;

	if (s[0] < '0' || s[0] > '9' || util_parse_u64(s, 0xfffffffeu, &v, "id", &err) != CCM_OK)
		return false;
	*out = (unsigned long)v;
	return true;
}

/* USER as Docker and runc read it: name or uid (a uid in /etc/passwd
 * takes its gid from there, else gid 0), optional ":group" by name or
 * gid, supplementary groups from /etc/group for a user with a name. */
static ccm_code enclave_user(const char *spec, struct ccm_error *err)
{
	char u[256], name[256] = "", *g;
	unsigned long uid = 0, gid = 0, tmp;
	gid_t groups[64];
	size_t ng = 0;

	if (spec[0] == '\0')
		return CCM_OK;
	if (strlen(spec) >= sizeof(u))
		return ccm_fail(err, CCM_E_INPUT, "user '%.64s': too long", spec);
	memcpy(u, spec, strlen(spec) + 1);
	g = strchr(u, ':');
	if (g != NULL)
		*g++ = '\0';
	if (enclave_numeric(u, &uid))
		enclave_passwd(u, true, &tmp, &gid, name, sizeof(name));
	else if (!enclave_passwd(u, false, &uid, &gid, name, sizeof(name)))
		return ccm_fail(err, CCM_E_INPUT, "user '%s': not in /etc/passwd", u);
	if (g != NULL && !enclave_numeric(g, &gid)) {
		if (enclave_groups(g, NULL, groups, 1) != 1)
			return ccm_fail(err, CCM_E_INPUT, "group '%s': not in /etc/group", g);
		gid = groups[0];
	}
	if (name[0] != '\0')
		ng = enclave_groups(NULL, name, groups, sizeof(groups) / sizeof(groups[0]));
	if ((setgroups(ng, groups) != 0 && getuid() == 0) || setgid((gid_t)gid) != 0 ||
	    setuid((uid_t)uid) != 0)
		return ccm_fail(
		        err, CCM_E_IO, "cannot switch to user %s: %s%s", spec, strerror(errno),
		        errno == EPERM ? " (the container needs CAP_SETUID and CAP_SETGID)" : "");
	return CCM_OK;
}

static const char *enclave_env_path(char **envp)
{
	for (size_t i = 0; envp[i] != NULL; i++)
		if (strncmp(envp[i], "PATH=", 5) == 0)
			return envp[i] + 5;
	return DEFAULT_PATH;
}

/* Like execvpe, but searching the manifest's PATH, not ours. */
static ccm_code enclave_exec(char **argv, char **envp, struct ccm_error *err)
{
	const char *path = enclave_env_path(envp);
	char full[4200];
	int last = ENOENT;

	if (strchr(argv[0], '/') != NULL) {
		execve(argv[0], argv, envp);
		return ccm_fail(err, CCM_E_IO, "exec %s: %s", argv[0], strerror(errno));
	}
	while (*path) {
		size_t n = strcspn(path, ":");
		snprintf(full, sizeof(full), "%.*s/%s", (int)n, n ? path : ".", argv[0]);
		execve(full, argv, envp);
		if (errno != ENOENT && errno != ENOTDIR)
			last = errno;
		path += n;
		if (*path == ':')
			path++;
	}
	return ccm_fail(err, CCM_E_IO, "exec %s: %s (searched PATH=%s)", argv[0], strerror(last),
	                enclave_env_path(envp));
}

/* A working directory the image lacks is created (0755), as runc and
 * Docker do: a directory alone is allowed by the tree check, and what is
 * put in it later is caught. */
static int enclave_mkdirs(const char *path)
{
	char p[4200];
	size_t n = strlen(path);

	if (n >= sizeof(p))
		return -1;
	memcpy(p, path, n + 1);
	for (char *s = strchr(p + 1, '/');; s = strchr(s + 1, '/')) {
		if (s != NULL)
			*s = '\0';
		if (mkdir(p, 0755) != 0 && errno != EEXIST)
			return -1;
		if (s == NULL)
			return 0;
		*s = '/';
	}
}

static char **enclave_strv(json_t *a, json_t *b)
{
	size_t na = json_array_size(a), nb = b ? json_array_size(b) : 0;
	char **v = calloc(na + nb + 1, sizeof(char *));

	for (size_t i = 0; v != NULL && i < na + nb; i++)
		v[i] = (char *)json_string_value(
		        json_array_get(i < na ? a : b, i < na ? i : i - na));
	return v;
}

static ccm_code enclave_exec_app(struct enclave *e, struct ccm_error *err)
{
	char **argv = enclave_strv(e->m.entrypoint, e->m.cmd);
	char **envp = enclave_strv(e->m.env, NULL);
	const char *wd = e->m.workdir[0] ? e->m.workdir : "/";
	ccm_code rc = CCM_OK;

	if (argv == NULL || envp == NULL)
		rc = ccm_fail(err, CCM_E_NOMEM, "out of memory");
	else if (strcmp(e->root, "/") != 0 && (chroot(e->root) != 0 || chdir("/") != 0))
		rc = ccm_fail(err, CCM_E_IO, "chroot %s: %s", e->root, strerror(errno));
	else if (chdir(wd) != 0 && (errno != ENOENT || enclave_mkdirs(wd) != 0 || chdir(wd) != 0))
		rc = ccm_fail(err, CCM_E_IO, "working directory %s: %s", wd, strerror(errno));
	if (rc == CCM_OK)
		rc = enclave_user(e->m.user, err);
	if (rc == CCM_OK)
		rc = enclave_exec(argv, envp, err);
	free(argv);
	free(envp);
	return rc;
}

/* The listed files, then nothing unlisted outside the read-write
 * directories; the certificate files this runtime writes before the app
 * starts (from an earlier start) are its own, not the image's. */
static ccm_code enclave_verify(const struct enclave *e, uint64_t *checked, uint64_t *walked,
                               struct ccm_error *err)
{
	static const char *const keys[] = {"key_path", "cert_path", "chain_path"};
	const json_t *cfg = json_object_get(e->m.root, "certificate");
	const char *skip[3];
	size_t n = 0;

	for (size_t i = 0; i < 3; i++) {
		const char *p = json_string_value(json_object_get(cfg, keys[i]));
		if (p != NULL)
			skip[n++] = p;
	}
	if (ccm_image_verify_files(&e->m, e->root, checked, err) != CCM_OK)
		return err->code;
	return ccm_image_verify_tree(&e->m, e->root, skip, n, walked, err);
}

/* In the child: become the app (returns only on failure). */
static int enclave_start(struct enclave *e)
{
	struct ccm_error err = {0};

	enclave_exec_app(e, &err);
	return enclave_die(&err);
}

int main(int argc, char **argv)
{
	struct enclave e = {0};
	struct ccm_error err = {0};
	uint64_t checked = 0, walked = 0;
	const char *root = getenv("CCM_ENCLAVE_ROOT");

	(void)argv;
	e.root = root != NULL && root[0] != '\0' ? root : "/";
	if (argc > 1) {
		ccm_fail(&err, CCM_E_USAGE,
		         "arguments are fixed by the signed manifest (set them with "
		         "'ccm image convert --cmd')");
		return enclave_die(&err);
	}
	if (enclave_load(&e, &err) != CCM_OK || enclave_measure(&e, &err) != CCM_OK ||
	    enclave_verify(&e, &checked, &walked, &err) != CCM_OK)
		return enclave_die(&err);
	if (getenv("CCM_ENCLAVE_VERBOSE") != NULL)
		fprintf(stderr, "ccm-enclave: MRENCLAVE ok, %llu files ok, %llu entries walked\n",
		        (unsigned long long)checked, (unsigned long long)walked);
	if (provision_run(&e, &err) != CCM_OK) {
		ccm_error_prefix(&err, "attestation");
		return enclave_die(&err);
	}
	if (e.key != NULL)
		fprintf(stderr, "ccm-enclave: certificate provisioned\n");
	return supervise_run(&e, enclave_start);
}
