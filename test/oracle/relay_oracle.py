"""Relay's own code as a test oracle, driven over stdin/stdout (one JSON request per line).

Each request is {"op": ..., ...}; each answer one JSON line: {"ok": true, "result": ...} or
{"ok": false, "error": "..."}. The ops map one to one onto sentry_relay's Python API.
"""

import base64
import json
import sys

from sentry_relay import processing
from sentry_relay.auth import PublicKey, SecretKey, generate_key_pair

_normalizers = {}


def _normalizer(options):
    key = json.dumps(options, sort_keys=True)
    normalizer = _normalizers.get(key)
    if normalizer is None:
        normalizer = processing.StoreNormalizer(**options)
        _normalizers[key] = normalizer
    return normalizer


def handle(request):
    op = request["op"]
    if op == "validate_sampling_configuration":
        return processing.validate_sampling_configuration(request["json"])
    if op == "validate_rule_condition":
        return processing.validate_rule_condition(request["json"])
    if op == "normalize_project_config":
        return processing.normalize_project_config(request["config"])
    if op == "normalize_event":
        return _normalizer(request.get("options", {})).normalize_event(request["event"])
    if op == "generate_key_pair":
        secret, public = generate_key_pair()
        return {"secret_key": str(secret), "public_key": str(public)}
    if op == "sign":
        return SecretKey.parse(request["secret_key"]).sign(base64.b64decode(request["data"]))
    if op == "pack":
        body, signature = SecretKey.parse(request["secret_key"]).pack(request["value"])
        return {"body": body.decode(), "signature": signature}
    if op == "verify":
        data = base64.b64decode(request["data"])
        return PublicKey.parse(request["public_key"]).verify(data, request["signature"], request.get("max_age"))
    if op == "ping":
        return "pong"
    raise ValueError(f"unknown op {op!r}")


def main():
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        try:
            answer = {"ok": True, "result": handle(json.loads(line))}
        except Exception as error:  # the oracle's verdict, not a failure of this helper
            answer = {"ok": False, "error": f"{type(error).__name__}: {error}"}
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
