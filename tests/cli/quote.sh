#!/usr/bin/env bash
# `ccm quote verify|show` and `ccm bench quote` through the real binary:
# every vector directory (enumerated, not listed) must give exactly its
# expected.json and the exit status DESIGN.md fixes; bad input exits 2.
. "$(dirname "$0")/lib.sh"
Q=$VEC/quotes

# compare OUT.json EXPECTED.json: every expected field the CLI reports
# must be equal (source/notes/at/verifies are not CLI fields).
compare() {
	python3 - "$1" "$2" <<'EOF'
import json, sys
out = json.load(open(sys.argv[1]))
exp = json.load(open(sys.argv[2]))
bad = []
if out.get("verified") != exp["verifies"]:
    bad.append("verified %r != %r" % (out.get("verified"), exp["verifies"]))
for k, v in exp.items():
    if k in ("source", "notes", "at", "verifies"):
        continue
    if out.get(k, "<missing>") != v:
        bad.append("%s: %r != %r" % (k, out.get(k, "<missing>"), v))
for k in ("verified", "tcb_status", "advisory_ids", "quote_version", "tee", "fmspc",
          "earliest_expiry", "failure", "collateral_expired", "report_data", "debug"):
    if k not in out:
        bad.append("missing " + k)
if bad:
    print("; ".join(bad))
    sys.exit(1)
EOF
}

