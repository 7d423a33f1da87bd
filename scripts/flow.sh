#!/usr/bin/env bash
# DESIGN: the seed's whole flow on loopback, with real parts only: Debian's
# docker-registry, ccmd, ccm-agent, skopeo, umoci and runc, driven with the
# ccm CLI. `make demo` runs it narrated (CCM_FLOW_MODE=demo); the end-to-end
# test runs it with assertions and then the refusals (CCM_FLOW_MODE=test).
# Every server gets a free port and is stopped on exit; nothing outside
# the work directory is touched but the image cache (CCM_CACHE).
#
# usage: flow.sh [BUILD_DIR]
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-build}
case $BUILD in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
BIN=$BUILD/bin
MODE=${CCM_FLOW_MODE:-demo}
CACHE=${CCM_CACHE:-/var/cache/ccm}
PY=/usr/bin/python3
W=$(mktemp -d /tmp/ccm-flow.XXXXXX)
CID=ccm-flow-$$
PIDS=()
FAILS=0
PASSES=0

cleanup() {
	set +e
	runc kill "$CID" KILL >/dev/null 2>&1
	runc delete -f "$CID" >/dev/null 2>&1
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
	if [ "${CCM_FLOW_KEEP:-0}" = 1 ]; then echo "work directory kept: $W"; else rm -rf "$W"; fi
}
trap cleanup EXIT

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
say() { printf '    %s\n' "$*"; }
run() {
	printf '    $ %s\n' "$*"
	"$@"
}
die() {
	echo "flow: $*" >&2
	exit 1
}
check() { # check DESCRIPTION CONDITION...
	local what=$1
	shift
	if "$@"; then
		PASSES=$((PASSES + 1))
		say "ok: $what"
	else
		FAILS=$((FAILS + 1))
		echo "FAIL: $what" >&2
	fi
}
jget() { $PY -c 'import json,sys;v=json.load(sys.stdin)
for k in sys.argv[1].split("."):
    v=v[int(k)] if isinstance(v,list) else v[k]
print(v if not isinstance(v,(dict,list,bool)) else json.dumps(v))' "$1"; }
instance_is() { # STATE: node show lists the app's instance in STATE within 10 s
	for _ in $(seq 1 50); do
		"$CCM" node show "$NODE" --json | $PY -c 'import json,sys
a=[i for i in json.load(sys.stdin)["apps"] if i["app_id"]==int(sys.argv[1])]
sys.exit(0 if a and a[0]["state"]==sys.argv[2] else 1)' "$APP" "$1" && return 0
		sleep 0.2
	done
	return 1
}
agent_has() { # STATE: the agent's instance list has the app in STATE
	curl -s "http://127.0.0.1:$AP/v1/instances" | $PY -c 'import json,sys
sys.exit(0 if [i for i in json.load(sys.stdin)["items"]
    if i["app_id"]==int(sys.argv[1]) and i["state"]==sys.argv[2]] else 1)' "$APP" "$1"
}
wait_http() { # URL [curl options]
	local url=$1
	shift
	for _ in $(seq 1 100); do
		curl -s -o /dev/null "$@" "$url" && return 0
		sleep 0.2
	done
	die "$url did not come up"
}

# Four distinct ports, held open together while chosen: picked one by one,
# the kernel can hand out the same free port twice (it did: Flask and the
# agent on one port).
read -r RP MP AP APPPORT < <($PY -c 'import socket
ss = [socket.socket() for _ in range(4)]
for s in ss:
    s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in ss])')
REG=127.0.0.1:$RP
export CCM_SERVER=https://127.0.0.1:$MP
export CCM_CACERT=$W/ccmd/ca.pem
export XDG_CONFIG_HOME=$W/config
CCM="$BIN/ccm"

# ---------------------------------------------------------------------------
step "1. Start an OCI registry on $REG (Debian's docker-registry)"
mkdir -p "$W/registry"
cat >"$W/registry.yml" <<EOF
version: 0.1
log: {level: error}
storage: {filesystem: {rootdirectory: $W/registry}, delete: {enabled: true}}
http: {addr: $REG}
EOF
docker-registry serve "$W/registry.yml" >"$W/registry.log" 2>&1 &
PIDS+=($!)
wait_http "http://$REG/v2/"

step "2. Build the sample Python Flask image (cached) and push it"
sh "$ROOT/demo/flask-image.sh" "$CACHE/flask-oci"
run skopeo copy -q --dest-tls-verify=false "oci:$CACHE/flask-oci:latest" \
	"docker://$REG/python-flask:latest"

step "3. Start the manager (ccmd) on 127.0.0.1:$MP"
"$BIN/ccmd" --data "$W/ccmd" --listen "127.0.0.1:$MP" --insecure-registry "$REG" \
	--runtime "$BIN/ccm-enclave" --node-interval 2 >"$W/ccmd.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 100); do [ -f "$W/ccmd/ca.pem" ] && break; sleep 0.1; done
wait_http "$CCM_SERVER/v1/sys/health" --cacert "$CCM_CACERT"
printf 'demo-admin-password\n' >"$W/newpw"
run "$CCM" login --email admin@localhost --password-file "$W/ccmd/admin.password" \
	--new-password-file "$W/newpw" >/dev/null

