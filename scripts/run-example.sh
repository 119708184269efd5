#!/usr/bin/env bash
# The main job: installs what is needed, generates the chat example with
# buf (the plugin runs from source) and starts its server on its embedded
# defaults (127.0.0.1:8080, in-memory store and broker). Extra arguments
# go to the server, e.g. --addr 127.0.0.1:9090.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
node_modules/.bin/buf generate --template examples/chat/buf.gen.yaml
if [ -f examples/chat/web/build.mjs ]; then
  node examples/chat/web/build.mjs
fi
exec go run ./examples/chat/server "$@"
