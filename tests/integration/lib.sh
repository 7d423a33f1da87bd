# shellcheck shell=bash
# DESIGN: shared helpers of the manager integration tests. Each test
# sources this file, starts the real ccmd on a free loopback port with a
# temporary data directory (cheap Argon2 cost so runs stay fast), drives it
# with curl and ccm, and always stops it and removes its files (trap EXIT).
# JSON is read with python3, never jq. Helpers fail the test with a message
# naming what was expected.
set -eu

CCM_BIN=${CCM_BIN:?CCM_BIN must name the bin directory of the build}
T=$(mktemp -d "${TMPDIR:-/tmp}/ccm-it.XXXXXX")
export XDG_CONFIG_HOME="$T/config"
CCMD_PID=""
# The system python3 starts in a tenth of the time of a pyenv shim.
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
STATUS=""
OUT="$T/out.json"

# Agents a test starts: their PIDs in AGENT_PIDS (AGENT_PID is the last);
# agent_stop stops them all, and cleanup calls it.
AGENT_PIDS=()
AGENT_PID=""
agent_stop() {
	local p
	for p in "${AGENT_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${AGENT_PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
	AGENT_PIDS=()
	AGENT_PID=""
}
# agent_started: record the agent just started in the background ($!).
agent_started() {
	AGENT_PID=$!
	AGENT_PIDS+=("$AGENT_PID")
}

# agent_run [TOKEN] [AGENT OPTION...]: ccm-agent on $APORT (data $T/agent,
# node name node-a, log $T/agent.log), enrolled with TOKEN (none: its
# saved identity); waits until /v1/version says enrolled, left in $T/v.json.
agent_run() {
	local jt=${1-}
	shift || true
	"$CCM_BIN/ccm-agent" --manager "https://127.0.0.1:$PORT" --cacert "$DATA/ca.pem" \
		${jt:+--join-token "$jt"} --data "$T/agent" --listen "127.0.0.1:$APORT" --name node-a \
		"$@" 2>>"$T/agent.log" &
	agent_started
	for _ in $(seq 1 100); do
		curl -sf "http://127.0.0.1:$APORT/v1/version" >"$T/v.json" 2>/dev/null &&
			[ "$(jget "$T/v.json" enrolled)" = true ] && return 0
		kill -0 "$AGENT_PID" 2>/dev/null || { cat "$T/agent.log" >&2; fail "agent exited"; }
		sleep 0.1
	done
	cat "$T/agent.log" >&2
	fail "agent did not enroll"
}

# A test that starts more (agents, registries) defines pre_cleanup instead of
# its own EXIT trap: a trap running anything before cleanup would hand
# cleanup that command's status and turn a failed test into a pass.
cleanup() {
	local rc=$?
	agent_stop
	if declare -F pre_cleanup >/dev/null; then
		pre_cleanup
	fi
	if [ -n "$CCMD_PID" ]; then
		kill "$CCMD_PID" 2>/dev/null || true
		wait "$CCMD_PID" 2>/dev/null || true
	fi
	# Under ASan/UBSan, a report from any ccmd or agent run fails the test.
	for log in ccmd agent; do
		if grep -E "ERROR: (Address|Leak)Sanitizer|runtime error:" "$T/$log.log" >&2 2>/dev/null; then
			echo "FAIL: sanitizer report in the $log log" >&2
			rc=1
		fi
	done
	rm -rf "$T"
	exit $rc
}
trap cleanup EXIT

fail() {
	echo "FAIL: $*" >&2
	if [ -f "$T/ccmd.log" ]; then
		echo "--- ccmd log (tail) ---" >&2
		tail -20 "$T/ccmd.log" >&2
	fi
	exit 1
}

free_port() {
	"$PY" -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'
}

