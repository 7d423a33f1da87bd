#!/usr/bin/env bash
# `ccm image convert` end to end against Debian's docker-registry on
# loopback (one instance open, one with htpasswd Basic auth): images built
# with umoci from busybox-static, pushed with skopeo, converted, pulled back,
# unpacked and checked file by file; then the runtime is run on the
# unpacked root; then every refusal (unknown tag, wrong password, corrupted
# blob, hostile tar entries, index without linux/amd64), and valid images
# of unusual forms (indexes, uncompressed and empty layers, USER, WORKDIR).
. "$(dirname "$0")/lib.sh"
ENCLAVE=$CCM_BIN/ccm-enclave
for t in docker-registry skopeo umoci htpasswd python3; do
	command -v $t >/dev/null || { echo "SKIP: $t not installed"; exit 0; }
done
BUSYBOX=/bin/busybox
[ -x $BUSYBOX ] && file -L $BUSYBOX 2>/dev/null | grep -q static || BUSYBOX=$(command -v busybox)
[ -n "$BUSYBOX" ] || { echo "SKIP: busybox-static not installed"; exit 0; }

PIDS=""
cleanup() {
	for p in $PIDS; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
	rm -rf "$TMP"
}
trap cleanup EXIT

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# start_registry VAR NAME [HTPASSWD]: sets VAR to HOST:PORT once it answers.
# (Not run in a $(...) subshell, so that PIDS reaches the EXIT trap.)
start_registry() {
	local var=$1 name=$2 htp=${3:-} port cfg code
	port=$(free_port)
	cfg=$TMP/$name.yml
	mkdir -p "$TMP/$name-data"
	{
		echo "version: 0.1"
		echo "log: {level: error}"
		echo "storage: {filesystem: {rootdirectory: $TMP/$name-data}, delete: {enabled: true}}"
		echo "http: {addr: 127.0.0.1:$port}"
		[ -n "$htp" ] && echo "auth: {htpasswd: {realm: ccm-test, path: $htp}}"
	} > "$cfg"
	docker-registry serve "$cfg" > "$TMP/$name.log" 2>&1 &
	PIDS="$PIDS $!"
	for _ in $(seq 100); do
		code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/v2/" || true)
		if [ "$code" = 200 ] || [ "$code" = 401 ]; then
			printf -v "$var" '127.0.0.1:%s' "$port"
			return
		fi
		sleep 0.1
	done
	echo "registry $name did not start: $(cat "$TMP/$name.log")" >&2
	exit 1
}

export TMPDIR=$TMP/work
mkdir -p "$TMPDIR"
start_registry REG open
htpasswd -Bbn alice s3cret > "$TMP/htpasswd"
start_registry AREG auth "$TMP/htpasswd"
SK="skopeo --insecure-policy"
CONVERT="$CCM image convert --insecure-registry $REG --insecure-registry $AREG"

# ---- test image: busybox root in two layers, the second removing a file
cd "$TMP"
umoci init --layout oci >/dev/null
umoci new --image oci:base >/dev/null
umoci unpack --rootless --image oci:base b1 >/dev/null 2>&1
mkdir -p b1/rootfs/bin b1/rootfs/etc b1/rootfs/data b1/rootfs/app
cp "$BUSYBOX" b1/rootfs/bin/busybox
for a in sh cat echo sha256sum id; do ln -s busybox b1/rootfs/bin/$a; done
echo hello-from-image > b1/rootfs/etc/greeting
echo going > b1/rootfs/etc/removed
echo scratch > b1/rootfs/data/state
printf '#!/bin/sh\necho "app: $(cat /etc/greeting) $GREETING_ENV"\n' > b1/rootfs/app/run.sh
chmod 755 b1/rootfs/app/run.sh
umoci repack --image oci:base b1 >/dev/null
umoci unpack --rootless --image oci:base b2 >/dev/null 2>&1
rm b2/rootfs/etc/removed
echo v2 > b2/rootfs/app/version
umoci repack --image oci:base b2 >/dev/null
umoci config --image oci:base --config.entrypoint /app/run.sh --config.env GREETING_ENV=env-ok \
	--config.env PATH=/bin --config.workingdir /app --config.exposedports 8080/tcp >/dev/null
