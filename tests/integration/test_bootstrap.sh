#!/bin/bash
# shellcheck disable=SC2034,SC2154 # variables shared with lib.sh or made by eval
# First start, bootstrap administrator, forced password change, files in
# the data directory, TLS floor, graceful shutdown and restart, --check.
. "$(dirname "$0")/lib.sh"

ccmd_start
for f in master.key admin.password ccmd.db; do
	mode=$(stat -c %a "$DATA/$f")
	[ "$mode" = 600 ] || fail "$f has mode $mode, want 600"
done
grep -q "BEGIN CERTIFICATE" "$DATA/ca.pem" || fail "ca.pem is not a certificate"
openssl verify -CAfile "$DATA/ca.pem" "$DATA/ca.pem" >/dev/null || fail "ca.pem does not verify"
grep -q '"msg":"listening"' "$T/ccmd.log" || fail "no JSON log line 'listening'"
"$PY" -c 'import json,sys
for l in open(sys.argv[1]): json.loads(l)' "$T/ccmd.log" || fail "a log line is not JSON"
! grep -q "$(head -1 "$DATA/admin.password")" "$T/ccmd.log" || fail "the one-time password is logged"

api GET /v1/sys/version
expect_status 200 version
[ "$(jget "$OUT" version)" = 0.1.0 ] || fail "version"
api GET /v1/sys/health
expect_status 200 health
[ "$(jget "$OUT" status)" = ok ] || fail "health status"

# TLS 1.1 is refused, TLS 1.2 and 1.3 work; the certificate names localhost and 127.0.0.1.
! curl -s --cacert "$DATA/ca.pem" --tls-max 1.1 "$URL/v1/sys/version" >/dev/null 2>&1 ||
	fail "TLS 1.1 accepted"
curl -sf --cacert "$DATA/ca.pem" --tlsv1.2 --tls-max 1.2 "$URL/v1/sys/version" >/dev/null ||
	fail "TLS 1.2 refused"
curl -sf --cacert "$DATA/ca.pem" "https://127.0.0.1:$PORT/v1/sys/version" >/dev/null ||
	fail "127.0.0.1 not in the server certificate"

# No credentials / wrong password.
api GET /v1/accounts
expect_error 401 unauthorized "bearer token"
st=$(curl -sS -o "$OUT" -w '%{http_code}' --cacert "$DATA/ca.pem" -X POST -u admin@localhost:nope "$URL/v1/sys/auth")
STATUS=$st expect_error 401 bad_credentials "wrong e-mail address or password"

# Bootstrap login: every route but the password change refuses.
otp=$(head -1 "$DATA/admin.password")
tok=$(login admin@localhost "$otp")
[ "$(jget "$T/login.json" must_change_password)" = true ] || fail "must_change_password not set"
api GET /v1/accounts "" "$tok"
expect_error 403 password_change_required "change your password"
api POST /v1/accounts '{"name":"early"}' "$tok"
expect_error 403 password_change_required
api GET /v1/sys/whoami "" "$tok"
expect_status 200 "whoami during forced change"
api POST /v1/users/me/password "{\"old_password\":\"$otp\",\"new_password\":\"short\"}" "$tok"
expect_error 400 out_of_range "new_password"
api POST /v1/users/me/password "{\"old_password\":\"wrong-one\",\"new_password\":\"$ADMIN_PW\"}" "$tok"
expect_error 403 bad_credentials "old password"
api POST /v1/users/me/password "{\"old_password\":\"$otp\",\"new_password\":\"$ADMIN_PW\"}" "$tok"
expect_status 200 "password change"
ADMIN=$(jget "$OUT" token)
[ ! -e "$DATA/admin.password" ] || fail "admin.password still there after the change"
api GET /v1/accounts "" "$tok"
expect_error 401 unauthorized "" "old session after password change"
api GET /v1/accounts "" "$ADMIN"
expect_status 200 "accounts after change"
! (login admin@localhost "$otp") >/dev/null 2>&1 || fail "one-time password still works"
tok=$(login admin@localhost "$ADMIN_PW")

# Logout revokes.
api POST /v1/sys/logout "" "$tok"
expect_status 200 logout
api GET /v1/sys/whoami "" "$tok"
expect_error 401 unauthorized "" "after logout"

# Sign-up is off by default.
api POST /v1/sys/signup '{"email":"x@y.z","password":"abcdefgh1"}'
expect_error 403 signup_disabled

# Graceful shutdown and restart keep state; the CA stays the same.
ca1=$(openssl x509 -in "$DATA/ca.pem" -noout -fingerprint)
id=$(new_account keep "$ADMIN")
# SIGTERM while a request runs (account creation makes an RSA-3072 key):
# the reply still arrives and the write is kept.
curl -s -o "$T/inflight.json" -w '%{http_code}' --cacert "$DATA/ca.pem" -H "Authorization: Bearer $ADMIN" \
	--data '{"name":"inflight"}' "$URL/v1/accounts" >"$T/inflight.st" &
cpid=$!
sleep 0.4
ccmd_stop
wait $cpid || true
[ "$(cat "$T/inflight.st")" = 201 ] || fail "in-flight request cut by SIGTERM: $(cat "$T/inflight.st")"
grep -q '"msg":"stopped"' "$T/ccmd.log" || fail "no 'stopped' log line"
"$CCM_BIN/ccmd" --data "$DATA" --listen 127.0.0.1:1 --check 2>>"$T/ccmd.log" ||
	fail "--check failed on a good data directory"
