#!/usr/bin/env bash
# Checks that the repository is ready to be tagged vVERSION, and prints
# the commands that cut the release. It creates no tag and publishes
# nothing: a maintainer runs the printed commands (docs/releasing.md).
#
#   ./scripts/release-check.sh 0.2.0          # the checks, then the commands
#   ./scripts/release-check.sh --tests 0.2.0  # also ./scripts/test.sh first
#   ./scripts/release-check.sh --notes 0.2.0  # prints CHANGELOG.md's section
#                                             # of 0.2.0: the tag's message
set -euo pipefail
cd "$(dirname "$0")/.."

tests=0 notes=0
if [ "${1:-}" = "--tests" ]; then tests=1; shift; fi
if [ "${1:-}" = "--notes" ]; then notes=1; shift; fi
version="${1:-}"
if ! [[ "$version" =~ ^[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$ ]]; then
  echo "usage: $0 [--tests|--notes] X.Y.Z   (the version without the v of its tag)" >&2
  exit 2
fi

# changelog_section prints the lines under "## X.Y.Z" (or "## [X.Y.Z]")
# up to the next "## " heading, without leading or trailing blank lines.
changelog_section() {
  awk -v v="$version" '
    /^## / { if (on) exit; on = ($2 == v || $2 == "[" v "]") ; next }
    on { print }
  ' CHANGELOG.md | sed -e '/./,$!d' | sed -e ':a' -e '/^\n*$/{$d;N;ba' -e '}'
}
if [ "$notes" = 1 ]; then
  section=$(changelog_section)
  if [ -z "$section" ]; then
    echo "CHANGELOG.md has no '## $version' section with lines under it" >&2
    exit 1
  fi
  printf 'ssot-ws %s\n\n%s\n' "$version" "$section"
  exit 0
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
[ -n "$(changelog_section)" ] || problem "CHANGELOG.md's '## $version' section is empty (it is the tag's message)"
# The install commands name the release users should take: this one.
for doc in docs/install.md README.md; do
  if grep -o "/cmd/protoc-gen-ssot-ws@v[0-9][0-9.]*[0-9]" "$doc" | grep -qv "@$tag\$"; then
    problem "$doc installs $(grep -o "/cmd/protoc-gen-ssot-ws@v[0-9][0-9.]*[0-9]" "$doc" | grep -v "@$tag\$" | head -1 | sed 's|.*@||') (make its commands name $tag)"
  fi
done
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
  ./scripts/release-check.sh --notes $version | git tag -a $tag -F -   # the tag's message: the changelog section
  git push origin $tag
  (cd ts/runtime && npm publish --access public)   # @ssot-ws/runtime@$version, built by prepack
  npx buf push --exclude-unnamed --git-metadata     # buf.build/ssot-codegen/ssot-ws, labelled $tag; once the registry has the module
then check from a fresh module:
  go install github.com/ssot-codegen/ssot-ws/cmd/protoc-gen-ssot-ws@$tag && protoc-gen-ssot-ws --version
EOT
