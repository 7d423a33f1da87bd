#!/usr/bin/env bash
# `ccm sgx ...` and `ccm bench measure` through the real binary: vectors,
# exit statuses, and the message for every bad input the commands handle.
. "$(dirname "$0")/lib.sh"
S=$VEC/fortanix-rust-sgx

# Help and usage.
expect 0 "usage: ccm [--version]" $CCM --help
expect 0 "ccm 0." $CCM --version
expect 0 "sgx sign" $CCM help
expect 0 "usage: ccm sgx sign" $CCM help sgx sign
expect 0 "--enclavehash" $CCM sgx sign --help
expect 0 "sgx measure" $CCM help sgx
for c in "sgx keygen" "sgx measure" "sgx sign" "sgx sigstruct" "bench measure"; do
	expect 0 "usage: ccm $c" $CCM $c --help
done
expect 2 "unknown command 'nosuch'" $CCM nosuch
expect 2 "missing subcommand" $CCM sgx
# A group takes --help too: its commands on stdout, exit 0 (DESIGN: every
# command takes --help); a misspelt subcommand is named.
for g in sgx image bench account user token audit app build task node "node token" cert quote \
	registry attest; do
	expect 0 "usage: ccm $g SUBCOMMAND" $CCM $g --help
done
out=$($CCM node token --help 2>/dev/null)
case "$out" in *"node token create"*) pass ;; *) failt "node token --help on stdout: $out" ;; esac
expect 0 "usage: ccm [--version]" $CCM help --help
expect 2 "unknown subcommand 'nosuch'" $CCM sgx nosuch
expect 2 "unknown subcommand 'nosuch'" $CCM sgx nosuch --help
expect 2 "ccm node token: unknown subcommand 'nosuch'" $CCM node token nosuch
expect 2 "ccm node token: missing subcommand" $CCM node token
expect 2 "unknown command 'nosuch'" $CCM nosuch --help
expect 2 "expected one FILE.sgxs" $CCM sgx measure

# Measurement of the vectors.
expect 0 "784acfd7d5096a8f0fbd3265760bff21b120f62407a9a9e5ba31aa3c8ed198fc" $CCM sgx measure $S/sgxs/test_enclave.sgxs
expect 0 '{"mrenclave":"a06a560b26f5e397b2d7872fac66fe4b43bf4f507296ee048f110be6fb1a2290"}' $CCM sgx measure --json $S/sgxs/report.sgxs

# Bad streams: truncated, non-canonical, missing file.
head -c 1000 $S/sgxs/report.sgxs > $TMP/trunc.sgxs
expect 2 "truncated" $CCM sgx measure $TMP/trunc.sgxs
tail -c +65 $S/sgxs/report.sgxs > $TMP/noecreate.sgxs
expect 2 "record 0 at byte 0: EADD before ECREATE" $CCM sgx measure $TMP/noecreate.sgxs
cat $S/sgxs/report.sgxs $S/sgxs/report.sgxs > $TMP/twice.sgxs
expect 2 "ECREATE: only the first record" $CCM sgx measure $TMP/twice.sgxs
: > $TMP/empty.sgxs
expect 2 "empty stream" $CCM sgx measure $TMP/empty.sgxs
expect 2 "No such file" $CCM sgx measure $TMP/none.sgxs

