#!/bin/bash
# The agent's app side: GET /v1/apps/{id}/config forwarded over the node
# channel (own app 200 with the non-secret config; another account's app
# and a missing one the same 404; malformed ids 400), and app instances:
# a certificate grant carries an instance handle, the runtime reports
# RUNNING / keepalives / STOPPED with it to /v1/instances, the heartbeat
# carries the apps, and ccmd shows them in node show and app show. A
# runtime that stops reporting ends STOPPED after three missed keepalives;
# a restarted agent still accepts the handles it granted before.
. "$(dirname "$0")/lib.sh"

# agent_start [TOKEN]: on $APORT with keepalive 1 s (lapse 3 s).
agent_start() { agent_run "${1-}" --keepalive 1; }

# local METHOD PATH [BODY]: the agent's local API; sets STATUS, reply in $OUT.
local_api() {
	local args=(-sS -o "$OUT" -w '%{http_code}' -X "$1")
	[ -n "${3-}" ] && args+=(-H 'Content-Type: application/json' --data-binary "$3")
	STATUS=$(curl "${args[@]}" "http://127.0.0.1:$APORT$2") || fail "curl agent $1 $2"
}

# wait_state PATH JSON-PATH WANT: poll a manager object until a value is WANT.
wait_state() {
	for _ in $(seq 1 60); do
		api GET "$1"
		[ "$(jget "$OUT" "$2")" = "$3" ] && return 0
		sleep 0.1
	done
	fail "$1 $2: expected $3, got $(cat "$OUT")"
}

ccmd_start --node-interval 1
bootstrap_admin
TOKEN=$ADMIN
acc=$(new_account tenant "$TOKEN" '"test_only":true')
other=$(new_account other "$TOKEN" '"test_only":true')
A=/v1/accounts/$acc
api POST $A/apps '{"name":"web","isvprodid":1,"isvsvn":3,"labels":["zone=a"],
 "allowed_domains":["web.example.org"],"cert_subject":"CN=web,O=Example",
 "cert_validity_days":7,"entrypoint":["/usr/bin/python3"],"args":["/app/app.py"],
 "env":["MODE=prod"],"rw_dirs":["/data"]}'
expect_status 201 "app"
app=$(jget "$OUT" id)
api POST "$A/tasks/$(jget "$OUT" domain_task_id)/approve" '{}'
expect_status 200 "approve domains"
api POST "/v1/accounts/$other/apps" '{"name":"theirs","isvprodid":1}'
expect_status 201 "other account's app"
theirs=$(jget "$OUT" id)
build_whitelisted good 1 3
api POST $A/join-tokens '{"name":"agent","labels":["zone=a"]}'
jt=$(jget "$OUT" token)

APORT=$(free_port)
agent_start "$jt"
node=$(jget "$T/v.json" node_id)

# ---- app config ----
local_api GET "/v1/apps/$app/config"
expect_status 200 "own app config"
"$PY" - "$OUT" "$app" <<'PY' || fail "app config: $(cat "$OUT")"
import json, sys
c = json.load(open(sys.argv[1]))
assert c["app_id"] == int(sys.argv[2]) and c["name"] == "web", c
assert c["isvprodid"] == 1 and c["isvsvn"] == 3 and c["labels"] == ["zone=a"], c
rt = c["runtime"]
assert rt["entrypoint"] == ["/usr/bin/python3"] and rt["args"] == ["/app/app.py"], rt
assert rt["env"] == ["MODE=prod"] and rt["rw_dirs"] == ["/data"], rt
cc = c["certificate"]
assert cc["subject"] == "CN=web,O=Example" and cc["dns_names"] == ["web.example.org"], cc
assert cc["validity_days"] == 7 and cc["key_type"] == "ec-p256" and cc["key_path"], cc
for secret in ("token", "key", "password", "signing_key"):
    assert secret not in c, secret
