#!/usr/bin/env bash
# Instructions per 4 KiB download, counted by valgrind's callgrind: what one build or setting costs
# the event loop, independent of what else the machine is doing (rates here swing by ±20% from one
# pass to the next; these counts repeat within 1-3%). Only a count of instructions: a cache miss or
# a system call's wait counts as nothing, so it ranks changes to the service's own work, and the
# rig's rates stay the measure of the targets.
#
#   bench/instructions.sh                          # the service at its defaults (build first)
#   bench/instructions.sh LOG_LEVEL=warn           # with more settings (NAME=value ...)
#   APP=/tmp/other-build bench/instructions.sh     # another build (a checkout with dist/)
#   TARGET=nest-bare bench/instructions.sh         # the rig's nest-bare peer, the same downloads
#
# The target runs under callgrind (about 50x slower; a run takes 3 minutes), takes WARMUP
# downloads (c=8, keep-alive) so that its code is compiled, then the counters are zeroed and N
# more are counted. Prints the main thread's instructions per download (the event loop: all of
# the request's JavaScript, its system calls' user-space side and the collector's work on that
# thread) and each other thread's (V8's helpers vary with scheduling under valgrind, ±30%; the
# audit writer's is steady). Runs on this machine's node only. Needs valgrind.
set -euo pipefail
[[ ${RUNTIME:-system} == system ]] || { echo "bench/instructions.sh runs on this machine's node only" >&2; exit 1; }
ROOT=$(cd "$(dirname "$0")/.." && pwd)
APP=${APP:-$ROOT}
TARGET=${TARGET:-service}
N=${N:-2000} WARMUP=${WARMUP:-2000} PORT=${PORT:-3441}
DATA=${FILES_DIR:-/tmp/bench-data}
PY=/usr/bin/python3
OUT=${OUT:-$(mktemp -d /tmp/bench-instructions.XXXXXX)}
command -v valgrind >/dev/null || { echo "valgrind is missing: apt-get install valgrind" >&2; exit 1; }
mkdir -p "$DATA" "$OUT"
[[ -s $DATA/file-4k.bin ]] || head -c 4096 /dev/urandom >"$DATA/file-4k.bin"
. "$ROOT/bench/runtime.sh"

CALLGRIND=(valgrind --tool=callgrind --smc-check=all-non-file --separate-threads=yes
  --dump-instr=no "--callgrind-out-file=$OUT/callgrind.%p")
STORAGE=$(mktemp -d /tmp/file-service-instructions.XXXXXX)
PASSWORD=bench-admin-password-$$
stop() {
  [[ -z ${PID:-} ]] || { kill -TERM "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; }
  rm -rf "$STORAGE"
}
trap stop EXIT

if [[ $TARGET == nest-bare ]]; then
  (exec env APP_DIR="$APP" FILES_DIR="$DATA" PORT="$PORT" "${CALLGRIND[@]}" \
    node "$ROOT/../shared/bench/peers/nest_bare.mjs" >"$OUT/target.log" 2>&1) &
  PID=$!
  URL=http://127.0.0.1:$PORT/download/file-4k.bin TOKEN=
  for _ in $(seq 600); do curl -sf "$URL" >/dev/null && break; sleep 0.5; done
else
  (cd "$APP" && exec env "$@" STORAGE_DIR="$STORAGE" PORT="$PORT" ADMIN_PASSWORD="$PASSWORD" \
    "${CALLGRIND[@]}" node --max-semi-space-size=16 dist/main.js >"$OUT/target.log" 2>&1) &
  PID=$!
  base=http://127.0.0.1:$PORT
  for _ in $(seq 600); do curl -sf "$base/health" >/dev/null && break; sleep 0.5; done
  TOKEN=$(admin_token "$base" "$PASSWORD")
  URL=$base/files/$(stored_id "$base" "$TOKEN" "$DATA/file-4k.bin")/download
fi
download() { node "$ROOT/bench/downloads.mjs" "$URL" "$1" 8 "$TOKEN"; }
download "$WARMUP"
callgrind_control -z "$PID" >/dev/null 2>&1
download "$N"
callgrind_control -d "$PID" >/dev/null 2>&1
"$PY" - "$N" "$OUT" <<'EOF'
import glob, sys
n, out = int(sys.argv[1]), sys.argv[2]
counts = {}
for path in glob.glob(f"{out}/callgrind.*.1-*"):  # the dump after zeroing, one file per thread
    thread = int(path.rsplit("-", 1)[1])
    for line in open(path):
        if line.startswith(("summary:", "totals:")):
            counts[thread] = int(line.split()[1])
            break
main = counts.pop(1)
others = ", ".join(f"thread {t}: {c / n / 1000:.0f}k" for t, c in sorted(counts.items()) if c / n >= 1000)
print(f"main thread: {main / n / 1000:.1f}k instructions per download; {others}")
EOF
