#!/bin/bash
# `ccm bench issue` and the keep-alive attest client under it. Not a timing
# test: nothing here fails on speed.
# 1. bench/issue.sh (ccmd, an account, a whitelisted build, an enrolled
#    agent) with 4 clients for 1 s: the JSON has its six keys, no request
#    failed and some certificate was issued.
# 2. Against fakeagent.py: in mode keep, every client makes all its requests
#    on one connection (also with clients spread over 2 event-loop threads);
#    in mode close, where the connection is closed after each answer, no
#    request fails (each is sent again on a new connection); in mode nocert,
#    where only each connection's first answer holds a certificate, every
#    later answer is an error although the bench parses only a client's
#    first answer in full.
. "$(dirname "$0")/lib.sh"

PIDS=()
pre_cleanup() {
	local p
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
}

# check_json FILE [ERRORS]: the six keys, numbers; ERRORS (default 0)
# errors and something issued.
check_json() {
	"$PY" - "$1" "${2:-0}" <<'EOF' || fail "bench JSON: $(cat "$1")"
import json, sys
r = json.load(open(sys.argv[1]))
for k in ("issues_per_s", "p50_ms", "p99_ms", "limit_per_s", "ratio", "errors"):
    assert isinstance(r.get(k), (int, float)), "missing or not a number: " + k
assert r["errors"] == int(sys.argv[2]), "errors: %s" % r["errors"]
# Each client starts its first request right away; none issued means the
# requests never ran, however slow the machine.
assert r["issues_per_s"] > 0, "nothing issued"
EOF
}

BUILD=$(cd "$CCM_BIN/.." && pwd)
bash "$CCM_SRC/bench/issue.sh" "$BUILD" 4 1 --json >"$T/bench.json" 2>"$T/bench.err" ||
	{ cat "$T/bench.err" >&2; fail "bench/issue.sh"; }
check_json "$T/bench.json"

# The fake agent needs only a SIGSTRUCT for the bench to make its reports.
new_sigstruct e 1 1 >/dev/null
# fake MODE CLIENTS [BENCH OPTIONS]: run the bench against fakeagent.py;
# counts in CONNS, REQS, the JSON in $T/fake.json (checked by the caller).
fake() {
	local port
	port=$(free_port)
	"$PY" "$CCM_SRC/tests/integration/fakeagent.py" "$1" "$port" "$T/counts" \
		>>"$T/fake.log" 2>&1 &
	PIDS+=($!)
	for _ in $(seq 1 100); do
		[ -s "$T/counts" ] && break
		sleep 0.1
	done
	[ -s "$T/counts" ] || { cat "$T/fake.log" >&2; fail "fakeagent.py did not start"; }
	"$CCM_BIN/ccm" bench issue --agent "http://127.0.0.1:$port" --sigstruct "$T/e.sig" \
		--clients "$2" --seconds 1 --json "${@:3}" >"$T/fake.json" ||
		fail "bench against the fake agent"
	kill "${PIDS[-1]}"
	wait "${PIDS[-1]}" 2>/dev/null || true
	read -r CONNS REQS <"$T/counts"
	rm -f "$T/counts"
}

fake keep 3
check_json "$T/fake.json"
[ "$CONNS" -eq 3 ] || fail "keep-alive: $CONNS connections for 3 clients ($REQS requests)"
[ "$REQS" -gt 3 ] || fail "keep-alive: only $REQS requests"
fake keep 5 --threads 2
check_json "$T/fake.json"
[ "$CONNS" -eq 5 ] || fail "2 threads: $CONNS connections for 5 clients ($REQS requests)"
[ "$REQS" -gt 5 ] || fail "2 threads: only $REQS requests"
fake close 2
check_json "$T/fake.json"
# Every answer closed its connection, so each request after a client's
# first found it closed and was sent again on a new one.
[ "$CONNS" -eq "$REQS" ] || fail "close: $CONNS connections for $REQS requests"
[ "$REQS" -gt 2 ] || fail "close: only $REQS requests"
fake nocert 2
# Each request in flight at the deadline is waited for, so every answer is
# counted: 2 certificates, the rest errors.
[ "$REQS" -gt 2 ] || fail "nocert: only $REQS requests"
check_json "$T/fake.json" $((REQS - 2))
echo "PASS"