$SK copy -q --dest-tls-verify=false oci:oci:base docker://$REG/test/busybox:1 >/dev/null
$SK copy -q --dest-tls-verify=false --format v2s2 oci:oci:base docker://$REG/test/busybox-docker:1 >/dev/null
$SK copy -q --dest-tls-verify=false --dest-creds alice:s3cret oci:oci:base docker://$AREG/private/busybox:1 >/dev/null
$CCM sgx keygen -o key.pem 2>/dev/null

expect 0 "usage: ccm image convert" $CCM image convert --help
expect 2 "--from REF and --to REF are required" $CCM image convert --to oci:x
expect 2 "bad repository name" $CCM image convert --from 'bad//name' --to oci:x --key key.pem

# ---- registry to registry ------------------------------------------------
$CONVERT --from $REG/test/busybox:1 --to docker://$REG/test/busybox-enc:1 --key key.pem \
	--isvprodid 7 --isvsvn 3 --mem 64M --threads 4 --rw-dir /data --json > conv1.json 2> conv1.err
rc=$?
[ $rc = 0 ] && pass || failt "convert exit $rc: $(cat conv1.err)"
MRE=$(jget conv1.json mrenclave)
DIG=$(jget conv1.json digest)
[ "$(jget conv1.json layers)" = 3 ] && pass || failt "layers: $(cat conv1.json)"
[ "$(jget conv1.json isvprodid)" = 7 ] && [ "$(jget conv1.json isvsvn)" = 3 ] && pass || failt "ids"
echo "added layer: $(jget conv1.json layer_size) bytes"

$SK copy -q --src-tls-verify=false docker://$REG/test/busybox-enc:1 oci:pulled:enc >/dev/null
umoci unpack --image pulled:enc out >/dev/null 2>&1 && pass || failt "umoci unpack of the output"
python3 - "$TMP" "$MRE" <<'PY' && pass || failt "output image checks"
import hashlib, json, os, sys
tmp, mre = sys.argv[1], sys.argv[2]
def blob(d, dg): return open(os.path.join(tmp, d, "blobs/sha256", dg[7:]), "rb").read()
def manifest(d, tag):
    idx = json.load(open(os.path.join(tmp, d, "index.json")))
    for m in idx["manifests"]:
        if m["annotations"]["org.opencontainers.image.ref.name"] == tag:
            return json.loads(blob(d, m["digest"]))
src, out = manifest("oci", "base"), manifest("pulled", "enc")
sl = [l["digest"] for l in src["layers"]]
ol = [l["digest"] for l in out["layers"]]
assert ol[:len(sl)] == sl and len(ol) == len(sl) + 1, (sl, ol)
cfg = json.loads(blob("pulled", out["config"]["digest"]))
c = cfg["config"]
assert c["Entrypoint"] == ["/opt/ccm/ccm-enclave"], c["Entrypoint"]
assert not c.get("Cmd"), c.get("Cmd")
lab = c["Labels"]
assert lab["io.ccm.mrenclave"] == mre and lab["io.ccm.isvprodid"] == "7" and lab["io.ccm.isvsvn"] == "3", lab
assert len(lab["io.ccm.mrsigner"]) == 64
assert cfg["history"][-1]["created_by"] == "ccm image convert"
assert len(cfg["rootfs"]["diff_ids"]) == len(ol)
root = os.path.join(tmp, "out/rootfs")
for f in ("ccm-enclave", "manifest.json", "enclave.sig"):
    assert os.path.isfile(os.path.join(root, "opt/ccm", f)), f
man = json.load(open(os.path.join(root, "opt/ccm/manifest.json")))
assert man["entrypoint"] == ["/app/run.sh"] and man["workdir"] == "/app", man
assert "GREETING_ENV=env-ok" in man["env"] and man["exposed_ports"] == ["8080/tcp"]
assert man["isvprodid"] == 7 and man["mem"] == 64 << 20 and man["threads"] == 4
assert "/data" in man["rw_dirs"] and "/data/state" not in man["files"]
assert "/etc/removed" not in man["files"] and not os.path.exists(os.path.join(root, "etc/removed"))
assert "/app/version" in man["files"]
n = 0
for p, h in man["files"].items():
    got = hashlib.sha256(open(root + p, "rb").read()).hexdigest()
    assert got == h, (p, got, h)
    n += 1
