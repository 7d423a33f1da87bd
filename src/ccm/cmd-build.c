/*
 * DESIGN: `ccm build create` asks ccmd to convert an app's input image
 * (pull, convert, sign with the account key, push) and, with --wait,
 * follows the conversion to its end: a progress bar on a terminal, one
 * line per phase otherwise, exit 0 when the build is ready for approval
 * and 1 with the manager's reason when the conversion failed.
 * `ccm build retry` runs a FAILED conversion again, followed the same way.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "mgr.h"

/* Input reference: --input REF, or the app's input image with --input-tag. */
static int build_input(const struct mgr *m, const struct mgr_args *a, uint64_t acc, uint64_t app,
                       char *out, size_t n)
{
	const char *ref = mgr_opt(a, "input"), *tag = mgr_opt(a, "input-tag"), *img;
	char path[256];
	json_t *o = NULL;
	int rc;

	if (ref != NULL) {
		snprintf(out, n, "%s", ref);
		return 0;
	}
	snprintf(path, sizeof(path), "/v1/accounts/%" PRIu64 "/apps/%" PRIu64, acc, app);
	if ((rc = mgr_call(m, "GET", path, NULL, &o)) != 0)
		return rc;
	img = json_string_value(json_object_get(o, "input_image"));
	if (img == NULL || img[0] == '\0') {
		json_decref(o);
		return cli_failf(CCM_E_INPUT,
		                 "app %" PRIu64 " has no input_image; give --input REF", app);
	}
	if (tag != NULL) {
		const char *slash = strrchr(img, '/'), *colon = strrchr(img, ':');
		size_t keep = colon != NULL && (slash == NULL || colon > slash)
		                      ? (size_t)(colon - img)
		                      : strlen(img);
		snprintf(out, n, "%.*s:%s", (int)keep, img, tag);
	} else {
		snprintf(out, n, "%s", img);
	}
	json_decref(o);
	return 0;
}

static void build_bar(const char *status, json_int_t done, json_int_t total, bool tty)
{
	static char last[16];
	int width = 30, filled = total > 0 ? (int)(done * width / total) : 0;

	if (!tty) {
		if (strcmp(last, status) != 0)
			fprintf(stderr, "build: %s\n", status);
		snprintf(last, sizeof(last), "%s", status);
		return;
	}
	fprintf(stderr, "\r%-10s [", status);
	for (int i = 0; i < width; i++)
		fputc(i < filled ? '#' : '.', stderr);
	fprintf(stderr, "] %6.1f / %.1f MB", (double)done / 1e6, (double)total / 1e6);
	fflush(stderr);
}

static int build_wait(const struct mgr *m, const struct mgr_args *a, const char *path)
{
	bool tty = isatty(2);

	for (;;) {
		json_t *o = NULL, *c;
		const char *st;
		int rc = mgr_call(m, "GET", path, NULL, &o);
		if (rc != 0)
			return rc;
		c = json_object_get(o, "conversion");
		st = json_string_value(json_object_get(c, "status"));
		st = st ? st : "?";
		build_bar(st, json_integer_value(json_object_get(c, "bytes_done")),
		          json_integer_value(json_object_get(c, "bytes_total")), tty);
		if (strcmp(st, "DONE") == 0 || strcmp(st, "FAILED") == 0) {
			if (tty)
				fputc('\n', stderr);
			if (strcmp(st, "FAILED") == 0) {
				fprintf(stderr, "ccm: build failed: %s\n",
				        json_string_value(json_object_get(c, "reason")));
				/* --json still prints the one object: the build, FAILED. */
				if (a->json)
					mgr_show(a, o);
				else
					json_decref(o);
				return 1;
			}
			return mgr_show(a, o);
		}
		json_decref(o);
		usleep(300000);
	}
}

