#!/bin/bash
# shellcheck disable=SC2034 # variables shared with lib.sh
# Image conversion THROUGH ccmd (issue 6 acceptance): Debian's
# docker-registry on loopback (no auth), a busybox-static image built with
# umoci and pushed with skopeo, `ccm build create --wait`, the result
# pulled back with skopeo and unpacked with umoci, then checked: input
# layers kept, /opt/ccm contents, entrypoint, labels = build record =
# SIGSTRUCT fields, every file hash, and the same MRENCLAVE and output
# digest as `ccm image convert` offline with the same key and settings.
#
# The same key: the account's enclave signing key is generated inside ccmd
# and no API returns it (on purpose). The test holds ccmd's data directory,
# as the operator does, so it unseals the key the way ccmd does (master.key,
# AES-256-GCM with the purpose "account:sgx" as AAD, lib/pki/seal.c) and
# checks that its MRSIGNER is the account's before using it. That makes the
# comparison exact (signatures are deterministic: RSA PKCS#1 v1.5), rather
# than comparing MRENCLAVE alone (which does not depend on the key).
#
# Failures, with the exact reasons: unknown tag; a corrupted blob in the
# registry's storage; the registry killed in the middle of a blob upload
# (cutproxy.py makes it deterministic), then `ccm build retry` after the
# registry is back gives the digest of the offline conversion.
. "$(dirname "$0")/lib.sh"
for t in docker-registry skopeo umoci; do
	command -v $t >/dev/null || { echo "SKIP: $t not installed"; exit 0; }
done
"$PY" -c 'import cryptography.hazmat.primitives.ciphers.aead' 2>/dev/null ||
	{ echo "SKIP: python3-cryptography not installed"; exit 0; }
BUSYBOX=/bin/busybox
file -L "$BUSYBOX" 2>/dev/null | grep -q 'statically linked' || { echo "SKIP: busybox-static not installed"; exit 0; }

CCM=$CCM_BIN/ccm
ENCLAVE=$CCM_BIN/ccm-enclave
SK="skopeo --insecure-policy"
PIDS=()
SRC_PID=""
DST_PID=""
trap 'it_cleanup' EXIT
it_rc() { return "$1"; }
it_cleanup() {
	local rc=$?
	set +e
	for p in $SRC_PID $DST_PID "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
	it_rc $rc
	cleanup
}

# registry_start NAME: docker-registry NAME (port $NAME_PORT, storage
# $T/NAME; the same again after a kill), its PID in NAME_PID. It runs under
# a subshell that waits for it, so that its SIGKILL below is reaped there
# quietly rather than reported by this shell.
registry_start() {
	local port_var=${1}_PORT
	local port=${!port_var:-}
	if [ -z "$port" ]; then
		port=$(free_port)
		printf -v "$port_var" '%s' "$port"
		mkdir -p "$T/$1"
		printf 'version: 0.1\nlog: {level: error}\nstorage: {filesystem: {rootdirectory: %s}}\nhttp: {addr: 127.0.0.1:%s}\n' \
			"$T/$1" "$port" >"$T/$1.yml"
	fi
	rm -f "$T/$1.pid"
	(
		docker-registry serve "$T/$1.yml" >>"$T/$1.log" 2>&1 &
		echo $! >"$T/$1.pid"
		wait
	) 2>/dev/null &
	PIDS+=($!)
	for _ in $(seq 100); do
		if curl -s -o /dev/null "http://127.0.0.1:$port/v2/"; then
			printf -v "${1}_PID" '%s' "$(cat "$T/$1.pid")"
			return 0
		fi
		sleep 0.1
	done
	fail "registry $1 did not start: $(cat "$T/$1.log")"
}
# SRC: inputs (and the first app's output); DST: the target that is killed
# in the middle of a push, behind the cutting proxy.
registry_start SRC
registry_start DST
REG=127.0.0.1:$SRC_PORT
REG2=127.0.0.1:$DST_PORT
PROXY_PORT=$(free_port)
PROXY=127.0.0.1:$PROXY_PORT
"$PY" "$CCM_SRC/tests/integration/cutproxy.py" "$PROXY_PORT" "$REG2" "$T/arm" "$T/cut" \
	>"$T/proxy.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do
	curl -s -o /dev/null "http://$PROXY/v2/" && break
	sleep 0.1
