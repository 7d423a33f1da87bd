#!/bin/bash
# The seed flow up to enrollment against the real ccmd: a test-only
# account, an application, a build registered from a SIGSTRUCT made by
# `ccm sgx sign`, its whitelist task approved, a join token, enrollment
# with an `openssl req` CSR, heartbeats over mTLS with curl --cert,
# UNREACHABLE after missed heartbeats and back, renewal, deactivation,
# then refusal and the CRL listing the serial.
. "$(dirname "$0")/lib.sh"

ccmd_start --node-interval 1 --node-missed 2
bootstrap_admin
new_user m@example.org >/dev/null
new_user w@example.org >/dev/null
TOKEN=$(login m@example.org pw-m@example.org)
tok_w=$(login w@example.org pw-w@example.org)
acc=$(new_account seed "$TOKEN" '"test_only":true')
api POST "/v1/accounts/$acc/members" '{"email":"w@example.org","role":"WRITER"}'
expect_status 201 "add writer"

# Application: memory rounds up to a power of two, domains need approval.
api POST "/v1/accounts/$acc/apps" '{"name":"flask","isvprodid":1,"isvsvn":2,"min_isvsvn":1,
 "memory":"300M","threads":4,"labels":["zone=a"],"allowed_domains":["web.example.org"],
 "input_image":"registry:5000/python-flask:latest","output_image":"registry:5000/flask-sgx:1",
 "cert_subject":"CN=web,O=Example","env":["MODE=prod"],"rw_dirs":["/tmp"]}'
expect_status 201 "create app"
app=$(jget "$OUT" id)
[ "$(jget "$OUT" memory.enclave_size)" = 536870912 ] || fail "300M does not round to 512M"
case "$(jget "$OUT" memory.note)" in *"512 MiB"*) ;; *) fail "no rounding note" ;; esac
[ "$(jget "$OUT" whitelisted_domains)" = "[]" ] || fail "domains whitelisted before approval"
dtask=$(jget "$OUT" domain_task_id)
[ -n "$dtask" ] && [ "$dtask" != null ] || fail "no domain_whitelist task"
[ "$(jget "$OUT" certificate.key_type)" = ec-p256 ] || fail "default key type"
api PATCH "/v1/accounts/$acc/apps/$app" '{"allowed_domains":["other.example.org"]}'
expect_error 409 domain_task_pending "" "domain edit while a task is pending"
api GET "/v1/accounts/$acc/apps?label=zone=a"
[ "$(jget "$OUT" items.0.id)" = "$app" ] || fail "label filter"
api GET "/v1/accounts/$acc/apps?label=zone=b"
[ "$(jget "$OUT" items)" = "[]" ] || fail "label filter matched zone=b"

# Build from a SIGSTRUCT; its whitelist task; approval applies it.
sig=$(new_sigstruct b1 1 2)
api POST "/v1/accounts/$acc/builds" "{\"app_id\":$app,\"sigstruct\":\"$sig\"}"
expect_status 201 "register build"
build=$(jget "$OUT" id)
btask=$(jget "$OUT" task_id)
mre=$("$CCM_BIN/ccm" sgx sigstruct --json "$T/b1.sig" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["enclavehash"])')
[ "$(jget "$OUT" mrenclave)" = "$mre" ] || fail "mrenclave not read from the SIGSTRUCT"
[ "$(jget "$OUT" status)" = PENDING ] || fail "new build not PENDING"
api GET "/v1/accounts/$acc/tasks?status=PENDING&type=build_whitelist"
[ "$(jget "$OUT" items.0.id)" = "$btask" ] || fail "task list filter"
api POST "/v1/accounts/$acc/tasks/$btask/approve" '{}' "$tok_w"
expect_status 200 "approve build"
[ "$(jget "$OUT" status)" = APPROVED ] || fail "quorum 1 approval did not close the task"
api GET "/v1/accounts/$acc/builds/$build"
[ "$(jget "$OUT" status)" = WHITELISTED ] || fail "build not whitelisted"
api POST "/v1/accounts/$acc/tasks/$btask/approve" '{}'
expect_error 409 task_closed
api POST "/v1/accounts/$acc/tasks/$dtask/approve" '{}'
expect_status 200 "approve domains"
api GET "/v1/accounts/$acc/apps/$app"
[ "$(jget "$OUT" whitelisted_domains.0)" = web.example.org ] || fail "domain not whitelisted"

# Join token, shown once; enrollment with an openssl CSR.
api POST "/v1/accounts/$acc/join-tokens" '{"name":"rack1","uses":1,"labels":["zone=a","gpu=no"]}'
expect_status 201 "join token"
jt=$(jget "$OUT" token)
jtid=$(jget "$OUT" id)
api GET "/v1/accounts/$acc/join-tokens"
grep -q "$jt" "$OUT" && fail "join token listed in clear"
sqlite3 "$DATA/ccmd.db" "SELECT hex(token_hash) FROM join_tokens" | grep -qi "${jt#ccmjoin_}" &&
	fail "token stored in clear"
new_csr node1
body="{\"join_token\":\"$jt\",\"name\":\"node1\",\"csr\":$(json_str "$T/node1.csr"),\"sys_info\":{\"cpu\":\"x\"}}"
api POST /v1/nodes/enroll "$body" ""
expect_status 201 "enroll"
node=$(jget "$OUT" node.id)
[ "$(jget "$OUT" node.test_only)" = true ] || fail "enroll answer lacks test_only"
[ "$(jget "$OUT" node.attestation)" = "not attested (test-only)" ] || fail "attestation note"
[ "$(jget "$OUT" interval_s)" = 1 ] || fail "interval_s"
jget "$OUT" certificate >"$T/node1.crt"
jget "$OUT" ca_chain >"$T/chain.pem"
openssl verify -CAfile "$T/chain.pem" "$T/node1.crt" >/dev/null || fail "node cert does not chain"
openssl x509 -in "$T/node1.crt" -noout -ext subjectAltName | grep -q "spiffe://ccm/account/$acc/node/$node" ||
	fail "node URI SAN"
