#!/bin/bash
# Per-account registry credentials and build output tags, against the real
# ccmd and Debian's docker-registry on loopback with htpasswd Basic auth:
# `ccm registry add` (password from a file), list without the secret, a
# build with --input-tag/--output-tag converted through ccmd to DONE with
# the output tag in the registry (skopeo with the credentials), a build
# with wrong credentials FAILED naming authentication, a token-only
# credential sent as a bearer token (refused by a Basic-auth registry,
# FAILED likewise), remove by host and by id, bad inputs refused with 400
# naming the field and the store unchanged. Neither password ever shows in
# a listing, the audit log, the ccmd log or the database file (sealed).
. "$(dirname "$0")/lib.sh"

for t in docker-registry skopeo umoci htpasswd sqlite3; do
	command -v $t >/dev/null || { echo "SKIP: $t not installed"; exit 0; }
done
BUSYBOX=/bin/busybox
file -L $BUSYBOX 2>/dev/null | grep -q static || BUSYBOX=$(command -v busybox || true)
[ -n "$BUSYBOX" ] || { echo "SKIP: busybox-static not installed"; exit 0; }

RPID=""
# docker-registry waits for its connections to drain on SIGTERM: KILL it.
# shellcheck disable=SC2154 # rc is set by the trap itself
trap 'rc=$?; [ -n "$RPID" ] && { kill -KILL "$RPID" 2>/dev/null; wait "$RPID" 2>/dev/null || true; }; (exit $rc); cleanup' EXIT

PW="pw-$(openssl rand -hex 12)"   # the right password
BAD="bad-$(openssl rand -hex 12)" # a wrong one
TOK="tok-$(openssl rand -hex 12)" # a bearer token the registry does not know
echo "$PW" >"$T/pw"
echo "$BAD" >"$T/bad"
echo "$TOK" >"$T/tok"

