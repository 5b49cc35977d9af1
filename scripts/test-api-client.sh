#!/usr/bin/env bash
# The cloud's API contract as an app team uses it: generates a typed client from
# docs/api/cloud.openapi.json with openapi-typescript, type-checks a customer journey
# written against it (tests/apiclient/journey.ts) with tsc in strict mode, checks that a
# snippet which drifts from the contract does NOT compile, then runs the journey against
# a real shopeasy-cloud through openapi-fetch. Needs Node.js and npm (scripts/test-browser.sh
# installs them) and a built shopeasy-cloud; the packages go into BUILD_DIR/api-client,
# pinned by tests/apiclient/package.json.
# Usage: scripts/test-api-client.sh [BUILD_DIR]   (default build/)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build_dir="$(cd "${1:-$root/build}" && pwd)"
work="$build_dir/api-client"
mkdir -p "$work"
cp "$root/tests/apiclient/package.json" "$work/package.json"
if [ ! -x "$work/node_modules/.bin/tsc" ] ||
   ! cmp -s "$work/package.json" "$work/.installed-package.json"; then
  (cd "$work" && npm install --no-audit --no-fund --loglevel=error)
  cp "$work/package.json" "$work/.installed-package.json"
fi
cp "$root/tests/apiclient/journey.ts" "$root/tests/apiclient/drift.ts" \
   "$root/tests/apiclient/tsconfig.json" "$root/tests/apiclient/run.mjs" "$work/"
rm -rf "$work/out"
"$work/node_modules/.bin/openapi-typescript" "$root/docs/api/cloud.openapi.json" \
  -o "$work/cloud-api.d.ts" >/dev/null
(cd "$work" && node_modules/.bin/tsc -p tsconfig.json)
echo "test-api-client.sh: the journey type-checks against the generated client"
if (cd "$work" && node_modules/.bin/tsc --noEmit --strict --module NodeNext \
      --moduleResolution NodeNext --target ES2022 --skipLibCheck drift.ts >"$work/drift.log" 2>&1); then
  echo "test-api-client.sh: drift.ts compiled, so the type check is not bound to the contract" >&2
  exit 1
fi
grep -q "grand_total_cents" "$work/drift.log" && grep -q "quantity" "$work/drift.log" || {
  echo "test-api-client.sh: drift.ts failed for another reason:" >&2
  cat "$work/drift.log" >&2
  exit 1
}
echo "test-api-client.sh: a snippet drifting from the contract is refused by tsc"
node "$work/run.mjs" "$build_dir/bin" "$work/out/journey.js" "$work/cloud.log"
