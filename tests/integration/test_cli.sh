#!/bin/bash
# shellcheck disable=SC2034,SC2154 # variables shared with lib.sh or made by eval
# The ccm client against the real ccmd: global --server/--cacert, login
# (token file 0600), forced password change, accounts, users, tokens,
# audit list/verify (and a hand-edited or deleted row detected), --json.
. "$(dirname "$0")/lib.sh"

ccmd_start
unset CCM_SERVER CCM_CACERT
ccm() { "$CCM_BIN/ccm" "$@"; }
G=(--server "$URL" --cacert "$DATA/ca.pem")

head -1 "$DATA/admin.password" >"$T/otp"
echo "cli-admin-pw-1" >"$T/newpw"
ccm "${G[@]}" login --email admin@localhost --password-file "$T/otp" >"$T/o" 2>"$T/e"
grep -q "password change required" "$T/e" || fail "no hint about the forced change"
set +e
ccm "${G[@]}" account list >/dev/null 2>"$T/e"; rc=$?
set -e
[ $rc = 1 ] && grep -q password_change_required "$T/e" || fail "forced change not enforced (rc $rc)"
ccm "${G[@]}" user passwd --old-password-file "$T/otp" --new-password-file "$T/newpw" >/dev/null
f="$XDG_CONFIG_HOME/ccm/session.json"
[ "$(stat -c %a "$f")" = 600 ] || fail "session file mode $(stat -c %a "$f")"
# Later commands need no global options (the session remembers them).
ccm whoami --json >"$T/w"
[ "$(jget "$T/w" user.email)" = admin@localhost ] || fail "whoami"

ccm account create acme --test-only --quorum 2 --json >"$T/a"
acc=$(jget "$T/a" id)
[ "$(jget "$T/a" test_only)" = true ] || fail "test-only via CLI"
ccm account create plain --tcb UpToDate --json >"$T/b"
[ "$(jget "$T/b" accepted_tcb_statuses)" = '["UpToDate"]' ] || fail "--tcb"
ccm account list | grep -q "name=acme" || fail "account list text"
ccm account show "$acc" | grep -q "^test_only *true" || fail "account show text"
ccm account update "$acc" --description "the acme account" --json >"$T/u"
[ "$(jget "$T/u" description)" = "the acme account" ] || fail "account update"
ccm account ca "$acc" --output "$T/ca.pem"
openssl x509 -in "$T/ca.pem" -noout || fail "account ca"
ccm account test-only "$acc" false --reason "promoted" --json >"$T/t"
[ "$(jget "$T/t" test_only)" = false ] || fail "test-only change"

echo "user-pw-12345" >"$T/upw"
ccm user create bob@example.org --name Bob --password-file "$T/upw" --json >"$T/bob"
bob=$(jget "$T/bob" id)
ccm user add "$acc" bob@example.org --role WRITER --json >/dev/null
ccm user add "$acc" carol@example.org --role READER --json >"$T/carol"
[ "$(jget "$T/carol" one_time_password)" != null ] || fail "invite without one-time password"
ccm user role "$acc" "$bob" READER --json >/dev/null
ccm account members "$acc" --json >"$T/m"
[ "$(jget "$T/m" items.1.role)" = READER ] || fail "member role: $(cat "$T/m")"
ccm user list --json | grep -q carol@example.org || fail "user list"
ccm user disable "$bob" --json >/dev/null
ccm user enable "$bob" --json >/dev/null
ccm user show "$bob" | grep -q "^disabled *false" || fail "user show"
ccm user remove "$acc" "$bob" --json >/dev/null

ccm token create "$acc" --name deploy --role WRITER --expires 600 --json >"$T/tok"
tok=$(jget "$T/tok" token)
tid=$(jget "$T/tok" id)
CCM_TOKEN=$tok ccm account show "$acc" --json >"$T/s"
[ "$(jget "$T/s" role)" = WRITER ] || fail "CCM_TOKEN"
ccm token list "$acc" | grep -q "name=deploy" || fail "token list"
# An account MANAGER (not an administrator) reads its account's audit
# entries: `audit list --account` mirrors GET /v1/accounts/{id}/audit.
ccm token create "$acc" --name auditor --role MANAGER --expires 600 --json >"$T/mtok"
CCM_TOKEN=$(jget "$T/mtok" token) ccm audit list --account "$acc" --limit 1000 --json >"$T/al" ||
	fail "audit list --account as the account's MANAGER"
"$PY" - "$T/al" "$acc" <<'PY' || fail "audit list --account: $(cat "$T/al")"
import json, sys
items = json.load(open(sys.argv[1]))["items"]
assert items and all(i["account_id"] == int(sys.argv[2]) for i in items), items
PY
set +e
CCM_TOKEN=$(jget "$T/mtok" token) ccm audit list >/dev/null 2>"$T/e"; rc=$?
set -e
[ $rc = 1 ] && grep -q forbidden "$T/e" || fail "whole audit log as a MANAGER: rc $rc"
ccm token revoke "$acc" "$tid" --json >/dev/null
set +e
CCM_TOKEN=$tok ccm account show "$acc" >/dev/null 2>"$T/e"; rc=$?
set -e
[ $rc = 1 ] && grep -q unauthorized "$T/e" || fail "revoked token still works (rc $rc)"

# Errors: exit 2 for bad input, 1 for refusals, message from the server.
set +e
ccm account create acme 2>"$T/e"; rc=$?
set -e
[ $rc = 2 ] && grep -q "conflict" "$T/e" || fail "duplicate name via CLI: rc $rc $(cat "$T/e")"
set +e
ccm account show notanumber 2>/dev/null; rc=$?
set -e
[ $rc = 2 ] || fail "bad id: rc $rc"

ccm account delete "$(jget "$T/b" id)" --json >/dev/null

# The audit chain verifies; a hand-edited row and a removed row are named.
ccm audit list --action account.create | grep -q "result=ok" || fail "audit list"
ccm audit verify >"$T/v" || fail "audit verify failed on an untouched log: $(cat "$T/v")"
grep -q "audit chain verifies" "$T/v" || fail "verify output"
ccm audit verify --json >"$T/v"
[ "$(jget "$T/v" ok)" = true ] || fail "verify --json"
sqlite3 "$DATA/ccmd.db" "UPDATE audit SET reason='nothing happened' WHERE seq=5"
set +e
ccm audit verify --json >"$T/v" 2>"$T/e"; rc=$?
set -e
[ $rc = 1 ] || fail "an edited row verified (rc $rc)"
[ "$(jget "$T/v" first_bad_seq)" = 5 ] || fail "wrong entry named: $(cat "$T/v")"
grep -q "audit entry 5 does not fit: its fields do not hash" "$T/e" || fail "message: $(cat "$T/e")"
sqlite3 "$DATA/ccmd.db" "DELETE FROM audit WHERE seq=5"
set +e
ccm audit verify 2>"$T/e"; rc=$?
set -e
[ $rc = 1 ] && grep -q "audit entry 6 does not fit: a gap" "$T/e" || fail "deleted row: $(cat "$T/e")"

ccm logout --json >/dev/null
[ ! -e "$f" ] || fail "session file kept after logout"
set +e
ccm "${G[@]}" whoami 2>"$T/e"; rc=$?
set -e
[ $rc = 1 ] && grep -q "not logged in" "$T/e" || fail "after logout: rc $rc"
ccm help account create | grep -q -- "--test-only" || fail "help"
echo ok
