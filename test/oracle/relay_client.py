"""A Relay client written on Relay's own code (sentry_relay.auth): registers with an upstream and fetches configs.

Usage: relay_client.py UPSTREAM_URL SECRET_KEY PUBLIC_KEY RELAY_ID PROJECT_KEY...
Prints one JSON object: the status and answer of each step (challenge, response, projectconfigs).
"""

import json
import sys
import time
import urllib.error
import urllib.request

from sentry_relay.auth import SecretKey


def post(url, secret, relay_id, data):
    body, signature = secret.pack(data)
    request = urllib.request.Request(url, data=body, method="POST", headers={
        "Content-Type": "application/json",
        "X-Sentry-Relay-Id": relay_id,
        "X-Sentry-Relay-Signature": signature,
    })
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return {"status": response.status, "body": json.loads(response.read() or b"null")}
    except urllib.error.HTTPError as error:
        return {"status": error.code, "body": json.loads(error.read() or b"null")}


def main():
    upstream, secret_text, public_key, relay_id, *keys = sys.argv[1:]
    secret = SecretKey.parse(secret_text)
    out = {}
    challenge = post(upstream + "/api/0/relays/register/challenge/", secret, relay_id,
                     {"relay_id": relay_id, "public_key": public_key, "version": "25.1.0"})
    out["challenge"] = challenge
    if challenge["status"] == 200:
        token = challenge["body"]["token"]
        out["response"] = post(upstream + "/api/0/relays/register/response/", secret, relay_id,
                               {"relay_id": relay_id, "token": token, "version": "25.1.0"})
        # Asked again while the upstream answers `pending`, as Relay does.
        for _ in range(50):
            answer = post(upstream + "/api/0/relays/projectconfigs/?version=3", secret, relay_id,
                          {"publicKeys": keys, "fullConfig": True})
            if answer["status"] != 200 or not answer["body"].get("pending"):
                break
            time.sleep(0.1)
        out["projectconfigs"] = answer
    sys.stdout.write(json.dumps(out) + "\n")


if __name__ == "__main__":
    main()
