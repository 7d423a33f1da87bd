#!/bin/bash
# The agent batches attest requests (src/ccm-agent/attest.c): many runtimes
# attest at once against the real ccmd, so requests queue while a batch is
# in flight and go out together as POST /v1/node/issue/batch. Checked:
# batches of more than one formed; every client got its own answer (a
# certificate for its own key with the names it asked for, or its own
# refusal: a name not whitelisted and a CSR whose signature does not
# verify refused by the manager inside a batch, a malformed CSR and a
# report binding another key refused by the agent); ccmd audited one
# certificate.issue entry per request that reached it, with its result,
# and none for those the agent refused. Last, requests near the local
# API's 64 KiB cap pile up while ccmd is paused: the agent splits what it
# takes at the manager's 1 MiB cap, and every client gets ccmd's own
# answer (no 413 for a batch over the cap).
. "$(dirname "$0")/lib.sh"

ccmd_start
bootstrap_admin
TOKEN=$ADMIN
acc=$(new_account tenant "$TOKEN" '"test_only":true')
A=/v1/accounts/$acc
api POST "$A/apps" '{"name":"web","isvprodid":1,"isvsvn":1,
 "allowed_domains":["web.example.org","api.example.org"],"cert_subject":"CN=web"}'
expect_status 201 "app"
app=$(jget "$OUT" id)
dtask=$(jget "$OUT" domain_task_id)
build_whitelisted good 1 1
api POST "$A/tasks/$dtask/approve" '{}'
expect_status 200 "approve domains"
api POST "$A/join-tokens" '{"name":"agent"}'
jt=$(jget "$OUT" token)

APORT=$(free_port)
agent_run "$jt"

# attest_client.py: a key with its CSR, and the report an enclave of
# good.sig would present for that key (both client scripts below).
cp "$(dirname "$0")/attest_client.py" "$T/"

# 40 good requests (half asking for one name), 3 for a name not
# whitelisted, 2 CSRs with a broken signature, 1 malformed CSR, 1 report
# binding another key; all sent at once, three rounds. Prints the serials
# granted, one a line.
"$PY" - "$APORT" "$T" "$CCM_BIN/ccm" >"$T/serials" <<'PY' || fail "batch clients"
import http.client, json, sys, threading
from cryptography import x509
from cryptography.hazmat.primitives import serialization

port, tmp, ccm = int(sys.argv[1]), sys.argv[2], sys.argv[3]
sys.path.insert(0, tmp)
import attest_client

def key_csr(i):
    return attest_client.key_csr("c%d" % i)

def report(k, i):
    return attest_client.report(ccm, tmp, k, "k%d" % i)

def pem(csr):
    return csr.public_bytes(serialization.Encoding.PEM).decode()

def bad_signature(csr):
    der = bytearray(csr.public_bytes(serialization.Encoding.DER))
    der[-1] ^= 0x01  # the last byte of the ECDSA signature's s
    import base64
    b = base64.encodebytes(bytes(der)).decode()
    return "-----BEGIN CERTIFICATE REQUEST-----\n" + b + "-----END CERTIFICATE REQUEST-----\n"

cases, n = [], 0
for kind, count in (("good", 40), ("evil", 3), ("badsig", 2), ("junk", 1), ("binding", 1)):
    for _ in range(count):
        k, csr = key_csr(n)
        c = {"kind": kind, "key": k, "body": {"report": report(k, n), "csr": pem(csr)}}
        if kind == "good" and n % 2:
            c["body"]["dns_names"] = ["web.example.org"]
        if kind == "evil":
            c["body"]["dns_names"] = ["evil.example.org"]
        if kind == "badsig":
            c["body"]["csr"] = bad_signature(csr)
        if kind == "junk":
            c["body"]["csr"] = "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n"
        if kind == "binding":
            c["body"]["csr"] = pem(key_csr(n + 1000)[1])
        cases.append(c)
        n += 1

def check(c, status, ans):
    kind, err = c["kind"], ans.get("error", {})
    want = {"evil": (403, "policy_refused", "domains"),
            "badsig": (400, "invalid_csr", "self-signature"),
            "junk": (400, "invalid_csr", "not a PEM certificate request"),
            "binding": (400, "key_binding", "does not bind")}
    if kind != "good":
        st, code, msg = want[kind]
        assert status == st and err.get("code") == code and msg in err.get("message", ""), \
            (kind, status, ans)
        return None
    assert status == 200, (kind, status, ans)
    cert = x509.load_pem_x509_certificate(ans["certificate"].encode())
    assert cert.public_key().public_numbers() == c["key"].public_key().public_numbers(), \
        "a client got a certificate for another key"
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value \
        .get_values_for_type(x509.DNSName)
    asked = c["body"].get("dns_names", ["web.example.org", "api.example.org"])
    assert sorted(names) == sorted(asked), (names, asked)
    assert len(ans["instance"]["token"]) == 64, ans.get("instance")
    return ans["serial"]

