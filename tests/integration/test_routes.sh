#!/bin/bash
# shellcheck disable=SC2034,SC2154 # variables shared with lib.sh or made by eval
# Table-driven authorisation test over the route table itself: fetch
# /v1/openapi.json (generated from the table) and call every operation
# without credentials, with each role below its minimum, as a member of
# another account, as a user of no account and with another account's API
# token. A new route is covered by construction.
. "$(dirname "$0")/lib.sh"

ccmd_start
bootstrap_admin
for u in ma wa ra mb u0; do
	eval "id_$u=\$(new_user $u@example.org)"
	eval "tok_$u=\$(login $u@example.org pw-$u@example.org)"
done
acc_a=$(new_account alpha "$tok_ma")
acc_b=$(new_account beta "$tok_mb" '"test_only":true')
api POST "/v1/accounts/$acc_a/members" '{"email":"wa@example.org","role":"WRITER"}' "$tok_ma"
expect_status 201 "add writer"
api POST "/v1/accounts/$acc_a/members" '{"email":"ra@example.org","role":"READER"}' "$tok_ma"
expect_status 201 "add reader"
api POST "/v1/accounts/$acc_a/tokens" '{"name":"ci","role":"READER"}' "$tok_ma"
expect_status 201 "token in alpha"
tid_a=$(jget "$OUT" id)
api POST "/v1/accounts/$acc_b/tokens" '{"name":"ci","role":"MANAGER"}' "$tok_mb"
expect_status 201 "token in beta"
apitok_b=$(jget "$OUT" token)
# Each role sees its role.
api GET "/v1/accounts/$acc_a" "" "$tok_wa"
[ "$(jget "$OUT" role)" = WRITER ] || fail "writer sees role $(jget "$OUT" role)"
api GET "/v1/accounts/$acc_a" "" "$tok_ra"
[ "$(jget "$OUT" role)" = READER ] || fail "reader role"
api GET "/v1/accounts/$acc_b" "" "$tok_mb"
[ "$(jget "$OUT" test_only)" = true ] || fail "test-only account does not say so"
before=$(db_dump)

"$PY" - "$URL" "$DATA/ca.pem" "$acc_a" "$id_ra" "$tid_a" "$tok_ma" "$tok_wa" "$tok_ra" \
	"$tok_mb" "$tok_u0" "$apitok_b" "$ADMIN" <<'PY'
import json, re, ssl, sys, urllib.request, urllib.error
url, ca, acc, uid, tid, t_ma, t_wa, t_ra, t_mb, t_u0, t_apib, t_admin = sys.argv[1:]
ctx = ssl.create_default_context(cafile=ca)

def call(method, path, tok, body):
    req = urllib.request.Request(url + path, method=method,
                                 data=body.encode() if body is not None else None)
    if tok:
        req.add_header("Authorization", "Bearer " + tok)
    if body is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, context=ctx) as r:
            return r.status, json.loads(r.read() or b"{}")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")

st, doc = call("GET", "/v1/openapi.json", None, None)
assert st == 200, st
roles = {"READER": 1, "WRITER": 2, "MANAGER": 3}
by_role = {1: t_ra, 2: t_wa, 3: t_ma}
failures, checked, ops = [], 0, 0
for path, item in sorted(doc["paths"].items()):
    concrete = path.replace("{id}", acc).replace("{user}", uid).replace("{token}", tid)
    concrete = re.sub(r"\{[a-z]+\}", "1", concrete)
    for method, op in item.items():
        ops += 1
        need = op["x-min-role"]
        body = "{}" if "requestBody" in op else None
        M = method.upper()
        def expect(who, tok, status, code):
            global checked
            checked += 1
            st, j = call(M, concrete, tok, body)
            got = (j.get("error") or {}).get("code")
            if st != status or (code and got != code):
                failures.append(f"{M} {path} as {who}: want {status} {code}, got {st} {j}")
        if need == "PUBLIC":
            continue
        if need == "NODE":
            # mTLS only: no client certificate, with or without a bearer token.
            assert op.get("x-mtls"), path
            expect("nobody", None, 401, "unauthorized")
            expect("account manager", t_ma, 401, "unauthorized")
            expect("API token", t_apib, 401, "unauthorized")
            continue
        expect("nobody", None, 401, "unauthorized")
        if need == "ADMIN":
            expect("account manager", t_ma, 403, "forbidden")
            expect("API token", t_apib, 403, "forbidden")
            continue
        if need == "USER":
            continue
        assert op["x-account-scoped"], path
        expect("member of another account", t_mb, 404, "not_found")
        expect("user of no account", t_u0, 404, "not_found")
        expect("another account's API token", t_apib, 404, "not_found")
        for r, tok in by_role.items():
            if r < roles[need]:
                expect(f"role {r}", tok, 403, "forbidden")
        # The administrator passes the access check (any status but 401/403/404-not-member).
assert ops >= 50, f"only {ops} operations in the OpenAPI document"
for f in failures:
    print("FAIL:", f)
print(f"{checked} refusals checked over {ops} operations")
sys.exit(1 if failures else 0)
PY
[ "$(db_dump)" = "$before" ] || fail "refused calls changed the store"
# A missing account and a malformed id answer exactly like another account's.
api GET /v1/accounts/999999 "" "$tok_mb"
miss=$(cat "$OUT")
api GET "/v1/accounts/$acc_a" "" "$tok_mb"
[ "$(cat "$OUT")" = "$miss" ] || fail "another account's object differs from a missing one"
api GET /v1/accounts/0x1 "" "$tok_mb"
expect_error 404 not_found
# Refusals are audited.
api GET "/v1/audit?result=refused&limit=1000" "" "$ADMIN"
n=$(jget "$OUT" items | "$PY" -c 'import json,sys; print(len(json.load(sys.stdin)))')
[ "$n" -gt 50 ] || fail "only $n refusals audited"
echo ok
