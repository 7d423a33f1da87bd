#!/bin/bash
# Certificate issuance through the real node agent: ccm-agent enrolls with
# a join token, a report body made by `ccm attest report` (report data
# binding an openssl key) is posted to the agent's /v1/attest, the agent
# signs it as a simulated quote and forwards it to ccmd's /v1/node/issue
# over mTLS. Checked: refused before approval (build_status), granted after
# (DNS SANs, enclave identity marked simulated), refused for a domain not
# whitelisted, ISVSVN below the minimum, missing node labels, a
# non-test-only account (simulated_evidence) and a deactivated node; each
# refusal reason in the audit log; the certificate listed and revocable.
. "$(dirname "$0")/lib.sh"

ccmd_start
bootstrap_admin
TOKEN=$ADMIN
acc=$(new_account tenant "$TOKEN" '"test_only":true')
A=/v1/accounts/$acc
api POST $A/apps '{"name":"web","isvprodid":1,"isvsvn":3,"min_isvsvn":2,"labels":["zone=a"],
 "allowed_domains":["web.example.org","api.example.org"],"cert_subject":"CN=web,O=Example",
 "cert_validity_days":7}'
expect_status 201 "app"
app=$(jget "$OUT" id)
dtask=$(jget "$OUT" domain_task_id)
api POST $A/apps '{"name":"gpu","isvprodid":2,"labels":["gpu=yes"]}'
app2=$(jget "$OUT" id)
b64=$(new_sigstruct good 1 3)
api POST $A/builds "{\"app_id\":$app,\"sigstruct\":\"$b64\"}"
expect_status 201 "build"
build=$(jget "$OUT" id)
btask=$(jget "$OUT" task_id)
api POST $A/join-tokens '{"name":"agent","labels":["zone=a"]}'
jt=$(jget "$OUT" token)

# The agent enrolls.
APORT=$(free_port)
agent_run "$jt"
node=$(jget "$T/v.json" node_id)

new_csr app
# attest SIG [DNS-JSON]: POST to the agent; sets STATUS, reply in $OUT.
attest() {
	"$CCM_BIN/ccm" attest report --sigstruct "$T/$1.sig" --key "$T/app.key" -o "$T/r.bin" ||
		fail "attest report"
	local body
	body="{\"report\":\"$(base64 -w0 "$T/r.bin")\",\"csr\":$(json_str "$T/app.csr")${2:+,\"dns_names\":$2}}"
	STATUS=$(curl -sS -o "$OUT" -w '%{http_code}' -H 'Content-Type: application/json' \
		--data-binary "$body" "http://127.0.0.1:$APORT/v1/attest") || fail "curl agent"
}

attest good '["web.example.org"]'
expect_error 403 policy_refused "build_status" "before approval"
api POST $A/tasks/$btask/approve '{}'
expect_status 200 "approve build"
attest good '["web.example.org"]'
expect_error 403 policy_refused "domains" "before the domains are approved"
api POST $A/tasks/$dtask/approve '{}'
expect_status 200 "approve domains"

attest good
expect_status 200 "issue"
[ "$(jget "$OUT" app_id)" = "$app" ] && [ "$(jget "$OUT" build_id)" = "$build" ] ||
	fail "grant names app/build: $(cat "$OUT")"
jget "$OUT" certificate >"$T/app.crt"
jget "$OUT" chain >"$T/chain.pem"
openssl verify -CAfile "$T/chain.pem" "$T/app.crt" >/dev/null || fail "app cert does not chain"
san=$(openssl x509 -in "$T/app.crt" -noout -ext subjectAltName)
case "$san" in *DNS:web.example.org*DNS:api.example.org* | *DNS:api.example.org*DNS:web.example.org*) ;;
*) fail "SANs: $san" ;; esac
case "$san" in *"spiffe://ccm/account/$acc/app/$app/build/$build"*) ;; *) fail "URI SAN: $san" ;; esac
openssl x509 -in "$T/app.crt" -noout -subject | grep -q "CN *= *web" || fail "subject"
mre=$("$CCM_BIN/ccm" sgx sigstruct --json "$T/good.sig" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["enclavehash"])')
openssl x509 -in "$T/app.crt" -outform DER -out "$T/app.der"
"$PY" - "$T/app.der" "$mre" <<'PY' || fail "enclave identity extension"
# Read the certificate with Debian's pyca/cryptography (a relying party's
# parser: it refuses OID arcs above 28 bits), then decode the TCG DICE
# TcbInfo (2.23.133.5.4.1) by hand: fwids [6] = MRENCLAVE, MRSIGNER;
# flags [7] = notSecure(1) set for simulated evidence; vendorInfo [8] =
# EnclaveIdentity { mrenclave, mrsigner, isvprodid, isvsvn, debug, simulated }.
import sys
from cryptography import x509
cert = x509.load_der_x509_certificate(open(sys.argv[1], "rb").read())
ext = cert.extensions.get_extension_for_oid(x509.ObjectIdentifier("2.23.133.5.4.1"))
def tlvs(b):
    out, i = [], 0
    while i < len(b):
        tag, n = b[i], b[i + 1]
        i += 2
        if n & 0x80:
            k = n & 0x7f
            n = int.from_bytes(b[i:i + k], "big")
            i += k
        out.append((tag, b[i:i + n]))
        i += n
    return out