api POST /v1/nodes/enroll "$body" ""
expect_error 401 invalid_join_token "used up"

# Heartbeats over mTLS.
node_api POST /v1/node/status '{"load":[0.5,0.2,0.1],"apps":[{"app_id":'"$app"',"state":"RUNNING"}]}' \
	"$T/node1.crt" "$T/node1.key"
expect_status 200 "heartbeat"
[ "$(jget "$OUT" interval_s)" = 1 ] || fail "heartbeat interval"
[ "$(jget "$OUT" renew_before_s)" -ge 60 ] || fail "renew_before_s"
node_api POST /v1/node/status '{}'
expect_error 401 unauthorized "" "heartbeat without a certificate"
api GET "/v1/accounts/$acc/nodes/$node"
[ "$(jget "$OUT" apps.0.state)" = RUNNING ] || fail "instance not RUNNING"
[ "$(jget "$OUT" labels)" = '["zone=a", "gpu=no"]' ] || fail "labels from the token: $(jget "$OUT" labels)"
# Missed heartbeats: UNREACHABLE, then ACTIVE again.
for _ in $(seq 1 50); do
	api GET "/v1/accounts/$acc/nodes/$node"
	[ "$(jget "$OUT" state)" = UNREACHABLE ] && break
	sleep 0.2
done
[ "$(jget "$OUT" state)" = UNREACHABLE ] || fail "node never UNREACHABLE"
node_api POST /v1/node/status '{"apps":[]}' "$T/node1.crt" "$T/node1.key"
expect_status 200 "heartbeat after unreachable"
api GET "/v1/accounts/$acc/nodes/$node"
[ "$(jget "$OUT" state)" = ACTIVE ] || fail "node not ACTIVE again"
[ "$(jget "$OUT" apps.0.state)" = STOPPED ] || fail "instance not STOPPED"
# Labels editable by a WRITER.
api PATCH "/v1/accounts/$acc/nodes/$node" '{"labels":["zone=b"]}' "$tok_w"
expect_status 200 "relabel"
# Renewal with the same key; another key is refused.
node_api POST /v1/node/renew "{\"csr\":$(json_str "$T/node1.csr")}" "$T/node1.crt" "$T/node1.key"
expect_status 200 "renew"
jget "$OUT" certificate >"$T/node1b.crt"
new_csr other
node_api POST /v1/node/renew "{\"csr\":$(json_str "$T/other.csr")}" "$T/node1.crt" "$T/node1.key"
expect_error 400 key_mismatch

# Deactivation: refused from then on, serials on the CRL.
serial=$(openssl x509 -in "$T/node1.crt" -noout -serial | cut -d= -f2)
serial2=$(openssl x509 -in "$T/node1b.crt" -noout -serial | cut -d= -f2)
api POST "/v1/accounts/$acc/nodes/$node/deactivate" '{"reason":"retired"}' "$tok_w"
expect_error 403 forbidden "" "writer deactivates"
api POST "/v1/accounts/$acc/nodes/$node/deactivate" '{"reason":"retired"}'
expect_status 200 "deactivate"
node_api POST /v1/node/status '{}' "$T/node1.crt" "$T/node1.key"
expect_error 403 node_deactivated
node_api POST /v1/node/status '{}' "$T/node1b.crt" "$T/node1.key"
expect_error 403 node_deactivated
api POST "/v1/accounts/$acc/nodes/$node/deactivate" '{}'
expect_error 409 already_deactivated
curl -sf --cacert "$DATA/ca.pem" -H "Authorization: Bearer $TOKEN" \
	"$URL/v1/accounts/$acc/crl.pem" >"$T/crl.pem" || fail "CRL"
openssl crl -in "$T/crl.pem" -noout -text >"$T/crl.txt" || fail "CRL does not parse"
grep -qi "Serial Number: *$serial" "$T/crl.txt" || fail "CRL lacks $serial"
grep -qi "Serial Number: *$serial2" "$T/crl.txt" || fail "CRL lacks $serial2"
openssl crl -in "$T/crl.pem" -noout -CAfile "$T/chain.pem" 2>&1 | grep -q "verify OK" ||
	fail "CRL signature"
# Build revocation.
api POST "/v1/accounts/$acc/builds/$build/revoke" '{"reason":"cve"}'
expect_status 200 "revoke build"
[ "$(jget "$OUT" revoked)" = true ] || fail "build not revoked"
api POST "/v1/accounts/$acc/builds/$build/revoke" '{}'
expect_error 409 not_whitelisted
# The audit trail.
api GET "/v1/accounts/$acc/audit?limit=1000"
for a in app.create build.create task.approve join_token.create node.enroll node.unreachable \
	node.renew node.deactivate build.revoke; do
	grep -q "\"$a\"" "$OUT" || fail "no audit entry $a"
done
api GET "/v1/accounts/$acc/audit?action=node.status&result=ok"
[ "$(jget "$OUT" items)" = "[]" ] || fail "successful heartbeats audited"
api GET "/v1/accounts/$acc/audit?action=node.status&result=refused"
grep -q "node_deactivated" "$OUT" || fail "refused heartbeat not audited"
# Deleting an app with builds is refused; the account is not empty.
api DELETE "/v1/accounts/$acc/apps/$app"
expect_error 409 conflict
echo ok