step "4. Create a test-only account (simulated evidence allowed, and labelled as such)"
ACC=$("$CCM" account create demo --test-only --json | jget id)
export CCM_ACCOUNT=$ACC
"$CCM" account ca "$ACC" >"$W/account-ca.pem"
say "account $ACC, CA in $W/account-ca.pem"

step "5. Add the application (ISVPRODID 1, ISVSVN 1, 256M, 4 threads)"
APP=$("$CCM" app create flask --isvprodid 1 --isvsvn 1 --memory 256M --threads 4 \
	--input-image "$REG/python-flask:latest" --output-image "$REG/python-flask:enclave" \
	--domains flask.demo.local --subject CN=flask.demo.local,O=ccm-demo \
	--key-path /run/ccm/tls/key.pem --cert-path /run/ccm/tls/cert.pem \
	--chain-path /run/ccm/tls/chain.pem --env "PORT=$APPPORT" --labels zone=demo --json | jget id)
say "app $APP"
T=$("$CCM" task list --status PENDING --type domain_whitelist --json | jget items.0.id)
run "$CCM" task approve "$T" --reason "demo domain" >/dev/null
say "domain flask.demo.local whitelisted (task $T)"

step "6. Build: ccmd pulls, converts, signs with the account key and pushes"
run "$CCM" build create --app "$APP" --wait
BUILD_ID=$("$CCM" build list --app "$APP" --json | jget items.0.id)
"$CCM" build show "$BUILD_ID" --json >"$W/build.json"
MRE=$(jget mrenclave <"$W/build.json")
say "build $BUILD_ID: MRENCLAVE $MRE, status $(jget status <"$W/build.json")"

step "7. Enroll this machine as a compute node (join token + ccm-agent on 127.0.0.1:$AP)"
TOKEN=$("$CCM" node token create demo-node --labels zone=demo --json | jget token)
"$BIN/ccm-agent" --manager "$CCM_SERVER" --cacert "$CCM_CACERT" --join-token "$TOKEN" \
	--data "$W/agent" --listen "127.0.0.1:$AP" --name demo-node >"$W/agent.log" 2>&1 &
PIDS+=($!)
wait_http "http://127.0.0.1:$AP/v1/version"
for _ in $(seq 1 50); do
	curl -s "http://127.0.0.1:$AP/v1/version" | grep -q '"enrolled":true' && break
	sleep 0.2
done
NODE=$("$CCM" node list --json | jget items.0.id)
say "node $NODE: $("$CCM" node show "$NODE" --json | jget state), evidence: simulated (test-only account)"

step "8. Pull the converted image and unpack it into an OCI bundle"
run skopeo copy -q --src-tls-verify=false "docker://$REG/python-flask:enclave" "oci:$W/out:enclave"
run umoci unpack --image "$W/out:enclave" "$W/bundle" >/dev/null
$PY - "$W/bundle/config.json" "http://127.0.0.1:$AP" <<'PYEOF'
import json, sys
path, agent = sys.argv[1], sys.argv[2]
c = json.load(open(path))
# Share the host's loopback: the agent and the registry are there.
c["linux"]["namespaces"] = [n for n in c["linux"]["namespaces"] if n["type"] != "network"]
c["process"]["terminal"] = False
c["process"]["env"] = [e for e in c["process"].get("env", []) if not e.startswith("CCM_AGENT_URL=")]
c["process"]["env"].append("CCM_AGENT_URL=" + agent)
c["root"]["readonly"] = False
json.dump(c, open(path, "w"), indent=1)
PYEOF
ENTRY=$($PY -c 'import json,sys;print(" ".join(json.load(open(sys.argv[1]))["process"]["args"]))' "$W/bundle/config.json")
say "entrypoint: $ENTRY"

# The runtime, run directly on the unpacked root (it checks, attests, then
# chroots into it): how the refusals below are exercised without runc.
runtime() {
	env CCM_ENCLAVE_ROOT="$W/bundle/rootfs" CCM_AGENT_URL="http://127.0.0.1:$AP" "$@" \
		timeout 60 "$W/bundle/rootfs/opt/ccm/ccm-enclave" >"$W/runtime.out" 2>&1
}
refused() { # refused CHECK DESCRIPTION [ENV=...]: the runtime must refuse, naming CHECK
	local chk=$1 what=$2
	shift 2
	if runtime "$@"; then
		FAILS=$((FAILS + 1))
		echo "FAIL: $what: the runtime started" >&2
		return
	fi
	check "$what: runtime refused ($(tail -1 "$W/runtime.out" | cut -c1-150))" \
		grep -q -- "$chk" "$W/runtime.out"
	# The file checks come before attestation: nothing reaches the audit log.
	if [ "$chk" != "differs" ] && [ "$chk" != "added after conversion" ]; then
		check "$what: audit log records the refusal" \
			sh -c "'$CCM' audit list --result refused --limit 1000 --json | grep -q -- '$chk'"
	fi
}