(tag, body), = tlvs(ext.value.value)
f = dict(tlvs(body))
mre = bytes.fromhex(sys.argv[2])
fwids = [tlvs(v)[1][1] for _, v in tlvs(f[0xa6])]
assert fwids[0] == mre, "fwid[0] is not MRENCLAVE"
assert int.from_bytes(f[0x83], "big") == 3, "svn"
flags = f[0x87]
assert len(flags) == 2 and flags[1] & 0x40 and not flags[1] & 0x10, "flags %s" % flags.hex()
(_, ident), = tlvs(f[0x88])
vals = tlvs(ident)
assert vals[0][1] == mre and [v[1] for v in vals[2:]] == [b"\x01", b"\x03", b"\x00", b"\xff"], vals
PY
attest good '["web.example.org"]'
expect_status 200 "issue one name"
san=$(openssl x509 -noout -ext subjectAltName <<<"$(jget "$OUT" certificate)")
case "$san" in *api.example.org*) fail "unrequested name in the SANs" ;; esac

# Refusals.
attest good '["evil.example.org"]'
expect_error 403 policy_refused "domains" "domain not whitelisted"
b64=$(new_sigstruct old 1 1)
api POST $A/builds "{\"app_id\":$app,\"sigstruct\":\"$b64\"}"
api POST "$A/tasks/$(jget "$OUT" task_id)/approve" '{}'
attest old
expect_error 403 policy_refused "isvsvn" "ISVSVN below the minimum"
b64=$(new_sigstruct gpu 2 0)
api POST $A/builds "{\"app_id\":$app2,\"sigstruct\":\"$b64\"}"
api POST "$A/tasks/$(jget "$OUT" task_id)/approve" '{}'
attest gpu '[]'
expect_error 403 policy_refused "node_labels" "node lacks the app's labels"
api POST $A/test-only '{"test_only":false,"reason":"go live"}'
expect_status 200 "leave test-only"
attest good
expect_error 403 policy_refused "simulated_evidence" "simulated evidence, not test-only"
api POST $A/test-only '{"test_only":true,"reason":"back"}'
api POST "$A/builds/$build/revoke" '{"reason":"cve"}'
attest good
expect_error 403 policy_refused "build_status" "revoked build"

# Certificates: listed, revoked onto the CRL.
api GET "$A/certificates?app=$app"
[ "$(jget "$OUT" items | "$PY" -c 'import json,sys; print(len(json.load(sys.stdin)))')" = 2 ] ||
	fail "certificates listed: $(cat "$OUT")"
cid=$(jget "$OUT" items.0.id)
[ "$(jget "$OUT" items.0.state)" = ISSUED ] || fail "state ISSUED"
api POST "$A/certificates/$cid/revoke" '{"reason":"test"}'
expect_status 200 "revoke certificate"
serial=$(openssl x509 -in "$T/app.crt" -noout -serial | cut -d= -f2)
curl -sf --cacert "$DATA/ca.pem" -H "Authorization: Bearer $TOKEN" "$URL$A/crl.pem" |
	openssl crl -noout -text | grep -qi "Serial Number: *$serial" || fail "revoked cert not on the CRL"

# A deactivated node gets nothing.
api POST "$A/nodes/$node/deactivate" '{}'
expect_status 200 "deactivate"
attest good
expect_error 403 node_deactivated "" "deactivated node"

api GET "$A/audit?action=certificate.issue&limit=1000"
for check in build_status domains isvsvn node_labels simulated_evidence node_deactivated; do
	grep -q "$check" "$OUT" || fail "refusal $check not in the audit log"
done
[ "$(grep -o '"result":"ok"' "$OUT" | wc -l)" = 2 ] || fail "grants not audited"
echo ok
