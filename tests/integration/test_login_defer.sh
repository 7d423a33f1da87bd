#!/bin/bash
# Password checks run off ccmd's event loop (src/ccmd/defer.c). With an
# Argon2id cost of a few hundred milliseconds per check, eight logins
# queue up; a health request sent while they are checked is answered at
# once, not after them (on the loop it waited for every one). Every login
# still gets its own answer: 200 with a session for the right password,
# 401 for a wrong one (audited, counted by the rate limit). More logins
# than the queue holds (16) are answered 503 "busy" with Retry-After at
# once. Logins queued when ccmd is told to stop are answered before it
# exits, and it exits cleanly.
. "$(dirname "$0")/lib.sh"

ccmd_start --argon2-memory 65536 --argon2-passes 3
bootstrap_admin
TOKEN=$ADMIN
new_user u1@example.org >/dev/null

# login_at EMAIL PASSWORD TAG: a login in the background; when it ends,
# "TAG STATUS NANOSECONDS" is appended to $T/order. logins_wait waits
# for them (a bare wait would wait for ccmd too).
LOGINS=()
logins_wait() {
	local p
	for p in "${LOGINS[@]}"; do wait "$p"; done
	LOGINS=()
}
login_at() {
	(
		st=$(curl -s -o /dev/null -D "$T/h.$3" -w '%{http_code}' --cacert "$DATA/ca.pem" \
			-u "$1:$2" -X POST "$URL/v1/sys/auth") || true # 000: no answer
		echo "$3 $st $(date +%s%N)" >>"$T/order"
	) &
	LOGINS+=($!)
}

# 1. The loop answers while eight checks are queued.
: >"$T/order"
for i in 1 2 3 4 5 6 7 8; do login_at u1@example.org pw-u1@example.org "login$i"; done
sleep 0.5
st=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$DATA/ca.pem" "$URL/v1/sys/health")
echo "health $st $(date +%s%N)" >>"$T/order"
logins_wait
sort -k3 -n "$T/order" >"$T/sorted"
cat "$T/sorted"
[ "$(grep -c '^login[0-9] 200 ' "$T/sorted")" = 8 ] || fail "not every queued login got its session"
grep -q '^health 200 ' "$T/sorted" || fail "health during the logins"
before=$(awk '$1 == "health" { print NR - 1; exit }' "$T/sorted")
[ "$before" -le 4 ] || fail "the health request waited for $before of 8 password checks"

# 2. Wrong password: 401, audited, and no session.
st=$(curl -s -o "$OUT" -w '%{http_code}' --cacert "$DATA/ca.pem" -u u1@example.org:wrong-password \
	-X POST "$URL/v1/sys/auth")
[ "$st" = 401 ] && [ "$(jget "$OUT" error.code)" = bad_credentials ] || fail "wrong password: $st"
api GET "/v1/audit?action=auth.login&limit=100"
expect_status 200 "audit"
"$PY" - "$OUT" <<'PY' || fail "the logins are not audited as they ended"
import json, sys
items = json.load(open(sys.argv[1]))["items"]  # oldest first
assert items[-1]["result"] == "refused" and items[-1]["actor"] == "login:u1@example.org", items[-1]
assert sum(i["result"] == "ok" and i["actor"] == "user:2" for i in items) == 8, items
PY

# 3. A flood over the queue's 16: the rest are told "busy" at once.
: >"$T/order"
for i in $(seq 1 28); do login_at u1@example.org pw-u1@example.org "flood$i"; done
logins_wait
busy=$(grep -c ' 503 ' "$T/order" || true)
ok=$(grep -c ' 200 ' "$T/order" || true)
echo "flood: $ok sessions, $busy busy"
[ "$busy" -ge 1 ] && [ "$ok" -ge 16 ] && [ $((busy + ok)) = 28 ] ||
	fail "flood: $ok sessions and $busy busy of 28"
tag=$(awk '$2 == 503 { print $1; exit }' "$T/order")
grep -qi '^Retry-After: 1' "$T/h.$tag" || fail "no Retry-After on a busy answer"
st=$(curl -s -D "$T/h" -o "$OUT" -w '%{http_code}' --cacert "$DATA/ca.pem" "$URL/v1/sys/health")
[ "$st" = 200 ] || fail "health after the flood: $st"

# 4. Stopping with checks queued: each is answered before ccmd exits, and
# the exit is clean (ccmd_stop checks the status).
: >"$T/order"
for i in 1 2 3 4; do login_at u1@example.org pw-u1@example.org "stop$i"; done
sleep 0.4
ccmd_stop
logins_wait
cat "$T/order"
[ "$(grep -c '^stop[0-9] 200 ' "$T/order")" = 4 ] || fail "logins queued at shutdown not answered"
echo "PASS"
