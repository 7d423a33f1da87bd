#!/bin/bash
# The node agent's checks of a framed batch answer, end to end. The real
# ccmd always answers a batch with one well-formed frame per request, so
# the wrong answers come from fakemanager.py: the agent is enrolled with
# ccmd, then restarted with its saved identity against the fake, which
# answers each batch as the test tells it. For every kind of wrong answer
# (fewer or more frames than requests, a bad frame header, a body over the
# agent's 128 KiB cap, a body cut short, a body that is not a JSON object,
# a JSON answer that does not match, a non-JSON 200, a batch refused as a
# whole) every runtime whose request was in the batch gets its own 502
# (or the manager's refusal) naming what was wrong, and the agent keeps
# serving. A good framed answer reaches each runtime as the bytes the
# manager wrote, a grant with the instance handle spliced in, a refusal
# untouched.
. "$(dirname "$0")/lib.sh"

ccmd_start
bootstrap_admin
TOKEN=$ADMIN
acc=$(new_account tenant "$TOKEN" '"test_only":true')
A=/v1/accounts/$acc
api POST "$A/join-tokens" '{"name":"agent"}'
expect_status 201 "join token"
jt=$(jget "$OUT" token)
APORT=$(free_port)
agent_run "$jt"
agent_stop
new_sigstruct good 1 1 >/dev/null
cp "$(dirname "$0")/attest_client.py" "$T/"

# The fake's TLS: its own CA and a certificate for 127.0.0.1.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
	-subj /CN=fake-ca -keyout "$T/fca.key" -out "$T/fca.pem" 2>/dev/null || fail "fake CA"
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=127.0.0.1 \
	-keyout "$T/fsrv.key" -out "$T/fsrv.csr" 2>/dev/null || fail "fake CSR"
printf 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n' >"$T/fsrv.ext"
openssl x509 -req -in "$T/fsrv.csr" -CA "$T/fca.pem" -CAkey "$T/fca.key" -CAcreateserial \
	-days 1 -extfile "$T/fsrv.ext" -out "$T/fsrv.pem" 2>/dev/null || fail "fake certificate"
FPORT=$(free_port)
echo good >"$T/mode"
"$PY" "$(dirname "$0")/fakemanager.py" "$FPORT" "$T/fsrv.pem" "$T/fsrv.key" "$T/mode" \
	2>"$T/fake.log" &
FAKE_PID=$!
pre_cleanup() {
	kill "$FAKE_PID" 2>/dev/null || true
	wait "$FAKE_PID" 2>/dev/null || true
}
for _ in $(seq 1 50); do
	curl -s -o /dev/null --cacert "$T/fca.pem" -X POST "https://127.0.0.1:$FPORT/v1/node/status" &&
		break
	sleep 0.1
done

"$CCM_BIN/ccm-agent" --manager "https://127.0.0.1:$FPORT" --cacert "$T/fca.pem" \
	--data "$T/agent" --listen "127.0.0.1:$APORT" --name node-a 2>>"$T/agent.log" &
agent_started
for _ in $(seq 1 100); do
	curl -sf "http://127.0.0.1:$APORT/v1/version" >"$T/v.json" 2>/dev/null && break
	sleep 0.1
done
[ "$(jget "$T/v.json" enrolled)" = true ] || fail "agent with its saved identity not up"

"$PY" - "$APORT" "$T" "$CCM_BIN/ccm" <<'PY' || fail "framed answers"
import http.client, json, re, sys, threading
from cryptography.hazmat.primitives import serialization

port, tmp, ccm = int(sys.argv[1]), sys.argv[2], sys.argv[3]
sys.path.insert(0, tmp)
import attest_client
N = 12  # > 3 batchers: at least one batch of two or more

def body(i):
    k, csr = attest_client.key_csr("c%d" % i)
    return json.dumps({"report": attest_client.report(ccm, tmp, k, "k%d" % i),
                       "csr": csr.public_bytes(serialization.Encoding.PEM).decode()})

bodies = [body(i) for i in range(N)]

def round_of(mode):
    with open(tmp + "/mode", "w") as f:
        f.write(mode)
    out, barrier = [None] * N, threading.Barrier(N)
    def client(i):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        barrier.wait()
        conn.request("POST", "/v1/attest", bodies[i], {"Content-Type": "application/json"})
        r = conn.getresponse()
        out[i] = (r.status, r.read())
    ts = [threading.Thread(target=client, args=(i,)) for i in range(N)]
    for t in ts: t.start()
    for t in ts: t.join()
    # Lone requests went out as /v1/node/issue: the fake's 503.
    return [(s, json.loads(b)) for s, b in out
            if not (s == 503 and b'"fake_single"' in b)], out

MISMATCH = "the manager's batch answer does not match the batch"
want = {
    "fewer": (502, "manager_error", MISMATCH + ": fewer answers than requests"),
    "more": (502, "manager_error", MISMATCH + ": more answers than requests"),
    "header": (502, "manager_error", MISMATCH + ': frame header: expected "status length app_id build_id\\n"'),
    "toobig": (502, "manager_error", MISMATCH + ": frame body: larger than allowed"),
    "short": (502, "manager_error", MISMATCH + ": frame body: cut short or not followed by a newline"),
    "notobject": (502, "manager_error", "the manager's answer for this request is not a JSON object"),
    "json": (502, "manager_error", MISMATCH),
    "refused": (503, "unavailable", "fake down"),
    "garbage": (502, "manager_unreachable", None),
}
for mode, (st, code, msg) in want.items():
    batched, raw = round_of(mode)
    assert len(batched) >= 2, (mode, "no batch formed", raw)
    for s, ans in batched:
        err = ans.get("error", {})
        assert s == st and err.get("code") == code, (mode, s, ans)
        assert msg is None or err.get("message") == msg, (mode, ans)
    print("%-9s %2d batched requests answered %d %s" % (mode, len(batched), st, code))

# A good framed answer: grants with their instance, refusals as written.
batched, raw = round_of("good")
assert len(batched) >= 2, raw
grants = refusals = 0
for s, ans in batched:
    if s == 200:
        assert re.fullmatch(r"fake-\d+", ans["certificate"]), ans
        inst = ans["instance"]
        assert re.fullmatch(r"[0-9a-f]{32}", inst["id"]) and len(inst["token"]) == 64, ans
        assert set(ans) == {"certificate", "instance"}, ans
        grants += 1
    else:
        assert s == 403 and ans == {"error": {"code": "policy_denied", "message": "fake refusal"}}, (s, ans)
        refusals += 1
assert grants >= 1, batched
print("good      %d grants with their instance, %d refusals as written" % (grants, refusals))
PY

kill -0 "$AGENT_PID" 2>/dev/null || fail "the agent died"
curl -sf "http://127.0.0.1:$APORT/v1/version" >/dev/null || fail "the agent stopped serving"
echo "PASS"
