# DESIGN: what the attest clients of the integration tests make: a key
# with its CSR, and the report an enclave of a given SIGSTRUCT would
# present for that key (base64), through `ccm attest report`. Shared by
# it_agent_batch and it_agent_frames, which copy it into their temp dir.
import base64, subprocess
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

def key_csr(cn, extensions=()):
    k = ec.generate_private_key(ec.SECP256R1())
    b = x509.CertificateSigningRequestBuilder().subject_name(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
    for e in extensions:
        b = b.add_extension(e, critical=False)
    return k, b.sign(k, hashes.SHA256())

def report(ccm, tmp, k, name):
    path = "%s/%s.pem" % (tmp, name)
    with open(path, "wb") as f:
        f.write(k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()))
    subprocess.run([ccm, "attest", "report", "--sigstruct", tmp + "/good.sig", "--key", path,
                    "-o", path + ".rep"], check=True)
    return base64.b64encode(open(path + ".rep", "rb").read()).decode()
