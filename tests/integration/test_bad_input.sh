#!/bin/bash
# shellcheck disable=SC2034,SC2154 # variables shared with lib.sh or made by eval
# Bad input table: each request is refused with the right status, error
# code and message, and the store (all but the audit log, which records
# the refusals) is unchanged afterwards.
. "$(dirname "$0")/lib.sh"

ccmd_start
bootstrap_admin
TOKEN=$ADMIN # read by api() in lib.sh
acc=$(new_account taken "$ADMIN")
before=$(db_dump)

n=0
# row METHOD PATH BODY STATUS CODE MESSAGE-SUBSTRING
row() {
	n=$((n + 1))
	api "$1" "$2" "$3"
	expect_error "$4" "$5" "$6" "row $n: $1 $2 ${3:0:40}"
}
long() { head -c "$1" /dev/zero | tr '\0' "${2:-a}"; }

row POST /v1/accounts '{"name":' 400 invalid_json "malformed JSON"
row POST /v1/accounts '{"name":"a",}' 400 invalid_json "malformed JSON"
row POST /v1/accounts '{"name":"a","name":"b"}' 400 invalid_json "duplicate"
row POST /v1/accounts '{"name":"a\u0000b"}' 400 invalid_json "malformed JSON"
row POST /v1/accounts "$(printf '{"name":"\xff\xfe"}')" 400 invalid_json "malformed JSON"
row POST /v1/accounts '[{"name":"x"}]' 400 not_an_object "JSON object"
row POST /v1/accounts '"x"' 400 invalid_json "malformed JSON"
row POST /v1/accounts '{"name":5}' 400 wrong_type "field 'name' must be a string"
row POST /v1/accounts '{"name":"x","test_only":"yes"}' 400 wrong_type "field 'test_only' must be a boolean"
row POST /v1/accounts '{"name":"x","approval_quorum":1.5}' 400 wrong_type "must be an integer"
row POST /v1/accounts '{"name":"x","accepted_tcb_statuses":"UpToDate"}' 400 wrong_type "array of strings"
row POST /v1/accounts '{"name":"x","accepted_tcb_statuses":[1]}' 400 wrong_type "item 0"
row POST /v1/accounts '{}' 400 missing_field "missing field 'name'"
row POST /v1/accounts '' 400 missing_field "missing field 'name'"
row POST /v1/accounts '{"name":"x","colour":"red"}' 400 unknown_field "unknown field 'colour'"
row POST /v1/accounts "{\"name\":\"$(long 65)\"}" 400 out_of_range "field 'name' must be 1 to 64 bytes"
row POST /v1/accounts '{"name":""}' 400 out_of_range "field 'name'"
row POST /v1/accounts "{\"name\":\"x\",\"description\":\"$(long 1025)\"}" 400 out_of_range "'description'"
row POST /v1/accounts "{\"name\":\"x\",\"description\":\"$(long 5000)\"}" 413 too_long "longer than 4096"
row POST /v1/accounts '{"name":"x","approval_quorum":0}' 400 out_of_range "'approval_quorum' must be 1 to 16"
row POST /v1/accounts '{"name":"x","accepted_tcb_statuses":["Fine"]}' 400 invalid_field "unknown TCB status 'Fine'"
row POST /v1/accounts '{"name":"x","accepted_tcb_statuses":["UpToDate","UpToDate"]}' 400 invalid_field "twice"
row POST /v1/accounts '{"name":"../etc"}' 400 invalid_field "field 'name' may hold"
row POST /v1/accounts '{"name":"a","x":[[[[[[[[[[1]]]]]]]]]]}' 400 too_deep "deeper than 8"
row POST /v1/accounts '{"name":"taken"}' 409 conflict "account name: already exists"
row PATCH "/v1/accounts/$acc" '{"approval_quorum":"2"}' 400 wrong_type "'approval_quorum' must be an integer"
row POST "/v1/accounts/$acc/members" '{"email":"a@b.c","role":"OWNER"}' 400 invalid_field "READER, WRITER or MANAGER"
row POST "/v1/accounts/$acc/members" '{"email":"nobody","role":"READER"}' 400 invalid_field "not an e-mail"
row POST "/v1/accounts/$acc/tokens" '{"name":"t","role":"READER","expires_in":0}' 400 out_of_range "expires_in"
row POST /v1/users '{"email":"weak@example.org","password":"aaaaaaaa"}' 400 weak_password "not all the same"
row POST /v1/users '{"email":"a b@example.org"}' 400 invalid_field "not an e-mail address"
row POST /v1/users '{"email":"a@b@example.org"}' 400 invalid_field "not an e-mail address"
row POST /v1/users '{"email":"ADMIN@localhost"}' 409 conflict "exists"
row GET "/v1/accounts?limit=0" "" 400 bad_pagination "limit must be an integer from 1 to 1000"
row GET "/v1/accounts?limit=1001" "" 400 bad_pagination "1 to 1000"
row GET "/v1/accounts?limit=ten" "" 400 bad_pagination "limit"
row GET "/v1/accounts?offset=-1" "" 400 bad_pagination "offset"
row GET "/v1/accounts?colour=red" "" 400 unknown_parameter "unknown query parameter 'colour'"
row GET "/v1/accounts/$acc" '{"x":1}' 400 unexpected_body "takes no body"
row PATCH /v1/accounts '{}' 405 method_not_allowed "not allowed"
row GET /v1/nothing "" 404 not_found "no such route"
row GET "/v1/accounts/01" "" 404 not_found "no such route"
# Methods the API does not use answer in the JSON format too (they were
# evhttp's HTML 501), with the Allow header of the path.
row PUT /v1/accounts '{}' 405 method_not_allowed "allowed: GET, POST"
row OPTIONS "/v1/accounts/$acc" "" 405 method_not_allowed "allowed: GET, PATCH, DELETE"
row TRACE /v1/sys/version "" 405 method_not_allowed "allowed: GET"
row PUT /v1/nothing '{}' 404 not_found "no such route"
hdr=$(curl -sS -o /dev/null -D - --cacert "$DATA/ca.pem" -X PUT "$URL/v1/accounts")
case "$hdr" in *"Allow: GET, POST"*) ;; *) fail "405 without Allow header: $hdr" ;; esac
# A reply to HEAD has no body (evhttp would send one).
raw=$(printf 'HEAD /v1/sys/version HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' |
	timeout 10 openssl s_client -quiet -connect "127.0.0.1:$PORT" 2>/dev/null | tr -d '\r')
