#!/bin/bash
# Approval quorum 2: one approval leaves the task pending, the
# requester's own approval does not count, a user votes once, a second
# distinct approver closes it and the effect is applied; on another task
# one denial denies (reason required) and rejects the build.
. "$(dirname "$0")/lib.sh"

ccmd_start
bootstrap_admin
for u in m w1 w2 r; do
	new_user "$u@example.org" >/dev/null
	eval "tok_$u=\$(login $u@example.org pw-$u@example.org)"
done
TOKEN=$tok_m
acc=$(new_account q2 "$TOKEN" '"approval_quorum":2')
for u in w1 w2; do
	api POST "/v1/accounts/$acc/members" "{\"email\":\"$u@example.org\",\"role\":\"WRITER\"}"
	expect_status 201 "add $u"
done
api POST "/v1/accounts/$acc/members" '{"email":"r@example.org","role":"READER"}'
expect_status 201 "add reader"
api POST "/v1/accounts/$acc/apps" '{"name":"a","isvprodid":7}'
expect_status 201 "app"
app=$(jget "$OUT" id)
sig=$(new_sigstruct s1 7 0)
api POST "/v1/accounts/$acc/builds" "{\"app_id\":$app,\"sigstruct\":\"$sig\"}"
expect_status 201 "build 1"
b1=$(jget "$OUT" id)
t1=$(jget "$OUT" task_id)

api POST "/v1/accounts/$acc/tasks/$t1/approve" '{"reason":"mine"}'
expect_status 200 "requester approves"
[ "$(jget "$OUT" status)" = PENDING ] || fail "requester's approval closed the task"
[ "$(jget "$OUT" approvals)" = 0 ] || fail "requester's approval counted"
api POST "/v1/accounts/$acc/tasks/$t1/approve" '{}' "$tok_r"
expect_error 403 forbidden "" "reader approves"
api POST "/v1/accounts/$acc/tasks/$t1/approve" '{}' "$tok_w1"
expect_status 200 "w1 approves"
[ "$(jget "$OUT" status)" = PENDING ] || fail "one approval of two closed the task"
[ "$(jget "$OUT" approvals)" = 1 ] || fail "approvals after w1"
api POST "/v1/accounts/$acc/tasks/$t1/approve" '{}' "$tok_w1"
expect_error 409 already_voted
api GET "/v1/accounts/$acc/builds/$b1"
[ "$(jget "$OUT" status)" = PENDING ] || fail "build changed before the quorum"
api POST "/v1/accounts/$acc/tasks/$t1/approve" '{}' "$tok_w2"
expect_status 200 "w2 approves"
[ "$(jget "$OUT" status)" = APPROVED ] || fail "two approvals did not approve"
[ "$(jget "$OUT" votes | "$PY" -c 'import json,sys; print(len(json.load(sys.stdin)))')" = 3 ] ||
	fail "votes not listed"
api GET "/v1/accounts/$acc/builds/$b1"
[ "$(jget "$OUT" status)" = WHITELISTED ] || fail "approval not applied"

# A denial wins, even after an approval.
sig=$(new_sigstruct s2 7 0)
api POST "/v1/accounts/$acc/builds" "{\"app_id\":$app,\"sigstruct\":\"$sig\"}"
b2=$(jget "$OUT" id)
t2=$(jget "$OUT" task_id)
api POST "/v1/accounts/$acc/tasks/$t2/approve" '{}' "$tok_w1"
expect_status 200 "w1 approves t2"
api POST "/v1/accounts/$acc/tasks/$t2/deny" '{}' "$tok_w2"
expect_error 400 missing_field "reason" "deny without a reason"
api POST "/v1/accounts/$acc/tasks/$t2/deny" '{"reason":"unknown signer"}' "$tok_w2"
expect_status 200 "w2 denies"
[ "$(jget "$OUT" status)" = DENIED ] || fail "denial did not deny"
[ "$(jget "$OUT" reason)" = "unknown signer" ] || fail "denial reason"
api GET "/v1/accounts/$acc/builds/$b2"
[ "$(jget "$OUT" status)" = REJECTED ] || fail "denied build not REJECTED"
api POST "/v1/accounts/$acc/tasks/$t2/approve" '{}' "$tok_m"
expect_error 409 task_closed
api GET "/v1/accounts/$acc/tasks?status=DENIED"
[ "$(jget "$OUT" items.0.id)" = "$t2" ] || fail "status filter"
api GET "/v1/accounts/$acc/tasks?status=bogus"
expect_error 400 bad_parameter
# Every step audited.
api GET "/v1/accounts/$acc/audit?limit=1000"
[ "$(grep -o '"task.approve"' "$OUT" | wc -l)" -ge 6 ] || fail "approvals not all audited"
grep -q '"task.deny"' "$OUT" || fail "denial not audited"
grep -q "requester's own approval does not count" "$OUT" || fail "audit lacks the quorum note"
echo ok
