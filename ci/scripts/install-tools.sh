#!/usr/bin/env bash
# Services and tools the tests and the local platform start, installed from Debian and npm:
#   redis-server (Feast online store in the cluster flavour), wrk (load generator for the
#   serving benchmark), Azurite (Azure Blob emulator) and newman (runs the Postman collection
#   ci/postman/ against a real gateway), both into ./.tools.
# Idempotent; skips what is already there. Needs root (or sudo) for apt on a fresh machine.
set -euo pipefail
cd "$(dirname "$0")/../.."

AZURITE_VERSION=3.35.0   # 3.36+ needs Node 22; Debian 12 ships Node 18/20
NEWMAN_VERSION=6.2.2     # Node >= 16

missing=()
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
command -v wrk >/dev/null 2>&1 || missing+=(wrk)
if ((${#missing[@]})); then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "installing ${missing[*]} (apt)"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi

npm_version() {  # the installed version of an npm package in .tools ("" when absent)
  node -p "require('./.tools/node_modules/$1/package.json').version" 2>/dev/null || true
}
if [ ! -x .tools/node_modules/.bin/azurite-blob ] || [ ! -x .tools/node_modules/.bin/newman ] || \
   [ "$(npm_version azurite)" != "$AZURITE_VERSION" ] || \
   [ "$(npm_version newman)" != "$NEWMAN_VERSION" ]; then
  command -v npm >/dev/null 2>&1 || { echo "npm is required for Azurite and newman" >&2; exit 1; }
  echo "installing azurite@$AZURITE_VERSION newman@$NEWMAN_VERSION (npm, into .tools/)"
  mkdir -p .tools
  npm install --prefix .tools --no-audit --no-fund --silent \
    "azurite@$AZURITE_VERSION" "newman@$NEWMAN_VERSION"
fi
