#!/bin/bash
# Node approval: in an account with node_approval on, a newly enrolled node
# is ENROLLING with a node_attestation task; it may heartbeat but an app on
# it gets no certificate (policy rule "node", audited). Approving the task
# makes it ACTIVE and issuance works; denying it deactivates the node (a
# denied agent's heartbeats are refused from then on). The flag is an
# account setting (API and CLI), shown by account show.
. "$(dirname "$0")/lib.sh"

ccmd_start
bootstrap_admin
TOKEN=$ADMIN
acc=$(new_account approving "$TOKEN" '"test_only":true,"node_approval":true')
A=/v1/accounts/$acc
api GET $A
[ "$(jget "$OUT" node_approval)" = true ] || fail "account show lacks node_approval: $(cat "$OUT")"
api POST $A/apps '{"name":"web","isvprodid":1,"isvsvn":1}'
expect_status 201 "app"
app=$(jget "$OUT" id)
build_whitelisted good 1 1
api POST $A/join-tokens '{"name":"two","uses":2}'
jt=$(jget "$OUT" token)

# agent_start NAME: enrolls an agent; sets APORT_<NAME> and NODE_<NAME>.
agent_start() {
	local p v
	p=$(free_port)
	"$CCM_BIN/ccm-agent" --manager "https://127.0.0.1:$PORT" --cacert "$DATA/ca.pem" \
		--join-token "$jt" --data "$T/agent-$1" --listen "127.0.0.1:$p" --name "node-$1" \
		2>>"$T/agent-$1.log" &
	agent_started
	v="$T/v-$1.json"
	for _ in $(seq 1 100); do
		curl -sf "http://127.0.0.1:$p/v1/version" >"$v" 2>/dev/null &&
			[ "$(jget "$v" enrolled)" = true ] && break
		sleep 0.1
	done
	[ "$(jget "$v" enrolled)" = true ] || { cat "$T/agent-$1.log" >&2; fail "agent $1 did not enroll"; }
	printf -v "APORT_$1" '%s' "$p"
	printf -v "NODE_$1" '%s' "$(jget "$v" node_id)"
}
new_csr app
# attest PORT: a report for the good build through that agent; sets STATUS.
attest() {
	"$CCM_BIN/ccm" attest report --sigstruct "$T/good.sig" --key "$T/app.key" -o "$T/r.bin" ||
		fail "attest report"
	STATUS=$(curl -sS -o "$OUT" -w '%{http_code}' -H 'Content-Type: application/json' \
		--data-binary "{\"report\":\"$(base64 -w0 "$T/r.bin")\",\"csr\":$(json_str "$T/app.csr")}" \
		"http://127.0.0.1:$1/v1/attest") || fail "curl agent"
}
# node_task NODE: the id of the node_attestation task about that node.
node_task() {
	api GET "$A/tasks?type=node_attestation"
	"$PY" - "$OUT" "$1" <<'PY'
import json, sys
t = [x for x in json.load(open(sys.argv[1]))["items"] if x["node_id"] == int(sys.argv[2])]
assert len(t) == 1 and t[0]["status"] == "PENDING", t
print(t[0]["id"])
PY
}

agent_start a
api GET "$A/nodes/$NODE_a"
[ "$(jget "$OUT" state)" = ENROLLING ] || fail "a new node is $(jget "$OUT" state), not ENROLLING"
ta=$(node_task "$NODE_a") || fail "no pending node_attestation task for node $NODE_a"
attest "$APORT_a"
expect_error 403 policy_refused "the node is ENROLLING, not ACTIVE" "issuance on an ENROLLING node"
api GET "$A/audit?action=certificate.issue&limit=100"
grep -q "ENROLLING, not ACTIVE" "$OUT" || fail "the refusal is not in the audit log: $(cat "$OUT")"
api POST "$A/tasks/$ta/approve" '{}'
expect_status 200 "approve node"
[ "$(jget "$OUT" status)" = APPROVED ] || fail "task not APPROVED: $(cat "$OUT")"
api GET "$A/nodes/$NODE_a"
[ "$(jget "$OUT" state)" = ACTIVE ] || fail "approved node is $(jget "$OUT" state)"
attest "$APORT_a"
expect_status 200 "issuance once the node is approved"

agent_start b
tb=$(node_task "$NODE_b") || fail "no pending node_attestation task for node $NODE_b"
api POST "$A/tasks/$tb/deny" '{"reason":"unknown machine"}'
expect_status 200 "deny node"
api GET "$A/nodes/$NODE_b"
[ "$(jget "$OUT" state)" = DEACTIVATED ] || fail "denied node is $(jget "$OUT" state)"
attest "$APORT_b"
[ "$STATUS" != 200 ] || fail "a denied node got a certificate"

# The setting through the CLI; bad values are usage errors.
export CCM_TOKEN=$ADMIN
if "$CCM_BIN/ccm" account update "$acc" --node-approval maybe >/dev/null 2>"$T/e"; then
	fail "--node-approval maybe accepted"
fi
grep -q "expected on or off" "$T/e" || fail "bad --node-approval: $(cat "$T/e")"
"$CCM_BIN/ccm" account show "$acc" --json >"$T/acc.json" || fail "ccm account show"
[ "$(jget "$T/acc.json" node_approval)" = true ] || fail "CLI account show: $(cat "$T/acc.json")"
api PATCH $A '{"node_approval":false}'
expect_status 200 "turn node approval off"
[ "$(jget "$OUT" node_approval)" = false ] || fail "node_approval still on"
api PATCH $A '{"node_approval":"yes"}'
expect_error 400 wrong_type "field 'node_approval' must be a boolean" "node_approval must be a boolean"
echo "ok: ENROLLING until approved; approved -> ACTIVE and issued; denied -> DEACTIVATED"
