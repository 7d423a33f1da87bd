#!/bin/bash
# shellcheck disable=SC2034,SC2154 # variables shared with lib.sh or made by eval
# kill -9 during a burst of writes, then restart: every acknowledged write
# is there, each change and its audit entry are both there or both absent,
# the database is intact and the audit chain verifies.
. "$(dirname "$0")/lib.sh"

ccmd_start
bootstrap_admin
acc=$(new_account crash "$ADMIN")

writer() {
	local w=$1 i=0 st
	while :; do
		i=$((i + 1))
		st=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 --cacert "$DATA/ca.pem" \
			-H "Authorization: Bearer $ADMIN" -H 'Content-Type: application/json' \
			--data "{\"name\":\"w$w-$i\",\"role\":\"READER\"}" \
			"$URL/v1/accounts/$acc/tokens" 2>/dev/null) || st=000
		[ "$st" = 201 ] && echo "w$w-$i" >>"$T/acked.$w"
		[ "$st" = 000 ] && return 0
		curl -s -o /dev/null --max-time 5 --cacert "$DATA/ca.pem" -X PATCH \
			-H "Authorization: Bearer $ADMIN" --data "{\"description\":\"w$w-$i\"}" \
			"$URL/v1/accounts/$acc" 2>/dev/null || return 0
	done
}
pids=()
for w in 1 2 3 4 5 6; do
	writer $w &
	pids+=($!)
done
sleep 3
kill -9 "$CCMD_PID"
wait "$CCMD_PID" 2>/dev/null || true
CCMD_PID=""
for p in "${pids[@]}"; do wait "$p" || true; done
acked=$(cat "$T"/acked.* 2>/dev/null | wc -l)
[ "$acked" -gt 10 ] || fail "only $acked writes acknowledged before the kill"

ccmd_start
[ "$(sqlite3 "$DATA/ccmd.db" 'PRAGMA integrity_check')" = ok ] || fail "integrity_check"
[ "$(sqlite3 "$DATA/ccmd.db" 'PRAGMA foreign_key_check' | wc -l)" = 0 ] || fail "foreign keys"
missing=0
for name in $(cat "$T"/acked.*); do
	c=$(sqlite3 "$DATA/ccmd.db" "SELECT count(*) FROM api_tokens WHERE name='$name'")
	[ "$c" = 1 ] || { echo "acknowledged token $name missing" >&2; missing=$((missing + 1)); }
done
[ $missing = 0 ] || fail "$missing acknowledged writes lost"
# Change and audit entry together: every token has its ok entry and back.
torn=$(sqlite3 "$DATA/ccmd.db" "
	SELECT count(*) FROM api_tokens t WHERE NOT EXISTS (SELECT 1 FROM audit a
	  WHERE a.action='token.create' AND a.result='ok' AND a.object='token:' || t.id);
	SELECT count(*) FROM audit a WHERE a.action='token.create' AND a.result='ok' AND NOT EXISTS
	  (SELECT 1 FROM api_tokens t WHERE a.object='token:' || t.id);" | tr '\n' ' ')
[ "$torn" = "0 0 " ] || fail "torn writes: $torn"
rows=$(sqlite3 "$DATA/ccmd.db" "SELECT count(*) FROM api_tokens")
echo "acknowledged $acked, stored $rows" >&2
CCM_TOKEN=$ADMIN "$CCM_BIN/ccm" audit verify || fail "audit chain broken after kill -9"
api GET "/v1/accounts/$acc" "" "$ADMIN"
expect_status 200 "account after restart"
echo ok
