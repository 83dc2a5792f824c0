#!/usr/bin/env bash
# The S3 store (issue 10) in one run: its own single-node Ceph RGW (../shared/s3/ceph-rgw.sh,
# in-memory OSD) and the service on it (STORAGE_DRIVER=s3), run as `npm start` runs it, at
# LOG_LEVEL=info. Measures, REPS passes each, alternating the targets compared:
#
#   upload    one 1 GiB POST /files (multipart, curl -F): MB/s and the server's RSS growth
#   download  one 1 GiB GET /files/ID/download through the service, against a direct GET of the
#             same object from the same RGW (a presigned URL, curl), and against a plain node:http
#             relay of that URL (node-proxy, Node's own ceiling): MB/s each, RSS growth
#   32x       CLIENTS (32) curl downloads of the same 1 GiB file at once through the service, and
#             (CONC_DIRECT=1) the same from the RGW directly: aggregate MB/s, server RSS growth
#
# RSS growth = the peak of VmRSS (sampled every 100 ms by bench/s3-helper.mjs) minus VmRSS just
# before the transfer; each phase (upload, download, 32x) runs on a fresh service process, warmed
# up by a login and one 4 KiB upload and download. VmHWM (reset through /proc/PID/clear_refs
# before each transfer) is reported beside it, as a check on what the 100 ms samples miss.
#
#   bench/s3.sh                          # as `npm start` runs: this machine's node (build first)
#   RUNTIME=node24 bench/s3.sh           # as the Docker image runs: Node 24, jemalloc
#   REPS=1 CLIENTS=8 bench/s3.sh         # quicker
#
# Env: OUT (results), FILES_DIR (/tmp/bench-data: file-1g.bin and file-4k.bin, made if missing),
# RGW_DIR (/tmp/bench-s3-rgw), RGW_PORT (7490), PORT (3391), CEPH_MEMSTORE_BYTES (8 GiB: the
# uploads' objects stay until RGW's garbage collection, hours later), CONC_DIRECT (1), CONC_PROXY
# (0; 1: node-proxy in the CLIENTS-at-once phase too, after the service in each pass),
# SERVICE_NODE_FLAGS (more node flags for the service, e.g. "--cpu-prof --cpu-prof-dir=DIR":
# one profile per phase, each phase being a process of its own).
# Results in OUT: results.tsv (one line per transfer), table.md, service logs, curl outputs.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DATA=${FILES_DIR:-/tmp/bench-data}
OUT=${OUT:-/tmp/bench-results/s3-$(date +%Y%m%d-%H%M%S)}
REPS=${REPS:-3}
CLIENTS=${CLIENTS:-32}
CONC_DIRECT=${CONC_DIRECT:-1}
CONC_PROXY=${CONC_PROXY:-0}
RGW_DIR=${RGW_DIR:-/tmp/bench-s3-rgw}
RGW_PORT=${RGW_PORT:-7490}
PORT=${PORT:-3391}
PY=/usr/bin/python3
GIB=$((1024 * 1024 * 1024))
mkdir -p "$OUT"

# --- runtime: the one `npm start` uses, or the Docker image's ------------------------------------
APP_COPY=/tmp/file-service-s3-bench-app
. "$ROOT/bench/runtime.sh"
HELPER=(node --no-warnings "$ROOT/bench/s3-helper.mjs")
mkdir -p "$DATA"
[[ $(stat -c %s "$DATA/file-1g.bin" 2>/dev/null) == "$GIB" ]] ||
  { head -c "$GIB" /dev/urandom >"$DATA/file-1g.bin.tmp" && mv "$DATA/file-1g.bin.tmp" "$DATA/file-1g.bin"; }
[[ -s $DATA/file-4k.bin ]] || head -c 4096 /dev/urandom >"$DATA/file-4k.bin"

# --- the RGW and the service --------------------------------------------------------------------
STORAGE=$(mktemp -d /tmp/file-service-s3-bench.XXXXXX)
SERVICE_PID= PROXY_PID=
cleanup() {
  if [[ -n $SERVICE_PID ]]; then kill -TERM "$SERVICE_PID" 2>/dev/null || true; wait "$SERVICE_PID" 2>/dev/null || true; fi
  if [[ -n $PROXY_PID ]]; then kill -TERM "$PROXY_PID" 2>/dev/null || true; wait "$PROXY_PID" 2>/dev/null || true; fi
  /work/shared/s3/ceph-rgw.sh stop "$RGW_DIR" >/dev/null 2>&1 || true
  rm -rf "$STORAGE"
}
trap cleanup EXIT
mkdir -p "$RGW_DIR"
CEPH_MEMSTORE_BYTES=${CEPH_MEMSTORE_BYTES:-8589934592} \
  /work/shared/s3/ceph-rgw.sh start "$RGW_DIR" "$RGW_PORT" >/dev/null 2>"$OUT/rgw-start.log"
