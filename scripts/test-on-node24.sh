#!/usr/bin/env bash
# The whole test suite again, on the Docker image's runtime (Node 24, better-sqlite3 13), in a
# throwaway copy of the project. CI runs it after the suite on the machine's Node.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
copy=$(mktemp -d)
trap 'rm -rf "$copy"' EXIT
bin=$("$root/scripts/node24-copy.sh" "$copy/app")
cd "$copy/app"
echo "Testing on Node $("$bin/node" --version) with better-sqlite3 $("$bin/node" -p "require('better-sqlite3/package.json').version")"
PATH="$bin:$PATH" npm test