done

# ---- the test images: busybox root in two layers (base), the first alone
# (one: a single upload in flight when the push is cut), a third layer for
# corruption
cd "$T" || exit 1
export TMPDIR=$T
umoci init --layout oci >/dev/null
umoci new --image oci:base >/dev/null
umoci unpack --rootless --image oci:base b1 >/dev/null 2>&1
mkdir -p b1/rootfs/bin b1/rootfs/etc b1/rootfs/data b1/rootfs/app
cp "$BUSYBOX" b1/rootfs/bin/busybox
for a in sh cat echo; do ln -s busybox b1/rootfs/bin/$a; done
echo hello-from-image >b1/rootfs/etc/greeting
echo scratch >b1/rootfs/data/state
umoci repack --image oci:base b1 >/dev/null
umoci tag --image oci:base one >/dev/null
umoci unpack --rootless --image oci:base b2 >/dev/null 2>&1
echo v2 >b2/rootfs/app/version
umoci repack --image oci:base b2 >/dev/null
umoci config --image oci:base --config.entrypoint /bin/sh --config.env PATH=/bin \
	--config.workingdir /app >/dev/null
umoci unpack --rootless --image oci:base b3 >/dev/null 2>&1
head -c 65536 /dev/urandom >b3/rootfs/app/noise
umoci repack --image oci:base:corrupt b3 >/dev/null
$SK copy -q --dest-tls-verify=false oci:oci:base "docker://$REG/test/busybox:1" >/dev/null ||
	fail "skopeo push"
$SK copy -q --dest-tls-verify=false oci:oci:one "docker://$REG/test/one:1" >/dev/null ||
	fail "skopeo push one"
$SK copy -q --dest-tls-verify=false oci:oci:base:corrupt "docker://$REG/test/corrupt:1" >/dev/null ||
	fail "skopeo push corrupt"

ccmd_start --insecure-registry "$REG" --insecure-registry "$PROXY" --runtime "$ENCLAVE"
bootstrap_admin
export CCM_TOKEN=$ADMIN
TOKEN=$ADMIN
ACC=$(new_account builds "$ADMIN")
export CCM_ACCOUNT=$ACC

# app_create NAME INPUT OUTPUT: the settings every conversion below uses.
app_create() {
	"$CCM" app create "$1" --isvprodid 9 --isvsvn 2 --memory 64M --threads 2 \
		--input-image "$2" --output-image "$3" --entrypoint /bin/sh \
		--args=-c,'echo ok' --env GREETING=hi,MODE=test --rw-dirs /data \
		--subject CN=b.test --key-type ec-p256 --key-path /run/k.pem --cert-path /run/c.pem \
		--chain-path /run/ch.pem --json >"$T/app.json" 2>"$T/app.err" || fail "app create $1: $(cat "$T/app.err")"
	jget "$T/app.json" id
}
APP=$(app_create conv "$REG/test/busybox:1" "$REG/test/busybox-enc:1")
APP2=$(app_create cut "$REG/test/one:1" "$PROXY/cut/busybox-enc:1")

