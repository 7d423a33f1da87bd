#!/bin/bash
# Bad input table for the part 2 routes (apps, builds, tasks, join tokens,
# enrollment, node channel, certificates): each request is refused with
# the right status, error code and message naming the field, and the
# store (all but the audit log) is unchanged afterwards.
. "$(dirname "$0")/lib.sh"

ccmd_start
bootstrap_admin
TOKEN=$ADMIN
acc=$(new_account objs "$ADMIN" '"test_only":true')
api POST "/v1/accounts/$acc/apps" '{"name":"taken","isvprodid":3}'
expect_status 201 "app"
app=$(jget "$OUT" id)
sig=$(new_sigstruct dup 3 0)
api POST "/v1/accounts/$acc/builds" "{\"app_id\":$app,\"sigstruct\":\"$sig\"}"
expect_status 201 "build"
task=$(jget "$OUT" task_id)
api POST "/v1/accounts/$acc/join-tokens" '{"name":"once","uses":1}'
jt_once=$(jget "$OUT" token)
api POST "/v1/accounts/$acc/join-tokens" '{"name":"short","expires_in":1}'
jt_short=$(jget "$OUT" token)
api POST "/v1/accounts/$acc/join-tokens" '{"name":"gone"}'
jt_gone=$(jget "$OUT" token)
api DELETE "/v1/accounts/$acc/join-tokens/$(jget "$OUT" id)"
expect_status 200 "revoke join token"
new_csr good
new_csr weak -newkey rsa:1024
printf -- '-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n' >"$T/junk.csr"
enroll() { echo "{\"join_token\":\"$1\",\"name\":\"${3:-n}\",\"csr\":$(json_str "$T/$2.csr")}"; }
api POST /v1/nodes/enroll "$(enroll "$jt_once" good)" ""
expect_status 201 "enroll once"
jget "$OUT" certificate >"$T/good.crt"
wrong_prod=$(new_sigstruct wp 4 0)
debug_sig=$(new_sigstruct dbg 3 0 --debug)
sleep 1.1 # the short join token expires
before=$(db_dump2)