static int cmd_build_create(int argc, char **argv)
{
	char path[256], input[1024];
	struct mgr_args a;
	struct mgr m;
	uint64_t acc = 0, app = 0;
	json_t *o = NULL, *body;
	int rc = mgr_parse("build create", argc, argv,
	                   "account= app= input= input-tag= output-tag= wait json", 0, 0, &a);

	if (rc != 0)
		return rc;
	if ((rc = mgr_account(&a, &acc)) != 0)
		return rc;
	if (mgr_opt(&a, "app") == NULL)
		return cli_usage("build create", "--app ID is required");
	if ((rc = cli_u64("--app", mgr_opt(&a, "app"), (uint64_t)1 << 53, &app)) != 0 ||
	    (rc = mgr_init(&m, true)) != 0 ||
	    (rc = build_input(&m, &a, acc, app, input, sizeof(input))) != 0)
		return rc;
	snprintf(path, sizeof(path), "/v1/accounts/%" PRIu64 "/builds", acc);
	body = json_pack("{s:I,s:s}", "app_id", (json_int_t)app, "image_name", input);
	if (mgr_opt(&a, "output-tag") != NULL)
		json_object_set_new(body, "output_tag", json_string(mgr_opt(&a, "output-tag")));
	rc = mgr_call(&m, "POST", path, body, &o);
	if (rc != 0)
		return rc;
	if (mgr_opt(&a, "wait") == NULL)
		return mgr_show(&a, o);
	snprintf(path, sizeof(path), "/v1/accounts/%" PRIu64 "/builds/%" PRId64, acc,
	         (int64_t)json_integer_value(json_object_get(o, "id")));
	json_decref(o);
	return build_wait(&m, &a, path);
}

/* Requeue a FAILED conversion (the same build id) and, with --wait,
 * follow it like build create. */
static int cmd_build_retry(int argc, char **argv)
{
	char path[256];
	struct mgr_args a;
	struct mgr m;
	uint64_t acc = 0, id = 0;
	json_t *o = NULL;
	int rc = mgr_parse("build retry", argc, argv, "account= wait json", 1, 1, &a);

	if (rc != 0)
		return rc;
	if ((rc = mgr_account(&a, &acc)) != 0 || (rc = mgr_id(&a, 0, &id)) != 0 ||
	    (rc = mgr_init(&m, true)) != 0)
		return rc;
	snprintf(path, sizeof(path), "/v1/accounts/%" PRIu64 "/builds/%" PRIu64 "/retry", acc, id);
	if ((rc = mgr_call(&m, "POST", path, NULL, &o)) != 0)
		return rc;
	if (mgr_opt(&a, "wait") == NULL)
		return mgr_show(&a, o);
	json_decref(o);
	snprintf(path, sizeof(path), "/v1/accounts/%" PRIu64 "/builds/%" PRIu64, acc, id);
	return build_wait(&m, &a, path);
}

const struct cmd_entry cmd_build_entries[] = {
        {"build create", "--app ID [--input REF | --input-tag TAG] [--output-tag TAG] [--wait]",
         "convert the app's input image into an enclave image (ccmd pulls, signs, pushes)",
         "  --account ID           the account (default $CCM_ACCOUNT)\n"
         "  --app ID               the application\n"
         "  --input REF            image to convert (default: the app's input image)\n"
         "  --input-tag TAG        the app's input image with another tag\n"
         "  --output-tag TAG       push to the app's output image with this tag\n"
         "                         (default: the output image as the app names it)\n"
         "  --wait                 follow the conversion (progress bar on a terminal);\n"
         "                         exit 1 with the reason when it fails\n"
         "  --json                 print one JSON object\n"
         "The build records the output reference it pushes to (`build show`).\n"
         "Registry credentials come from `ccm registry add`. The build is PENDING\n"
         "until its build_whitelist task is approved.\n",
         cmd_build_create},
        {"build retry", "ID [--wait]",
         "run a FAILED conversion again from the start (after a registry outage, say)",
         "  --account ID           the account (default $CCM_ACCOUNT)\n"
         "  --wait                 follow the conversion, as build create --wait\n"
         "  --json                 print one JSON object\n"
         "Only a build whose conversion FAILED can be retried; it keeps its id, input\n"
         "and output reference. Pushes are idempotent, so the result is the image a\n"
         "first successful run gives.\n",
         cmd_build_retry},
        {NULL, NULL, NULL, NULL, NULL},
};