# ---- the registry (htpasswd Basic auth) ----------------------------------
RPORT=$(free_port)
REG=127.0.0.1:$RPORT
htpasswd -Bbn alice "$PW" >"$T/htpasswd"
mkdir -p "$T/reg"
cat >"$T/reg.yml" <<EOF
version: 0.1
log: {level: error}
storage: {filesystem: {rootdirectory: $T/reg}, delete: {enabled: true}}
http: {addr: $REG}
auth: {htpasswd: {realm: ccm-test, path: $T/htpasswd}}
EOF
docker-registry serve "$T/reg.yml" >"$T/reg.log" 2>&1 &
RPID=$!
for _ in $(seq 100); do
	[ "$(curl -s -o /dev/null -w '%{http_code}' "http://$REG/v2/" || true)" = 401 ] && break
	sleep 0.1
done
[ "$(curl -s -o /dev/null -w '%{http_code}' "http://$REG/v2/")" = 401 ] ||
	fail "registry did not start: $(cat "$T/reg.log")"

# ---- a small busybox image, pushed with the credentials ------------------
SK="skopeo --insecure-policy"
(
	cd "$T"
	umoci init --layout oci >/dev/null
	umoci new --image oci:base >/dev/null
	umoci unpack --rootless --image oci:base b1 >/dev/null 2>&1
	mkdir -p b1/rootfs/bin b1/rootfs/etc
	cp "$BUSYBOX" b1/rootfs/bin/busybox
	ln -s busybox b1/rootfs/bin/sh
	echo hello >b1/rootfs/etc/greeting
	umoci repack --image oci:base b1 >/dev/null
	umoci config --image oci:base --config.entrypoint /bin/sh --config.env PATH=/bin >/dev/null
) || fail "building the test image"
$SK copy -q --dest-tls-verify=false --dest-creds "alice:$PW" oci:"$T/oci:base" \
	"docker://$REG/src/busybox:v1" >/dev/null || fail "skopeo push of the test image"

# ---- ccmd, an account, an app -----------------------------------------------
ccmd_start --insecure-registry "$REG" --runtime "$CCM_BIN/ccm-enclave"
bootstrap_admin
export CCM_TOKEN=$ADMIN
ccm() { "$CCM_BIN/ccm" "$@"; }
acc=$(new_account regs "$ADMIN")
export CCM_ACCOUNT=$acc
ccm app create web --isvprodid 3 --isvsvn 1 --memory 64M --threads 2 \
	--input-image "$REG/src/busybox:latest" --output-image "$REG/out/busybox:latest" \
	--json >"$T/app" || fail "app create"
app=$(jget "$T/app" id)

# rc_of CMD...: run, set RC, stdout in $T/o, stderr in $T/e.
rc_of() {
	set +e
	"$@" >"$T/o" 2>"$T/e"
	RC=$?
	set -e
}

# ---- CLI usage: secrets never on the command line -----------------------
rc_of ccm registry add --help
[ $RC = 0 ] && grep -q -- "--token-file" "$T/o" || fail "registry add --help: rc $RC"
rc_of ccm registry add "$REG" --username alice --password "$PW"
[ $RC = 2 ] || fail "a password on the command line: rc $RC"
rc_of ccm registry add "$REG" --password-file "$T/pw"
[ $RC = 2 ] && grep -q -- "--username" "$T/e" || fail "--password-file without --username: rc $RC"
rc_of ccm registry add "$REG" --username alice
[ $RC = 2 ] || fail "no secret: rc $RC"
rc_of ccm registry add "$REG" --username alice --password-file "$T/pw" --token-file "$T/tok"
[ $RC = 2 ] || fail "both secrets: rc $RC"

# ---- add, list ---------------------------------------------------------------
ccm registry add "$REG" --username alice --password-file - --json <"$T/pw" >"$T/add" ||
	fail "registry add"
reg=$(jget "$T/add" id)
[ "$(jget "$T/add" host)" = "$REG" ] && [ "$(jget "$T/add" has_secret)" = true ] &&
	[ "$(jget "$T/add" kind)" = password ] || fail "registry add reply: $(cat "$T/add")"
ccm registry list --json >"$T/list" || fail "registry list"
[ "$(jget "$T/list" items.0.username)" = alice ] &&
	[ "$(jget "$T/list" items.0.has_secret)" = true ] || fail "registry list: $(cat "$T/list")"
ccm registry list >"$T/list.txt" || fail "registry list (text)"
grep -q "host=$REG" "$T/list.txt" || fail "registry list text: $(cat "$T/list.txt")"
for f in add list list.txt; do
	grep -q -F -e "$PW" "$T/$f" && fail "the secret in '$f': $(cat "$T/$f")"
done
api GET "/v1/accounts/$acc/registries/$reg" "" "$ADMIN"
[ "$STATUS" = 405 ] || [ "$STATUS" = 404 ] || fail "GET one registry: $STATUS"

# ---- a build with --input-tag/--output-tag through ccmd -------------------
rc_of ccm build create --app "$app" --input-tag v1 --output-tag enc-7 --wait --json
[ $RC = 0 ] || fail "build create --wait: rc $RC: $(cat "$T/e")"
cp "$T/o" "$T/build1"
[ "$(jget "$T/build1" conversion.status)" = DONE ] || fail "build not DONE: $(cat "$T/build1")"
[ "$(jget "$T/build1" output_image)" = "$REG/out/busybox:enc-7" ] ||
	fail "output_image: $(jget "$T/build1" output_image)"
[ "$(jget "$T/build1" image_name)" = "$REG/src/busybox:v1" ] || fail "input: $(jget "$T/build1" image_name)"
mre=$(jget "$T/build1" mrenclave)
$SK inspect --tls-verify=false --creds "alice:$PW" "docker://$REG/out/busybox:enc-7" >"$T/insp" ||
	fail "skopeo inspect of the output tag"
grep -q "\"io.ccm.mrenclave\": \"$mre\"" "$T/insp" || fail "output label: $(cat "$T/insp")"
ccm build list --app "$app" >"$T/bl" && grep -q "output_image=$REG/out/busybox:enc-7" "$T/bl" ||
	fail "build list shows no output image: $(cat "$T/bl")"
ccm build show "$(jget "$T/build1" id)" | grep -q "^output_image *$REG/out/busybox:enc-7" ||
	fail "build show shows no output image"
# The tag went nowhere else: the app's own output tag was not pushed.
$SK inspect --tls-verify=false --creds "alice:$PW" "docker://$REG/out/busybox:latest" \
	>/dev/null 2>&1 && fail "the app's default output tag was pushed too"

# Output tag checks: bad tag, a tag on a SIGSTRUCT build.
before=$(sqlite3 "$DATA/ccmd.db" "SELECT count(*) FROM builds")
api POST "/v1/accounts/$acc/builds" \
	"{\"app_id\":$app,\"image_name\":\"$REG/src/busybox:v1\",\"output_tag\":\".bad\"}" "$ADMIN"
expect_error 400 invalid_field "output_tag" "bad output tag"
api POST "/v1/accounts/$acc/builds" \
	"{\"app_id\":$app,\"image_name\":\"$REG/src/busybox:v1\",\"output_tag\":\"$(printf 'a%.0s' $(seq 129))\"}" "$ADMIN"
expect_error 400 out_of_range "output_tag" "overlong output tag"
sig=$(new_sigstruct s1 3 1)
api POST "/v1/accounts/$acc/builds" "{\"app_id\":$app,\"sigstruct\":\"$sig\",\"output_tag\":\"x\"}" "$ADMIN"
expect_error 400 invalid_field "output_tag" "output tag on a SIGSTRUCT build"
[ "$(sqlite3 "$DATA/ccmd.db" "SELECT count(*) FROM builds")" = "$before" ] ||
	fail "a refused build was stored"

# ---- wrong credentials: FAILED, naming authentication ---------------------
ccm registry add "$REG" --username alice --password-file "$T/bad" --json >"$T/add2" ||
	fail "registry add (replace)"
[ "$(jget "$T/add2" id)" = "$reg" ] || fail "replacing changed the id: $(cat "$T/add2")"
rc_of ccm build create --app "$app" --input-tag v1 --output-tag enc-8 --wait
[ $RC = 1 ] && grep -q "authentication" "$T/e" || fail "wrong password: rc $RC: $(cat "$T/e")"
ccm build list --app "$app" --json >"$T/bl"
reason=$(jget "$T/bl" items.1.conversion.reason)
case "$reason" in
*"registry authentication failed"*alice*) ;;
*) fail "FAILED reason: $reason" ;;
esac

