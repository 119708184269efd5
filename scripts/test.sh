#!/usr/bin/env bash
# Runs every test of ssot-ws: formatting and vet, the Go tests (with the
# race detector), short seeded fuzz runs, the TypeScript type-check and unit
# tests, and the end-to-end browser test. Installs what it needs first.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh --browser --postgres --sqlite3

echo "== gofmt, go vet"
unformatted=$(gofmt -l $(git ls-files '*.go'))
if [ -n "$unformatted" ]; then
  echo "gofmt needed on:"; echo "$unformatted"; exit 1
fi
go vet ./...

echo "== go test"
go test -race -count=1 ./...

echo "== short fuzz runs (the long runs are recorded in docs/security.md)"
# Budgets are execution counts, not durations: Go 1.26's fuzz coordinator
# can report a spurious "context deadline exceeded" when a -fuzztime
# duration ends (golang/go#75804, fixed in Go 1.27). A count has no deadline.
go test -run XXX -fuzz '^FuzzClientFrame$' -fuzztime 100000x ./ssotws/
go test -run XXX -fuzz '^FuzzGatewayReadPath$' -fuzztime 3000x -fuzzminimizetime 100x ./ssotws/
go test -run XXX -fuzz '^FuzzGatewayFrames$' -fuzztime 3000x -fuzzminimizetime 100x ./ssotws/

if [ -d ts ] && [ -f ts/tsconfig.json ]; then
  echo "== TypeScript"
  npm run --silent typecheck
  npm run --silent test:ts
  # @ssot-ws/runtime as npm ships it: build dist/, type-check the goldens on it.
  npm run --silent test:dist
fi

echo "== end-to-end: the chat and notifications pages in headless Chromium"
npm run --silent test:e2e