. "$RGW_DIR/env"
export AWS_ACCESS_KEY_ID=$S3_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY=$S3_SECRET_ACCESS_KEY
export S3_PREFIX=${S3_PREFIX:-bench/}
RGW_PIDS=$(awk '$1 != "mon.a" {print $2}' "$RGW_DIR/pids" | paste -sd' ')
PASSWORD=bench-admin-password-$$
JWT=$(head -c 48 /dev/urandom | base64 | tr -d '\n')
BASE=http://127.0.0.1:$PORT
SERVICE_N=0

start_service() { # as `npm start` runs it (the same node flags), stdout (JSON lines) to a file
  SERVICE_N=$((SERVICE_N + 1))
  (cd "$APP" && exec env "${SERVICE_ENV[@]}" STORAGE_DRIVER=s3 STORAGE_DIR="$STORAGE" PORT="$PORT" \
    LOG_LEVEL=info ADMIN_PASSWORD="$PASSWORD" JWT_SECRET="$JWT" \
    node --max-semi-space-size=16 ${SERVICE_NODE_FLAGS:-} dist/main.js >"$OUT/service-$SERVICE_N.log" 2>&1) &
  SERVICE_PID=$!
  await_service "$BASE" "$SERVICE_PID" "$OUT/service-$SERVICE_N.log"
  # Warm-up: a login, one 4 KiB upload and its download.
  TOKEN=$(admin_token "$BASE" "$PASSWORD")
  local small
  small=$(stored_id "$BASE" "$TOKEN" "$DATA/file-4k.bin")
  curl -sf -o /dev/null -H "Authorization: Bearer $TOKEN" "$BASE/files/$small/download"
  sleep 1
}
stop_service() {
  kill -TERM "$SERVICE_PID" 2>/dev/null || true
  wait "$SERVICE_PID" 2>/dev/null || true
  SERVICE_PID=
}

rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
cpu_ticks() { local p s=0; for p in "$@"; do s=$((s + $(awk '{print $14 + $15}' "/proc/$p/stat"))); done; echo "$s"; }
load1() { cut -d' ' -f1 /proc/loadavg; }

# measure PHASE TARGET PASS BYTES CMD...: runs CMD (which prints curl's -w speed on its last line,
# or nothing: then BYTES / wall time), sampling the service's RSS; appends a line to results.tsv.
measure() {
  local phase=$1 target=$2 pass=$3 bytes=$4
  shift 4
  local before load t0 t1 c0 c1 r0 r1 sampler speed peak hwm wall pid=$SERVICE_PID
  [[ $target != node-proxy ]] || pid=$PROXY_PID # its own RSS and CPU, not the idle service's
  load=$(load1)
  echo 5 >"/proc/$pid/clear_refs" # VmHWM := VmRSS
  before=$(rss_kib "$pid")
  "${HELPER[@]}" rss "$pid" 100 >"$OUT/rss.tmp" &
  sampler=$!
  sleep 0.3
  c0=$(cpu_ticks "$pid") r0=$(cpu_ticks $RGW_PIDS) t0=$(date +%s.%N)
  speed=$("$@" | tail -n 1)
  t1=$(date +%s.%N) c1=$(cpu_ticks "$pid") r1=$(cpu_ticks $RGW_PIDS)
  sleep 0.3
  kill -TERM "$sampler" && wait "$sampler" || true
  peak=$(sed -E 's/.*peak_kib=([0-9]+).*/\1/' "$OUT/rss.tmp")
  hwm=$(awk '/^VmHWM/ {print $2}' "/proc/$pid/status")
  wall=$(echo "$t1 - $t0" | bc)
  [[ -n $speed ]] || speed=$(echo "$bytes / $wall" | bc)
  # phase target pass MB/s wall_s rss_before_MiB peak_MiB growth_MiB hwm_growth_MiB
  #   service_cpu_s rgw+osd_cpu_s load1
  printf '%s\t%s\t%s\t%.1f\t%.2f\t%.0f\t%.0f\t%.0f\t%.0f\t%.2f\t%.2f\t%s\n' "$phase" "$target" "$pass" \
    "$(echo "$speed / 1000000" | bc -l)" "$wall" "$(echo "$before / 1024" | bc -l)" \
    "$(echo "$peak / 1024" | bc -l)" "$(echo "($peak - $before) / 1024" | bc -l)" \
    "$(echo "($hwm - $before) / 1024" | bc -l)" "$(echo "($c1 - $c0) / 100" | bc -l)" \
    "$(echo "($r1 - $r0) / 100" | bc -l)" "$load" | tee -a "$OUT/results.tsv" >&2
}

