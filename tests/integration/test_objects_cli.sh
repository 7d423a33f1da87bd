#!/bin/bash
# The ccm client for an account's objects against the real ccmd: app
# create/list/show/update/delete, build register/list/show/revoke, task
# list/show/approve/deny, node token create/list/revoke, node
# list/show/label/deactivate, cert list/revoke, all with --json, plus
# usage errors (exit 2) and refusals (exit 1).
. "$(dirname "$0")/lib.sh"

ccmd_start
bootstrap_admin
export CCM_TOKEN=$ADMIN
ccm() { "$CCM_BIN/ccm" "$@"; }
acc=$(new_account cli "$ADMIN" '"test_only":true')
export CCM_ACCOUNT=$acc

ccm app create web --isvprodid 5 --isvsvn 2 --memory 100M --threads 2 --labels zone=a \
	--domains web.example.org --subject CN=web --key-type rsa-2048 --env A=1,B=2 --json >"$T/a"
app=$(jget "$T/a" id)
[ "$(jget "$T/a" memory.enclave_size)" = 134217728 ] || fail "memory via CLI"
[ "$(jget "$T/a" certificate.key_type)" = rsa-2048 ] || fail "key type via CLI"
[ "$(jget "$T/a" env)" = '["A=1", "B=2"]' ] || fail "env via CLI"
ccm app list --label zone=a --json >"$T/l"
[ "$(jget "$T/l" items.0.name)" = web ] || fail "app list --label"
ccm app show "$app" | grep -q "^name *web" || fail "app show text"
ccm app create tmp --isvprodid 9 --account "$acc" --json >"$T/t"
ccm app update "$(jget "$T/t" id)" --name tmp2 --json >"$T/u"
[ "$(jget "$T/u" name)" = tmp2 ] || fail "app update"
ccm app delete "$(jget "$T/t" id)" --json >"$T/d"
[ "$(jget "$T/d" deleted)" = true ] || fail "app delete"

new_sigstruct s1 5 2 >/dev/null
ccm build register --app "$app" --sigstruct "$T/s1.sig" --json >"$T/b"
build=$(jget "$T/b" id)
task=$(jget "$T/b" task_id)
ccm build list --app "$app" --json >"$T/bl"
[ "$(jget "$T/bl" items.0.id)" = "$build" ] || fail "build list"
ccm task list --status PENDING --type build_whitelist --json >"$T/tl"
[ "$(jget "$T/tl" items.0.id)" = "$task" ] || fail "task list"
ccm task approve "$task" --reason ok --json >"$T/ta"
[ "$(jget "$T/ta" status)" = APPROVED ] || fail "task approve"
ccm build show "$build" --json >"$T/bs"
[ "$(jget "$T/bs" status)" = WHITELISTED ] || fail "build show"
dtask=$(jget "$T/a" domain_task_id)
set +e
ccm task deny "$dtask" >/dev/null 2>"$T/e"
rc=$?
set -e
[ $rc = 2 ] && grep -q -- "--reason" "$T/e" || fail "deny without --reason: rc $rc"
ccm task deny "$dtask" --reason "not ours" --json >"$T/td"
[ "$(jget "$T/td" status)" = DENIED ] || fail "task deny"
ccm task show "$dtask" --json >"$T/ts"
[ "$(jget "$T/ts" votes.0.vote)" = deny ] || fail "task show votes"
ccm build revoke "$build" --reason cve --json >"$T/br"
[ "$(jget "$T/br" revoked)" = true ] || fail "build revoke"
set +e
ccm build register --app "$app" --sigstruct "$T/s1.sig" >/dev/null 2>"$T/e"
rc=$?
set -e
[ $rc = 2 ] && grep -q duplicate_mrenclave "$T/e" || fail "duplicate build via CLI: rc $rc"

ccm node token create rack --uses 2 --labels zone=a --json >"$T/jt"
jt=$(jget "$T/jt" token)
ccm node token list --json >"$T/jl"
[ "$(jget "$T/jl" items.0.uses_left)" = 2 ] || fail "token list"
new_csr n1
api POST /v1/nodes/enroll "{\"join_token\":\"$jt\",\"name\":\"n1\",\"csr\":$(json_str "$T/n1.csr")}" ""
expect_status 201 "enroll"
node=$(jget "$OUT" node.id)
ccm node token revoke "$(jget "$T/jt" id)" --json >/dev/null
ccm node token list --json >"$T/jl"
[ "$(jget "$T/jl" items.0.state)" = REVOKED ] || fail "token revoke"
ccm node list --json >"$T/nl"
[ "$(jget "$T/nl" items.0.name)" = n1 ] || fail "node list"
ccm node label "$node" zone=b,ssd=yes --json >"$T/nlab"
[ "$(jget "$T/nlab" labels)" = '["zone=b", "ssd=yes"]' ] || fail "node label"
ccm node show "$node" --json >"$T/ns"
[ "$(jget "$T/ns" state)" = ACTIVE ] || fail "node show"
ccm cert list --json >"$T/cl"
cert=$(jget "$T/cl" items.0.id)
[ "$(jget "$T/cl" items.0.kind)" = node ] || fail "cert list"
ccm cert revoke "$cert" --reason test --json >"$T/cr"
[ "$(jget "$T/cr" state)" = REVOKED ] || fail "cert revoke"
# GET /v1/accounts/{id}/crl.pem has its client command too: the CRL lists it.
serial=$(jget "$T/cl" items.0.serial | tr a-f A-F)
ccm account crl "$acc" --output "$T/crl.pem"
openssl crl -in "$T/crl.pem" -noout -text | grep -q "Serial Number: $serial" ||
	fail "account crl does not list $serial"
ccm account crl "$acc" | openssl crl -noout || fail "account crl on stdout"
ccm node deactivate "$node" --reason gone --json >"$T/nd"
[ "$(jget "$T/nd" state)" = DEACTIVATED ] || fail "node deactivate"
# Usage errors exit 2, refusals 1.
set +e
CCM_ACCOUNT= ccm node list >/dev/null 2>"$T/e"
rc=$?
[ $rc = 2 ] && grep -q -- "--account" "$T/e" || fail "missing account: rc $rc"
ccm app show x >/dev/null 2>&1
[ $? = 2 ] || fail "bad id"
ccm account crl 999999 >/dev/null 2>&1
[ $? = 2 ] || fail "account crl of a missing account"
# An unknown option is named as such, not as a missing --reason.
ccm task deny 1 --bogus >/dev/null 2>"$T/e"
rc=$?
[ $rc = 2 ] && grep -q "unknown option '--bogus'" "$T/e" || fail "task deny --bogus: rc $rc $(cat "$T/e")"
CCM_TOKEN=ccm_s_bogus ccm app list >/dev/null 2>&1
[ $? = 1 ] || fail "bad token not exit 1"
ccm attest report --sigstruct "$T/s1.sig" >/dev/null 2>&1
[ $? = 2 ] || fail "attest report without --key"
set -e
ccm attest report --sigstruct "$T/s1.sig" --key "$T/n1.key" -o "$T/r.bin"
[ "$(stat -c %s "$T/r.bin")" = 384 ] || fail "report size"
ccm app --help >/dev/null 2>&1 || ccm help app create | grep -q -- "--isvprodid" || fail "help"
echo ok
