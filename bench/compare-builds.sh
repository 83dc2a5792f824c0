#!/usr/bin/env bash
# Two builds of the service, measured in turn in one run, so that the machine's noise hits both
# alike: the same-run ratio says whether a change made the service slower. Each is started as
# `npm start` starts it (this machine's node, LOG_LEVEL unset: info), on SQLite and a fresh
# STORAGE_DIR.
#
#   bench/compare-builds.sh OLD_DIR NEW_DIR      # each a checkout with node_modules and dist/
#   ROUNDS=3 SECS=10 bench/compare-builds.sh ...
#
# A checkout of an older commit: `git worktree add /tmp/old <commit> && cd /tmp/old && npm ci`.
# Scenarios: GET 4 KiB (wrk c=64), GET 1 MiB (wrk c=16), GET 1 GiB (curl), POST 1 GiB multipart
# upload (curl), blur of the rig's 1920x1080 photo (wrk c=4). Needs wrk, curl and the rig's data
# (../shared/bench/make-data.sh).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
RIG=${RIG:-$(cd "$ROOT/../shared/bench" && pwd)}
DATA=${FILES_DIR:-/tmp/bench-data}
OLD=$1 NEW=$2
ROUNDS=${ROUNDS:-2} SECS=${SECS:-10} PORT=${PORT:-3350}
BASE=http://127.0.0.1:$PORT
PASSWORD=bench-admin-password-$$
[[ -s $DATA/file-1g.bin ]] || "$RIG/make-data.sh" "$DATA"
cat "$DATA"/* >/dev/null # page cache

PID="" STORAGE=""
stop() {
  [[ -z $PID ]] || { kill -TERM "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; }
  [[ -z $STORAGE ]] || rm -rf "$STORAGE"
  PID="" STORAGE=""
}
trap stop EXIT

measure() { # NAME DIR
  local name=$1 dir=$2 token id4k id1m id1g up
  STORAGE=$(mktemp -d /tmp/compare-builds.XXXXXX)
  (cd "$dir" && exec env STORAGE_DIR="$STORAGE" PORT="$PORT" ADMIN_PASSWORD="$PASSWORD" \
    node --max-semi-space-size=16 dist/main.js >"$STORAGE.log" 2>&1) &
  PID=$!
  for _ in $(seq 100); do curl -sf "$BASE/health" >/dev/null 2>&1 && break; sleep 0.1; done
  token=$(curl -s "$BASE/auth/login" -H 'content-type: application/json' \
    -d "{\"username\":\"admin\",\"password\":\"$PASSWORD\"}" | sed -E 's/.*"access_token":"([^"]+)".*/\1/')
  local auth="Authorization: Bearer $token"
  up=$(curl -sS -o "$STORAGE.up" -w '%{speed_upload}' -H "$auth" -F "file=@$DATA/file-1g.bin" "$BASE/files")
  id1g=$(sed -E 's/.*"id":"([^"]+)".*/\1/' "$STORAGE.up")
  id4k=$(curl -sf -H "$auth" -F "file=@$DATA/file-4k.bin" "$BASE/files" | sed -E 's/.*"id":"([^"]+)".*/\1/')
  id1m=$(curl -sf -H "$auth" -F "file=@$DATA/file-1m.bin" "$BASE/files" | sed -E 's/.*"id":"([^"]+)".*/\1/')
  wrk_rps() { # CONNS URL [multipart]
    local script=$RIG/wrk/report.lua
    [[ -z ${3:-} ]] || script=$RIG/wrk/multipart.lua
    AUTH_HEADER="$auth" MP_FIELD=image MP_FILE="$DATA/photo-1920x1080.jpg" MP_TYPE=image/jpeg \
      wrk -t2 -c"$1" -d2s -s "$script" "$2" >/dev/null # warm-up
    AUTH_HEADER="$auth" MP_FIELD=image MP_FILE="$DATA/photo-1920x1080.jpg" MP_TYPE=image/jpeg \
      wrk -t2 -c"$1" -d"${SECS}s" --timeout 10s -s "$script" "$2" |
      sed -nE 's/.*rps=([0-9.]+).*non2xx=([0-9]+).*/\1 (non2xx \2)/p'
  }
  local r4k r1m r1g blur
  r4k=$(wrk_rps 64 "$BASE/files/$id4k/download")
  r1m=$(wrk_rps 16 "$BASE/files/$id1m/download")
  r1g=$(curl -s -o /dev/null -w '%{speed_download}' -H "$auth" "$BASE/files/$id1g/download")
  blur=$(wrk_rps 4 "$BASE/images/blur?sigma=5" multipart)
  printf '%-4s 4KiB_rps=%-24s 1MiB_rps=%-24s 1GiB_dl_MBps=%-6.0f 1GiB_up_MBps=%-5.0f blur1080p_rps=%s\n' \
    "$name" "$r4k" "$r1m" "$(echo "$r1g / 1000000" | bc -l)" "$(echo "$up / 1000000" | bc -l)" "$blur"
  stop
}

echo "node $(node --version), $(nproc) cores, LOG_LEVEL=info, SQLite; old=$OLD new=$NEW; load $(cut -d' ' -f1-3 /proc/loadavg)"
for round in $(seq "$ROUNDS"); do
  echo "round $round"
  measure old "$OLD"
  measure new "$NEW"
done