PY
local_api GET "/v1/apps/$theirs/config"
expect_error 404 not_found "" "another account's app"
theirs_body=$(cat "$OUT")
local_api GET "/v1/apps/99999999/config"
expect_error 404 not_found "" "a missing app"
[ "$(cat "$OUT")" = "$theirs_body" ] || fail "another account's app differs from a missing one"
for bad in 0 01 abc -1 1x 99999999999999999; do
	local_api GET "/v1/apps/$bad/config"
	expect_error 400 invalid_id "" "app id '$bad'"
done
local_api POST "/v1/apps/$app/config" '{}'
expect_status 405 "POST app config"
# Every method, also those the agent never uses, answers in JSON (they
# were evhttp's HTML 501), and a body over 64 KiB gets the JSON 413.
for m in PUT DELETE PATCH OPTIONS; do
	for p in /v1/version /v1/attest /v1/instances "/v1/apps/$app/config"; do
		local_api $m "$p"
		expect_error 405 method_not_allowed "" "$m $p"
	done
done
st=$(curl -sS -I -o /dev/null -w '%{http_code} %{size_download}' "http://127.0.0.1:$APORT/v1/version")
[ "$st" = "405 0" ] || fail "HEAD /v1/version: $st (want 405 without a body)"
head -c 70000 /dev/zero | tr '\0' a >"$T/big"
STATUS=$(curl -sS -o "$OUT" -w '%{http_code}' -H 'Content-Type: application/json' \
	--data-binary @"$T/big" "http://127.0.0.1:$APORT/v1/attest") || fail "curl big attest"
expect_error 413 too_large "65536" "70 kB attest body"
local_api GET "/v1/apps/$app/other"
expect_error 404 not_found "" "unknown app path"
for short in /v1/apps /v1/ap /v1 /; do # shorter than the prefix: not read past
	local_api GET "$short"
	expect_error 404 not_found "" "short path '$short'"
done

# ---- instances ----
new_csr app
"$CCM_BIN/ccm" attest report --sigstruct "$T/good.sig" --key "$T/app.key" -o "$T/r.bin" ||
	fail "attest report"
local_api POST /v1/attest "{\"report\":\"$(base64 -w0 "$T/r.bin")\",\"csr\":$(json_str "$T/app.csr")}"
expect_status 200 "issue"
id=$(jget "$OUT" instance.id)
tok=$(jget "$OUT" instance.token)
[ "${#id}" = 32 ] && [ "${#tok}" = 64 ] && [ "$(jget "$OUT" instance.keepalive_s)" = 1 ] ||
	fail "grant lacks the instance handle: $(cat "$OUT")"
# report STATE [APP] [TOKEN]
report() {
	local_api POST /v1/instances "{\"id\":\"$id\",\"token\":\"${3:-$tok}\",\"app_id\":${2:-$app},\"build_id\":$build,\"state\":\"$1\",\"pid\":42}"
}
# The grant made it RUNNING; no runtime reported, so a heartbeat stops it.
wait_state "$A/nodes/$node" apps.0.state STOPPED

report RUNNING "$app" "$(printf '0%.0s' $(seq 1 64))"
expect_error 403 invalid_token "" "a forged token"
report RUNNING "$theirs"
expect_error 403 invalid_token "" "the handle for another app"
report DANCING
expect_error 400 invalid_field "state" "a bad state"
local_api POST /v1/instances "{\"id\":\"$id\",\"token\":\"$tok\",\"app_id\":$app,\"build_id\":$build,\"state\":\"RUNNING\",\"x\":1}"
expect_status 400 "an unknown field"
local_api DELETE /v1/instances # only GET and POST; the rest is a JSON 405 (was evhttp's 501)
expect_error 405 method_not_allowed "" "DELETE on /v1/instances"