case "$raw" in "HTTP/1.1 405"*"Allow: GET"*) ;; *) fail "HEAD: $raw" ;; esac
[ -z "$(printf '%s\n' "$raw" | awk 'b {print} /^$/ {b = 1}')" ] || fail "HEAD reply has a body: $raw"

# Oversized bodies: over the route's limit (64 KiB) and over the default (1 MiB).
long 70000 x >"$T/big"
printf '{"name":"%s"}' "$(cat "$T/big")" >"$T/big.json"
STATUS=$(curl -sS -o "$OUT" -w '%{http_code}' --cacert "$DATA/ca.pem" -H "Authorization: Bearer $ADMIN" \
	--data-binary @"$T/big.json" "$URL/v1/accounts")
expect_error 413 too_large "over the 65536-byte limit" "70 kB body"
head -c 1500000 /dev/zero >"$T/huge"
STATUS=$(curl -sS -o "$OUT" -w '%{http_code}' --cacert "$DATA/ca.pem" -H "Authorization: Bearer $ADMIN" \
	--data-binary @"$T/huge" "$URL/v1/accounts")
expect_error 413 too_large "limit" "1.5 MB body"
head -c 3000000 /dev/zero >"$T/huge"
STATUS=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$DATA/ca.pem" -H "Authorization: Bearer $ADMIN" \
	--data-binary @"$T/huge" "$URL/v1/accounts" || true)
[ "$STATUS" = 413 ] || [ "$STATUS" = 000 ] || fail "3 MB body: HTTP $STATUS"

# Bad Basic headers on the login route.
for h in "Basic !!!" "Basic $(printf 'no-colon' | base64)" "Basic $(printf ':pw' | base64)" "Basic =abc"; do
	n=$((n + 1))
	STATUS=$(curl -sS -o "$OUT" -w '%{http_code}' --cacert "$DATA/ca.pem" -X POST -H "Authorization: $h" "$URL/v1/sys/auth")
	expect_error 400 bad_authorization "Basic" "row $n: $h"
done
STATUS=$(curl -sS -o "$OUT" -w '%{http_code}' --cacert "$DATA/ca.pem" -X POST -H "Authorization: Bearer x" "$URL/v1/sys/auth")
expect_error 401 unauthorized "HTTP Basic"
STATUS=$(curl -sS -o "$OUT" -w '%{http_code}' --cacert "$DATA/ca.pem" -X POST "$URL/v1/sys/auth")
expect_error 401 unauthorized "HTTP Basic"

[ "$(db_dump)" = "$before" ] || { diff <(echo "$before") <(db_dump) >&2; fail "the store changed"; }
# Every refused mutating request is in the audit log.
api GET "/v1/audit?result=refused&action=account.create&limit=1000" "" "$ADMIN"
m=$(jget "$OUT" items | "$PY" -c 'import json,sys; print(len(json.load(sys.stdin)))')
[ "$m" -ge 25 ] || fail "only $m refused account.create entries"
api GET /v1/sys/health
expect_status 200 "still healthy"
echo "ok ($n rows)"