n=0
row() {
	n=$((n + 1))
	api "$1" "$2" "$3" "${7-$TOKEN}"
	expect_error "$4" "$5" "$6" "row $n: $1 $2 ${3:0:50}"
}
A=/v1/accounts/$acc
row POST $A/apps '{"name":"taken","isvprodid":3}' 409 conflict "app name: already exists"
row POST $A/apps '{"name":"x"}' 400 missing_field "isvprodid"
row POST $A/apps '{"name":"x","isvprodid":65536}' 400 out_of_range "isvprodid"
row POST $A/apps '{"name":"x","isvprodid":1,"isvsvn":-1}' 400 out_of_range "isvsvn"
row POST $A/apps '{"name":"a b","isvprodid":1}' 400 invalid_field "name:"
row POST $A/apps '{"name":"x","isvprodid":1,"memory":"12Q"}' 400 invalid_field "memory:"
row POST $A/apps '{"name":"x","isvprodid":1,"memory":"1K"}' 400 invalid_field "memory:"
row POST $A/apps '{"name":"x","isvprodid":1,"threads":0}' 400 out_of_range "threads"
row POST $A/apps '{"name":"x","isvprodid":1,"threads":1025}' 400 out_of_range "threads"
row POST $A/apps '{"name":"x","isvprodid":1,"labels":["novalue"]}' 400 invalid_field "labels[0]"
row POST $A/apps '{"name":"x","isvprodid":1,"labels":["-k=v"]}' 400 invalid_field "labels[0]"
row POST $A/apps '{"name":"x","isvprodid":1,"labels":["k=v w"]}' 400 invalid_field "labels[0]"
row POST $A/apps '{"name":"x","isvprodid":1,"labels":["k=v","k=v"]}' 400 invalid_field "twice"
row POST $A/apps '{"name":"x","isvprodid":1,"allowed_domains":["-bad.example"]}' 400 invalid_field "allowed_domains[0]"
row POST $A/apps '{"name":"x","isvprodid":1,"allowed_domains":["a..b"]}' 400 invalid_field "allowed_domains[0]"
row POST $A/apps '{"name":"x","isvprodid":1,"allowed_domains":["10.0.0.1"]}' 400 invalid_field "allowed_domains[0]"
row POST $A/apps '{"name":"x","isvprodid":1,"allowed_domains":["ok.example","bad_name.example"]}' 400 invalid_field "allowed_domains[1]"
row POST $A/apps '{"name":"x","isvprodid":1,"input_image":"UPPER/case"}' 400 invalid_field "input_image: not an OCI reference"
row POST $A/apps '{"name":"x","isvprodid":1,"input_image":"reg:5000/a:b:c"}' 400 invalid_field "input_image"
row POST $A/apps '{"name":"x","isvprodid":1,"output_image":"a@sha256:123"}' 400 invalid_field "output_image"
row POST $A/apps '{"name":"x","isvprodid":1,"cert_key_type":"dsa"}' 400 invalid_field "cert_key_type"
row POST $A/apps '{"name":"x","isvprodid":1,"cert_key_path":"relative/key.pem"}' 400 invalid_field "cert_key_path"
row POST $A/apps '{"name":"x","isvprodid":1,"cert_cert_path":"/a/../etc/passwd"}' 400 invalid_field "cert_cert_path"
row POST $A/apps '{"name":"x","isvprodid":1,"cert_subject":"XX=y"}' 400 invalid_field "cert_subject"
row POST $A/apps '{"name":"x","isvprodid":1,"cert_validity_days":0}' 400 out_of_range "cert_validity_days"
row POST $A/apps '{"name":"x","isvprodid":1,"env":["=x"]}' 400 invalid_field "env[0]"
row POST $A/apps '{"name":"x","isvprodid":1,"rw_dirs":["tmp"]}' 400 invalid_field "rw_dirs[0]"
row POST $A/apps '{"name":"x","isvprodid":1,"isvsvn":1,"min_isvsvn":2}' 400 invalid_field "min_isvsvn"
row GET "$A/apps?label=bad" "" 400 bad_parameter "label"
row GET $A/apps/999 "" 404 not_found "app"
row PATCH $A/apps/$app '{"labels":["="]}' 400 invalid_field "labels[0]"
row POST $A/builds "{\"app_id\":$app,\"sigstruct\":\"$sig\"}" 409 duplicate_mrenclave "already registered"
row POST $A/builds "{\"app_id\":$app,\"sigstruct\":\"$wrong_prod\"}" 400 isvprodid_mismatch "isvprodid: the SIGSTRUCT says 4"
row POST $A/builds "{\"app_id\":$app,\"sigstruct\":\"$debug_sig\"}" 400 debug_not_allowed "allow_debug"
row POST $A/builds "{\"app_id\":$app,\"sigstruct\":\"AAAA\"}" 400 invalid_sigstruct "sigstruct"
row POST $A/builds "{\"app_id\":$app,\"sigstruct\":\"not base64!\"}" 400 invalid_sigstruct "sigstruct"
row POST $A/builds "{\"app_id\":$app}" 400 invalid_request "exactly one"
row POST $A/builds '{"app_id":999,"image_name":"a/b"}' 404 not_found "app_id"
row POST $A/builds "{\"app_id\":$app,\"image_name\":\"a\",\"image_digest\":\"md5:1\"}" 400 invalid_field "image_digest"
row POST $A/builds/999/revoke '{}' 404 not_found "build"
row POST $A/tasks/$task/deny '{"reason":""}' 400 out_of_range "reason"
row POST $A/tasks/999/approve '{}' 404 not_found "task"
row GET "$A/tasks?type=other" "" 400 bad_parameter "type"
row POST $A/join-tokens '{"name":"once"}' 409 conflict "join token name"
row POST $A/join-tokens '{"name":"x","uses":0}' 400 out_of_range "uses"
row POST $A/join-tokens '{"name":"x","labels":["a"]}' 400 invalid_field "labels[0]"
row DELETE $A/join-tokens/999 "" 404 not_found "join token"
row POST /v1/nodes/enroll "$(enroll "$jt_once" good)" 401 invalid_join_token "used up" ""
row POST /v1/nodes/enroll "$(enroll "$jt_short" good)" 401 invalid_join_token "expired" ""
row POST /v1/nodes/enroll "$(enroll "$jt_gone" good)" 401 invalid_join_token "revoked" ""
row POST /v1/nodes/enroll "$(enroll ccmjoin_0000 good)" 401 invalid_join_token "unknown" ""
row POST /v1/nodes/enroll "$(enroll "$jt_short" junk)" 401 invalid_join_token "expired" ""
[ "$(db_dump2)" = "$before" ] || { diff <(echo "$before") <(db_dump2) >&2; fail "the store changed"; }
api POST $A/join-tokens '{"name":"fresh","uses":5}'
jt=$(jget "$OUT" token)
before=$(db_dump2)
row POST /v1/nodes/enroll "$(enroll "$jt" junk)" 400 invalid_csr "csr:" ""
row POST /v1/nodes/enroll "$(enroll "$jt" weak)" 400 invalid_csr "csr:" ""
row POST /v1/nodes/enroll "$(enroll "$jt" good "a/b")" 400 invalid_field "name:" ""
row POST /v1/nodes/enroll '{"join_token":"x","name":"n"}' 400 missing_field "csr" ""
row POST /v1/nodes/enroll "{\"join_token\":\"$jt\",\"name\":\"n\",\"csr\":$(json_str "$T/good.csr"),\"evidence\":{\"type\":\"dcap\",\"quote\":\"!!\"}}" 400 invalid_field "evidence.quote" ""
row POST /v1/nodes/enroll "{\"join_token\":\"$jt\",\"name\":\"n\",\"csr\":$(json_str "$T/good.csr"),\"evidence\":{\"type\":\"dcap\",\"quote\":\"AAAA\"}}" 400 invalid_field "evidence.quote" ""
row POST /v1/nodes/enroll "{\"join_token\":\"$jt\",\"name\":\"n\",\"csr\":$(json_str "$T/good.csr"),\"evidence\":{\"type\":\"dcap\"}}" 400 out_of_range "evidence" ""
row PATCH $A/nodes/1 '{"labels":["x"]}' 400 invalid_field "labels[0]"
row POST $A/nodes/999/deactivate '{}' 404 not_found "node"
row POST $A/certificates/999/revoke '{}' 404 not_found "certificate"
row GET "$A/certificates?app=x" "" 400 bad_parameter "app must be an app id"
row GET "$A/certificates?app=0" "" 400 bad_parameter "app must be an app id"
row GET "$A/builds?app=-1" "" 400 bad_parameter "app must be an app id"
row GET "$A/builds?app=0" "" 400 bad_parameter "app must be an app id"
# The node channel.
nrow() {
	n=$((n + 1))
	node_api POST "$1" "$2" "$T/good.crt" "$T/good.key"
	expect_error "$3" "$4" "$5" "row $n: node $1 ${2:0:50}"
}
nrow /v1/node/status '{"apps":[{"app_id":"x"}]}' 400 invalid_field "apps[0]"
nrow /v1/node/status '{"apps":[{"app_id":1,"state":"DANCING"}]}' 400 invalid_field "apps[0]"
nrow /v1/node/status '{"load":"high"}' 400 wrong_type "load"
nrow /v1/node/renew "{\"csr\":$(json_str "$T/weak.csr")}" 400 invalid_csr "csr"
nrow /v1/node/issue "{\"csr\":$(json_str "$T/junk.csr"),\"evidence\":{\"type\":\"simulated\",\"quote\":\"AAAA\"}}" 400 invalid_csr "csr"
nrow /v1/node/issue "{\"csr\":$(json_str "$T/good.csr"),\"evidence\":{\"type\":\"tpm\",\"quote\":\"AAAA\"}}" 400 invalid_field "evidence"
nrow /v1/node/issue "{\"csr\":$(json_str "$T/good.csr"),\"evidence\":{\"type\":\"simulated\",\"quote\":\"AAAA\"}}" 403 policy_refused "evidence: simulated quote"
# Batches: the envelope is checked as a whole; each item is answered (in
# order) exactly as /v1/node/issue would answer it, and refused items
# store nothing but their audit entries.
junk_item="{\"csr\":$(json_str "$T/junk.csr"),\"evidence\":{\"type\":\"simulated\",\"quote\":\"AAAA\"}}"
tpm_item="{\"csr\":$(json_str "$T/good.csr"),\"evidence\":{\"type\":\"tpm\",\"quote\":\"AAAA\"}}"
bad_quote="{\"csr\":$(json_str "$T/good.csr"),\"evidence\":{\"type\":\"simulated\",\"quote\":\"AAAA\"}}"
nrow /v1/node/issue/batch '{"requests":[]}' 400 out_of_range "requests"
nrow /v1/node/issue/batch '{"requests":{}}' 400 wrong_type "requests"
nrow /v1/node/issue/batch '{}' 400 missing_field "requests"
$PY -c 'import json,sys; print(json.dumps({"requests":[{"csr":"x"*(1<<20)}]}))' >"$T/big.json"
nrow /v1/node/issue/batch "@$T/big.json" 413 too_large "1048576-byte limit"
many=$(printf '1,%.0s' $(seq 1 65))
nrow /v1/node/issue/batch "{\"requests\":[${many%,}]}" 400 out_of_range "requests"
audit_before=$(sqlite3 "$DATA/ccmd.db" "SELECT count(*) FROM audit WHERE action='certificate.issue'")
node_api POST /v1/node/issue/batch "{\"requests\":[$junk_item,$tpm_item,7,{\"csr\":\"x\"},$bad_quote]}" \
	"$T/good.crt" "$T/good.key"
