#!/usr/bin/env bash
# Installs Relay's own code (the PyPI package sentry-relay) into a git-ignored virtual environment
# under the project, for the differential tests. Idempotent: does nothing when it is already there.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=".venv/relay"
VERSION="0.10.1"
if [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c "import sentry_relay, importlib.metadata as m; assert m.version('sentry-relay') == '$VERSION'" 2>/dev/null; then
  exit 0
fi
python3 -m venv "$VENV"
"$VENV/bin/pip" install --quiet --disable-pip-version-check "sentry-relay==$VERSION"
"$VENV/bin/python" -c "import sentry_relay; print('sentry-relay installed in $VENV')"
