#!/bin/bash
# DESIGN: heartbeats/s over mTLS with keep-alive at N simulated nodes.
# Starts a real ccmd (temporary data dir, free loopback port), enrolls N
# nodes in a test-only account (openssl keys and CSRs, one join token
# with N uses), then runs bench-heartbeat (bench/heartbeat.c: one libcurl
# multi handle, one keep-alive mTLS connection per node, POST
# /v1/node/status back to back) and reports heartbeats/s with ccmd's RSS
# idle, under load and at peak. Target (issue 5): 10,000 nodes at one
# heartbeat every 10 s, i.e. 1,000/s on one core, RSS under 50 MB.
# Usage: bench/heartbeat.sh [BUILD_DIR] [NODES] [SECONDS]; text, then JSON.
set -eu
BUILD=${1:-build}
NODES=${2:-256}
SECS=${3:-10}
BIN=$(cd "$BUILD/bin" && pwd)
CLIENT=$BUILD/bin/bench-heartbeat
[ -x "$CLIENT" ] || { echo "heartbeat: $CLIENT not built" >&2; exit 2; }
T=$(mktemp -d /tmp/ccmd-hb.XXXXXX)
PID=""
cleanup() {
	if [ -n "$PID" ]; then
		kill "$PID" 2>/dev/null || true
		wait "$PID" 2>/dev/null || true
	fi
	rm -rf "$T"
}
trap cleanup EXIT
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
PORT=$("$PY" -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
URL="https://localhost:$PORT"
"$BIN/ccmd" --data "$T/data" --listen "127.0.0.1:$PORT" --node-interval 10 2>"$T/log" &
PID=$!
for _ in $(seq 1 100); do
	curl -sf --cacert "$T/data/ca.pem" "$URL/v1/sys/health" >/dev/null 2>&1 && break
	sleep 0.1
done
C=(curl -sf --cacert "$T/data/ca.pem")
j() { "$PY" -c 'import json,sys;print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }
otp=$(head -1 "$T/data/admin.password")
t0=$("${C[@]}" -X POST -u "admin@localhost:$otp" "$URL/v1/sys/auth" | j token)
TOKEN=$("${C[@]}" -H "Authorization: Bearer $t0" -H 'Content-Type: application/json' \
	--data "{\"old_password\":\"$otp\",\"new_password\":\"bench-password-1\"}" \
	"$URL/v1/users/me/password" | j token)
H=(-H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json')
ID=$("${C[@]}" "${H[@]}" --data '{"name":"bench","test_only":true}' "$URL/v1/accounts" | j id)
JT=$("${C[@]}" "${H[@]}" --data "{\"name\":\"bench\",\"uses\":$NODES}" \
	"$URL/v1/accounts/$ID/join-tokens" | j token)
mkdir "$T/nodes"
enroll() {
	local i=$1 d=$T/nodes
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$d/node$i.key" \
		-subj "/CN=node$i" -out "$d/node$i.csr" 2>/dev/null
	"$PY" -c 'import json,sys; print(json.dumps({"join_token":sys.argv[1],"name":"node"+sys.argv[2],"csr":open(sys.argv[3]).read()}))' \
		"$JT" "$i" "$d/node$i.csr" |
		"${C[@]}" -H 'Content-Type: application/json' --data @- "$URL/v1/nodes/enroll" |
		"$PY" -c 'import json,sys; print(json.load(sys.stdin)["certificate"], end="")' >"$d/node$i.crt"
}
# 16 enrollments at a time (ccmd itself is a background job: wait by PID).
pids=()
for i in $(seq 0 $((NODES - 1))); do
	enroll "$i" &
	pids+=($!)
	if [ ${#pids[@]} = 16 ]; then
		wait "${pids[@]}"
		pids=()
	fi
done
[ ${#pids[@]} = 0 ] || wait "${pids[@]}"
rss() { awk '/^VmRSS/ {print $2}' "/proc/$PID/status"; }
idle=$(rss)
"$CLIENT" "$URL" "$T/data/ca.pem" "$T/nodes" "$NODES" "$SECS" >"$T/out" &
CL=$!
sleep $((SECS / 2 + 2))
loaded=$(rss)
wait $CL || { cat "$T/out"; echo "heartbeat: failures" >&2; }
hwm=$(awk '/^VmHWM/ {print $2}' "/proc/$PID/status")
rate=$(j heartbeats_per_s <"$T/out")
printf 'ccmd node channel: %s heartbeats/s at %s nodes (mTLS, keep-alive), RSS idle %s kB, loaded %s kB (peak %s kB)\n' \
	"$rate" "$NODES" "$idle" "$loaded" "$hwm"
printf '{"nodes":%s,"heartbeats_per_s":%s,"rss_idle_kb":%s,"rss_loaded_kb":%s,"rss_peak_kb":%s,"seconds":%s}\n' \
	"$NODES" "$rate" "$idle" "$loaded" "$hwm" "$SECS"