# offline APP INPUT OUT.json LAYOUT: `ccm image convert` with the exported
# key and the settings ccmd derives from the app (builder.c).
printf '{"cert_path":"/run/c.pem","chain_path":"/run/ch.pem","key_path":"/run/k.pem","key_type":"ec-p256"}' >"$T/cert.json"
offline() {
	"$CCM" image convert --insecure-registry "$REG" --from "$2" \
		--to "oci:$T/$4:enc" --key "$T/acct.pem" --runtime "$ENCLAVE" --isvprodid 9 --isvsvn 2 \
		--mem 64M --threads 2 --entrypoint /bin/sh --cmd '["-c","echo ok"]' --env GREETING=hi \
		--env MODE=test --rw-dir /data --app-id "$1" --account-id "$ACC" \
		--cert-config "$T/cert.json" --json >"$T/$3" 2>"$T/$3.err" ||
		fail "offline conversion: $(cat "$T/$3.err")"
}

# build_id APP: the newest build of an app.
build_id() {
	"$CCM" build list --app "$1" --json >"$T/bl.json" || fail "build list"
	"$PY" -c 'import json,sys; print(max(b["id"] for b in json.load(open(sys.argv[1]))["items"]))' \
		"$T/bl.json"
}

# expect_failed BUILD REGEX: conversion FAILED, reason matching REGEX whole,
# the same reason in the audit entry (build.convert, error).
expect_failed() {
	"$CCM" build show "$1" --json >"$T/b.json" || fail "build show $1"
	"$PY" - "$T/b.json" "$2" <<'PY' || fail "build $1: $(cat "$T/b.json")"
import json, re, sys
b = json.load(open(sys.argv[1]))
c = b["conversion"]
assert c["status"] == "FAILED" and b["mrenclave"] == "" and b["status"] == "PENDING", c
assert re.fullmatch(sys.argv[2], c["reason"]), "reason %r does not match %r" % (c["reason"], sys.argv[2])
PY
	api GET "/v1/accounts/$ACC/audit?action=build.convert&limit=1000"
	"$PY" - "$OUT" "$1" "$(jget "$T/b.json" conversion.reason)" <<'PY' || fail "audit of build $1: $(cat "$OUT")"
import json, sys
e = [x for x in json.load(open(sys.argv[1]))["items"] if x["object"] == "build:" + sys.argv[2]]
assert e and e[-1]["result"] == "error" and e[-1]["reason"] == sys.argv[3], e
PY
}

# ---- 1. conversion through ccmd, pulled back and checked -----------------
"$CCM" build create --app "$APP" --wait --json >"$T/build.json" 2>"$T/build.err" ||
	fail "build create --wait: $(cat "$T/build.err")"
BID=$(jget "$T/build.json" id)
[ "$(jget "$T/build.json" conversion.status)" = DONE ] || fail "build: $(cat "$T/build.json")"
MRE=$(jget "$T/build.json" mrenclave)
DIG=$(jget "$T/build.json" image_digest)
"$CCM" account show "$ACC" --json >"$T/acc.json"
[ "$(jget "$T/build.json" mrsigner)" = "$(jget "$T/acc.json" mrsigner)" ] ||
	fail "build MRSIGNER is not the account's"
api GET "/v1/accounts/$ACC/tasks?type=build_whitelist"
[ "$(jget "$OUT" items.0.build_id)" = "$BID" ] || fail "no build_whitelist task: $(cat "$OUT")"

$SK copy -q --src-tls-verify=false "docker://$REG/test/busybox-enc:1" "oci:$T/pulled:enc" >/dev/null ||
	fail "skopeo pull of the output"
umoci unpack --image "$T/pulled:enc" "$T/out" >/dev/null 2>&1 || fail "umoci unpack of the output"
"$PY" - "$T" "$T/build.json" "$ENCLAVE" "$APP" "$ACC" <<'PY' || fail "output image checks"
import hashlib, json, os, struct, sys
tmp, build, runtime, app, acc = sys.argv[1:6]
b = json.load(open(build))
def blob(d, dg): return open(os.path.join(tmp, d, "blobs/sha256", dg[7:]), "rb").read()
def manifest(d, tag):
    idx = json.load(open(os.path.join(tmp, d, "index.json")))
    for m in idx["manifests"]:
        if m["annotations"]["org.opencontainers.image.ref.name"] == tag:
            return m["digest"], json.loads(blob(d, m["digest"]))
