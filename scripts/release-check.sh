#!/usr/bin/env bash
# Checks that the repository is ready to be tagged vVERSION, and prints
# the commands that cut the release. It creates no tag and publishes
# nothing: a maintainer runs the printed commands (docs/releasing.md).
#
#   ./scripts/release-check.sh 0.2.0          # the checks, then the commands
#   ./scripts/release-check.sh --tests 0.2.0  # also ./scripts/test.sh first
set -euo pipefail
cd "$(dirname "$0")/.."

tests=0
if [ "${1:-}" = "--tests" ]; then tests=1; shift; fi
version="${1:-}"
if ! [[ "$version" =~ ^[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$ ]]; then
  echo "usage: $0 [--tests] X.Y.Z   (the version without the v of its tag)" >&2
  exit 2
fi
tag="v$version"
fail=0
problem() { echo "  not ready: $*"; fail=1; }

echo "== release $tag"
go_version=$(sed -n 's/^const Version = "\(.*\)"$/\1/p' ssotws/protocol/version.go)
[ "$go_version" = "$version" ] || problem "ssotws/protocol/version.go says $go_version (set const Version = \"$version\")"
npm_version=$(node -p 'require("./ts/runtime/package.json").version')
[ "$npm_version" = "$version" ] || problem "ts/runtime/package.json says $npm_version (npm version $version -w @ssot-ws/runtime --no-git-tag-version)"
lock_version=$(node -p 'require("./package-lock.json").packages["ts/runtime"].version')
[ "$lock_version" = "$version" ] || problem "package-lock.json has @ssot-ws/runtime $lock_version (npm install refreshes it)"
grep -q "^## $version\b\|^## \[$version\]" CHANGELOG.md || problem "CHANGELOG.md has no '## $version' section (move the Unreleased lines under it, with the date)"
grep -q "^## Unreleased\|^## \[Unreleased\]" CHANGELOG.md || problem "CHANGELOG.md lost its Unreleased section (keep an empty one on top)"
if git rev-parse -q --verify "refs/tags/$tag" >/dev/null; then problem "tag $tag exists"; fi
[ -z "$(git status --porcelain)" ] || problem "the working tree has uncommitted changes"
branch=$(git rev-parse --abbrev-ref HEAD)
[ "$branch" = main ] || problem "on branch $branch, not main"

if [ "$fail" = 0 ] && [ "$tests" = 1 ]; then
  ./scripts/test.sh
fi
if [ "$fail" != 0 ]; then
  echo "== not ready to tag $tag"
  exit 1
fi

cat <<EOT
== ready to tag $tag; to release, run:
  git tag -a $tag -m "ssot-ws $version"
  git push origin $tag
  (cd ts/runtime && npm publish --access public)   # @ssot-ws/runtime@$version, built by prepack
  npx buf push --exclude-unnamed --git-metadata     # buf.build/ssot-codegen/ssot-ws, labelled $tag; once the registry has the module
then check from a fresh module:
  go install github.com/ssot-codegen/ssot-ws/cmd/protoc-gen-ssot-ws@$tag && protoc-gen-ssot-ws --version
EOT
