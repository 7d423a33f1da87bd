#!/bin/bash
# shellcheck disable=SC2034,SC2154 # variables shared with lib.sh or made by eval
# Accounts (test-only and not), their CA and signing key, settings, the
# separate test-only change, members with each role, invitations, the last
# MANAGER rule, deletion; users as the administrator manages them.
. "$(dirname "$0")/lib.sh"

ccmd_start
bootstrap_admin
new_user owner@example.org >/dev/null
owner=$(login Owner@Example.ORG pw-owner@example.org)

# A normal account: defaults, role, no test-only notice.
api POST /v1/accounts '{"name":"prod","description":"production"}' "$owner"
expect_status 201 "create prod"
prod=$(jget "$OUT" id)
[ "$(jget "$OUT" test_only)" = false ] || fail "prod is test-only"
[ "$(jget "$OUT" approval_quorum)" = 1 ] || fail "default quorum"
[ "$(jget "$OUT" accepted_tcb_statuses)" = '["UpToDate", "SWHardeningNeeded"]' ] ||
	fail "default TCB statuses: $(jget "$OUT" accepted_tcb_statuses)"
[ "$(jget "$OUT" role)" = MANAGER ] || fail "creator is not MANAGER"
[ "$(jget "$OUT" notice)" = null ] || fail "notice on a normal account"
mrs=$(jget "$OUT" mrsigner)
[ ${#mrs} = 64 ] || fail "mrsigner '$mrs'"

# A test-only account says so in the body and in a header.
api POST /v1/accounts '{"name":"lab","test_only":true,"approval_quorum":2,"accepted_tcb_statuses":["UpToDate"]}' "$owner"
expect_status 201 "create lab"
lab=$(jget "$OUT" id)
[ "$(jget "$OUT" test_only)" = true ] || fail "lab not test-only"
case "$(jget "$OUT" notice)" in *TEST-ONLY*) ;; *) fail "no TEST-ONLY notice" ;; esac
curl -sS -D "$T/h" -o /dev/null --cacert "$DATA/ca.pem" -H "Authorization: Bearer $owner" "$URL/v1/accounts/$lab"
grep -qi '^ccm-test-only: true' "$T/h" || fail "no CCM-Test-Only header"
curl -sS -D "$T/h" -o /dev/null --cacert "$DATA/ca.pem" -H "Authorization: Bearer $owner" "$URL/v1/accounts/$prod"
! grep -qi '^ccm-test-only' "$T/h" || fail "CCM-Test-Only header on a normal account"

# Each account has its own CA; its private keys are sealed in the store.
curl -sf --cacert "$DATA/ca.pem" -H "Authorization: Bearer $owner" -o "$T/prod.pem" "$URL/v1/accounts/$prod/ca.pem"
curl -sf --cacert "$DATA/ca.pem" -H "Authorization: Bearer $owner" -o "$T/lab.pem" "$URL/v1/accounts/$lab/ca.pem"
openssl verify -CAfile "$T/prod.pem" "$T/prod.pem" >/dev/null || fail "prod CA not self-signed"
openssl x509 -in "$T/prod.pem" -noout -text | grep -q "ASN1 OID: prime256v1" || fail "prod CA not P-256"
openssl x509 -in "$T/prod.pem" -noout -text | grep -q "CA:TRUE" || fail "prod CA not a CA"
! cmp -s "$T/prod.pem" "$T/lab.pem" || fail "two accounts share a CA"
n=$(sqlite3 "$DATA/ccmd.db" "SELECT count(*) FROM accounts WHERE hex(substr(ca_key_sealed,1,4)) != '63636D31'
	OR hex(substr(signing_key_sealed,1,4)) != '63636D31'")
[ "$n" = 0 ] || fail "$n account keys not sealed"

# Update; test_only is not a general field; its own route is audited with the reason.
api PATCH "/v1/accounts/$prod" '{"description":"prod env","approval_quorum":3}' "$owner"
expect_status 200 update
[ "$(jget "$OUT" approval_quorum)" = 3 ] || fail "quorum not updated"
api PATCH "/v1/accounts/$prod" '{"test_only":true}' "$owner"
expect_error 400 unknown_field "test_only"
api POST "/v1/accounts/$lab/test-only" '{"test_only":false,"reason":"going live"}' "$owner"
expect_status 200 "test-only change"
[ "$(jget "$OUT" test_only)" = false ] || fail "test_only not changed"
api GET "/v1/audit?action=account.test_only" "" "$ADMIN"
case "$(jget "$OUT" items.0.reason)" in *"true -> false: going live"*) ;;
*) fail "test-only change not audited with its reason: $(cat "$OUT")" ;; esac
api PATCH "/v1/accounts/$lab" '{"name":"prod"}' "$owner"
expect_error 409 conflict "" "rename to an existing name"

