#!/bin/bash
# shellcheck disable=SC2034,SC2154 # variables shared with lib.sh or made by eval
# API tokens (scope, role cap, expiry, revocation), session expiry, and
# rate limiting of failed logins per user and per client address.
. "$(dirname "$0")/lib.sh"

ccmd_start
bootstrap_admin
new_user m@example.org >/dev/null
new_user r@example.org >/dev/null
m=$(login m@example.org pw-m@example.org)
acc=$(new_account tok "$m")
other=$(new_account other "$m")
api POST "/v1/accounts/$acc/members" '{"email":"r@example.org","role":"READER"}' "$m"
r=$(login r@example.org pw-r@example.org)

# A token acts only in its account, with its role, and is shown once.
api POST "/v1/accounts/$acc/tokens" '{"name":"ci","role":"WRITER","expires_in":3600}' "$m"
expect_status 201 "token create"
tw=$(jget "$OUT" token)
twid=$(jget "$OUT" id)
case "$tw" in ccmt_*) ;; *) fail "token format '$tw'" ;; esac
n=$(sqlite3 "$DATA/ccmd.db" "SELECT count(*) FROM api_tokens WHERE instr(hex(token_hash), hex('$tw')) > 0 OR token_hash = '$tw'")
[ "$n" = 0 ] || fail "token stored in the clear"
api GET "/v1/accounts/$acc/tokens" "" "$m"
[ "$(jget "$OUT" items.0.token)" = null ] || fail "token value listed"
api GET "/v1/accounts/$acc" "" "$tw"
expect_status 200 "token reads its account"
[ "$(jget "$OUT" role)" = WRITER ] || fail "token role $(jget "$OUT" role)"
api PATCH "/v1/accounts/$acc" '{"description":"x"}' "$tw"
expect_error 403 forbidden "" "WRITER token on a MANAGER route"
api GET "/v1/accounts/$other" "" "$tw"
expect_error 404 not_found "" "token outside its account"
api POST /v1/accounts '{"name":"bytoken"}' "$tw"
expect_error 403 forbidden "inside its account"
api GET /v1/accounts "" "$tw"
[ "$(jget "$OUT" items.0.id)" = "$acc" ] && [ "$(jget "$OUT" items.1)" = null ] ||
	fail "a token lists accounts beyond its own"
api GET /v1/users "" "$tw"
expect_error 403 forbidden "" "token on an admin route"
api POST "/v1/accounts/$acc/tokens" '{"name":"ci","role":"READER"}' "$m"
expect_error 409 conflict "exists"

# A reader cannot mint a higher token; a reader's token follows the reader.
api POST "/v1/accounts/$acc/tokens" '{"name":"up","role":"MANAGER"}' "$r"
expect_error 403 forbidden "more than your role"
api POST "/v1/accounts/$acc/tokens" '{"name":"rd","role":"READER"}' "$r"
expect_status 201 "reader token"

tr=$(jget "$OUT" token)
api DELETE "/v1/accounts/$acc/tokens/$twid" "" "$r"
expect_error 404 not_found "" "reader revokes another's token"
rid=$(sqlite3 "$DATA/ccmd.db" "SELECT id FROM users WHERE email='r@example.org'")
api DELETE "/v1/accounts/$acc/members/$rid" "" "$m"
expect_status 200 "remove reader"
api GET "/v1/accounts/$acc" "" "$tr"
expect_error 404 not_found "" "token of a removed member"

# Revocation.
api DELETE "/v1/accounts/$acc/tokens/$twid" "" "$m"
expect_status 200 revoke
[ "$(jget "$OUT" revoked)" = true ] || fail "not marked revoked"
api GET "/v1/accounts/$acc" "" "$tw"
expect_error 401 unauthorized "" "revoked token"

# Expiry (API token of 3 s, then sessions of 3 s after a restart).
api POST "/v1/accounts/$acc/tokens" '{"name":"short","role":"READER","expires_in":3}' "$m"
ts=$(jget "$OUT" token)
api GET "/v1/accounts/$acc" "" "$ts"
expect_status 200 "fresh short token"
sleep 4
api GET "/v1/accounts/$acc" "" "$ts"
expect_error 401 unauthorized "" "expired token"
ccmd_stop
ccmd_start --session-ttl 3
m=$(login m@example.org pw-m@example.org)
api GET "/v1/accounts/$acc" "" "$m"
expect_status 200 "fresh session"
sleep 4
api GET "/v1/accounts/$acc" "" "$m"
expect_error 401 unauthorized "" "expired session"
api GET "/v1/accounts/$acc" "" "ccms_0000000000000000000000000000000000000000000000000000000000000000"
expect_error 401 unauthorized "" "unknown session"
api GET "/v1/accounts/$acc" "" "garbage"
expect_error 401 unauthorized "malformed"

ccmd_stop
ccmd_start --login-max-failures 3 --login-window 6

# Rate limiting. Per address (4 x 3 failures, spread over unknown users):
bad() {
	STATUS=$(curl -s -o "$OUT" -w '%{http_code}' --cacert "$DATA/ca.pem" -X POST -u "$1:$2" "$URL/v1/sys/auth")
}
for i in $(seq 1 12); do bad "nobody$i@example.org" x; done
bad admin@localhost "$ADMIN_PW"
expect_error 429 rate_limited "" "address limit"
sleep 6.2
# Per user: 3 failures, then even the right password waits.
for i in 1 2 3; do
	bad m@example.org wrong-$i
	expect_error 401 bad_credentials
done
bad m@example.org pw-m@example.org
expect_error 429 rate_limited "retry in"
curl -s -D "$T/h" -o /dev/null --cacert "$DATA/ca.pem" -X POST -u m@example.org:pw-m@example.org "$URL/v1/sys/auth"
grep -qi '^retry-after: [0-9]' "$T/h" || fail "no Retry-After"
# Another user from the same address is not locked (3 < 12).
login admin@localhost "$ADMIN_PW" >/dev/null
sleep 6.2
login m@example.org pw-m@example.org >/dev/null
api GET "/v1/audit?action=auth.login&result=refused&limit=1000" "" "$(login admin@localhost "$ADMIN_PW")"
n=$(jget "$OUT" items | "$PY" -c 'import json,sys; print(len(json.load(sys.stdin)))')
[ "$n" -ge 17 ] || fail "failed logins audited: $n"
echo ok
