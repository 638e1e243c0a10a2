#!/usr/bin/env bash
# Prints the path of a headless-capable Chromium for the diagnostics page
# tests, installing Debian's chromium package when none is on PATH (needs
# root or sudo and apt). LEGATE_CHROMIUM, when set, wins.
set -euo pipefail

if [[ -n "${LEGATE_CHROMIUM:-}" ]]; then
  echo "$LEGATE_CHROMIUM"
  exit 0
fi
for name in chromium chromium-browser; do
  if path="$(command -v "$name")"; then
    echo "$path"
    exit 0
  fi
done
if ! command -v apt-get >/dev/null; then
  echo "install-chromium: no chromium on PATH and no apt-get to install it; set LEGATE_CHROMIUM" >&2
  exit 1
fi
SUDO=""
if [[ "$(id -u)" != 0 ]]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
# A fresh machine may have no package lists yet.
$SUDO apt-get install -y --no-install-recommends chromium >&2 ||
  { $SUDO apt-get update >&2 && $SUDO apt-get install -y --no-install-recommends chromium >&2; }
command -v chromium