_, src = manifest("oci", "base")
odig, out = manifest("pulled", "enc")
assert odig == b["image_digest"], (odig, b["image_digest"])
sl = [l["digest"] for l in src["layers"]]
ol = [l["digest"] for l in out["layers"]]
assert ol[:len(sl)] == sl and len(ol) == len(sl) + 1, (sl, ol)
cfg = json.loads(blob("pulled", out["config"]["digest"]))
c = cfg["config"]
assert c["Entrypoint"] == ["/opt/ccm/ccm-enclave"] and not c.get("Cmd"), c
lab = c["Labels"]
want = {"io.ccm.mrenclave": b["mrenclave"], "io.ccm.mrsigner": b["mrsigner"],
        "io.ccm.isvprodid": "9", "io.ccm.isvsvn": "2"}
assert all(lab[k] == v for k, v in want.items()), lab
assert b["isvprodid"] == 9 and b["isvsvn"] == 2, b
root = os.path.join(tmp, "out/rootfs")
rt = open(os.path.join(root, "opt/ccm/ccm-enclave"), "rb").read()
assert rt == open(runtime, "rb").read(), "runtime differs from the build's ccm-enclave"
sig = open(os.path.join(root, "opt/ccm/enclave.sig"), "rb").read()
assert len(sig) == 1808
assert sig[960:992].hex() == b["mrenclave"], "SIGSTRUCT ENCLAVEHASH"
assert hashlib.sha256(sig[128:512]).hexdigest() == b["mrsigner"], "SIGSTRUCT modulus"
assert struct.unpack_from("<HH", sig, 1024) == (9, 2), "SIGSTRUCT ISVPRODID/ISVSVN"
raw = open(os.path.join(root, "opt/ccm/manifest.json"), "rb").read()
man = json.loads(raw)
assert raw == json.dumps(man, sort_keys=True, separators=(",", ":")).encode()
assert man["app_id"] == app and man["account_id"] == acc, man
assert man["entrypoint"] == ["/bin/sh"] and man["cmd"] == ["-c", "echo ok"], man
assert "GREETING=hi" in man["env"] and "MODE=test" in man["env"], man["env"]
assert man["mem"] == 64 << 20 and man["threads"] == 2 and man["isvprodid"] == 9
assert "/data" in man["rw_dirs"] and "/data/state" not in man["files"]
assert man["certificate"] == {"cert_path": "/run/c.pem", "chain_path": "/run/ch.pem",
                              "key_path": "/run/k.pem", "key_type": "ec-p256"}, man["certificate"]
n = 0
for p, h in man["files"].items():
    got = hashlib.sha256(open(root + p, "rb").read()).hexdigest()
    assert got == h, (p, got, h)
    n += 1
for dp, dn, fn in os.walk(root):
    for f in fn:
        p = os.path.join(dp, f)[len(root):]
        if not os.path.islink(root + p) and not p.startswith(("/opt/ccm/", "/data/")):
            assert p in man["files"], "unlisted " + p
assert n >= 3 and "/app/version" in man["files"], man["files"]
PY
# An independent implementation of the documented layout (image.md).
[ "$("$PY" "$CCM_SRC/tests/cli/image-layout.py" "$T/out/rootfs")" = "$MRE" ] ||
	fail "image-layout.py disagrees with the build's MRENCLAVE"

