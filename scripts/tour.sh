#!/bin/sh
# DESIGN: `make tour` narrates the offline tools (keys, measurement,
# SIGSTRUCT, DCAP quote verification) on the public vectors beside the
# project, each step printed before it runs. `make demo` is the whole flow.
set -eu
build=${1:-build}
cd "$(dirname "$0")/.."
CCM=$build/bin/ccm
VEC=${CCM_VECTORS:-../shared/vectors}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

step() { printf '\n==> %s\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }

step "1. Make an enclave signing key (RSA-3072, e = 3, mode 0600)"
run "$CCM" sgx keygen -o "$work/signer.pem"

step "2. Measure an enclave layout (SGXS stream from Fortanix rust-sgx): MRENCLAVE"
run "$CCM" sgx measure "$VEC/fortanix-rust-sgx/sgxs/test_enclave.sgxs"

step "3. Sign it: a SIGSTRUCT with ISVPRODID 1, ISVSVN 1"
run "$CCM" sgx sign --key "$work/signer.pem" --sgxs "$VEC/fortanix-rust-sgx/sgxs/test_enclave.sgxs" \
	--isvprodid 1 --isvsvn 1 -o "$work/enclave.sig"

step "4. Inspect and verify the SIGSTRUCT (MRSIGNER = SHA-256 of the modulus)"
run "$CCM" sgx sigstruct "$work/enclave.sig"

step "5. Re-create an upstream SIGSTRUCT byte for byte from the same key and fields"
run "$CCM" sgx sign --key "$VEC/fortanix-rust-sgx/sigstruct/sig1.key.pem" --date 20160109 \
	--enclavehash c50673624a6cb17c1c6c2a4e6906f47a170c4629b8723781d1017ef376f1a75d \
	-o "$work/sig1.sig"
run cmp "$work/sig1.sig" "$VEC/fortanix-rust-sgx/sigstruct/sig1.sigstruct.bin"
echo "identical"

if "$CCM" help quote verify >/dev/null 2>&1; then
	q=$VEC/quotes/phala-sgx-v3-00a067110000
	at=$(python3 -c 'import json,sys;print(json.load(open(sys.argv[1]))["at"])' "$q/expected.json")
	step "6. Verify a real Intel SGX DCAP quote against Intel collateral"
	run "$CCM" quote verify "$q/quote.dat" --collateral "$q/collateral" --at "$at" || true
fi

step "Measurement speed against raw SHA-256 on this machine"
run "$CCM" bench measure --size 67108864

printf '\nExplore further: %s --help, %s help sgx sign, docs/internals/sgx.md\n' "$CCM" "$CCM"