upload_1g() { # prints curl's upload speed; the file's id into $OUT/upload-PASS.json
  curl -sf -o "$OUT/upload-$1.json" -w '%{speed_upload}\n' "$BASE/files" \
    -H "Authorization: Bearer $TOKEN" -F "file=@$DATA/file-1g.bin"
}
download() { # URL [AUTH]: one download to /dev/null, prints its speed; fails on a short or non-200 one
  local args=(-s -o /dev/null -w '%{http_code} %{size_download} %{speed_download}\n')
  [[ -z ${2:-} ]] || args+=(-H "Authorization: Bearer $2")
  curl "${args[@]}" "$1" | awk -v want="$GIB" '$1 != 200 || $2 != want {print "bad download: " $0 > "/dev/stderr"; exit 1} {print $3}'
}
concurrent() { # URL [AUTH]: CLIENTS downloads at once; prints nothing (measure uses bytes / wall)
  local i pids=() args=(-s -o /dev/null -w '%{http_code} %{size_download} %{speed_download}\n')
  [[ -z ${2:-} ]] || args+=(-H "Authorization: Bearer $2")
  for ((i = 1; i <= CLIENTS; i++)); do
    curl "${args[@]}" "$1" >"$OUT/conc-client-$i.txt" &
    pids+=($!)
  done
  wait "${pids[@]}"
  cat "$OUT"/conc-client-*.txt >>"$OUT/concurrent-clients.txt"
  awk -v want="$GIB" '$1 != 200 || $2 != want {bad++} END {if (bad) {print bad " bad downloads" > "/dev/stderr"; exit 1}}' \
    "$OUT"/conc-client-*.txt
  rm -f "$OUT"/conc-client-*.txt
}

{
  echo "node $(node --version) ($APP), ${SERVICE_ENV[*]:-glibc malloc}, $(nproc) cores, REPS=$REPS CLIENTS=$CLIENTS"
  echo "RGW: $(radosgw --version | head -1), memstore; start: $(date -u +%H:%M:%S) UTC, $(uptime)"
} | tee "$OUT/summary.txt"
printf 'phase\ttarget\tpass\tMB/s\twall_s\trss_before_MiB\tpeak_MiB\tgrowth_MiB\thwm_growth_MiB\tservice_cpu_s\trgw_cpu_s\tload1\n' \
  >"$OUT/results.tsv"

# --- 1. uploads: the first one's file stays, for the downloads ----------------------------------
start_service
for ((pass = 1; pass <= REPS; pass++)); do
  measure upload service "$pass" "$GIB" upload_1g "$pass"
  id=$(sed -E 's/.*"id":"([^"]+)".*/\1/' "$OUT/upload-$pass.json")
  if ((pass == 1)); then ID=$id; else curl -sf -X DELETE -H "Authorization: Bearer $TOKEN" "$BASE/files/$id"; fi
done
stop_service
KEY=$S3_PREFIX${ID:0:2}/${ID:2:2}/$ID
URL=$("${HELPER[@]}" presign "$KEY" 7200)

# --- 2. one download at a time: direct, through the service, through a plain node:http relay -----
# node-proxy (bench/s3-helper.mjs proxy, same runtime and flags) is Node's own ceiling for relaying
# an S3 response: what the service could reach with no framework, SDK or service code.
PROXY_PORT=${PROXY_PORT:-$((PORT + 1))}
env "${SERVICE_ENV[@]}" node --max-semi-space-size=16 "$ROOT/bench/s3-helper.mjs" proxy "$PROXY_PORT" "$URL" \
  >"$OUT/node-proxy.log" 2>&1 &