for dp, dn, fn in os.walk(root):
    for f in fn:
        p = os.path.join(dp, f)[len(root):]
        if os.path.isfile(root + p) and not os.path.islink(root + p) and not p.startswith(("/opt/ccm/", "/data/")):
            assert p in man["files"], "unlisted " + p
    for f in fn + dn:
        p = os.path.join(dp, f)[len(root):]
        if os.path.islink(root + p) and not p.startswith("/data/"):
            assert man["links"].get(p) == os.readlink(root + p), "symlink " + p
assert n >= 3
assert man["links"] == {"/bin/" + a: "busybox" for a in ("sh", "cat", "echo", "sha256sum", "id")}, man["links"]
raw = open(os.path.join(root, "opt/ccm/manifest.json"), "rb").read()
assert raw == json.dumps(man, sort_keys=True, separators=(",", ":")).encode()
PY

# An independent implementation of the documented layout agrees.
expect 0 "$MRE" python3 "$CCM_SRC/tests/cli/image-layout.py" "$TMP/out/rootfs"

# The runtime on the unpacked root: starts the app (what the app writes in
# its read-write directory and empty directories do not matter), then
# refuses a change, an added file, an added or changed symlink.
mkdir -p out/rootfs/data/cache out/rootfs/var/empty-dir
echo written-by-app > out/rootfs/data/cache/x
expect 0 "app: hello-from-image env-ok" env CCM_ENCLAVE_ROOT=$TMP/out/rootfs $ENCLAVE
rm -rf out4 && cp -a out out4
echo /tmp/evil.so > out4/rootfs/etc/ld.so.preload
expect 1 "unlisted file /etc/ld.so.preload: added after conversion" \
	env CCM_ENCLAVE_ROOT=$TMP/out4/rootfs $ENCLAVE
rm out4/rootfs/etc/ld.so.preload && ln -s /data/cache/x out4/rootfs/app/extra
expect 1 "unlisted symlink /app/extra -> /data/cache/x: added after conversion" \
	env CCM_ENCLAVE_ROOT=$TMP/out4/rootfs $ENCLAVE
rm out4/rootfs/app/extra && ln -sfn /data/cache/x out4/rootfs/bin/cat
expect 1 "symlink /bin/cat: target changed after conversion" \
	env CCM_ENCLAVE_ROOT=$TMP/out4/rootfs $ENCLAVE
rm -rf out4
cp -a out out2
echo tampered > out2/rootfs/etc/greeting
expect 1 "file /etc/greeting: content differs from the signed manifest" \
	env CCM_ENCLAVE_ROOT=$TMP/out2/rootfs $ENCLAVE
cp -a out out3
echo ' ' >> out3/rootfs/opt/ccm/manifest.json
expect 2 "not in canonical form" env CCM_ENCLAVE_ROOT=$TMP/out3/rootfs $ENCLAVE
rm -rf out3 && cp -a out out3
python3 - out3/rootfs/opt/ccm/manifest.json <<'PY'
import json, sys
m = json.load(open(sys.argv[1])); m["cmd"] = ["-c", "echo evil"]
open(sys.argv[1], "w").write(json.dumps(m, sort_keys=True, separators=(",", ":")))
PY
expect 1 "differs from the SIGSTRUCT's ENCLAVEHASH" env CCM_ENCLAVE_ROOT=$TMP/out3/rootfs $ENCLAVE
expect 2 "arguments are fixed" env CCM_ENCLAVE_ROOT=$TMP/out/rootfs $ENCLAVE extra

# Under a real OCI runtime (runc, root only; CCM_TEST_NO_RUNC=1 skips).
if [ "$(id -u)" = 0 ] && command -v runc >/dev/null && [ "${CCM_TEST_NO_RUNC:-0}" != 1 ]; then
	rm -rf rb rb2 && cp -a out rb && cp -a out2 rb2
	for b in rb rb2; do
		python3 - $b/config.json <<'PY'