# ccmd_start [extra ccmd flags...]: start on a fresh port, wait for health.
ccmd_start() {
	PORT=$(free_port)
	DATA=${DATA:-$T/data}
	"$CCM_BIN/ccmd" --data "$DATA" --listen "127.0.0.1:$PORT" --argon2-memory 4096 \
		--argon2-passes 1 "$@" 2>>"$T/ccmd.log" &
	CCMD_PID=$!
	URL="https://localhost:$PORT"
	for _ in $(seq 1 100); do
		if [ -f "$DATA/ca.pem" ] && curl -sf --cacert "$DATA/ca.pem" "https://127.0.0.1:$PORT/v1/sys/health" \
			>/dev/null 2>&1; then
			export CCM_SERVER="$URL" CCM_CACERT="$DATA/ca.pem"
			return 0
		fi
		kill -0 "$CCMD_PID" 2>/dev/null || fail "ccmd exited at start"
		sleep 0.1
	done
	fail "ccmd did not become healthy"
}

ccmd_stop() {
	kill -TERM "$CCMD_PID"
	wait "$CCMD_PID" || fail "ccmd exited with status $? on SIGTERM"
	CCMD_PID=""
}

# api METHOD PATH [BODY] [TOKEN]: sets STATUS, reply in $OUT.
api() {
	local method=$1 path=$2 body=${3-} tok=${4-${TOKEN-}}
	local args=(-sS -o "$OUT" -w '%{http_code}' --cacert "$DATA/ca.pem" -X "$method")
	[ -n "$tok" ] && args+=(-H "Authorization: Bearer $tok")
	[ -n "$body" ] && args+=(-H 'Content-Type: application/json' --data-binary "$body")
	STATUS=$(curl "${args[@]}" "$URL$path") || fail "curl $method $path failed"
}

# jget FILE PATH: print a value (dotted path, numbers index arrays).
jget() {
	"$PY" - "$1" "$2" <<'PY'
import json, sys
v = json.load(open(sys.argv[1]))
for k in sys.argv[2].split('.') if sys.argv[2] else []:
    if isinstance(v, list):
        v = v[int(k)] if int(k) < len(v) else None
    else:
        v = v.get(k) if isinstance(v, dict) else None
    if v is None:
        break
print(json.dumps(v) if isinstance(v, (dict, list, bool)) or v is None else v)
PY
}

expect_status() {
	[ "$STATUS" = "$1" ] || fail "${2:-request}: expected HTTP $1, got $STATUS: $(cat "$OUT")"
}

# expect_error STATUS CODE [MESSAGE-SUBSTRING] [WHAT]
expect_error() {
	expect_status "$1" "${4:-request}"
	local code msg
	code=$(jget "$OUT" error.code)
	msg=$(jget "$OUT" error.message)
	[ "$code" = "$2" ] || fail "${4:-request}: expected error code $2, got '$code' ($msg)"
	if [ -n "${3-}" ]; then
		case "$msg" in
		*"$3"*) ;;
		*) fail "${4:-request}: message '$msg' lacks '$3'" ;;
		esac
	fi
}

# login EMAIL PASSWORD: print a session token.
login() {
	local st
	st=$(curl -sS -o "$T/login.json" -w '%{http_code}' --cacert "$DATA/ca.pem" -X POST \
		-u "$1:$2" "$URL/v1/sys/auth") || fail "login request failed"
	[ "$st" = 200 ] || fail "login $1: HTTP $st $(cat "$T/login.json")"
	jget "$T/login.json" token
}

ADMIN_PW="admin-password-1"
# bootstrap_admin: log in with the one-time password, change it, set ADMIN.
bootstrap_admin() {
	local otp tok
	otp=$(head -1 "$DATA/admin.password")
	tok=$(login admin@localhost "$otp")
	api POST /v1/users/me/password "{\"old_password\":\"$otp\",\"new_password\":\"$ADMIN_PW\"}" "$tok"
	expect_status 200 "bootstrap password change"
	ADMIN=$(jget "$OUT" token)
}

# new_user EMAIL: admin creates a user with password "pw-EMAIL"; prints id.
new_user() {
	api POST /v1/users "{\"email\":\"$1\",\"name\":\"$1\",\"password\":\"pw-$1\"}" "$ADMIN"
	expect_status 201 "create user $1"
	jget "$OUT" id
}

