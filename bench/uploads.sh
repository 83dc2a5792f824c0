#!/usr/bin/env bash
# Uploads (issue 11) in one run: a 1 GiB file sent four ways, alternating, REPS passes each:
#
#   plain      the rig's plain node:http peer, POST /upload (../shared/bench/peers/node_plain.mjs:
#              raw body, SHA-256 on the way, fsync, rename): the ceiling, with our durability
#   raw        POST /files with the file as the body (curl -T FILE -X POST)
#   tus        a tus upload: a creation, then PATCHes of CHUNK_MIB (64) MiB, each sent by curl
#              from a slice of the file made beforehand (split), as the other targets' curl
#   multipart  POST /files, one part (curl -F)
#
# The service runs as `npm start` runs it (the same node flags, the default LOG_LEVEL, SQLite,
# local disk); both servers write under /tmp, on the same disk. Per upload: MB/s (10^6 bytes/s;
# curl's; for tus the size over the time from the creation to the last answer), the server's RSS
# growth (peak of
# VmRSS sampled every 100 ms, minus VmRSS before) and its CPU seconds. Each stored file is deleted
# after its upload.
#
#   bench/uploads.sh                 # as `npm start` runs: this machine's node (build first)
#   RUNTIME=node24 bench/uploads.sh  # as the Docker image runs: Node 24, jemalloc
#   REPS=1 bench/uploads.sh          # quicker
#
# Env: OUT (results), FILES_DIR (/tmp/bench-data: file-1g.bin, made if missing), REPS (3), CHUNK_MIB,
# PORT (3392), PLAIN_PORT (8013), SERVICE_NODE_FLAGS (more node flags, e.g. --cpu-prof), APP_COPY
# (where RUNTIME=node24 puts its copy of the project; /tmp/file-service-uploads-bench-app).
# Results in OUT: results.tsv (one line per upload), table.md, the service's log.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DATA=${FILES_DIR:-/tmp/bench-data}
OUT=${OUT:-/tmp/bench-results/uploads-$(date +%Y%m%d-%H%M%S)}
REPS=${REPS:-3}
PORT=${PORT:-3392}
PLAIN_PORT=${PLAIN_PORT:-8013}
GIB=$((1024 * 1024 * 1024))
FILE=$DATA/file-1g.bin
mkdir -p "$OUT" "$DATA"
APP_COPY=${APP_COPY:-/tmp/file-service-uploads-bench-app}
. "$ROOT/bench/runtime.sh"
[[ $(stat -c %s "$FILE" 2>/dev/null) == "$GIB" ]] ||
  { head -c "$GIB" /dev/urandom >"$FILE.tmp" && mv "$FILE.tmp" "$FILE"; }
RSS=(node --no-warnings "$ROOT/bench/s3-helper.mjs" rss)

STORAGE=$(mktemp -d /tmp/file-service-upload-bench.XXXXXX)
PLAIN_DIR=$(mktemp -d /tmp/plain-upload-bench.XXXXXX)
SLICES=$(mktemp -d /tmp/tus-slices.XXXXXX)
split -b "${CHUNK_MIB:-64}M" -d -a 3 "$FILE" "$SLICES/slice-"
sync # the slices on disk before anything is measured
# A page cache full of earlier runs' files made every write here cost the kernel three times the
# CPU (docs/benchmarks.md, "Uploads"): start from an empty one where we may (root).
echo 3 2>/dev/null >/proc/sys/vm/drop_caches || echo "could not drop the page cache: results may vary" >&2
SERVICE_PID= PLAIN_PID=
cleanup() {
  for pid in $SERVICE_PID $PLAIN_PID; do kill -TERM "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
  rm -rf "$STORAGE" "$PLAIN_DIR" "$SLICES"
}
trap cleanup EXIT

PASSWORD=bench-admin-password-$$
BASE=http://127.0.0.1:$PORT
PLAIN=http://127.0.0.1:$PLAIN_PORT
(cd "$APP" && exec env "${SERVICE_ENV[@]}" STORAGE_DIR="$STORAGE" PORT="$PORT" ADMIN_PASSWORD="$PASSWORD" \
  node --max-semi-space-size=16 ${SERVICE_NODE_FLAGS:-} dist/main.js >"$OUT/service.log" 2>&1) &
SERVICE_PID=$!
PORT=$PLAIN_PORT UPLOAD_DIR=$PLAIN_DIR FILES_DIR=$DATA node /work/shared/bench/peers/node_plain.mjs \
  >"$OUT/plain.log" 2>&1 &
PLAIN_PID=$!
await_service "$BASE" "$SERVICE_PID" "$OUT/service.log"
TOKEN=$(admin_token "$BASE" "$PASSWORD")
AUTH="Authorization: Bearer $TOKEN"
export TOKEN

rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
id_of() { sed -E 's/.*"id":"([^"]+)".*/\1/'; }