import json, sys
c = json.load(open(sys.argv[1])); c["process"]["terminal"] = False
json.dump(c, open(sys.argv[1], "w"))
PY
	done
	expect 0 "app: hello-from-image env-ok" timeout 60 runc run -b rb "ccm-img-$$"
	expect 1 "file /etc/greeting: content differs" timeout 60 runc run -b rb2 "ccm-img2-$$"
	runc delete -f "ccm-img-$$" "ccm-img2-$$" >/dev/null 2>&1
fi

# Overrides: entrypoint, cmd, env, user (numeric; switching needs root).
$CONVERT --from oci:oci:base --to oci:ovr:1 --key key.pem --entrypoint /bin/sh \
	--cmd '["-c", "id -u; id -g; echo $EXTRA"]' --env EXTRA=extra-ok --user 65534:65534 >/dev/null
mkdir ovr-b && umoci unpack --image ovr:1 ovr-b >/dev/null 2>&1
if [ "$(id -u)" = 0 ]; then
	out=$(env CCM_ENCLAVE_ROOT=$TMP/ovr-b/rootfs $ENCLAVE 2>&1)
	[ "$out" = "$(printf '65534\n65534\nextra-ok')" ] && pass || failt "overrides: $out"
fi

# Determinism: a second conversion gives the same MRENCLAVE and digest.
$CONVERT --from $REG/test/busybox:1 --to $REG/test/busybox-enc:2 --key key.pem \
	--isvprodid 7 --isvsvn 3 --mem 64M --threads 4 --rw-dir /data --json > conv2.json 2>&1
[ "$(jget conv2.json mrenclave)" = "$MRE" ] && [ "$(jget conv2.json digest)" = "$DIG" ] && pass ||
	failt "second conversion differs: $(cat conv2.json)"
# Other settings change the identity.
$CONVERT --from $REG/test/busybox:1 --to $REG/test/busybox-enc:3 --key key.pem \
	--isvprodid 7 --isvsvn 3 --mem 64M --threads 5 --rw-dir /data --json > conv3.json 2>&1
[ "$(jget conv3.json mrenclave)" != "$MRE" ] && pass || failt "threads did not change MRENCLAVE"
# Same MRENCLAVE offline (layout directory output) as through the registry.
$CONVERT --from $REG/test/busybox:1 --to oci:offline:enc --key key.pem \
	--isvprodid 7 --isvsvn 3 --mem 64M --threads 4 --rw-dir /data --json > conv4.json 2>&1
[ "$(jget conv4.json mrenclave)" = "$MRE" ] && [ "$(jget conv4.json digest)" = "$DIG" ] && pass ||
	failt "offline conversion differs: $(cat conv4.json)"
expect 0 '"entrypoint": [' $CCM image inspect oci:offline:enc
expect 0 "usage: ccm image inspect" $CCM image inspect --help
expect 2 "expected one image REF" $CCM image inspect
expect 0 "\"io.ccm.mrenclave\":\"$MRE\"" $CCM image inspect --json --insecure-registry $REG $REG/test/busybox-enc:1

# Chunked upload (PATCH with Content-Range) into a registry that lacks the
# blobs; a cross-repository mount when the source is on the same registry.
$CONVERT --from oci:oci:base --to $REG/chunked/x:1 --key key.pem --chunk-size 64K --verbose \
	--isvprodid 7 --isvsvn 3 --mem 64M --threads 4 --rw-dir /data --json > conv6.json 2> conv6.err
[ "$(jget conv6.json digest)" = "$DIG" ] && grep -q ": uploaded" conv6.err && pass ||
	failt "chunked upload: $(cat conv6.json conv6.err)"
$SK copy -q --src-tls-verify=false docker://$REG/chunked/x:1 oci:chunked:x >/dev/null && pass ||
	failt "skopeo cannot read the chunk-uploaded image"
$CONVERT --from $REG/test/busybox:1 --to $REG/mounted/y:1 --key key.pem --verbose > /dev/null 2> conv7.err
grep -q ": mounted" conv7.err && pass || failt "no cross-repository mount: $(cat conv7.err)"

# Docker schema 2 input stays Docker schema 2; layout input works too.
$CONVERT --from $REG/test/busybox-docker:1 --to $REG/test/busybox-docker-enc:1 --key key.pem --json > conv5.json 2>&1
[ "$(jget conv5.json media_type)" = "application/vnd.docker.distribution.manifest.v2+json" ] && pass ||
	failt "docker schema 2: $(cat conv5.json)"