n=0
for d in "$Q"/*/; do
	[ -f "$d/expected.json" ] || continue
	name=$(basename "$d")
	at=$(jget "$d/expected.json" at)
	want=1
	[ "$(jget "$d/expected.json" verifies)" = "true" ] && want=0
	$CCM quote verify "$d/quote.dat" --collateral "$d/collateral" --at "$at" --json \
		>"$TMP/out.json" 2>"$TMP/err"
	rc=$?
	if [ "$rc" != "$want" ]; then
		failt "$name: exit $rc, want $want: $(cat "$TMP/err")"
	elif ! msg=$(compare "$TMP/out.json" "$d/expected.json"); then
		failt "$name: $msg"
	else
		pass
	fi
	# text output and show
	expect "$want" "tcb_status" $CCM quote verify "$d/quote.dat" --collateral "$d/collateral" --at "$at"
	expect 0 "\"quote_version\":$(jget "$d/expected.json" quote_version)" $CCM quote show --json "$d/quote.dat"
	n=$((n + 1))
done
[ "$n" -ge 8 ] && pass || failt "only $n vectors found"

P=$Q/phala-sgx-v3-00a067110000
AT=2025-07-19T10:01:17Z

# Help and usage.
for c in "quote verify" "quote show" "bench quote"; do
	expect 0 "usage: ccm $c" $CCM $c --help
done
expect 2 "expected QUOTE and --collateral DIR" $CCM quote verify $P/quote.dat
expect 2 "unknown option" $CCM quote verify --nosuch $P/quote.dat
expect 2 "not an RFC 3339 time" $CCM quote verify $P/quote.dat --collateral $P/collateral --at yesterday
expect 2 "" $CCM quote verify $TMP/nosuch.dat --collateral $P/collateral --at $AT
expect 2 "" $CCM quote verify $P/quote.dat --collateral $TMP/nosuch --at $AT
expect 2 "expected one QUOTE file" $CCM quote show
expect 0 '"pck":{"fmspc":"00a067110000","pceid":"0000","tcb_components":[11,11,2,2,255,1,0,' $CCM quote show --json $P/quote.dat
expect 0 '"pck":null' $CCM quote show --json $Q/intel-qvl-sample-sgx-v3-testroot/quote.dat

# Unusable quotes: exit 2, the message names the field and offset.
head -c 1000 $P/quote.dat >$TMP/trunc.dat
expect 2 "signature data size at offset 432: 4164 exceeds" $CCM quote verify $TMP/trunc.dat --collateral $P/collateral --at $AT
expect 2 "at offset" $CCM quote show $TMP/trunc.dat
expect 2 '"failure":"quote format"' $CCM quote verify $TMP/trunc.dat --collateral $P/collateral --at $AT --json
# A missing file is not a format failure, and its path is named once.
expect 2 '"failure":"quote file","error":"'$TMP'/none.dat: No such file' $CCM quote verify $TMP/none.dat --collateral $P/collateral --json
expect 2 "ccm: $TMP/none.dat: No such file" $CCM quote show $TMP/none.dat
python3 -c 'import sys; b=bytearray(open(sys.argv[1],"rb").read()); b[0]=2; open(sys.argv[2],"wb").write(b)' $P/quote.dat $TMP/v2.dat
expect 2 "version at offset 0: 2 is not supported" $CCM quote show $TMP/v2.dat
python3 -c 'import sys; b=bytearray(open(sys.argv[1],"rb").read()); b[2]=3; open(sys.argv[2],"wb").write(b)' $P/quote.dat $TMP/k3.dat
expect 2 "att_key_type at offset 2" $CCM quote verify $TMP/k3.dat --collateral $P/collateral --at $AT
cp $P/quote.dat $TMP/pad.dat && printf '\0\0\0\0' >>$TMP/pad.dat
expect 0 '"trailing_bytes":4' $CCM quote show --json $TMP/pad.dat
expect 0 '"trailing_bytes":4' $CCM quote verify $TMP/pad.dat --collateral $P/collateral --at $AT --json
printf 'x' >>$TMP/pad.dat
expect 0 '"trailing_bytes":5' $CCM quote show --json $TMP/pad.dat

# Time: outside the window fails (exit 1) unless expired collateral is allowed.
expect 1 '"failure":"collateral expired"' $CCM quote verify $P/quote.dat --collateral $P/collateral --at 2026-01-01T00:00:00Z --json
expect 0 '"tcb_info","qe_identity"]' $CCM quote verify $P/quote.dat --collateral $P/collateral --at 2030-01-01T00:00:00Z --allow-expired-collateral --json
expect 1 '"failure":"collateral not yet valid"' $CCM quote verify $P/quote.dat --collateral $P/collateral --at 2020-01-01T00:00:00Z --allow-expired-collateral --json
expect 0 '"earliest_expiry":"2025-07-19T10:01:18Z"' $CCM quote verify $P/quote.dat --collateral $P/collateral --at $AT --json

# Collateral with a changed byte in the signed TCB info: exit 1, named step.
mkdir -p $TMP/coll && cp $P/collateral/* $TMP/coll/ && chmod u+w $TMP/coll/*
sed -i 's/"tcbEvaluationDataNumber":1/"tcbEvaluationDataNumber":2/' $TMP/coll/tcb_info.json
expect 1 '"failure":"tcb info signature"' $CCM quote verify $P/quote.dat --collateral $TMP/coll --at $AT --json
printf '{' >$TMP/coll/tcb_info.json
expect 2 "tcb_info" $CCM quote verify $P/quote.dat --collateral $TMP/coll --at $AT
expect 2 '"failure":"collateral"' $CCM quote verify $P/quote.dat --collateral $TMP/coll --at $AT --json

# PEM collateral where DER is named, and DER certificates where PEM is.
cp $P/collateral/* $TMP/coll/ && chmod u+w $TMP/coll/*
openssl crl -inform DER -in $P/collateral/pck_crl.der -out $TMP/coll/pck_crl.der 2>/dev/null &&
	expect 0 '"verified":true' $CCM quote verify $P/quote.dat --collateral $TMP/coll --at $AT --json
python3 - $P/collateral/tcb_info_issuer_chain.pem $TMP/coll/tcb_info_issuer_chain.pem <<'EOF2'
import subprocess, sys
pem = open(sys.argv[1]).read()
blocks = [b + "-----END CERTIFICATE-----\n" for b in pem.split("-----END CERTIFICATE-----") if "BEGIN" in b]
der = b"".join(subprocess.run(["openssl", "x509", "-outform", "DER"], input=b.encode(),
                              capture_output=True, check=True).stdout for b in blocks)
open(sys.argv[2], "wb").write(der)
EOF2
expect 0 '"verified":true' $CCM quote verify $P/quote.dat --collateral $TMP/coll --at $AT --json

# The bench: one JSON object with the five fields.
expect 0 '"ecdsa_verify_per_s"' $CCM bench quote --millis 50 --json
expect 0 '"threads":2' $CCM bench quote --millis 50 --threads 2 --json
# ccm bench issue refuses bad options before it contacts any agent.
expect 2 "--threads: 17 is out of range" $CCM bench issue --agent http://127.0.0.1:1 --sigstruct x --threads 17
expect 2 "--clients: 257 is out of range" $CCM bench issue --agent http://127.0.0.1:1 --sigstruct x --clients 257
expect 2 "start at 1" $CCM bench issue --agent http://127.0.0.1:1 --sigstruct x --clients 0
expect 2 "--agent URL and --sigstruct FILE are required" $CCM bench issue --sigstruct x
expect 2 "expected http://HOST:PORT" $CCM bench issue --agent ftp://x --sigstruct x

done_tests