# The same key and settings offline: the account key, unsealed from the
# data directory (see the top), must be the account's (MRSIGNER) first.
"$PY" - "$DATA" "$ACC" "$T/acct.pem" <<'PY' || fail "cannot unseal the account signing key"
import os, sqlite3, sys
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
data, acc, out = sys.argv[1:4]
mk = open(os.path.join(data, "master.key"), "rb").read()
db = sqlite3.connect("file:%s?mode=ro" % os.path.join(data, "ccmd.db"), uri=True)
blob = db.execute("SELECT signing_key_sealed FROM accounts WHERE id = ?", (int(acc),)).fetchone()[0]
assert blob[:4] == b"ccm1"
der = AESGCM(mk).decrypt(blob[4:16], blob[16:], b"account:sgx")
key = serialization.load_der_private_key(der, None)
fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
os.write(fd, key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                               serialization.NoEncryption()))
os.close(fd)
PY
offline "$APP" "$REG/test/busybox:1" off1.json off1
[ "$(jget "$T/off1.json" mrsigner)" = "$(jget "$T/acc.json" mrsigner)" ] ||
	fail "the unsealed key is not the account's"
[ "$(jget "$T/off1.json" mrenclave)" = "$MRE" ] ||
	fail "offline MRENCLAVE $(jget "$T/off1.json" mrenclave) != build's $MRE"
[ "$(jget "$T/off1.json" digest)" = "$DIG" ] ||
	fail "offline digest $(jget "$T/off1.json" digest) != build's $DIG"

# ---- 2. unknown tag ------------------------------------------------------
"$CCM" build create --app "$APP" --input-tag nosuchtag --wait --json >"$T/fj" 2>"$T/e" &&
	fail "a build of an unknown tag succeeded"
B=$(build_id "$APP")
R="manifest $REG/test/busybox:nosuchtag: HTTP 404 MANIFEST_UNKNOWN: manifest unknown"
[ "$(tail -1 "$T/e")" = "ccm: build failed: $R" ] || fail "unknown tag, CLI said: $(cat "$T/e")"
# Exit 1, and --json still prints the one object: the FAILED build.
[ "$(jget "$T/fj" conversion.status)" = FAILED ] && [ "$(jget "$T/fj" id)" = "$B" ] ||
	fail "build create --wait --json on failure printed: $(cat "$T/fj")"
expect_failed "$B" "$("$PY" -c 'import re,sys; print(re.escape(sys.argv[1]))' "$R")"

# ---- 3. registry killed in the middle of a blob upload, then a retry -------
# The target registry (behind cutproxy.py) is SIGKILLed while the body of
# the one input layer's upload is on its way; the build names that upload.
offline "$APP2" "$REG/test/one:1" off2.json off2
L1=$($SK inspect --tls-verify=false --raw "docker://$REG/test/one:1" |
	"$PY" -c 'import json,sys; print(json.load(sys.stdin)["layers"][0]["digest"])')
echo "$DST_PID" >"$T/arm"
"$CCM" build create --app "$APP2" --wait >/dev/null 2>"$T/e" && fail "the cut build succeeded"
B2=$(build_id "$APP2")
[ -f "$T/cut" ] && [ ! -e "$T/arm" ] || fail "the proxy did not cut an upload: $(cat "$T/proxy.log")"
Q="digest=sha256(:|%3[aA])${L1#sha256:}" # as the query carries it
grep -qE "^PUT /v2/cut/busybox-enc/blobs/uploads/[^ ]+$Q HTTP/1.1$" "$T/cut" ||
	fail "cut: $(cat "$T/cut")"
for _ in $(seq 100); do kill -0 "$DST_PID" 2>/dev/null || break; sleep 0.1; done
kill -0 "$DST_PID" 2>/dev/null && fail "the registry survived the cut"
DST_PID=""
R="upload $L1: PUT http://$PROXY/v2/cut/busybox-enc/blobs/uploads/[0-9a-f-]{36}: Server returned nothing \(no headers, no data\)"
expect_failed "$B2" "$R"
tail -1 "$T/e" | grep -qE "^ccm: build failed: $R$" || fail "cut, CLI said: $(cat "$T/e")"
# Only a FAILED build can be retried; the registry comes back; retry.
api POST "/v1/accounts/$ACC/builds/$BID/retry" "" "$ADMIN"
expect_error 409 not_failed "build $BID is DONE: only a FAILED conversion can be retried" "retry DONE"
api POST "/v1/accounts/$ACC/builds/999999/retry" "" "$ADMIN"
expect_status 404 "retry of no build"
registry_start DST
"$CCM" build retry "$B2" --wait --json >"$T/retry.json" 2>"$T/e" || fail "retry: $(cat "$T/e")"
[ "$(jget "$T/retry.json" id)" = "$B2" ] && [ "$(jget "$T/retry.json" conversion.status)" = DONE ] ||
	fail "retry: $(cat "$T/retry.json")"