expect 0 '"layers":3' $CONVERT --from oci:oci:base --to $REG/test/from-layout:1 --key key.pem --json

# ---- Basic auth ---------------------------------------------------------
expect 0 '"layers":3' $CONVERT --from $AREG/private/busybox:1 --to $AREG/private/enc:1 \
	--src-creds alice:s3cret --dest-creds alice:s3cret --key key.pem --json
expect 1 "refused the credentials for user 'alice'" $CONVERT --from $AREG/private/busybox:1 \
	--to oci:x:y --src-creds alice:wrong --key key.pem
expect 1 "authentication required" $CONVERT --from $AREG/private/busybox:1 --to oci:x:y --key key.pem
expect 0 '"layers":3' env CCM_SRC_CREDS=alice:s3cret CCM_DEST_CREDS=alice:s3cret $CONVERT --from $AREG/private/busybox:1 \
	--to $AREG/private/enc:2 --key key.pem --json

# ---- TLS: verified by default, trusted with --cacert --------------------
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=127.0.0.1 \
	-addext subjectAltName=IP:127.0.0.1 -keyout tls.key -out tls.crt >/dev/null 2>&1
TPORT=$(free_port)
mkdir -p tls-data
printf 'version: 0.1\nlog: {level: error}\nstorage: {filesystem: {rootdirectory: %s}}\nhttp: {addr: 127.0.0.1:%s, tls: {certificate: %s, key: %s}}\n' \
	"$TMP/tls-data" "$TPORT" "$TMP/tls.crt" "$TMP/tls.key" > tls.yml
docker-registry serve tls.yml > tls.log 2>&1 &
PIDS="$PIDS $!"
for _ in $(seq 100); do
	curl -s -o /dev/null --cacert tls.crt "https://127.0.0.1:$TPORT/v2/" && break
	sleep 0.1
done
TREG=127.0.0.1:$TPORT
expect 2 "SSL" $CCM image convert --from oci:oci:base --to $TREG/tls/enc:1 --key key.pem
expect 0 '"layers":3' $CCM image convert --cacert tls.crt --from oci:oci:base --to $TREG/tls/enc:1 \
	--key key.pem --json
expect 0 '"io.ccm.mrenclave"' $CCM image inspect --json --cacert tls.crt $TREG/tls/enc:1

# ---- Bearer tokens (a token-server front on the open registry) -----------
BPORT=$(free_port)
python3 "$CCM_SRC/tests/cli/image-bearer.py" $BPORT $REG bob:t0ken > "$TMP/bearer.log" 2>&1 &
PIDS="$PIDS $!"
for _ in $(seq 100); do
	curl -s -o /dev/null "http://127.0.0.1:$BPORT/v2/" && break
	sleep 0.1
done
BREG=127.0.0.1:$BPORT
expect 0 '"layers":3' $CCM image convert --insecure-registry $BREG --from $BREG/test/busybox:1 \
	--to $BREG/bearer/enc:1 --src-creds bob:t0ken --dest-creds bob:t0ken --key key.pem --json
expect 1 "token service http://127.0.0.1:$BPORT/token refused the credentials" \
	$CCM image convert --insecure-registry $BREG --from $BREG/test/busybox:1 --to oci:x:y \
	--src-creds bob:wrong --key key.pem

# ---- refusals -----------------------------------------------------------
expect 2 "MANIFEST_UNKNOWN" $CONVERT --from $REG/test/busybox:nosuchtag --to oci:x:y --key key.pem
expect 2 "manifest $REG/test/nosuch:1: HTTP 404" $CONVERT --from $REG/test/nosuch:1 --to oci:x:y --key key.pem
expect 2 "no image tagged 'nope'" $CONVERT --from oci:oci:nope --to oci:x:y --key key.pem
expect 2 "--mem: 100 bytes is outside 1M..64G" $CONVERT --from oci:oci:base --to oci:x:y --key key.pem --mem 100
expect 2 "--threads: must be at least 1" $CONVERT --from oci:oci:base --to oci:x:y --key key.pem --threads 0
expect 2 "--rw-dir 'data': need an absolute" $CONVERT --from oci:oci:base --to oci:x:y --key key.pem --rw-dir data
expect 2 "--env 'FOO': expected NAME=VALUE" $CONVERT --from oci:oci:base --to oci:x:y --key key.pem --env FOO
expect 2 "--to needs a tag" $CONVERT --from oci:oci:base --to $REG/x@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef --key key.pem
expect 2 "runtime /nonexistent: not readable" $CONVERT --from oci:oci:base --to oci:x:y --runtime /nonexistent

