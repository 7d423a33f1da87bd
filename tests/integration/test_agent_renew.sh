#!/bin/bash
# Node certificate renewal while runtimes attest (src/ccm-agent/attest.c,
# mgr.c): the agent renews at every heartbeat (1-day certificates,
# --renew-before longer than that, 1 s heartbeats) while `ccm bench issue`
# keeps 16 attest requests in flight. Each attest round signs its quotes
# with the node certificate and sends them over an mTLS connection that
# must carry the same certificate, or ccmd refuses the whole round ("signed
# for another node certificate"): rounds and renewals exclude each other.
# Checked: several renewals happened during the run, and no request failed.
# This agent asks for its batch answers as one JSON document
# (--batch-answers json: parsed and split by the agent; it_agent_batch
# covers the default, frames).
. "$(dirname "$0")/lib.sh"

ccmd_start --node-interval 1 --node-cert-days 1
bootstrap_admin
TOKEN=$ADMIN
acc=$(new_account renew "$TOKEN" '"test_only":true')
A=/v1/accounts/$acc
api POST "$A/apps" '{"name":"web","isvprodid":1,"isvsvn":1}'
expect_status 201 "app"
app=$(jget "$OUT" id)
build_whitelisted good 1 1
api POST "$A/join-tokens" '{"name":"agent"}'
jt=$(jget "$OUT" token)
APORT=$(free_port)
agent_run "$jt" --renew-before 90000 --batch-answers json

renewals() { grep -c '"path":"/v1/node/renew","status":200' "$T/ccmd.log" || true; }
before=$(renewals)
"$CCM_BIN/ccm" bench issue --agent "http://127.0.0.1:$APORT" --sigstruct "$T/good.sig" \
	--clients 16 --seconds 5 --json >"$T/bench.json" || fail "ccm bench issue failed"
after=$(renewals)
[ $((after - before)) -ge 2 ] || fail "only $((after - before)) renewals during the run"
$PY - "$T/bench.json" <<'PYEOF' || fail "requests failed while the agent renewed"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["errors"] == 0 and r["issues_per_s"] > 0, r
PYEOF
batches=$(grep -c '"path":"/v1/node/issue/batch","status":200' "$T/ccmd.log" || true)
[ "$batches" -ge 1 ] || fail "no batch answered in JSON reached the agent"
echo "ok ($batches batches in JSON, $((after - before)) renewals, $(jget "$T/bench.json" issues_per_s) issues/s, 0 errors)"
