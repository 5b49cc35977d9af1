#!/usr/bin/env bash
# Lints the API contracts in docs/api with maintained validators from npm: Redocly CLI
# for the two OpenAPI documents (its strict recommended rules, docs/api/redocly.yaml)
# and the AsyncAPI initiative's parser for the MQTT document. Any finding fails.
# Needs Node.js and npm (scripts/test-browser.sh installs them); the packages go into
# BUILD_DIR/api-doc-lint, pinned by tests/apidocs/package.json.
# Usage: scripts/lint-api-docs.sh [BUILD_DIR]   (default build/)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build_dir="${1:-$root/build}"
modules="$build_dir/api-doc-lint"
mkdir -p "$modules"
cp "$root/tests/apidocs/package.json" "$modules/package.json"
if [ ! -x "$modules/node_modules/.bin/redocly" ] ||
   ! cmp -s "$modules/package.json" "$modules/.installed-package.json"; then
  (cd "$modules" && npm install --no-audit --no-fund --loglevel=error)
  cp "$modules/package.json" "$modules/.installed-package.json"
fi
# The checker resolves its imports from where it lies, beside node_modules.
cp "$root/tests/apidocs/check-asyncapi.mjs" "$modules/check-asyncapi.mjs"
"$modules/node_modules/.bin/redocly" lint --config "$root/docs/api/redocly.yaml" \
  "$root/docs/api/cloud.openapi.json" "$root/docs/api/edge.openapi.json"
node "$modules/check-asyncapi.mjs" "$root/docs/api/mqtt.asyncapi.json"
echo "lint-api-docs.sh: docs/api lints clean"