# ---- a token alone: sent as a bearer token; Basic-only registry refuses ----
api POST "/v1/accounts/$acc/registries" "{\"host\":\"$REG\",\"token\":\"$TOK\"}" "$ADMIN"
expect_status 200 "replace with a token"
[ "$(jget "$OUT" kind)" = token ] && [ "$(jget "$OUT" username)" = "" ] || fail "token: $(cat "$OUT")"
rc_of ccm build create --app "$app" --input-tag v1 --output-tag enc-9 --wait
[ $RC = 1 ] && grep -q "authentication failed.*bearer token" "$T/e" ||
	fail "token build: rc $RC: $(cat "$T/e")"

# ---- bad inputs: 400 naming the field, store unchanged ---------------------
before=$(sqlite3 "$DATA/ccmd.db" "SELECT * FROM registries")
bad() { # BODY CODE FIELD WHAT
	api POST "/v1/accounts/$acc/registries" "$1" "$ADMIN"
	expect_error 400 "$2" "$3" "$4"
}
long=$(printf 'u%.0s' $(seq 300))
bad "{\"host\":\"https://$REG\",\"username\":\"a\",\"password\":\"x\"}" invalid_field "'host'" "scheme"
bad '{"host":"bad_host!","username":"a","password":"x"}' invalid_field "'host'" "bad host"
bad '{"host":"reg.example:0","username":"a","password":"x"}' invalid_field "'host'" "port 0"
bad '{"host":"reg.example:70000","username":"a","password":"x"}' invalid_field "'host'" "port"
bad '{"host":"reg.example/path","username":"a","password":"x"}' invalid_field "'host'" "path"
bad '{"host":"-reg.example","username":"a","password":"x"}' invalid_field "'host'" "label"
bad '{"host":"reg.example","username":"a"}' missing_field "'password' or 'token'" "no secret"
bad '{"host":"reg.example","password":"x"}' missing_field "'username'" "password alone"
bad '{"host":"reg.example","username":"a","password":"x","token":"y"}' invalid_field "'token'" "both"
bad '{"host":"reg.example","username":"a","token":"y"}' invalid_field "'username'" "token + user"
bad "{\"host\":\"reg.example\",\"username\":\"$long\",\"password\":\"x\"}" out_of_range \
	"'username'" "overlong username"
