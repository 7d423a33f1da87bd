/*
 * DESIGN: the ccm command line is one declarative list of cmd_entry rows
 * (tmux's cmd_entry idea): the dispatcher, `ccm --help`, `ccm help CMD` and
 * `CMD --help` all read the same rows, so a command cannot exist without
 * its help text. Each group of commands lives in its own cmd-*.c file and
 * exports its rows; main.c only concatenates the groups.
 */
#ifndef CCM_CLI_H
#define CCM_CLI_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "ccm/ccm.h"

struct cmd_entry {
	const char *name;                   /* words, e.g. "sgx measure" */
	const char *usage;                  /* arguments after the name */
	const char *help;                   /* one line */
	const char *options;                /* option lines for `--help`, may be NULL */
	int (*exec)(int argc, char **argv); /* argv[0] is the command name */
};

/* Each cmd-*.c file exports a NULL-name-terminated array of rows. */
extern const struct cmd_entry cmd_sgx_entries[];
extern const struct cmd_entry cmd_image_entries[];
extern const struct cmd_entry cmd_bench_entries[];
extern const struct cmd_entry cmd_manager_entries[];
extern const struct cmd_entry cmd_objects_entries[];
extern const struct cmd_entry cmd_quote_entries[];
extern const struct cmd_entry cmd_bench_quote_entries[];
extern const struct cmd_entry cmd_build_entries[];
extern const struct cmd_entry cmd_cert_entries[];
extern const struct cmd_entry cmd_bench_issue_entries[];
extern const struct cmd_entry cmd_registry_entries[];

/* Print "ccm: MESSAGE" on stderr and return the exit status for the code. */
int cli_fail(const struct ccm_error *err);
int cli_failf(ccm_code code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Usage error for the current command: message and a hint, exit 2. */
int cli_usage(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Print a JSON object as one line on stdout, then free it. */
void cli_json_print(json_t *obj);

/* Parse helpers that name the option in their errors. */
int cli_u64(const char *opt, const char *val, uint64_t max, uint64_t *out);
int cli_hex(const char *opt, const char *val, uint8_t *out, size_t n);

#endif
