"""A small Sentry-like upstream built on Relay's own registration code (sentry_relay.auth), loopback only.

Registration goes through `create_register_challenge` / `validate_register_response` exactly as Sentry's
endpoints call them; every later request must come from a registered relay with a valid signature
(`PublicKey.verify`). It serves project configs, takes envelopes and outcome batches, and counts all
of it for the test at `GET /_state`.

Usage: relay_upstream.py CONFIG_JSON_FILE   (prints {"port": N} once listening)
CONFIG: {"trusted": [public keys], "external": [public keys], "configs": {publicKey: projectState | null}}
(`external` keys may register but, as in Sentry, get no full configs: 403.)
"""

import json
import secrets
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from sentry_relay.auth import PublicKey, create_register_challenge, validate_register_response

SECRET = secrets.token_hex(32)
LOCK = threading.Lock()
STATE = {
    "registrations": [],  # relay ids that completed the response step
    "refused": [],  # {"path", "status", "detail"}
    "config_requests": [],  # {"relay_id", "keys"}
    "outcomes": [],  # raw outcome entries
    "envelopes": [],  # {"project_id", "headers", "body"}
}
REGISTERED = {}  # relay id -> public key


class Handler(BaseHTTPRequestHandler):
    config = {"trusted": [], "configs": {}}

    def log_message(self, *args):  # quiet
        pass

    def reply(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def refuse(self, status, detail):
        with LOCK:
            STATE["refused"].append({"path": self.path, "status": status, "detail": detail})
        self.reply(status, {"detail": detail})

    def body(self):
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length)

    def registered_relay(self, body):
        """The relay id of a registered relay whose signature over `body` is valid, else None (answered)."""
        relay_id = self.headers.get("X-Sentry-Relay-Id")
        signature = self.headers.get("X-Sentry-Relay-Signature")
        public_key = REGISTERED.get(relay_id)
        if public_key is None:
            self.refuse(401, "relay not registered")
            return None
        if not signature or not PublicKey.parse(public_key).verify(body, signature, 300):
            self.refuse(401, "invalid relay signature")
            return None
        return relay_id

    def do_GET(self):
        if self.path == "/_state":
            with LOCK:
                self.reply(200, STATE)
            return
        self.reply(404, {"detail": "not found"})

    def do_POST(self):
        body = self.body()
        path = self.path.split("?")[0]
        if path == "/_forget":
            with LOCK:
                REGISTERED.clear()
            return self.reply(200, {})
        if path == "/api/0/relays/register/challenge/":
            data = json.loads(body)
            if data.get("public_key") not in self.config["trusted"] + self.config.get("external", []):
                return self.refuse(403, "Relay is not allowed to register")
            signature = self.headers.get("X-Sentry-Relay-Signature")
            if not signature:
                return self.refuse(400, "Missing relay signature")
            try:
                challenge = create_register_challenge(body, signature, SECRET)
            except Exception as error:
                return self.refuse(400, str(error).splitlines()[0])
            if str(challenge["relay_id"]) != self.headers.get("X-Sentry-Relay-Id"):
                return self.refuse(400, "relay_id in payload did not match header")
            return self.reply(200, {"relay_id": str(challenge["relay_id"]), "token": challenge["token"]})
        if path == "/api/0/relays/register/response/":
            signature = self.headers.get("X-Sentry-Relay-Signature")
            if not signature:
                return self.refuse(400, "Missing relay signature")
            try:
                response = validate_register_response(body, signature, SECRET)
            except Exception as error:
                return self.refuse(400, str(error).splitlines()[0])
            relay_id = str(response["relay_id"])
            if response["public_key"] not in self.config["trusted"] + self.config.get("external", []):
                return self.refuse(403, "Relay is not allowed to register")
            with LOCK:
                REGISTERED[relay_id] = response["public_key"]
                STATE["registrations"].append(relay_id)
            return self.reply(200, {"relay_id": relay_id})
        if path == "/api/0/relays/projectconfigs/":
            relay_id = self.registered_relay(body)
            if relay_id is None:
                return
            request = json.loads(body)
            if request.get("fullConfig") and REGISTERED[relay_id] not in self.config["trusted"]:
                return self.refuse(403, "Relay unauthorized for full config information")
            keys = request.get("publicKeys", [])
            with LOCK:
                STATE["config_requests"].append({"relay_id": relay_id, "keys": keys})
            return self.reply(200, {"configs": {k: self.config["configs"].get(k) for k in keys}})
        if path == "/api/0/relays/outcomes/":
            if self.registered_relay(body) is None:
                return
            with LOCK:
                STATE["outcomes"].extend(json.loads(body).get("outcomes", []))
            return self.reply(202, {})
        if path.startswith("/api/") and path.endswith("/envelope/"):
            headers = {k.lower(): v for k, v in self.headers.items()}
            with LOCK:
                STATE["envelopes"].append({"project_id": path.split("/")[2], "headers": headers, "body": body.decode("utf-8", "replace")})
            return self.reply(200, {"id": None})
        self.reply(404, {"detail": "not found"})


def main():
    with open(sys.argv[1]) as f:
        Handler.config = json.load(f)
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    sys.stdout.write(json.dumps({"port": server.server_address[1]}) + "\n")
    sys.stdout.flush()
    threading.Thread(target=lambda: (sys.stdin.read(), server.shutdown()), daemon=True).start()
    server.serve_forever()


if __name__ == "__main__":
    main()
