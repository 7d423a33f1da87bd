/*
 * DESIGN: dispatch by longest word match over the command rows, so
 * "ccm sgx sign ..." finds the "sgx sign" row and a bare "ccm sgx" lists the
 * group. Help comes only from the rows (see cli.h).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "util/util.h"

static const struct cmd_entry *const cmd_groups[] = {
        cmd_sgx_entries,         cmd_image_entries,       cmd_bench_entries,    cmd_manager_entries,
        cmd_objects_entries,     cmd_build_entries,       cmd_cert_entries,     cmd_quote_entries,
        cmd_bench_quote_entries, cmd_bench_issue_entries, cmd_registry_entries,
};
#define NGROUPS (sizeof(cmd_groups) / sizeof(cmd_groups[0]))

int cli_fail(const struct ccm_error *err)
{
	fprintf(stderr, "ccm: %s\n", err->msg[0] ? err->msg : ccm_code_name(err->code));
	return ccm_code_exit(err->code);
}

int cli_failf(ccm_code code, const char *fmt, ...)
{
	va_list ap;

	fputs("ccm: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return ccm_code_exit(code);
}

int cli_usage(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "ccm %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n(see 'ccm %s --help')\n", cmd);
	return 2;
}

void cli_json_print(json_t *obj)
{
	char *s = json_dumps(obj, JSON_COMPACT | JSON_ENSURE_ASCII);

	if (s != NULL) {
		puts(s);
		free(s);
	}
	json_decref(obj);
}

int cli_u64(const char *opt, const char *val, uint64_t max, uint64_t *out)
{
	struct ccm_error err;

	if (util_parse_u64(val, max, out, opt, &err) != CCM_OK)
		return cli_fail(&err);
	return 0;
}

int cli_hex(const char *opt, const char *val, uint8_t *out, size_t n)
{
	struct ccm_error err;

	if (util_parse_hex_exact(val, out, n, opt, &err) != CCM_OK)
		return cli_fail(&err);
	return 0;
}

/* Number of leading words of argv that spell name, or 0. */
static int match_words(const char *name, int argc, char **argv)
{
	int used = 0;
	const char *p = name;

	while (*p != '\0') {
		size_t wl = strcspn(p, " ");
		if (used >= argc || strlen(argv[used]) != wl || strncmp(argv[used], p, wl) != 0)
			return 0;
		used++;
		p += wl;
		while (*p == ' ')
			p++;
	}
	return used;
}

static const struct cmd_entry *find_cmd(int argc, char **argv, int *used)
{
	const struct cmd_entry *best = NULL;

	*used = 0;
	for (size_t g = 0; g < NGROUPS; g++) {
		for (const struct cmd_entry *e = cmd_groups[g]; e->name; e++) {
			int n = match_words(e->name, argc, argv);
			if (n > *used) {
				*used = n;
				best = e;
			}
		}
	}
	return best;
}

/* Rows whose name starts with the given words (a group listing); f NULL
 * only counts them. */
static int list_prefix(FILE *f, int argc, char **argv)
{
	char prefix[256] = "";
	size_t len = 0;
	int shown = 0;

	for (int i = 0; i < argc; i++) {
		int n = snprintf(prefix + len, sizeof(prefix) - len, "%s%s", i ? " " : "", argv[i]);
		if (n < 0 || (size_t)n >= sizeof(prefix) - len)
			return 0;
		len += (size_t)n;
	}
	for (size_t g = 0; g < NGROUPS; g++) {
		for (const struct cmd_entry *e = cmd_groups[g]; e->name; e++) {
			if (strncmp(e->name, prefix, len) != 0 ||
			    (len > 0 && e->name[len] != ' ' && e->name[len] != '\0'))
				continue;
			if (f != NULL)
				fprintf(f, "  %-22s %s\n", e->name, e->help);
			shown++;
		}
	}
	return shown;
}

