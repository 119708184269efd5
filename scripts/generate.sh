#!/usr/bin/env bash
# Regenerates every generated file in the repository with buf: our own
# protos (Go and TypeScript), the chat and notifications examples, and the golden tests'
# protoc-gen-go / protoc-gen-connect-go code. The plugin runs from source.
set -euo pipefail
cd "$(dirname "$0")/.."
buf=node_modules/.bin/buf

"$buf" generate
"$buf" generate --template examples/chat/buf.gen.yaml
"$buf" generate --template examples/chat/buf.gen.imports.yaml
"$buf" generate --template examples/notifications/buf.gen.yaml
"$buf" generate --template internal/gen/testdata/buf.gen.yaml
"$buf" generate --template internal/gen/testdata/buf.gen.v2.yaml
"$buf" generate --template internal/gen/testdata/buf.gen.ts.yaml
go test ./internal/gen -run Golden -update >/dev/null
if [ -f ts/buf.gen.test.yaml ]; then
  "$buf" generate --template ts/buf.gen.test.yaml
fi
