#!/usr/bin/env bash
# Two services measured in alternation on the 4 KiB download (wrk c=64; FILE and CONNS for other
# sizes): the same build with two settings (A_ENV, B_ENV), or two builds (A_APP, B_APP). Both run
# throughout; each pass measures A then B or B then A, so the machine's noise hits them alike.
# Prints, per pass, each one's req/s and its server CPU in µs per request (from /proc: less
# disturbed by a busy machine than the rate), and the rate ratio A/B.
#
#   A_ENV=LOG_LEVEL=info B_ENV=LOG_LEVEL=warn bench/interleaved.sh          # what a request line costs
#   RUNTIME=node24 A_ENV=LOG_LEVEL=info B_ENV=LOG_LEVEL=warn bench/interleaved.sh
#   A_APP=/tmp/old-build bench/interleaved.sh                             # an older build (same runtime)
#   A_APP=/tmp/old-build FILE=file-1m.bin CONNS=16 bench/interleaved.sh   # 1 MiB, as the rig's S3
#
# REPS (6) passes of SECS (5) seconds; services as `npm start` runs them (bench/runtime.sh), stdout
# to OUT/service-{A,B}.log, SQLite and local storage under /tmp. Needs wrk.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
REPS=${REPS:-6} SECS=${SECS:-5} FILE=${FILE:-file-4k.bin} CONNS=${CONNS:-64}
OUT=${OUT:-/tmp/bench-results/interleaved-$(date +%Y%m%d-%H%M%S)}
DATA=${FILES_DIR:-/tmp/bench-data}
APP_COPY=${APP_COPY:-/tmp/file-service-interleaved-app}
. "$ROOT/bench/runtime.sh"
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 1; }
mkdir -p "$OUT" "$DATA"
[[ -s $DATA/file-4k.bin ]] || head -c 4096 /dev/urandom >"$DATA/file-4k.bin"
[[ -s $DATA/$FILE ]] || { echo "no $DATA/$FILE (../shared/bench/make-data.sh makes the rig's files)" >&2; exit 1; }

declare -A PID PORT TOKEN ID SETTINGS DIR
PORT[A]=${PORT_A:-3411} PORT[B]=${PORT_B:-3412}
SETTINGS[A]=${A_ENV:-} SETTINGS[B]=${B_ENV:-}
DIR[A]=${A_APP:-$APP} DIR[B]=${B_APP:-$APP}
PASSWORD=bench-admin-password-$$
STORAGE=$(mktemp -d /tmp/file-service-interleaved.XXXXXX)
stop_services() {
  local name
  for name in "${!PID[@]}"; do kill -TERM "${PID[$name]}" 2>/dev/null || true; done
  for name in "${!PID[@]}"; do wait "${PID[$name]}" 2>/dev/null || true; done
  rm -rf "$STORAGE"
}
trap stop_services EXIT

for name in A B; do
  # shellcheck disable=SC2086 # SETTINGS is a list of NAME=value words
  (cd "${DIR[$name]}" && exec env "${SERVICE_ENV[@]}" STORAGE_DIR="$STORAGE/$name" PORT="${PORT[$name]}" \
    ADMIN_PASSWORD="$PASSWORD" ${SETTINGS[$name]} node --max-semi-space-size=16 dist/main.js \
    >"$OUT/service-$name.log" 2>&1) &
  PID[$name]=$!
done
for name in A B; do
  base=http://127.0.0.1:${PORT[$name]}
  await_service "$base" "${PID[$name]}" "$OUT/service-$name.log"
  TOKEN[$name]=$(admin_token "$base" "$PASSWORD")
  ID[$name]=$(stored_id "$base" "${TOKEN[$name]}" "$DATA/$FILE")
  wrk -t2 -c"$CONNS" -d2s -H "Authorization: Bearer ${TOKEN[$name]}" "$base/files/${ID[$name]}/download" >/dev/null
done

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
measure() { # NAME -> "req/s µs-per-request"
  local name=$1 before after out
  before=$(cpu_ticks "${PID[$name]}")
  out=$(wrk -t2 -c"$CONNS" -d"${SECS}s" -H "Authorization: Bearer ${TOKEN[$name]}" \
    "http://127.0.0.1:${PORT[$name]}/files/${ID[$name]}/download")
  after=$(cpu_ticks "${PID[$name]}")
  awk -v ticks=$((after - before)) -v hz="$(getconf CLK_TCK)" '
    /Requests\/sec/ {rps = $2} / requests in / {n = $1}
    END {printf "%.0f %.1f", rps, ticks / hz * 1e6 / n}' <<<"$out"
}
echo "node $(node --version), ${SERVICE_ENV[*]:-glibc malloc}, $FILE c=$CONNS; A: ${DIR[A]} ${SETTINGS[A]}; B: ${DIR[B]} ${SETTINGS[B]}" |
  tee "$OUT/summary.txt"
echo "pass  A req/s  A µs/req  B req/s  B µs/req  A/B  load1" | tee -a "$OUT/summary.txt"
for ((pass = 1; pass <= REPS; pass++)); do
  if ((pass % 2)); then a=$(measure A) b=$(measure B); else b=$(measure B) a=$(measure A); fi
  read -r a_rps a_us <<<"$a"
  read -r b_rps b_us <<<"$b"
  printf '%4d  %7s  %8s  %7s  %8s  %.3f  %s\n' "$pass" "$a_rps" "$a_us" "$b_rps" "$b_us" \
    "$(awk -v a="$a_rps" -v b="$b_rps" 'BEGIN {print a / b}')" "$(cut -d' ' -f1 /proc/loadavg)" |
    tee -a "$OUT/summary.txt"
done