static void print_cmd_help(FILE *f, const struct cmd_entry *e)
{
	fprintf(f, "usage: ccm %s %s\n\n%s\n", e->name, e->usage, e->help);
	if (e->options != NULL)
		fprintf(f, "\noptions:\n%s", e->options);
	fprintf(f, "\nexit status: 0 ok, 1 verification failure, 2 bad usage or input\n");
}

static void print_main_help(FILE *f)
{
	fprintf(f, "usage: ccm [--version] [--help] [--server URL --cacert F] COMMAND [ARGS...]\n\n"
	           "ccm is the command-line tool of the ccm confidential computing manager.\n"
	           "Offline tools measure and sign SGX enclaves; manager commands talk to ccmd.\n\n"
	           "commands:\n");
	list_prefix(f, 0, NULL);
	fprintf(f, "\n'ccm help COMMAND' or 'ccm COMMAND --help' shows one command.\n");
}

static int wants_help(int argc, char **argv)
{
	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			return 0;
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
			return 1;
	}
	return 0;
}

static int cmd_help(int argc, char **argv)
{
	const struct cmd_entry *e;
	int used;

	if (argc == 0 || strcmp(argv[0], "--help") == 0 || strcmp(argv[0], "-h") == 0) {
		print_main_help(stdout);
		return 0;
	}
	e = find_cmd(argc, argv, &used);
	if (e != NULL && used == argc) {
		print_cmd_help(stdout, e);
		return 0;
	}
	if (list_prefix(stdout, argc, argv) > 0)
		return 0;
	fprintf(stderr, "ccm: unknown command '%s' (see 'ccm --help')\n", argv[0]);
	return 2;
}

/* No row matched: "ccm GROUP [SUB] --help" lists the group (exit 0), a bare
 * or misspelt group lists it on stderr with the reason (exit 2). */
static int group_help(int argc, char **argv)
{
	int words = 0, known = 1;

	while (words < argc && argv[words][0] != '-')
		words++;
	if (wants_help(argc, argv) && words > 0 && list_prefix(NULL, words, argv) > 0) {
		printf("usage: ccm");
		for (int i = 0; i < words; i++)
			printf(" %s", argv[i]);
		printf(" SUBCOMMAND [ARGS...]\n\nsubcommands:\n");
		list_prefix(stdout, words, argv);
		printf("\n'ccm COMMAND --help' shows one command.\n");
		return 0;
	}
	if (list_prefix(NULL, 1, argv) == 0) {
		fprintf(stderr, "ccm: unknown command '%s' (see 'ccm --help')\n", argv[0]);
		return 2;
	}
	/* The longest run of words that still names a group. */
	while (known < words && list_prefix(NULL, known + 1, argv) > 0)
		known++;
	list_prefix(stderr, known, argv);
	fputs("ccm", stderr);
	for (int i = 0; i < known; i++)
		fprintf(stderr, " %s", argv[i]);
	if (known < words)
		fprintf(stderr, ": unknown subcommand '%s'\n", argv[known]);
	else
		fputs(": missing subcommand\n", stderr);
	return 2;
}

int main(int argc, char **argv)
{
	const struct cmd_entry *e;
	int used;

	/* Manager client options before the command (see cmd-manager.c). */
	while (argc > 2 && (strcmp(argv[1], "--server") == 0 || strcmp(argv[1], "--cacert") == 0)) {
		setenv(argv[1][2] == 's' ? "CCM_SERVER" : "CCM_CACERT", argv[2], 1);
		argv += 2;
		argc -= 2;
	}
	if (argc < 2) {
		print_main_help(stderr);
		return 2;
	}
	if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0) {
		printf("ccm %s\n", CCM_VERSION);
		return 0;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)
		return cmd_help(0, NULL);
	if (strcmp(argv[1], "help") == 0)
		return cmd_help(argc - 2, argv + 2);
	e = find_cmd(argc - 1, argv + 1, &used);
	if (e == NULL)
		return group_help(argc - 1, argv + 1);
	if (wants_help(argc - 1 - used, argv + 1 + used)) {
		print_cmd_help(stdout, e);
		return 0;
	}
	/* Hand the handler argv starting at its last name word, getopt-style. */
	return e->exec(argc - used, argv + used);
}