PROXY_PID=$!
start_service
TARGETS=(direct service node-proxy)
for ((pass = 1; pass <= REPS; pass++)); do
  for ((t = 0; t < ${#TARGETS[@]}; t++)); do # each pass starts one further along: direct, service, ...
    case ${TARGETS[(pass - 1 + t) % ${#TARGETS[@]}]} in
      direct) measure download direct "$pass" "$GIB" download "$URL" ;;
      service) measure download service "$pass" "$GIB" download "$BASE/files/$ID/download" "$TOKEN" ;;
      node-proxy) measure download node-proxy "$pass" "$GIB" download "http://127.0.0.1:$PROXY_PORT/" ;;
    esac
  done
done
stop_service

# --- 3. CLIENTS downloads at once -----------------------------------------------------------------
start_service
for ((pass = 1; pass <= REPS; pass++)); do
  if ((pass % 2 == 0)) && ((CONC_DIRECT)); then measure "${CLIENTS}x" direct "$pass" $((CLIENTS * GIB)) concurrent "$URL"; fi
  measure "${CLIENTS}x" service "$pass" $((CLIENTS * GIB)) concurrent "$BASE/files/$ID/download" "$TOKEN"
  if ((pass % 2)) && ((CONC_DIRECT)); then measure "${CLIENTS}x" direct "$pass" $((CLIENTS * GIB)) concurrent "$URL"; fi
  if ((CONC_PROXY)); then measure "${CLIENTS}x" node-proxy "$pass" $((CLIENTS * GIB)) concurrent "http://127.0.0.1:$PROXY_PORT/"; fi
done
stop_service
kill -TERM "$PROXY_PID" && wait "$PROXY_PID" || true
PROXY_PID=
echo "end: $(date -u +%H:%M:%S) UTC, $(uptime)" | tee -a "$OUT/summary.txt"

# --- the table, medians and the targets -----------------------------------------------------------
"$PY" - "$OUT/results.tsv" "$CLIENTS" <<'EOF' | tee "$OUT/table.md"
import sys, statistics as st
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])][1:]
clients = sys.argv[2]
by = {}
for r in rows:
    by.setdefault((r[0], r[1]), []).append(r)
print("| phase | target | pass | MB/s | wall s | RSS before MiB | peak MiB | growth MiB | VmHWM growth MiB | service CPU s | RGW+OSD CPU s | load1 |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|")
for (phase, target), rs in by.items():
    for r in rs:
        if target == "direct":  # the RSS and CPU columns would be the idle service's
            r = r[:5] + ["–"] * 5 + r[10:]
        print("| " + " | ".join(r) + " |")
    med = lambda i: st.median(float(r[i]) for r in rs)
    if target == "direct":
        print(f"| {phase} | {target} | **median** | **{med(3):.1f}** | {med(4):.2f} | | | | | | {med(10):.2f} | |")
    else:
        print(f"| {phase} | {target} | **median** | **{med(3):.1f}** | {med(4):.2f} | | | **{med(7):.0f}** | {med(8):.0f} | {med(9):.2f} | {med(10):.2f} | |")
def m(phase, target, i):
    rs = by.get((phase, target))
    return st.median(float(r[i]) for r in rs) if rs else float("nan")
print()
ratio = m("download", "service", 3) / m("download", "direct", 3)
print(f"- 1 GiB download, service / direct (medians): {m('download','service',3):.0f} / {m('download','direct',3):.0f} MB/s = **{ratio:.2f}** (target ≥ 0.9: {'met' if ratio >= 0.9 else 'NOT met'})")
if ("download", "node-proxy") in by:
    print(f"- 1 GiB download, node-proxy / direct: {m('download','node-proxy',3):.0f} / {m('download','direct',3):.0f} MB/s = {m('download','node-proxy',3) / m('download','direct',3):.2f}; service / node-proxy = {m('download','service',3) / m('download','node-proxy',3):.2f}")
    per = []
    for p in sorted({r[2] for r in by[("download", "service")]}):
        v = {t: float(r[3]) for (ph, t), rs in by.items() if ph == "download" for r in rs if r[2] == p}
        if "direct" in v and "service" in v:
            per.append(f"{v['service'] / v['direct']:.2f}")
    print(f"- service / direct per pass: {', '.join(per)}")
g = max(float(r[7]) for r in by[("download", "service")])
print(f"- 1 GiB download, RSS growth: median {m('download','service',7):.0f}, max {g:.0f} MiB (target ≤ 64: {'met' if g <= 64 else 'NOT met'})")
k = f"{clients}x"
if (k, "service") in by:
    g = max(float(r[7]) for r in by[(k, "service")])
    d = m(k, "direct", 3)
    print(f"- {clients} × 1 GiB at once, RSS growth: median {m(k,'service',7):.0f}, max {g:.0f} MiB (target ≤ 256 for 32: {'met' if g <= 256 else 'NOT met'}); aggregate {m(k,'service',3):.0f} MB/s through the service, {d:.0f} MB/s direct")
if (k, "node-proxy") in by:
    print(f"- {clients} × 1 GiB at once through node-proxy: {m(k,'node-proxy',3):.0f} MB/s, {m(k,'node-proxy',9):.1f} CPU s (service: {m(k,'service',9):.1f})")
g = max(float(r[7]) for r in by[("upload", "service")])
print(f"- 1 GiB upload: median {m('upload','service',3):.0f} MB/s; RSS growth median {m('upload','service',7):.0f}, max {g:.0f} MiB (target ≤ 128: {'met' if g <= 128 else 'NOT met'})")
EOF