ccmd_start --open-signup
[ "$(openssl x509 -in "$DATA/ca.pem" -noout -fingerprint)" = "$ca1" ] || fail "CA changed on restart"
# With --open-signup anyone may register (no admin rights, nothing else).
api POST /v1/sys/signup '{"email":"Self@Example.org","name":"Self","password":"self-password-1"}'
expect_status 201 signup
[ "$(jget "$OUT" email)" = self@example.org ] && [ "$(jget "$OUT" is_admin)" = false ] ||
	fail "signup: $(cat "$OUT")"
api POST /v1/sys/signup '{"email":"self@example.org","password":"other-password-1"}'
expect_error 409 conflict
api POST /v1/sys/signup '{"email":"weak@example.org","password":"12345678","is_admin":true}'
expect_error 400 unknown_field "is_admin"
# The same through the client command (DESIGN: sign up / log in).
printf 'cli-password-1\n' >"$T/cli.pw"
"$CCM_BIN/ccm" signup --email cli@example.org --name Cli --password-file "$T/cli.pw" --json \
	>"$T/su.json" || fail "ccm signup"
[ "$(jget "$T/su.json" email)" = cli@example.org ] || fail "ccm signup: $(cat "$T/su.json")"
"$CCM_BIN/ccm" login --email cli@example.org --password-file "$T/cli.pw" >/dev/null ||
	fail "login after ccm signup"
set +e
"$CCM_BIN/ccm" signup --email cli@example.org --password-file "$T/cli.pw" >/dev/null 2>"$T/su.err"
rc=$?
set -e
[ "$rc" = 2 ] && grep -q conflict "$T/su.err" || fail "ccm signup twice: exit $rc $(cat "$T/su.err")"
self=$(login self@example.org self-password-1)
api GET /v1/users "" "$self"
expect_error 403 forbidden "administrator"
api GET "/v1/accounts/$id" "" "$ADMIN"
expect_status 200 "account after restart"
api GET "/v1/accounts/$(jget "$T/inflight.json" id)" "" "$ADMIN"
[ "$(jget "$OUT" name)" = inflight ] || fail "in-flight account lost"

# A master key readable by others is refused.
ccmd_stop
chmod 644 "$DATA/master.key"
! "$CCM_BIN/ccmd" --data "$DATA" --check 2>"$T/check.log" || fail "--check accepted a 0644 master key"
grep -q "must not be readable" "$T/check.log" || fail "no reason for the refused master key"
chmod 600 "$DATA/master.key"

# --hostname reissues the server certificate for the new names.
ccmd_start --hostname ccm.test --hostname 127.0.0.1
curl -sf --cacert "$DATA/ca.pem" --resolve "ccm.test:$PORT:127.0.0.1" "https://ccm.test:$PORT/v1/sys/version" >/dev/null ||
	fail "--hostname ccm.test not in the server certificate"
! curl -sf --cacert "$DATA/ca.pem" "$URL/v1/sys/version" >/dev/null 2>&1 || fail "localhost still in the certificate"
ccmd_stop

# --tls-cert/--tls-key replace the generated certificate.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/k.pem" -out "$T/c.pem" \
	-days 2 -subj /CN=localhost -addext subjectAltName=DNS:localhost 2>/dev/null
PORT=$(free_port)
"$CCM_BIN/ccmd" --data "$DATA" --listen "127.0.0.1:$PORT" --tls-cert "$T/c.pem" --tls-key "$T/k.pem" 2>>"$T/ccmd.log" &
CCMD_PID=$!
for _ in $(seq 1 50); do curl -sf --cacert "$T/c.pem" "https://localhost:$PORT/v1/sys/health" >/dev/null 2>&1 && break; sleep 0.1; done
curl -sf --cacert "$T/c.pem" "https://localhost:$PORT/v1/sys/version" >/dev/null || fail "--tls-cert not served"
ccmd_stop
! "$CCM_BIN/ccmd" --data "$DATA" --tls-cert "$T/c.pem" --check 2>/dev/null || fail "--tls-cert without --tls-key accepted"

# Usage errors exit 2 naming the flag.
set +e
"$CCM_BIN/ccmd" --listen nope 2>"$T/u.log"; rc=$?
set -e
[ $rc = 2 ] && grep -q -- "--listen" "$T/u.log" || fail "bad --listen: rc $rc"
# usage_rc WANT-MESSAGE CMD...: exits 2 and says WANT-MESSAGE.
usage_rc() {
	local want=$1 rc
	shift
	set +e
	"$@" >/dev/null 2>"$T/u.log"
	rc=$?
	set -e
	[ $rc = 2 ] && grep -qF -- "$want" "$T/u.log" || fail "$*: rc $rc: $(cat "$T/u.log")"
}
usage_rc "--check-threads: 0 to 7, got '8'" "$CCM_BIN/ccmd" --data "$DATA" --check-threads 8
usage_rc "--check-threads: 0 to 7, got 'x'" "$CCM_BIN/ccmd" --data "$DATA" --check-threads x
usage_rc "--renew-before: 60 seconds to 10 years" "$CCM_BIN/ccm-agent" --manager https://127.0.0.1:1 \
	--cacert "$DATA/ca.pem" --data "$T/ag" --renew-before 59
usage_rc "--batch-answers: frames or json, got 'xml'" "$CCM_BIN/ccm-agent" --manager https://127.0.0.1:1 \
	--cacert "$DATA/ca.pem" --data "$T/ag" --batch-answers xml
echo "ok"