# Each prints the MB/s on its last line and leaves nothing stored.
up_plain() {
  curl -sf -o /dev/null -w '%{speed_upload}\n' -T "$FILE" -X POST "$PLAIN/upload" | awk '{print $1 / 1e6}'
  rm -f "$PLAIN_DIR"/*
}
up_raw() {
  curl -sf -o "$OUT/up.json" -w '%{speed_upload}\n' -T "$FILE" -X POST -H "$AUTH" \
    -H 'Content-Type: application/octet-stream' "$BASE/files?filename=file-1g.bin" | awk '{print $1 / 1e6}'
  curl -sf -X DELETE -H "$AUTH" "$BASE/files/$(id_of <"$OUT/up.json")"
}
up_multipart() {
  curl -sf -o "$OUT/up.json" -w '%{speed_upload}\n' -H "$AUTH" -F "file=@$FILE" "$BASE/files" |
    awk '{print $1 / 1e6}'
  curl -sf -X DELETE -H "$AUTH" "$BASE/files/$(id_of <"$OUT/up.json")"
}
up_tus() {
  local t0 location offset=0 slice id
  t0=$(date +%s.%N)
  location=$(curl -sf -o /dev/null -w '%header{location}' -X POST "$BASE/files/uploads" -H "$AUTH" \
    -H 'Tus-Resumable: 1.0.0' -H "Upload-Length: $GIB" \
    -H "Upload-Metadata: filename $(printf file-1g.bin | base64)")
  for slice in "$SLICES"/slice-*; do
    id=$(curl -sf -o /dev/null -w '%header{file-id}' -X PATCH -T "$slice" "$BASE$location" -H "$AUTH" \
      -H 'Tus-Resumable: 1.0.0' -H "Upload-Offset: $offset" \
      -H 'Content-Type: application/offset+octet-stream')
    offset=$((offset + $(stat -c %s "$slice")))
  done
  echo "$GIB / ($(date +%s.%N) - $t0) / 1000000" | bc -l
  curl -sf -X DELETE -H "$AUTH" "$BASE/files/$id"
}

# measure TARGET PASS PID: one upload, sampling PID's RSS; a line in results.tsv.
measure() {
  local target=$1 pass=$2 pid=$3 before sampler speed peak c0 c1
  sync
  before=$(rss_kib "$pid")
  "${RSS[@]}" "$pid" 100 >"$OUT/rss.tmp" &
  sampler=$!
  sleep 0.3
  c0=$(cpu_ticks "$pid")
  speed=$("up_$target" | grep -E '^[0-9.]+$' | tail -n 1)
  c1=$(cpu_ticks "$pid")
  kill -TERM "$sampler" && wait "$sampler" || true
  peak=$(sed -E 's/.*peak_kib=([0-9]+).*/\1/' "$OUT/rss.tmp")
  printf '%s\t%s\t%.1f\t%.0f\t%.0f\t%.2f\t%s\n' "$target" "$pass" "$speed" "$((before / 1024))" \
    "$(((peak - before) / 1024))" "$(echo "($c1 - $c0) / 100" | bc -l)" "$(cut -d' ' -f1 /proc/loadavg)" |
    tee -a "$OUT/results.tsv" >&2
}

{
  echo "node $(node --version) ($APP), ${SERVICE_ENV[*]:-glibc malloc}, $(nproc) cores, REPS=$REPS, start $(date -u +%H:%M:%S) UTC, $(uptime)"
} | tee "$OUT/summary.txt"
printf 'target\tpass\tMB/s\trss_before_MiB\tgrowth_MiB\tserver_cpu_s\tload1\n' >"$OUT/results.tsv"
# Warm-up, not measured: one of each.
for target in plain raw tus multipart; do "up_$target" >/dev/null; done
for pass in $(seq "$REPS"); do
  measure plain "$pass" "$PLAIN_PID"
  measure raw "$pass" "$SERVICE_PID"
  measure tus "$pass" "$SERVICE_PID"
  measure multipart "$pass" "$SERVICE_PID"
done

# The table: medians, and each median over plain's (same run).
awk -F'\t' 'NR > 1 { speed[$1] = speed[$1] " " $3; growth[$1] = growth[$1] " " $5 }
  function median(list,   a, n) { n = split(list, a, " "); asort(a); return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2 }
  function maxof(list,   a, n, i, m) { n = split(list, a, " "); m = a[1]; for (i = 2; i <= n; i++) if (a[i] + 0 > m + 0) m = a[i]; return m }
  END {
    print "| upload of 1 GiB | MB/s (each) | median | × plain | RSS growth MiB (each) | max |"
    print "|---|---|---|---|---|---|"
    p = median(speed["plain"])
    split("plain raw tus multipart", order, " ")
    for (i = 1; i <= 4; i++) { t = order[i]
      printf "| %s |%s | %.1f | %.2f |%s | %s |\n", t, speed[t], median(speed[t]), median(speed[t]) / p, growth[t], maxof(growth[t]) }
  }' "$OUT/results.tsv" | tee "$OUT/table.md"
echo "results in $OUT"
