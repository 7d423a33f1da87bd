#!/bin/bash
# DESIGN: load on ccmd's hottest authenticated path. Starts a real ccmd
# (temporary data dir, free loopback port), logs in, then runs wrk with 64
# keep-alive TLS connections against GET /v1/accounts/ID with a bearer
# token (session lookup + membership check + JSON reply), and reports
# requests/s, p50/p99 latency and ccmd's RSS when idle and under load.
# Usage: bench/ccmd-load.sh [BUILD_DIR] [SECONDS]; prints text, then one
# JSON line. Target from issue 4: idle RSS <= 15 MB.
set -eu
BUILD=${1:-build}
SECS=${2:-10}
BIN=$(cd "$BUILD/bin" && pwd)
command -v wrk >/dev/null || { echo "ccmd-load: wrk is not installed" >&2; exit 2; }
T=$(mktemp -d /tmp/ccmd-load.XXXXXX)
PID=""
cleanup() {
	[ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
	[ -n "${KEEP_LOG:-}" ] && cp "$T/log" "$KEEP_LOG"
	rm -rf "$T"
}
trap cleanup EXIT
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
PORT=$("$PY" -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
URL="https://localhost:$PORT"
"$BIN/ccmd" --data "$T/data" --listen "127.0.0.1:$PORT" 2>"$T/log" &
PID=$!
for _ in $(seq 1 100); do
	curl -sf --cacert "$T/data/ca.pem" "$URL/v1/sys/health" >/dev/null 2>&1 && break
	sleep 0.1
done
C=(curl -sf --cacert "$T/data/ca.pem")
tok() { "$PY" -c 'import json,sys;print(json.load(sys.stdin)["token"])'; }
otp=$(head -1 "$T/data/admin.password")
t0=$("${C[@]}" -X POST -u "admin@localhost:$otp" "$URL/v1/sys/auth" | tok)
TOKEN=$("${C[@]}" -H "Authorization: Bearer $t0" -H 'Content-Type: application/json' \
	--data "{\"old_password\":\"$otp\",\"new_password\":\"bench-password-1\"}" \
	"$URL/v1/users/me/password" | tok)
ID=$("${C[@]}" -H "Authorization: Bearer $TOKEN" --data '{"name":"bench"}' "$URL/v1/accounts" |
	"$PY" -c 'import json,sys;print(json.load(sys.stdin)["id"])')
rss() { awk '/^VmRSS/ {print $2}' "/proc/$PID/status"; }
sleep 1
idle=$(rss)
wrk -t2 -c64 -d"${SECS}s" --latency -H "Authorization: Bearer $TOKEN" "$URL/v1/accounts/$ID" \
	>"$T/wrk" &
WRK=$!
sleep $((SECS / 2))
loaded=$(rss)
wait $WRK
hwm=$(awk '/^VmHWM/ {print $2}' "/proc/$PID/status")
cat "$T/wrk"
rps=$(awk '/^Requests\/sec/ {print $2}' "$T/wrk")
lat() { awk -v p="$1" '$1 == p {v=$2; if (v ~ /us$/) {sub(/us/,"",v); v/=1000} else if (v ~ /ms$/) {sub(/ms/,"",v)} else if (v ~ /s$/) {sub(/s/,"",v); v*=1000}; print v}' "$T/wrk"; }
p50=$(lat 50%)
p99=$(lat 99%)
errs=$(awk '/Non-2xx|Socket errors/ {print}' "$T/wrk")
printf 'ccmd: %s req/s, p50 %s ms, p99 %s ms, RSS idle %s kB, loaded %s kB (peak %s kB)%s\n' \
	"$rps" "$p50" "$p99" "$idle" "$loaded" "$hwm" "${errs:+, $errs}"
printf '{"requests_per_s":%s,"p50_ms":%s,"p99_ms":%s,"rss_idle_kb":%s,"rss_loaded_kb":%s,"rss_peak_kb":%s,"connections":64,"seconds":%s}\n' \
	"$rps" "$p50" "$p99" "$idle" "$loaded" "$hwm" "$SECS"
[ "$idle" -le 15360 ] || { echo "ccmd-load: idle RSS over 15 MB" >&2; exit 1; }