# SIGSTRUCT inspection.
$CCM sgx sigstruct --json $S/sigstruct/sig1.sigstruct.bin > $TMP/sig1.json
expect 0 "" test "$(jget $TMP/sig1.json mrsigner)" = 83d719e77deaca1470f6baf62a4d774303c899db69020f9c70ee1dfc08c7ce9e
expect 0 "" test "$(jget $TMP/sig1.json signature_valid)" = true
expect 0 "" test "$(jget $TMP/sig1.json q1q2_valid)" = true
expect 0 "" test "$(jget $TMP/sig1.json date)" = 20160109
expect 0 "" test "$(jget $TMP/sig1.json attributemask)" = fdffffffffffffff1bffffffffffffff
expect 0 "" test "$(jget $TMP/sig1.json isvprodid)" = 0
expect 0 "" test "$(jget $TMP/sig1.json enclavehash)" = c50673624a6cb17c1c6c2a4e6906f47a170c4629b8723781d1017ef376f1a75d
expect 0 "signature            ok" $CCM sgx sigstruct $S/sgxs/test_enclave.sig
python3 - "$S/sigstruct/sig1.sigstruct.bin" "$TMP" <<'PY'
import sys
b = bytearray(open(sys.argv[1], 'rb').read())
d = sys.argv[2]
x = bytearray(b); x[600] ^= 1; open(d + '/badsig.sig', 'wb').write(x)
x = bytearray(b); x[512:516] = (65537).to_bytes(4, 'little'); open(d + '/exp.sig', 'wb').write(x)
open(d + '/short.sig', 'wb').write(b[:1800])
PY
expect 1 "signature does not verify" $CCM sgx sigstruct $TMP/badsig.sig
expect 1 "EXPONENT is 65537" $CCM sgx sigstruct $TMP/exp.sig
expect 2 "1800 bytes, a SIGSTRUCT is exactly 1808" $CCM sgx sigstruct $TMP/short.sig

# Signing: byte-exact reproduction of the upstream SIGSTRUCT.
expect 0 "83d719e77deaca1470f6baf62a4d774303c899db69020f9c70ee1dfc08c7ce9e" $CCM sgx sign \
	--key $S/sigstruct/sig1.key.pem --date 20160109 \
	--enclavehash c50673624a6cb17c1c6c2a4e6906f47a170c4629b8723781d1017ef376f1a75d -o $TMP/re.sig
expect 0 "" cmp $TMP/re.sig $S/sigstruct/sig1.sigstruct.bin

# Keygen: mode 0600, refuses to overwrite, signs a measured stream.
expect 0 "RSA-3072" $CCM sgx keygen -o $TMP/k.pem
expect 0 "" test "$(stat -c %a $TMP/k.pem)" = 600
expect 2 "exists" $CCM sgx keygen -o $TMP/k.pem
expect 0 "" $CCM sgx sign --key $TMP/k.pem --sgxs $S/sgxs/test_enclave.sgxs --isvprodid 65535 \
	--isvsvn 3 --vendor 0x8086 --swdefined 7 --miscselect 1 --miscmask fffffffe \
	--isvfamilyid 0102030405060708090a0b0c0d0e0f10 --isvextprodid 00000000000000000000000000000001 \
	--debug --date 20240229 -o $TMP/t.sig
$CCM sgx sigstruct --json $TMP/t.sig > $TMP/t.json
expect 0 "" test "$(jget $TMP/t.json enclavehash)" = 784acfd7d5096a8f0fbd3265760bff21b120f62407a9a9e5ba31aa3c8ed198fc
expect 0 "" test "$(jget $TMP/t.json isvsvn)" = 3
expect 0 "" test "$(jget $TMP/t.json isvprodid)" = 65535
expect 0 "" test "$(jget $TMP/t.json vendor)" = 32902
expect 0 "" test "$(jget $TMP/t.json debug)" = true
expect 0 "" test "$(jget $TMP/t.json miscselect)" = 1
expect 0 "" test "$(jget $TMP/t.json miscmask)" = 4294967294
expect 0 "" test "$(jget $TMP/t.json isvfamilyid)" = 0102030405060708090a0b0c0d0e0f10
expect 0 "" test "$(jget $TMP/t.json date)" = 20240229
expect 0 "" test "$(jget $TMP/t.json valid)" = true

H=784acfd7d5096a8f0fbd3265760bff21b120f62407a9a9e5ba31aa3c8ed198fc
# Flag options as sgxs-sign applies them, after every field option:
# --debug sets DEBUG and clears it in the mask even when --attributemask
# enforced it; --isvextprodid/--isvfamilyid make KSS (bit 7) required.
expect 0 "" $CCM sgx sign --key $TMP/k.pem --enclavehash $H --date 20240101 --debug \
	--attributemask ffffffffffffffffffffffffffffffff -o $TMP/d.sig
