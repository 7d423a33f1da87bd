#!/bin/bash
# Enrollment in an account that is not test-only: without evidence it is
# refused (attestation_required); a real public DCAP quote (from
# /work/shared/vectors/quotes, verified against that vector's collateral
# at the vector's time with --collateral-at) whose report data does not
# bind the CSR is refused with key_binding; an account that does not
# accept the quote's TCB status refuses with tcb_status. Nothing is
# stored but the audit entries; the join token keeps its use.
. "$(dirname "$0")/lib.sh"

V=${CCM_VECTORS:-/work/shared/vectors}/quotes/phala-sgx-v3-00a067110000
[ -f "$V/quote.dat" ] || { echo "skip: no quote vectors"; exit 0; }
ccmd_start --collateral "$V/collateral" --collateral-at 2025-07-19T10:01:17Z
bootstrap_admin
TOKEN=$ADMIN
acc=$(new_account prod "$TOKEN" \
	'"accepted_tcb_statuses":["UpToDate","ConfigurationAndSWHardeningNeeded"]')
strict=$(new_account strict "$TOKEN")
api POST "/v1/accounts/$acc/join-tokens" '{"name":"t","uses":1}'
expect_status 201 "join token"
jt=$(jget "$OUT" token)
api POST "/v1/accounts/$strict/join-tokens" '{"name":"t","uses":1}'
jt2=$(jget "$OUT" token)
new_csr n1
csr=$(json_str "$T/n1.csr")
quote=$(base64 -w0 "$V/quote.dat")
before=$(db_dump2)

api POST /v1/nodes/enroll "{\"join_token\":\"$jt\",\"name\":\"n1\",\"csr\":$csr}" ""
expect_error 403 attestation_required "not test-only" "enroll without evidence"
api POST /v1/nodes/enroll "{\"join_token\":\"$jt\",\"name\":\"n1\",\"csr\":$csr,
 \"evidence\":{\"type\":\"dcap\",\"quote\":\"$quote\"}}" ""
expect_error 403 attestation_failed "key_binding" "quote not binding the CSR"
api POST /v1/nodes/enroll "{\"join_token\":\"$jt2\",\"name\":\"n1\",\"csr\":$csr,
 \"evidence\":{\"type\":\"dcap\",\"quote\":\"$quote\"}}" ""
expect_error 403 attestation_failed "tcb_status: ConfigurationAndSWHardeningNeeded" "TCB status"
# A flipped byte in the quote fails verification.
bad=$("$PY" -c 'import base64,sys; b=bytearray(open(sys.argv[1],"rb").read()); b[100]^=1; print(base64.b64encode(b).decode())' "$V/quote.dat")
api POST /v1/nodes/enroll "{\"join_token\":\"$jt\",\"name\":\"n1\",\"csr\":$csr,
 \"evidence\":{\"type\":\"dcap\",\"quote\":\"$bad\"}}" ""
expect_error 403 attestation_failed "quote verification failed" "tampered quote"
api POST /v1/nodes/enroll "{\"join_token\":\"$jt\",\"name\":\"n1\",\"csr\":$csr,
 \"evidence\":{\"type\":\"simulated\",\"quote\":\"$quote\"}}" ""
expect_error 400 invalid_field "evidence" "simulated evidence at enrollment"
[ "$(db_dump2)" = "$before" ] || fail "a refused enrollment changed the store"
api GET "/v1/accounts/$acc/audit?action=node.enroll&result=refused"
grep -q "attestation_required" "$OUT" || fail "refusal without evidence not audited"
grep -q "key_binding" "$OUT" || fail "key_binding refusal not audited"
echo ok