[ "$(jget "$T/retry.json" mrenclave)" = "$(jget "$T/off2.json" mrenclave)" ] ||
	fail "retry MRENCLAVE differs from offline"
[ "$(jget "$T/retry.json" image_digest)" = "$(jget "$T/off2.json" digest)" ] ||
	fail "retry digest $(jget "$T/retry.json" image_digest) != offline $(jget "$T/off2.json" digest)"
[ "$(jget "$T/retry.json" mrenclave)" != "$MRE" ] || fail "two apps, one MRENCLAVE"
RD=$($SK inspect --tls-verify=false --format '{{.Digest}}' "docker://$REG2/cut/busybox-enc:1") ||
	fail "skopeo inspect of the retried output"
[ "$RD" = "$(jget "$T/off2.json" digest)" ] || fail "registry has $RD for the retried build"
api GET "/v1/accounts/$ACC/audit?action=build.retry&limit=1000"
"$PY" - "$OUT" "$B2" <<'PY' || fail "build.retry audit entries: $(cat "$OUT")"
import json, sys
e = [(x["object"], x["result"]) for x in json.load(open(sys.argv[1]))["items"]]
assert e == [("build:1", "refused"), ("build:999999", "refused"), ("build:" + sys.argv[2], "ok")], e
PY
"$CCM" build retry "$B2" >/dev/null 2>"$T/e" && fail "retry of a DONE build succeeded"
grep -qF "only a FAILED conversion can be retried" "$T/e" || fail "retry DONE, CLI said: $(cat "$T/e")"

# ---- 3b. the same input and settings again: the build it duplicates -----
"$CCM" build create --app "$APP" --wait >/dev/null 2>"$T/e" && fail "a duplicate build succeeded"
B4=$(build_id "$APP")
expect_failed "$B4" "identical to build $BID \\(same input and settings give MRENCLAVE $MRE\\);.*"

# ---- 4. a corrupted blob in the registry's storage -----------------------
LC=$($SK inspect --tls-verify=false --raw "docker://$REG/test/corrupt:1" |
	"$PY" -c 'import json,sys; print(json.load(sys.stdin)["layers"][-1]["digest"])')
F="$T/SRC/docker/registry/v2/blobs/sha256/${LC:7:2}/${LC:7}/data"
"$PY" - "$F" <<'PY'
import sys
p = sys.argv[1]; b = bytearray(open(p, "rb").read()); b[len(b) // 2] ^= 0xff; open(p, "wb").write(bytes(b))
PY
"$CCM" build create --app "$APP" --input "$REG/test/corrupt:1" --wait >/dev/null 2>"$T/e" &&
	fail "a build of a corrupted blob succeeded"
B3=$(build_id "$APP")
BAD=sha256:$(sha256sum "$F" | cut -d' ' -f1)
R="layer 2 \($LC\): blob $LC: digest mismatch \(content is $BAD\)"
expect_failed "$B3" "$R"
tail -1 "$T/e" | grep -qE "^ccm: build failed: $R$" || fail "corrupt, CLI said: $(cat "$T/e")"

# ccmd converts under $TMPDIR (= $T): nothing left behind by the failures.
left=$(find "$T" -maxdepth 1 -name 'ccm-convert.*')
[ -z "$left" ] || fail "work directories left behind: $left"

echo "ok: build $BID (MRENCLAVE $MRE, $DIG) = offline; 3 failures with their reasons; retry of build $B2"
