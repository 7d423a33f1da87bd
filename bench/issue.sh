#!/usr/bin/env bash
# DESIGN: stand up what `ccm bench issue` needs, on loopback, and run it:
# ccmd, a test-only account, an app with a build registered from a SIGSTRUCT
# and whitelisted, a join token and an enrolled ccm-agent. Everything is
# stopped on exit. Not a test: it prints figures, it never fails on speed.
# usage: bench/issue.sh [BUILD_DIR] [CLIENTS] [SECONDS] [--json]
# CCM_BENCH_KEEP=DIR keeps the ccmd and agent logs there (per-request
# timings of every batch are in the ccmd log); CCM_BENCH_CCMD_ARGS adds
# ccmd options (e.g. "--check-threads 0"). The store and logs go under
# $TMPDIR (default /tmp): TMPDIR=/dev/shm takes the disk out of a run.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-build}
case $BUILD in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
BIN=$BUILD/bin
CLIENTS=${2:-64}
SECS=${3:-10}
EXTRA=("${@:4}") # e.g. --json, passed to ccm bench issue
PY=/usr/bin/python3
W=$(mktemp -d "${TMPDIR:-/tmp}/ccm-bench-issue.XXXXXX")
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
	[ -n "${CCM_BENCH_KEEP-}" ] && cp "$W/ccmd.log" "$W/agent.log" "$CCM_BENCH_KEEP"/ 2>/dev/null; rm -rf "$W"
}
trap cleanup EXIT
port() { $PY -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
jget() { $PY -c 'import json,sys;v=json.load(sys.stdin)
for k in sys.argv[1].split("."):
    v=v[int(k)] if isinstance(v,list) else v[k]
print(v)' "$1"; }
MP=$(port)
AP=$(port)
export CCM_SERVER=https://127.0.0.1:$MP CCM_CACERT=$W/ccmd/ca.pem XDG_CONFIG_HOME=$W/cfg
CCM=$BIN/ccm
read -r -a CCMD_ARGS <<<"${CCM_BENCH_CCMD_ARGS-}"
"$BIN/ccmd" --data "$W/ccmd" --listen "127.0.0.1:$MP" --argon2-memory 4096 --argon2-passes 1 \
	"${CCMD_ARGS[@]}" >"$W/ccmd.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 100); do
	curl -s -o /dev/null --cacert "$CCM_CACERT" "$CCM_SERVER/v1/sys/health" 2>/dev/null && break
	sleep 0.1
done
printf 'bench-password-1\n' >"$W/pw"
"$CCM" login --email admin@localhost --password-file "$W/ccmd/admin.password" \
	--new-password-file "$W/pw" >/dev/null
export CCM_ACCOUNT=$("$CCM" account create bench --test-only --json | jget id)
APP=$("$CCM" app create bench --isvprodid 1 --isvsvn 1 --json | jget id)
"$CCM" sgx keygen -o "$W/k.pem" 2>/dev/null
"$CCM" sgx sign --key "$W/k.pem" --isvprodid 1 --isvsvn 1 --date 20260101 \
	--enclavehash "$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')" -o "$W/e.sig" >/dev/null
"$CCM" build register --app "$APP" --sigstruct "$W/e.sig" >/dev/null
T=$("$CCM" task list --status PENDING --type build_whitelist --json | jget items.0.id)
"$CCM" task approve "$T" >/dev/null
TOKEN=$("$CCM" node token create bench --json | jget token)
"$BIN/ccm-agent" --manager "$CCM_SERVER" --cacert "$CCM_CACERT" --join-token "$TOKEN" \
	--data "$W/agent" --listen "127.0.0.1:$AP" >"$W/agent.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 100); do
	curl -s "http://127.0.0.1:$AP/v1/version" 2>/dev/null | grep -q '"enrolled":true' && break
	sleep 0.1
done
# CPU seconds (user+system, all threads) a process has used so far.
cpu() { awk -v t="$(getconf CLK_TCK)" '{printf "%.2f", ($14 + $15) / t}' "/proc/$1/stat"; }
c0=$(cpu "${PIDS[0]}") a0=$(cpu "${PIDS[1]}")
"$CCM" bench issue --agent "http://127.0.0.1:$AP" --sigstruct "$W/e.sig" --clients "$CLIENTS" \
	--seconds "$SECS" "${EXTRA[@]}"
echo "CPU during the run: ccmd $(awk -v a="$c0" -v b="$(cpu "${PIDS[0]}")" 'BEGIN{print b-a}') s," \
	"ccm-agent $(awk -v a="$a0" -v b="$(cpu "${PIDS[1]}")" 'BEGIN{print b-a}') s" >&2
echo "ccmd RSS: $(ps -o rss= -p "${PIDS[0]}") KiB" >&2