# Corrupted blob in the registry's storage: the digest check catches it.
L0=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["layers"][0]["digest"][7:])' \
	<(skopeo inspect --raw --tls-verify=false docker://$REG/test/busybox:1))
DATA=$TMP/open-data/docker/registry/v2/blobs/sha256/${L0:0:2}/$L0/data
python3 - "$DATA" <<'PY'
import sys
p = sys.argv[1]; b = bytearray(open(p, "rb").read()); b[len(b) // 2] ^= 0xff; open(p, "wb").write(bytes(b))
PY
expect 1 "digest mismatch" $CONVERT --from $REG/test/busybox:1 --to oci:x:y --key key.pem

# Hostile layers and indexes, built by hand as OCI layouts.
python3 "$CCM_SRC/tests/cli/image-hostile.py" "$TMP/hostile" "$BUSYBOX" || failt "hostile image builder"
expect 2 "'..' would escape the root" $CONVERT --from oci:hostile:dotdot --to oci:x:y --key key.pem
expect 2 "goes through symlink 'etcl'" $CONVERT --from oci:hostile:abslink --to oci:x:y --key key.pem
expect 2 "escapes the image root" $CONVERT --from oci:hostile:rellink --to oci:x:y --key key.pem
expect 2 "layer 1 (sha256:" $CONVERT --from oci:hostile:late --to oci:x:y --key key.pem
expect 2 "is a device node" $CONVERT --from oci:hostile:device --to oci:x:y --key key.pem
expect 2 "duplicate entry '/etc/a'" $CONVERT --from oci:hostile:dup --to oci:x:y --key key.pem
expect 2 "target is not a file seen before" $CONVERT --from oci:hostile:hardlink --to oci:x:y --key key.pem
expect 2 "index has no linux/amd64 image (platforms: linux/arm64" $CONVERT --from oci:hostile:arm --to oci:x:y --key key.pem
expect 2 "media type 'application/x-evil'" $CONVERT --from oci:hostile:mediatype --to oci:x:y --key key.pem
expect 1 "digest mismatch" $CONVERT --from oci:hostile:baddigest --to oci:x:y --key key.pem
expect 0 '"files":2' $CONVERT --from oci:hostile:whiteout --to oci:hostile-out:w --key key.pem --json
mkdir wo && umoci unpack --image hostile-out:w wo >/dev/null 2>&1
python3 - wo/rootfs/opt/ccm/manifest.json <<'PY' && pass || failt "whiteouts not applied"
import json, sys
f = json.load(open(sys.argv[1]))["files"]
assert sorted(f) == ["/bin/sh", "/opq/new"], sorted(f)
PY
expect 0 '"files":1' $CONVERT --from oci:hostile:plain --to oci:plain-out:p --key key.pem --json
# One blob named twice: downloaded once, scanned and pushed from one file.
$SK copy -q --dest-tls-verify=false oci:hostile:twice docker://$REG/test/twice:1 >/dev/null
expect 0 '"files":2' $CONVERT --from oci:hostile:twice --to oci:twice-out:t --key key.pem --json
expect 0 '"files":2' $CONVERT --from $REG/test/twice:1 --to $REG/test/twice-enc:1 --key key.pem --json
if command -v zstd >/dev/null; then
	expect 0 '"files":2' $CONVERT --from oci:hostile:zstd --to oci:zstd-out:z --key key.pem --json
fi
# Unusual but valid forms: several platforms (OCI index, Docker manifest
# list), uncompressed Docker layers, zero-byte layers, an opaque directory
# marker after its own layer's entries; and configs refused before the pull.
expect 0 '"files":1' $CONVERT --from oci:hostile:multi --to oci:multi-out:m --key key.pem --json
expect 0 "manifest.v2+json" $CONVERT --from oci:hostile:dlist --to oci:dlist-out:d --key key.pem --json
expect 0 '"files":1' $CONVERT --from oci:hostile:dockerplain --to oci:dplain-out:d --key key.pem --json
expect 0 '"layers":4' $CONVERT --from oci:hostile:emptylayer --to oci:empty-out:e --key key.pem --json
expect 0 '"files":2' $CONVERT --from oci:hostile:opqlate --to oci:opq-out:o --key key.pem --json
# A hardlink outside the read-write directories to a file in one is listed.
expect 0 '"files":2' $CONVERT --from oci:hostile:hardrw --to oci:hardrw-out:h --key key.pem --rw-dir /data --json
# A hardlinked symlink (Docker's tar writer makes them) is that symlink.
expect 0 '"files":1' $CONVERT --from oci:hostile:hardsym --to oci:hardsym-out:h --key key.pem --json
expect 2 "/opt is not a directory" $CONVERT --from oci:hostile:optlink --to oci:x:y --key key.pem
expect 2 "no Entrypoint and no Cmd" $CONVERT --from oci:hostile:neither --to oci:x:y --key key.pem
expect 2 "Env entry 'NOEQ' is not NAME=VALUE" $CONVERT --from oci:hostile:envnoeq --to oci:x:y --key key.pem
expect 2 "working directory 'rel' is not absolute" $CONVERT --from oci:hostile:relwd --to oci:x:y --key key.pem
# USER by name: the runtime starts as root (it must read root-only files)
# and switches itself, with the supplementary groups; a numeric USER takes
# its gid from /etc/passwd; a missing WORKDIR is created; VOLUMEs are
# read-write directories; rw_dirs and exposed_ports are sorted.
$CONVERT --from oci:hostile:users --to oci:users-out:u --key key.pem >/dev/null 2>&1
$CONVERT --from oci:hostile:users --to oci:users-out:n --key key.pem --user 1000 --workdir /new/wd \
	--rw-dir /zz --rw-dir /aa >/dev/null 2>&1
mkdir us un && umoci unpack --image users-out:u us >/dev/null 2>&1 && umoci unpack --image users-out:n un >/dev/null 2>&1
chmod 755 us/rootfs un/rootfs # as an engine's root; umoci makes it 0700
python3 - us/config.json us/rootfs/opt/ccm/manifest.json un/config.json <<'PY' && pass || failt "users: config or manifest"
import json, sys
u = json.load(open(sys.argv[1]))["process"]
m = json.load(open(sys.argv[2]))
assert (u["user"]["uid"], u["user"]["gid"], u["cwd"]) == (0, 0, "/home/app"), u
assert m["user"] == "app" and m["workdir"] == "/home/app" and m["env"] == ["A=x=y"], m
assert m["exposed_ports"] == ["80/tcp", "9000/tcp"] and "/etc/shadow" in m["files"], m
assert m["rw_dirs"] == ["/dev", "/proc", "/srv/db", "/sys"] and "/srv/db/seed" not in m["files"], m
assert json.load(open(sys.argv[3]))["process"]["cwd"] == "/new/wd"
n = json.load(open(sys.argv[3].replace("config.json", "rootfs/opt/ccm/manifest.json")))
assert n["rw_dirs"] == ["/aa", "/dev", "/proc", "/srv/db", "/sys", "/zz"] and n["user"] == "1000", n
PY
if [ "$(id -u)" = 0 ]; then
	expect 0 "1000:1001:1001 50 /home/app" env CCM_ENCLAVE_ROOT=$TMP/us/rootfs $ENCLAVE
	expect 0 "1000:1001:1001 50 /new/wd" env CCM_ENCLAVE_ROOT=$TMP/un/rootfs $ENCLAVE
fi
expect 2 "Couldn't connect" $CCM image convert --insecure-registry 127.0.0.1:1 \
	--from oci:oci:base --to 127.0.0.1:1/x/y:1 --key key.pem
[ ! -e "$TMP/x" ] && pass || failt "a failed conversion wrote its target"
[ -z "$(ls -A "$TMPDIR")" ] && pass || failt "work directory left behind: $(ls "$TMPDIR")"

done_tests