expect_status 200 "batch of five bad items"
$PY - "$OUT" <<'PYEOF' || fail "batch results"
import json, sys
r = json.load(open(sys.argv[1]))["results"]
want = [(400, "invalid_csr", "csr"), (400, "invalid_field", "evidence"),
        (400, "not_an_object", ""), (400, "missing_field", "evidence"),
        (403, "policy_refused", "evidence: simulated quote")]
assert len(r) == len(want), r
for got, (st, code, msg) in zip(r, want):
    e = got["body"]["error"]
    assert got["status"] == st and e["code"] == code and msg in e["message"], (got, st, code)
PYEOF
# The same batch answered as the agent asks for it: frames (lib/api/apiframe.h),
# "status length app_id build_id\n" + the same body + "\n" each, nothing after.
NODE_ACCEPT=application/vnd.ccm.frames node_api POST /v1/node/issue/batch \
	"{\"requests\":[$junk_item,$tpm_item,7,{\"csr\":\"x\"},$bad_quote]}" "$T/good.crt" "$T/good.key"
expect_status 200 "batch of five bad items, framed"
$PY - "$OUT" <<'PYEOF' || fail "batch results as frames"
import json, re, sys
b = open(sys.argv[1], "rb").read()
want = [(400, "invalid_csr"), (400, "invalid_field"), (400, "not_an_object"),
        (400, "missing_field"), (403, "policy_refused")]