bad '{"host":"reg.example","username":"a:b","password":"x"}' invalid_field "'username'" "colon"
bad '{"host":"reg.example","username":"a","password":"x\ny"}' invalid_field "'password'" "newline"
bad '{"host":"reg.example","token":"a b"}' invalid_field "'token'" "space in a token"
bad '{"host":"reg.example","username":"a","password":""}' out_of_range "'password'" "empty"
bad '{"username":"a","password":"x"}' missing_field "'host'" "no host"
bad '{"host":"reg.example","username":"a","password":"x","extra":1}' unknown_field "extra" "unknown"
[ "$(sqlite3 "$DATA/ccmd.db" "SELECT * FROM registries")" = "$before" ] ||
	fail "a refused request changed the registries"
# Docker Hub's names fold into docker.io; hosts are lowercased.
api POST "/v1/accounts/$acc/registries" '{"host":"Registry-1.Docker.IO","username":"u","password":"p"}' "$ADMIN"
expect_status 201 "docker hub"
[ "$(jget "$OUT" host)" = docker.io ] || fail "hub host: $(jget "$OUT" host)"
hub=$(jget "$OUT" id)
# A READER lists, but cannot add or remove.
new_user r@example.org >/dev/null
api POST "/v1/accounts/$acc/members" '{"email":"r@example.org","role":"READER"}' "$ADMIN"
expect_status 201 "add reader"
rtok=$(login r@example.org pw-r@example.org)
api GET "/v1/accounts/$acc/registries" "" "$rtok"
expect_status 200 "reader lists"
api POST "/v1/accounts/$acc/registries" '{"host":"x.example","username":"a","password":"x"}' "$rtok"
expect_status 403 "reader adds"
api DELETE "/v1/accounts/$acc/registries/$hub" "" "$rtok"
expect_status 403 "reader removes"

# ---- remove ------------------------------------------------------------------
ccm registry remove index.docker.io --json >"$T/rm" || fail "remove by a hub alias"
[ "$(jget "$T/rm" removed)" = true ] || fail "remove reply: $(cat "$T/rm")"
ccm registry remove "$REG" --json >"$T/rm" || fail "remove by host"
[ "$(jget "$T/rm" host)" = "$REG" ] || fail "removed the wrong one: $(cat "$T/rm")"
rc_of ccm registry remove "$REG"
[ $RC != 0 ] && grep -q "no credentials" "$T/e" || fail "second remove: rc $RC"
rc_of ccm registry remove 999
[ $RC != 0 ] || fail "remove of a missing id"
ccm registry list --json >"$T/list"
[ "$(jget "$T/list" items)" = "[]" ] || fail "list after remove: $(cat "$T/list")"
# Without credentials, the registry asks for them.
rc_of ccm build create --app "$app" --input-tag v1 --wait
[ $RC = 1 ] && grep -q "authentication" "$T/e" || fail "no credentials: rc $RC: $(cat "$T/e")"
# Credentials again (by id this time), after a restart: sealed, still open.
ccm registry add "$REG" --username alice --password-file "$T/pw" --json >"$T/add3"
ccmd_stop
ccmd_start --insecure-registry "$REG" --runtime "$CCM_BIN/ccm-enclave"
# (Another ISVSVN, so another MRENCLAVE: the same one is refused as a duplicate.)
ccm app update "$app" --isvsvn 2 --json >/dev/null || fail "app update"
rc_of ccm build create --app "$app" --input-tag v1 --output-tag enc-10 --wait --json
[ $RC = 0 ] || fail "build after restart: rc $RC: $(cat "$T/e")"
ccm registry remove "$(jget "$T/add3" id)" --json >/dev/null || fail "remove by id"

# ---- the secrets never show: audit log, ccmd log, the database file ---------
ccm audit list --json --limit 1000 >"$T/audit" || fail "audit list"
grep -q '"registry.add"' "$T/audit" || fail "no registry.add in the audit log"
api GET "/v1/accounts/$acc/audit?limit=1000" "" "$ADMIN"
cp "$OUT" "$T/audit2"
for s in "$PW" "$BAD" "$TOK"; do
	for f in "$T/audit" "$T/audit2" "$T/ccmd.log" "$DATA"/ccmd.db*; do
		grep -q -a -F -e "$s" "$f" && fail "a secret in $f"
	done
done
echo "ok"
