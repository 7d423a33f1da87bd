/*
 * DESIGN: after the checks, ccm-enclave stays as the container's PID 1
 * instead of exec'ing the app: a PID 1 must reap orphans (or zombies pile
 * up), must forward the signals a container runtime sends (or `runc kill`
 * and `docker stop` hang until SIGKILL), and someone must renew the
 * certificate before it expires without restarting the app. All signals of
 * interest are blocked and taken synchronously with sigtimedwait, whose
 * timeout doubles as the renewal timer and the keepalive timer of the
 * instance reports to the agent (RUNNING once the app is started and then
 * every keepalive_s, STOPPED when asked to stop or when the app exits):
 * no handlers, no races.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "enclave.h"

static const int forwarded[] = {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH};

static int exit_status(int st)
{
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	if (WIFSIGNALED(st))
		return 128 + WTERMSIG(st);
	return 1;
}

/* Reap every exited child; returns true (and *status) when it was the app. */
static bool reap(pid_t app, int *status)
{
	bool done = false;
	pid_t p;
	int st;

	while ((p = waitpid(-1, &st, WNOHANG)) > 0) {
		if (p == app) {
			*status = exit_status(st);
			done = true;
		}
	}
	return done;
}

static void renew(struct enclave *e, time_t *retry_at)
{
	struct ccm_error err = {0};

	if (provision_run(e, &err) == CCM_OK) {
		fprintf(stderr, "ccm-enclave: certificate renewed\n");
		*retry_at = 0;
		return;
	}
	fprintf(stderr, "ccm-enclave: certificate renewal failed (retrying in 60 s): %s\n",
	        err.msg);
	*retry_at = time(NULL) + 60;
}

/* Tell the agent how the app is (see docs/internals/agent.md); a failing
 * agent is said once, not at every keepalive, and never stops the app. */
static void report(struct enclave *e, const char *state, pid_t app)
{
	struct ccm_error err = {0};

	if (e->inst.keepalive_s == 0)
		return;
	e->report_at = strcmp(state, "RUNNING") == 0 ? time(NULL) + e->inst.keepalive_s : 0;
	if (ccm_attest_instance_report(e->agent_url, &e->inst, state, (int64_t)app, 2, &err) ==
	    CCM_OK) {
		e->report_failing = false;
		return;
	}
	if (!e->report_failing)
		fprintf(stderr, "ccm-enclave: instance report (%s) failed: %s\n", state, err.msg);
	e->report_failing = true;
}

static long wait_for(const struct enclave *e, time_t retry_at)
{
	long r = provision_renew_in(e);
	time_t now = time(NULL);

	if (retry_at != 0)
		r = retry_at > now ? (long)(retry_at - now) : 0;
	if (r < 0 || r > 3600)
		r = 3600;
	if (e->report_at != 0 && e->report_at - now < r)
		r = e->report_at > now ? (long)(e->report_at - now) : 0;
	return r;
}

int supervise_run(struct enclave *e, int (*start)(struct enclave *e))
{
	sigset_t set, old;
	time_t retry_at = 0;
	int status = 1;
	pid_t app;

	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	for (size_t i = 0; i < sizeof(forwarded) / sizeof(forwarded[0]); i++)
		sigaddset(&set, forwarded[i]);
	sigprocmask(SIG_BLOCK, &set, &old);
	app = fork();
	if (app < 0) {
		fprintf(stderr, "ccm-enclave: fork: %s\n", strerror(errno));
		return 1;
	}
	if (app == 0) {
		sigprocmask(SIG_SETMASK, &old, NULL);
		_exit(start(e));
	}
	/* Certificate issued and the app started: RUNNING, kept alive below. */
	report(e, "RUNNING", app);
	for (;;) {
		struct timespec ts = {wait_for(e, retry_at), 0};
		int sig = sigtimedwait(&set, NULL, &ts);
		if (sig == SIGCHLD) {
			if (reap(app, &status))
				break;
		} else if (sig > 0) {
			kill(app, sig);
			/* Asked to stop: say so now, the app may take a while. */
			if ((sig == SIGTERM || sig == SIGINT) && e->report_at != 0)
				report(e, "STOPPED", app);
		} else if (errno == EAGAIN && provision_renew_in(e) == 0) {
			renew(e, &retry_at);
		} else if (errno == EAGAIN && retry_at != 0 && time(NULL) >= retry_at) {
			renew(e, &retry_at);
		}
		if (e->report_at != 0 && time(NULL) >= e->report_at)
			report(e, "RUNNING", app);
	}
	if (e->report_at != 0)
		report(e, "STOPPED", app);
	/* The app is gone: give the rest of its process group a moment. */
	kill(-app, SIGTERM);
	reap(app, &status);
	return status;
}