off = 0
for st, code in want:
    m = re.compile(rb"(\d{3}) (\d+) (\d+) (\d+)\n").match(b, off)
    assert m, b[off:off + 80]
    n = int(m.group(2))
    body = json.loads(b[m.end():m.end() + n])
    assert b[m.end() + n:m.end() + n + 1] == b"\n"
    assert int(m.group(1)) == st and body["error"]["code"] == code, (m.group(0), body)
    assert m.group(3) == b"0" and m.group(4) == b"0", "nothing granted: app and build 0"
    off = m.end() + n + 1
assert off == len(b), "nothing after the last frame"
PYEOF
audit_after=$(sqlite3 "$DATA/ccmd.db" "SELECT count(*) FROM audit WHERE action='certificate.issue' AND result='refused'")
[ "$audit_after" -ge $((audit_before + 10)) ] || fail "batches: one audit entry per refused item ($audit_before -> $audit_after)"
# A certificate from another CA is no node certificate.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/self.key" \
	-subj /CN=self -addext "subjectAltName=URI:spiffe://ccm/account/$acc/node/1" \
	-out "$T/self.crt" -days 1 2>/dev/null
node_api POST /v1/node/status '{}' "$T/self.crt" "$T/self.key"
expect_error 403 forbidden "not a valid ccm node certificate" "self-signed node certificate"
[ "$(db_dump2)" = "$before" ] || { diff <(echo "$before") <(db_dump2) >&2; fail "the store changed"; }
echo "ok ($n rows)"