serials, errors = [], []
def client(c, barrier):
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        barrier.wait()
        conn.request("POST", "/v1/attest", json.dumps(c["body"]),
                     {"Content-Type": "application/json"})
        r = conn.getresponse()
        s = check(c, r.status, json.loads(r.read()))
        if s:
            serials.append(s)
    except Exception as e:  # noqa: BLE001 - reported below
        errors.append(repr(e))

for _ in range(3):
    barrier = threading.Barrier(len(cases))
    ts = [threading.Thread(target=client, args=(c, barrier)) for c in cases]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
if errors:
    sys.exit("\n".join(errors[:5]))
print("\n".join(serials))
PY

[ "$(sort -u "$T/serials" | wc -l)" = 120 ] || fail "120 distinct grants expected: $(wc -l <"$T/serials")"
batches=$(grep -c '"path":"/v1/node/issue/batch","status":200' "$T/ccmd.log" || true)
[ "$batches" -ge 1 ] || fail "no batch reached the manager"
echo "batches: $batches" >&2

# One audit entry per request that reached the manager, with its result.
api GET "$A/audit?action=certificate.issue&limit=1000"
expect_status 200 "audit"
"$PY" - "$OUT" "$T/serials" <<'PY' || fail "audit entries"
import json, sys
items = json.load(open(sys.argv[1]))["items"]
serials = open(sys.argv[2]).read().split()
ok = [e for e in items if e["result"] == "ok"]
refused = [e for e in items if e["result"] == "refused"]
assert len(items) == 3 * 45, "%d entries (135 expected)" % len(items)
assert len(ok) == 120 and len(refused) == 15, (len(ok), len(refused))
for s in serials:
    assert sum(("serial " + s) in e["reason"] for e in ok) == 1, "serial %s audited once" % s
assert sum("domains" in e["reason"] for e in refused) == 9, [e["reason"] for e in refused]
assert sum("self-signature" in e["reason"] for e in refused) == 6, [e["reason"] for e in refused]
PY
# The 1 MiB split. 60 requests of ~24 KiB (a 15 KiB CSR, 64 names of 119
# bytes, not whitelisted: refused by ccmd, item by item; the local API's
# caps are 16 KiB and 128 bytes); ccmd is stopped while they arrive, so
# all but the first few wait in the agent's queue together.
kill -STOP "$CCMD_PID"
"$PY" - "$APORT" "$T" "$CCM_BIN/ccm" "$CCMD_PID" <<'PY' || { kill -CONT "$CCMD_PID"; fail "split clients"; }
import http.client, json, os, signal, sys, threading, time
from cryptography import x509
from cryptography.hazmat.primitives import serialization

port, tmp, ccm, ccmd = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
sys.path.insert(0, tmp)
import attest_client
names = [("n%02d" % i) + ("." + "a" * 57) * 2 for i in range(64)]
pad = x509.UnrecognizedExtension(x509.ObjectIdentifier("1.3.6.1.4.1.55555.1"), b"p" * 11000)
bodies = []
for i in range(60):
    k, csr = attest_client.key_csr("s%d" % i, [pad])
    bodies.append(json.dumps({"report": attest_client.report(ccm, tmp, k, "s%d" % i),
                              "csr": csr.public_bytes(serialization.Encoding.PEM).decode(),
                              "dns_names": names}))
assert 22 * 1024 < len(bodies[0]) < 64 * 1024, len(bodies[0])
answers, errors = [], []
def client(b):
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        conn.request("POST", "/v1/attest", b, {"Content-Type": "application/json"})
        r = conn.getresponse()
        answers.append((r.status, json.loads(r.read())))
    except Exception as e:  # noqa: BLE001 - reported below
        errors.append(repr(e))
ts = [threading.Thread(target=client, args=(b,)) for b in bodies]
for t in ts:
    t.start()
time.sleep(2)
os.kill(ccmd, signal.SIGCONT)
for t in ts:
    t.join()
assert not errors, errors[:3]
assert len(answers) == 60
for st, a in answers:  # ccmd's own refusal of the item, never the batch's 413
    e = a.get("error", {})
    assert st == 403 and e.get("code") == "policy_refused", (st, a)
PY
grep -q 'attest batch split at the manager' "$T/agent.log" || fail "no batch was split at 1 MiB"
grep 'attest batch split' "$T/agent.log" | head -3 >&2
echo ok
