#!/usr/bin/env bash
# The service measured beside its peers, on this machine: one pass of the shared rig
# (../shared/bench/run-peers.sh) with the service as its target, plus what the rig does not
# measure (uploads, 32 downloads at once, the 4000x3000 blur, the in-process blur, a burst, a
# hostile image). Results go to OUT; docs/benchmarks.md records a run.
#
#   bench/run.sh                    # on Node 24 (the Docker image's runtime), service and plain Node alike
#   RUNTIME=system bench/run.sh     # on this machine's node (run `npm run build` first)
#   REPS=1 PEERS="node-plain" bench/run.sh   # a quicker pass (the rig's knobs all apply)
#
# Needs the rig's packages (../shared/bench/README.md: apt-get install python3-fastapi ... wrk curl),
# and libjemalloc2: on Node 24 the service runs with jemalloc preloaded, as in the Docker image
# (JEMALLOC= to not; bench/runtime.sh).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
RIG=${RIG:-$(cd "$ROOT/../shared/bench" && pwd)}
DATA=${FILES_DIR:-/tmp/bench-data}
OUT=${OUT:-/tmp/bench-results/service-$(date +%Y%m%d-%H%M%S)}
PORT=${PORT:-3300}
BASE=http://127.0.0.1:$PORT
PASSWORD=bench-admin-password-$$
PY=/usr/bin/python3
mkdir -p "$OUT"
export REPS=${REPS:-2} OUT_RIG=$OUT/rig

# --- runtime: the Docker image's by default (the rig's plain-Node peer runs on the same Node) -----
RUNTIME=${RUNTIME:-node24}
APP_COPY=/tmp/file-service-bench-app
. "$ROOT/bench/runtime.sh"
[[ -s $DATA/file-1g.bin ]] || "$RIG/make-data.sh" "$DATA"
cat "$DATA"/* >/dev/null # page cache
echo "node $(node --version), $(nproc) cores, ${SERVICE_ENV[*]:-glibc malloc}, results in $OUT" | tee "$OUT/summary.txt"

# --- the service ---------------------------------------------------------------------------------
STORAGE=$(mktemp -d /tmp/file-service-bench-storage.XXXXXX)
SERVICE_PID=""
start_service() {
  (cd "$APP" && exec env "${SERVICE_ENV[@]}" STORAGE_DIR="$STORAGE" PORT="$PORT" LOG_LEVEL=warn \
    ADMIN_PASSWORD="$PASSWORD" node --max-semi-space-size=16 dist/main.js >>"$OUT/service.log" 2>&1) &
  SERVICE_PID=$!
  await_service "$BASE" "$SERVICE_PID" "$OUT/service.log"
}
stop_service() {
  [[ -n $SERVICE_PID ]] || return 0
  kill -TERM "$SERVICE_PID" 2>/dev/null || true
  wait "$SERVICE_PID" 2>/dev/null || true # its port is free once it has exited
  SERVICE_PID=""
}
trap 'stop_service; rm -rf "$STORAGE"' EXIT

rss_mib() { awk '/^VmRSS/ {printf "%.0f", $2 / 1024}' "/proc/$SERVICE_PID/status"; }
watched() { # LABEL COMMAND...: run COMMAND while the rig's proc_watch samples the service
  local label=$1 line watch
  shift
  "$PY" "$RIG/lib/proc_watch.py" "$SERVICE_PID" >"$OUT/watch.tmp" &
  watch=$!
  sleep 0.2
  line=$("$@")
  kill -TERM "$watch"
  wait "$watch" || true
  echo "$label $line $(cat "$OUT/watch.tmp")" | tee -a "$OUT/summary.txt"
}

start_service
TOKEN=$(admin_token "$BASE" "$PASSWORD")
echo "idle RSS after start: $(rss_mib) MiB" | tee -a "$OUT/summary.txt"

# 1 GiB uploads (the last one is the file the download scenarios use).
upload_1g() {
  curl -sS -o "$OUT/upload.json" -w '%{speed_upload} %{http_code}' -H "Authorization: Bearer $TOKEN" \
    -F "file=@$DATA/file-1g.bin" "$BASE/files" | awk '{printf "mbps=%.0f http=%s", $1 / 1e6, $2}'
}
for _ in 1 2 3; do watched "upload-1GiB" upload_1g; done
ID_1G=$(sed -E 's/.*"id":"([^"]+)".*/\1/' "$OUT/upload.json")
ID_4K=$(stored_id "$BASE" "$TOKEN" "$DATA/file-4k.bin")
ID_1M=$(stored_id "$BASE" "$TOKEN" "$DATA/file-1m.bin")
echo "idle RSS after uploads: $(rss_mib) MiB" | tee -a "$OUT/summary.txt"