# new_account NAME TOKEN [extra json members]: prints id.
new_account() {
	api POST /v1/accounts "{\"name\":\"$1\"${3:+,$3}}" "$2"
	expect_status 201 "create account $1"
	jget "$OUT" id
}

# db_dump: the non-audit tables, for "store unchanged" checks.
db_dump() {
	sqlite3 "$DATA/ccmd.db" \
		"SELECT 'u',id,email,name,is_admin,must_change_pw,disabled FROM users;
		 SELECT 'a',id,name,description,test_only,approval_quorum,accepted_tcb FROM accounts;
		 SELECT 'm',account_id,user_id,role FROM memberships;
		 SELECT 't',id,name,account_id,role,revoked FROM api_tokens;
		 SELECT 's',count(*) FROM sessions;"
}

# ---- manager part 2 helpers ----

# new_csr NAME [openssl req key options...]: NAME.key and NAME.csr in $T.
new_csr() {
	local n=$1
	shift
	[ $# -gt 0 ] || set -- -newkey ec -pkeyopt ec_paramgen_curve:P-256
	openssl req -new "$@" -nodes -keyout "$T/$n.key" -subj "/CN=$n" -out "$T/$n.csr" \
		2>/dev/null || fail "openssl req $n"
}

# json_str FILE: the file's text as a JSON string.
json_str() {
	"$PY" -c 'import json,sys; print(json.dumps(open(sys.argv[1]).read()))' "$1"
}

# new_sigstruct NAME ISVPRODID ISVSVN [more ccm sgx sign flags]: $T/NAME.sig,
# prints its base64. A random MRENCLAVE each time.
new_sigstruct() {
	local n=$1 prod=$2 svn=$3
	shift 3
	[ -f "$T/signer.pem" ] || "$CCM_BIN/ccm" sgx keygen -o "$T/signer.pem" >/dev/null
	"$CCM_BIN/ccm" sgx sign --key "$T/signer.pem" --enclavehash "$(openssl rand -hex 32)" \
		--isvprodid "$prod" --isvsvn "$svn" "$@" -o "$T/$n.sig" >/dev/null || fail "sgx sign $n"
	base64 -w0 "$T/$n.sig"
}

# build_whitelisted NAME PROD SVN: a SIGSTRUCT build ($T/NAME.sig) of app
# $app in account path $A, registered and its whitelist task approved;
# its id in $build.
build_whitelisted() {
	local b64
	b64=$(new_sigstruct "$1" "$2" "$3")
	api POST "$A/builds" "{\"app_id\":$app,\"sigstruct\":\"$b64\"}"
	expect_status 201 "build $1"
	build=$(jget "$OUT" id)
	api POST "$A/tasks/$(jget "$OUT" task_id)/approve" '{}'
	expect_status 200 "approve build $1"
}

# node_api METHOD PATH BODY CERT KEY: mTLS call, sets STATUS, reply in $OUT.
node_api() {
	local args=(-sS -o "$OUT" -w '%{http_code}' --cacert "$DATA/ca.pem" -X "$1")
	[ -n "${4-}" ] && args+=(--cert "$4" --key "$5")
	[ -n "${3-}" ] && args+=(-H 'Content-Type: application/json' --data-binary "$3")
	[ -n "${NODE_ACCEPT-}" ] && args+=(-H "Accept: $NODE_ACCEPT") # e.g. the agent's frames
	STATUS=$(curl "${args[@]}" "$URL$2") || fail "curl $1 $2 failed"
}

# db_dump2: the part 2 tables, for "store unchanged" checks.
db_dump2() {
	db_dump
	sqlite3 "$DATA/ccmd.db" \
		"SELECT 'app',* FROM apps; SELECT 'b',* FROM builds; SELECT 'task',* FROM tasks;
		 SELECT 'v',* FROM task_votes; SELECT 'j',id,uses_left,revoked FROM join_tokens;
		 SELECT 'n',id,state,labels FROM nodes; SELECT 'c',* FROM certificates;
		 SELECT 'i',* FROM app_instances;"
}
