/*
 * DESIGN: logs are one JSON object per line on stderr (ts, level, msg and
 * the event's fields), so an operator's collector needs no parser of its
 * own. Nothing secret is ever passed here: no passwords, tokens or keys,
 * and no Authorization header.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/time.h>
#include <time.h>

#include "ccmd.h"

void log_event(const char *level, const char *msg, json_t *fields)
{
	json_t *o = fields ? fields : json_object();
	struct timeval tv;
	struct tm tm;
	char ts[64];
	char *s;

	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	snprintf(ts, sizeof(ts), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
	         tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
	         (int)(tv.tv_usec / 1000));
	json_object_set_new(o, "ts", json_string(ts));
	json_object_set_new(o, "level", json_string(level));
	json_object_set_new(o, "msg", json_string(msg));
	s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
	if (s != NULL) {
		fprintf(stderr, "%s\n", s);
		free(s);
	}
	json_decref(o);
}

void log_info(const char *msg)
{
	log_event("info", msg, NULL);
}

void log_error(const char *msg, const struct ccm_error *err)
{
	log_event("error", msg,
	          json_pack("{s:s,s:s}", "code", ccm_code_name(err->code), "error", err->msg));
}