report RUNNING
expect_status 200 "report RUNNING"
wait_state "$A/nodes/$node" apps.0.state RUNNING
wait_state "$A/apps/$app" instances.0.state RUNNING
[ "$(jget "$OUT" instances.0.node_id)" = "$node" ] || fail "app show: node of the instance"
CCM_TOKEN=$ADMIN "$CCM_BIN/ccm" app show "$app" --account "$acc" >"$T/show.txt" || fail "ccm app show"
grep -q '^instances .*"state":"RUNNING"' "$T/show.txt" || fail "ccm app show: $(cat "$T/show.txt")"
local_api GET /v1/instances
[ "$(jget "$OUT" items.0.state)" = RUNNING ] && [ "$(jget "$OUT" items.0.pid)" = 42 ] ||
	fail "agent instance list: $(cat "$OUT")"
# Keepalives hold it RUNNING past the lapse (3 s).
for _ in 1 2 3 4 5 6 7 8; do
	report RUNNING
	sleep 0.5
done
api GET "$A/nodes/$node"
[ "$(jget "$OUT" apps.0.state)" = RUNNING ] || fail "RUNNING lost despite keepalives"

report STOPPED
expect_status 200 "report STOPPED"
wait_state "$A/nodes/$node" apps.0.state STOPPED
wait_state "$A/apps/$app" instances.0.state STOPPED

# A runtime that dies without a word: STOPPED after three missed keepalives.
report RUNNING
wait_state "$A/nodes/$node" apps.0.state RUNNING
sleep 3
for _ in $(seq 1 30); do
	api GET "$A/nodes/$node"
	[ "$(jget "$OUT" apps.0.state)" = STOPPED ] && break
	sleep 0.2
done
[ "$(jget "$OUT" apps.0.state)" = STOPPED ] || fail "keepalive lapse did not stop the instance"
grep -q "keepalive lapsed" "$T/agent.log" || fail "lapse not logged"

# A restarted agent accepts the handles it granted before (instance.key).
[ "$(stat -c %a "$T/agent/instance.key")" = 600 ] || fail "instance.key mode"
agent_stop
agent_start
report RUNNING
expect_status 200 "keepalive after an agent restart"
# It leaves "apps" out for one lapse (3 s), then reports the keepalives.
for _ in $(seq 1 40); do
	report RUNNING
	api GET "$A/nodes/$node"
	[ "$(jget "$OUT" apps.0.state)" = RUNNING ] && break
	sleep 0.2
done
[ "$(jget "$OUT" apps.0.state)" = RUNNING ] || fail "RUNNING after an agent restart: $(cat "$OUT")"

# DESIGN's invocation has no --cacert: the agent then takes CCM_CACERT, and
# without it the system store, which does not trust ccmd's own CA: one
# line naming --cacert, exit 1 with --once (it was a usage error, exit 2).
api POST $A/join-tokens '{"name":"nocacert","uses":2}'
jt2=$(jget "$OUT" token)
P2=$(free_port)
set +e
msg=$(env -u CCM_CACERT "$CCM_BIN/ccm-agent" --manager "https://127.0.0.1:$PORT" --join-token "$jt2" \
	--listen "127.0.0.1:$P2" --data "$T/agent2" --once 2>&1)
rc=$?
set -e
[ "$rc" = 1 ] || fail "no --cacert, no CCM_CACERT: exit $rc, want 1: $msg"
case "$msg" in *"not trusted"*"--cacert"*) ;; *) fail "no --cacert: message: $msg" ;; esac
CCM_CACERT="$DATA/ca.pem" "$CCM_BIN/ccm-agent" --manager "https://127.0.0.1:$PORT" \
	--join-token "$jt2" --listen "127.0.0.1:$P2" --data "$T/agent2" --once >"$T/once.json" \
	2>>"$T/agent.log" || fail "ccm-agent with CCM_CACERT and no --cacert did not enroll"
[ "$(jget "$T/once.json" enrolled)" = true ] || fail "CCM_CACERT enrollment: $(cat "$T/once.json")"
echo ok
