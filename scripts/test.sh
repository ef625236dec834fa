#!/usr/bin/env bash
# Set up everything the tests need on a fresh machine, then run lint, types and the suite.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages the integration and browser tests drive: skopeo, buildah, Chromium.
missing=()
command -v skopeo >/dev/null 2>&1 || missing+=(skopeo)
command -v buildah >/dev/null 2>&1 || missing+=(buildah)
command -v chromium >/dev/null 2>&1 || missing+=(chromium chromium-driver)
if [ "${#missing[@]}" -gt 0 ]; then
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${missing[@]}"
fi

python3 -m pip install -q --disable-pip-version-check -e '.[test]'

python3 -m ruff check .
python3 -m ruff format --check .
python3 -m mypy
python3 -m pytest "$@"