# Members: invite, roles, last manager.
api POST "/v1/accounts/$prod/members" '{"email":"new@example.org","role":"READER"}' "$owner"
expect_status 201 invite
otp=$(jget "$OUT" one_time_password)
newid=$(jget "$OUT" user_id)
newtok=$(login new@example.org "$otp")
api GET "/v1/accounts/$prod" "" "$newtok"
expect_error 403 password_change_required
api POST /v1/users/me/password "{\"old_password\":\"$otp\",\"new_password\":\"new-password-1\"}" "$newtok"
expect_status 200 "invited user sets a password"
newtok=$(jget "$OUT" token)
api GET "/v1/accounts/$prod" "" "$newtok"
[ "$(jget "$OUT" role)" = READER ] || fail "invited reader"
api PATCH "/v1/accounts/$prod" '{"description":"x"}' "$newtok"
expect_error 403 forbidden "MANAGER"
api PATCH "/v1/accounts/$prod/members/$newid" '{"role":"WRITER"}' "$owner"
expect_status 200 "role change"
api GET "/v1/accounts/$prod" "" "$newtok"
[ "$(jget "$OUT" role)" = WRITER ] || fail "role change not effective"
ownerid=$("$PY" -c 'import json,sys;print([m["user_id"] for m in json.load(open(sys.argv[1]))["items"] if m["role"]=="MANAGER"][0])' <(curl -s --cacert "$DATA/ca.pem" -H "Authorization: Bearer $owner" "$URL/v1/accounts/$prod/members"))
api PATCH "/v1/accounts/$prod/members/$ownerid" '{"role":"READER"}' "$owner"
expect_error 409 last_manager
api DELETE "/v1/accounts/$prod/members/$ownerid" "" "$owner"
expect_error 409 last_manager
api POST "/v1/accounts/$prod/members" '{"email":"new@example.org","role":"READER"}' "$owner"
expect_error 409 conflict "already a member"
api DELETE "/v1/accounts/$prod/members/$newid" "" "$owner"
expect_status 200 "remove member"
api GET "/v1/accounts/$prod" "" "$newtok"
expect_error 404 not_found "" "removed member"

# Listing shows only the caller's accounts, with paging.
api GET /v1/accounts "" "$newtok"
[ "$(jget "$OUT" items)" = "[]" ] || fail "a non-member lists accounts"
api GET "/v1/accounts?all=true" "" "$owner"
expect_error 403 forbidden "administrator"
api GET /v1/accounts "" "$ADMIN"
[ "$(jget "$OUT" items)" = "[]" ] || fail "the administrator is a member of nothing"
api GET "/v1/accounts?all=true" "" "$ADMIN"
[ "$(jget "$OUT" items.1.id)" = "$lab" ] || fail "all=true: $(cat "$OUT")"
api GET "/v1/accounts?limit=1&offset=1" "" "$owner"
[ "$(jget "$OUT" items.0.id)" = "$lab" ] || fail "paging: $(cat "$OUT")"

# Users (administrator): list, disable ends sessions, enable.
api GET /v1/users "" "$ADMIN"
expect_status 200 "user list"
api PATCH "/v1/users/$newid" '{"disabled":true}' "$ADMIN"
expect_status 200 disable
api GET /v1/sys/whoami "" "$newtok"
expect_error 401 unauthorized "" "disabled user's session"
st=$(curl -s -o "$OUT" -w '%{http_code}' --cacert "$DATA/ca.pem" -X POST -u new@example.org:new-password-1 "$URL/v1/sys/auth")
STATUS=$st expect_error 401 bad_credentials "disabled"
api PATCH "/v1/users/$newid" '{"disabled":false}' "$ADMIN"
expect_status 200 enable
login new@example.org new-password-1 >/dev/null
api PATCH /v1/users/1 '{"is_admin":false}' "$ADMIN"
expect_error 409 last_admin
api POST /v1/users '{"email":"owner@example.org"}' "$ADMIN"
expect_error 409 conflict "exists"
api POST /v1/users '{"email":"otp@example.org"}' "$ADMIN"
expect_status 201 "user with one-time password"
[ "$(jget "$OUT" must_change_password)" = true ] || fail "one-time user not forced to change"

# Delete is refused while apps or nodes pin the account, unless forced
# (an app with a build: the cascade removes both).
api POST "/v1/accounts/$prod/apps" '{"name":"pin","isvprodid":1,"output_image":"reg/x:enclave"}' "$owner"
expect_status 201 "app pinning the account"
api POST "/v1/accounts/$prod/builds" "{\"app_id\":$(jget "$OUT" id),\"image_name\":\"reg/x:1\"}" "$owner"
expect_status 201 "build record"
api DELETE "/v1/accounts/$prod" "" "$owner"
expect_error 409 account_not_empty "holds 1 apps or nodes"
api DELETE "/v1/accounts/$prod?force=true" "" "$owner"
expect_status 200 "forced delete"
api GET "/v1/audit?action=account.delete" "" "$ADMIN"
[ "$(jget "$OUT" items.0.result)" = refused ] && [ "$(jget "$OUT" items.1.result)" = ok ] ||
	fail "deletes not audited: $(cat "$OUT")"

# Delete (nothing pins the account), then it is gone.
api DELETE "/v1/accounts/$lab?force=maybe" "" "$owner"
expect_error 400 bad_parameter
api DELETE "/v1/accounts/$lab" "" "$owner"
expect_status 200 delete
api GET "/v1/accounts/$lab" "" "$owner"
expect_error 404 not_found
echo ok