# --- the rig: S1-S4 for the service beside the peers, in one pass --------------------------------
OUT=$OUT_RIG TARGET_NAME=nest TARGET_BASE_URL=$BASE TARGET_TOKEN=$TOKEN TARGET_PID=$SERVICE_PID \
  TARGET_BLUR_URL='/images/blur?sigma={sigma}' TARGET_BLUR_FIELD=image \
  TARGET_DL_URL_4K=/files/$ID_4K/download TARGET_DL_URL_1M=/files/$ID_1M/download \
  TARGET_DL_URL_1G=/files/$ID_1G/download "$RIG/run-peers.sh"

# --- what the rig does not measure -------------------------------------------------------------
echo "idle RSS before the extras: $(rss_mib) MiB" | tee -a "$OUT/summary.txt"
watched "download-1GiB-x1" node "$ROOT/bench/scenarios.mjs" downloads "$BASE" "$TOKEN" "$ID_1G" 1
watched "download-1GiB-x32" node "$ROOT/bench/scenarios.mjs" downloads "$BASE" "$TOKEN" "$ID_1G" 32

blur_wrk() { # LABEL URL FIELD IMAGE [AUTH]
  local auth=() line
  [[ -z ${5:-} ]] || auth=(AUTH_HEADER="$5")
  env "${auth[@]}" MP_FIELD="$3" MP_FILE="$4" MP_TYPE=image/jpeg \
    wrk -t2 -c4 --timeout 30s -d3s -s "$RIG/wrk/multipart.lua" "$2" >/dev/null
  # The warm-up's last requests are still queued (their clients gone unnoticed behind unread
  # bodies) and would fill the gate's queue at the start of the run: let them finish.
  sleep 2
  line=$(env "${auth[@]}" MP_FIELD="$3" MP_FILE="$4" MP_TYPE=image/jpeg \
    wrk -t2 -c4 --timeout 30s -d20s --latency -s "$RIG/wrk/multipart.lua" "$2" | grep WRK_RESULT)
  echo "$1 $line"
}
in_process() { # IMAGE: the same pipeline with no HTTP, c=4, 20 s
  (cd "$APP" && env "${SERVICE_ENV[@]}" node bench/blur-in-process.mjs "$1" 20 4)
}
# HTTP and in-process in turn, three times: the machine's noise hits both alike.
for round in 1 2 3; do
  for size in 1920x1080 4000x3000; do
    watched "blur-$size-c4-round$round" blur_wrk nest "$BASE/images/blur?sigma=5" image \
      "$DATA/photo-$size.jpg" "Authorization: Bearer $TOKEN"
    echo "in-process-blur-$size-round$round $(in_process "$DATA/photo-$size.jpg")" | tee -a "$OUT/summary.txt"
  done
done
echo "RSS before the burst: $(rss_mib) MiB" | tee -a "$OUT/summary.txt"
watched "burst-32x-4000x3000" node "$ROOT/bench/scenarios.mjs" burst "$BASE" "$TOKEN" "$DATA/photo-4000x3000.jpg" 32
sleep 10
echo "RSS 10 s after the burst: $(rss_mib) MiB" | tee -a "$OUT/summary.txt"
sleep 20
echo "RSS 30 s after the burst: $(rss_mib) MiB" | tee -a "$OUT/summary.txt"
watched "hostile-20000x20000-png" node "$ROOT/bench/scenarios.mjs" hostile "$BASE" "$TOKEN" 20
stop_service

# FastAPI with two workers on the 4000x3000 photo, as the rig starts it.
(exec env FILES_DIR="$DATA" "$PY" -m uvicorn fastapi_app:app --app-dir "$RIG/peers" --host 127.0.0.1 \
  --port 8001 --workers 2 --no-access-log >>"$OUT/fastapi.log" 2>&1) &
FASTAPI=$!
for _ in $(seq 100); do curl -sf http://127.0.0.1:8001/download/file-4k.bin >/dev/null 2>&1 && break; sleep 0.2; done
blur_wrk fastapi-2w "http://127.0.0.1:8001/blur?radius=5" img "$DATA/photo-4000x3000.jpg" |
  sed 's/^/blur-4000x3000-c4 /' | tee -a "$OUT/summary.txt"
kill -TERM "$FASTAPI"
wait "$FASTAPI" 2>/dev/null || true

echo
cat "$OUT_RIG/table.md"
echo
cat "$OUT/summary.txt"
