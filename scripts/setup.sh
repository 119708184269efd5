#!/usr/bin/env bash
# Installs what building and testing ssot-ws needs on a fresh machine: the
# npm packages (buf, protoc-gen-es, the TypeScript runtime's dependencies,
# and the workspace link node_modules/@ssot-ws/runtime -> ts/runtime) and
# the Go modules. Nothing needs building: in the repository, tsc, vitest and
# esbuild read @ssot-ws/runtime from its sources (see ts/README.md). Flags add what some tests need, from Debian's packages:
#   --browser   Chromium, for the end-to-end test of the chat page
#   --postgres  the PostgreSQL server binaries, for ssotws/pgstore's tests
#               (they start a throwaway cluster of their own)
#   --sqlite3   the sqlite3 shell, for the test of the README's demo
#               (examples/chat/server)
# Safe to run again: it skips what is there.
set -euo pipefail
cd "$(dirname "$0")/.."

browser=0 postgres=0 sqlite3=0
for arg in "$@"; do
  case "$arg" in
    --browser) browser=1 ;;
    --postgres) postgres=1 ;;
    --sqlite3) sqlite3=1 ;;
    *) echo "setup.sh: unknown flag $arg" >&2; exit 2 ;;
  esac
done

if [ ! -x node_modules/.bin/buf ] || [ ! -e node_modules/@ssot-ws/runtime ] ||
  [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
go mod download

debs=()
if [ "$browser" = 1 ] && ! command -v chromium >/dev/null 2>&1; then
  debs+=(chromium)
fi
if [ "$postgres" = 1 ] && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  debs+=(postgresql)
fi
if [ "$sqlite3" = 1 ] && ! command -v sqlite3 >/dev/null 2>&1; then
  debs+=(sqlite3)
fi
if [ "${#debs[@]}" -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${debs[@]}" >/dev/null
fi