$CCM sgx sigstruct --json $TMP/d.sig > $TMP/d.json
expect 0 "" test "$(jget $TMP/d.json attributes)" = 06000000000000000300000000000000
expect 0 "" test "$(jget $TMP/d.json attributemask)" = fdffffffffffffffffffffffffffffff
expect 0 "" test "$(jget $TMP/t.json attributes)" = 86000000000000000300000000000000
expect 0 "" test "$(jget $TMP/t.json attributemask)" = fdffffffffffffff1bffffffffffffff
expect 0 "" $CCM sgx sign --key $TMP/k.pem --enclavehash $H --date 20240101 \
	--attributemask 7dffffffffffffff1bffffffffffffff \
	--isvextprodid 01000000000000000000000000000000 -o $TMP/kss.sig
$CCM sgx sigstruct --json $TMP/kss.sig > $TMP/kss.json
expect 0 "" test "$(jget $TMP/kss.json attributes)" = 84000000000000000300000000000000
expect 0 "" test "$(jget $TMP/kss.json attributemask)" = fdffffffffffffff1bffffffffffffff
expect 0 "" test "$(jget $TMP/kss.json isvextprodid)" = 01000000000000000000000000000000
expect 0 "" test "$(jget $TMP/kss.json valid)" = true
# Without them, no KSS.
expect 0 "" test "$(jget $TMP/sig1.json attributes)" = 04000000000000000300000000000000

# Bad signing input.
expect 2 "--isvprodid: 65536 is out of range (0-65535)" $CCM sgx sign --key $TMP/k.pem --enclavehash $H --isvprodid 65536 -o $TMP/x.sig
expect 2 "--isvsvn: '-1' is not a number" $CCM sgx sign --key $TMP/k.pem --enclavehash $H --isvsvn -1 -o $TMP/x.sig
expect 2 "--enclavehash: expected 64 hex digits, got 3" $CCM sgx sign --key $TMP/k.pem --enclavehash abc -o $TMP/x.sig
expect 2 "--attributes: 'zz000000000000000300000000000000' is not valid hex" $CCM sgx sign --key $TMP/k.pem --enclavehash $H --attributes zz000000000000000300000000000000 -o $TMP/x.sig
expect 2 "--date: '20230230' is not a calendar date" $CCM sgx sign --key $TMP/k.pem --enclavehash $H --date 20230230 -o $TMP/x.sig
expect 2 "--vendor: must be 0 or 0x8086" $CCM sgx sign --key $TMP/k.pem --enclavehash $H --vendor 5 -o $TMP/x.sig
expect 2 "exactly one of --sgxs" $CCM sgx sign --key $TMP/k.pem -o $TMP/x.sig
expect 2 "truncated" $CCM sgx sign --key $TMP/k.pem --sgxs $TMP/trunc.sgxs -o $TMP/x.sig
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -pkeyopt rsa_keygen_pubexp:3 -out $TMP/r2048.pem 2>/dev/null
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:3072 -out $TMP/r65537.pem 2>/dev/null
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out $TMP/ec.pem 2>/dev/null
expect 2 "RSA-2048, but SGX needs RSA-3072" $CCM sgx sign --key $TMP/r2048.pem --enclavehash $H -o $TMP/x.sig
expect 2 "public exponent is not 3" $CCM sgx sign --key $TMP/r65537.pem --enclavehash $H -o $TMP/x.sig
expect 2 "not an RSA key" $CCM sgx sign --key $TMP/ec.pem --enclavehash $H -o $TMP/x.sig
echo garbage > $TMP/garbage.pem
expect 2 "not a PEM private key" $CCM sgx sign --key $TMP/garbage.pem --enclavehash $H -o $TMP/x.sig
expect 0 "" test ! -e $TMP/x.sig

# Bench (small, for the JSON shape only; speed is never a test).
$CCM bench measure --size 1048576 --json > $TMP/b.json
expect 0 "" python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert all(k in d for k in ("enclave_mb_s","sha256_mb_s","limit_mb_s","ratio"))' $TMP/b.json
expect 2 "not a power of two" $CCM bench measure --size 12345

done_tests