if [ "$MODE" = test ]; then
	step "8b. Refusal: the build is not approved yet"
	refused build_status "build not yet approved"
fi

step "9. Approve the build (whitelist task): the build becomes WHITELISTED"
T=$("$CCM" task list --status PENDING --type build_whitelist --json | jget items.0.id)
run "$CCM" task approve "$T" --reason "reviewed in the demo" >/dev/null
say "build $BUILD_ID: $("$CCM" build show "$BUILD_ID" --json | jget status)"

step "10. Run the converted image under runc"
(cd "$W/bundle" && runc run -d "$CID" >"$W/app.log" 2>&1) || { cat "$W/app.log"; die "runc run failed"; }
for _ in $(seq 1 150); do
	curl -s -o /dev/null --cacert "$W/account-ca.pem" --resolve "flask.demo.local:$APPPORT:127.0.0.1" \
		"https://flask.demo.local:$APPPORT/" && break
	if ! runc state "$CID" 2>/dev/null | grep -q running; then
		cat "$W/app.log"
		die "the enclave image stopped"
	fi
	sleep 0.2
done

step "11. The original Flask app answers over TLS with a certificate from the account CA"
run curl -sS --cacert "$W/account-ca.pem" --resolve "flask.demo.local:$APPPORT:127.0.0.1" \
	"https://flask.demo.local:$APPPORT/" | tee "$W/page.txt"
check "the Flask page is served over TLS, verified against the account CA" grep -q "Hello" "$W/page.txt"
check "the runtime reported its app RUNNING to the agent (GET /v1/instances)" agent_has RUNNING
check "the node reports the app's instance RUNNING (ccm node show)" instance_is RUNNING

step "12. The certificate's enclave identity"
run "$CCM" cert inspect "$W/bundle/rootfs/run/ccm/tls/cert.pem"
"$CCM" cert inspect --json "$W/bundle/rootfs/run/ccm/tls/cert.pem" >"$W/cert.json"
check "certificate MRENCLAVE is the build's" test "$(jget enclave.mrenclave <"$W/cert.json")" = "$MRE"
check "certificate says simulated" test "$(jget enclave.simulated <"$W/cert.json")" = true

step "13. The audit trail"
"$CCM" audit list --limit 1000 --json | $PY -c '
import json, sys
for e in json.load(sys.stdin)["items"][-14:]:
    print("    %-4s %-22s %-12s %-8s %s" % (e["seq"], e["action"], e["object"], e["result"], e["reason"][:70]))'
run "$CCM" audit verify

runc kill "$CID" TERM >/dev/null 2>&1 || true
for _ in $(seq 1 50); do runc state "$CID" 2>/dev/null | grep -q stopped && break; sleep 0.1; done
runc delete -f "$CID" >/dev/null 2>&1 || true
check "the app's instance is STOPPED once the container stopped" instance_is STOPPED

if [ "$MODE" = test ]; then
	step "14. Refusals, each with its reason in the runtime's output and the audit log"
	cp "$W/bundle/rootfs/app/app.py" "$W/app.py.orig"
	echo "# changed after conversion" >>"$W/bundle/rootfs/app/app.py"
	refused "differs" "a file changed after conversion"
	check "the runtime names the changed file" grep -q "/app/app.py" "$W/runtime.out"
	cp "$W/app.py.orig" "$W/bundle/rootfs/app/app.py"
	EVIL=/usr/lib/python3/dist-packages/evil.pth
	echo "import os" >"$W/bundle/rootfs$EVIL"
	refused "added after conversion" "a file added to the converted image after conversion"
	check "the runtime names the added file" grep -q "unlisted file $EVIL" "$W/runtime.out"
	rm "$W/bundle/rootfs$EVIL"

	# A newer ISVSVN is now required; the running build has ISVSVN 1.
	"$CCM" app update "$APP" --isvsvn 5 --min-isvsvn 5 >/dev/null
	refused isvsvn "ISVSVN below the application's minimum"
	"$CCM" app update "$APP" --min-isvsvn 0 >/dev/null
	"$CCM" app update "$APP" --isvsvn 1 >/dev/null

	"$CCM" app update "$APP" --labels zone=demo,gpu=yes >/dev/null
	refused node_labels "node labels missing"
	"$CCM" app update "$APP" --labels zone=demo >/dev/null

	refused domains "a domain not whitelisted" CCM_DNS_NAMES=evil.example.org

	"$CCM" account test-only "$ACC" false --reason "flow test: hardware only" >/dev/null
	refused simulated_evidence "simulated evidence in a non-test-only account"
	"$CCM" account test-only "$ACC" true --reason "flow test: back to test-only" >/dev/null

	"$CCM" node deactivate "$NODE" --reason "flow test" >/dev/null
	refused node "a deactivated node"

	echo
	echo "$PASSES passed, $FAILS failed"
	[ "$FAILS" -eq 0 ]
	exit
fi

cat <<EOF

Done; the demo stopped everything it started. Explore further:
  ccm --help, ccm help app create, docs/quickstart.md, docs/internals/*.md
  CCM_FLOW_KEEP=1 make demo     keeps the work directory (logs, bundle, data)
EOF
