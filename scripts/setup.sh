#!/usr/bin/env bash
# Installs what building and testing ssot-ws needs on a fresh machine: the
# npm packages (buf, protoc-gen-es, the TypeScript runtime's dependencies)
# and the Go modules. With --browser it also installs Debian's Chromium for
# the end-to-end test. Safe to run again: it skips what is there.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x node_modules/.bin/buf ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
go mod download

if [ "${1:-}" = "--browser" ] && ! command -v chromium >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq chromium >/dev/null
fi
