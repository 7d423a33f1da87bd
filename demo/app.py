# The sample application of the ccm demo: an ordinary Flask web server that
# knows nothing about enclaves. It serves HTTPS with the key and certificate
# files its deployment names (here: where the app's certificate config in ccm
# tells the runtime to write them).
import os

from flask import Flask

app = Flask(__name__)


@app.route("/")
def index():
    return "Hello from a Flask app in a ccm enclave image\n"


if __name__ == "__main__":
    cert = os.environ.get("TLS_CERT", "/run/ccm/tls/cert.pem")
    key = os.environ.get("TLS_KEY", "/run/ccm/tls/key.pem")
    port = int(os.environ.get("PORT", "8444"))
    app.run(host=os.environ.get("HOST", "127.0.0.1"), port=port, ssl_context=(cert, key))
