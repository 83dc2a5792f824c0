#!/usr/bin/env bash
# What the audit trail costs a 4 KiB download (one event each): the service twice, side by side,
# with ON_ENV and with OFF_ENV, each pass measuring both in turn with wrk (c=64), so the machine's
# noise hits them alike. Prints each pass's requests a second and the server's CPU time per
# request (from /proc: steadier than the rate on a shared machine), then the medians' ratios.
#
#   bench/audit-overhead.sh                        # AUDIT_ENABLED=true against false
#   ON_ENV='AUDIT_ENABLED=true METRICS_TOKEN=…' OFF_ENV='AUDIT_ENABLED=false' bench/audit-overhead.sh
#   REPS=8 SECS=10 RUNTIME=node24 bench/audit-overhead.sh
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
REPS=${REPS:-5}
SECS=${SECS:-6}
CONNECTIONS=${CONNECTIONS:-64}
read -r -a ON <<<"${ON_ENV:-AUDIT_ENABLED=true}"
read -r -a OFF <<<"${OFF_ENV:-AUDIT_ENABLED=false}"
APP_COPY=/tmp/file-service-bench-app
. "$ROOT/bench/runtime.sh"
WORK=$(mktemp -d /tmp/file-service-audit-overhead.XXXXXX)
PASSWORD=bench-admin-password-$$
declare -A PID PORT TOKEN ID RATE CPU
PORT[on]=${PORT_ON:-3311}
PORT[off]=${PORT_OFF:-3312}
stop() {
  local mode
  for mode in "${!PID[@]}"; do kill -TERM "${PID[$mode]}" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap stop EXIT
head -c 4096 /dev/urandom >"$WORK/4k.bin"

for mode in on off; do
  if [[ $mode == on ]]; then vars=("${ON[@]}"); else vars=("${OFF[@]}"); fi
  (cd "$APP" && exec env "${SERVICE_ENV[@]}" "${vars[@]}" STORAGE_DIR="$WORK/$mode" \
    PORT="${PORT[$mode]}" ADMIN_PASSWORD="$PASSWORD" LOG_FORMAT=json \
    node --max-semi-space-size=16 dist/main.js >"$WORK/$mode.log" 2>&1) &
  PID[$mode]=$!
done
for mode in on off; do
  base=http://127.0.0.1:${PORT[$mode]}
  for _ in $(seq 100); do curl -sf "$base/health/live" >/dev/null && break; sleep 0.1; done
  TOKEN[$mode]=$(curl -sf "$base/auth/login" -H 'content-type: application/json' \
    -d "{\"username\":\"admin\",\"password\":\"$PASSWORD\"}" | node -pe 'JSON.parse(require("fs").readFileSync(0)).access_token')
  ID[$mode]=$(curl -sf "$base/files" -H "Authorization: Bearer ${TOKEN[$mode]}" -F file=@"$WORK/4k.bin" |
    node -pe 'JSON.parse(require("fs").readFileSync(0)).id')
  wrk -t1 -c"$CONNECTIONS" -d2s -H "Authorization: Bearer ${TOKEN[$mode]}" \
    "$base/files/${ID[$mode]}/download" >/dev/null # warm-up
done

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# The server is the node process under the subshell that started it.
server_pid() { pgrep -P "$1" node || echo "$1"; }
echo "node $(node --version), $(nproc) cores; on: ${ON[*]}; off: ${OFF[*]}"
RESULTS=$WORK/results.txt
for pass in $(seq "$REPS"); do
  for mode in on off; do
    pid=$(server_pid "${PID[$mode]}")
    before=$(cpu_ticks "$pid")
    out=$(wrk -t1 -c"$CONNECTIONS" -d"${SECS}s" -H "Authorization: Bearer ${TOKEN[$mode]}" \
      "http://127.0.0.1:${PORT[$mode]}/files/${ID[$mode]}/download")
    after=$(cpu_ticks "$pid")
    rate=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
    count=$(awk '/requests in/ {print $1}' <<<"$out")
    cpu_us=$(awk -v t="$((after - before))" -v n="$count" -v hz="$(getconf CLK_TCK)" \
      'BEGIN {printf "%.1f", t * 1e6 / hz / n}')
    echo "pass $pass $mode $rate req/s, $cpu_us us CPU/request" | tee -a "$RESULTS"
  done
done
median() { sort -n | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
for mode in on off; do
  RATE[$mode]=$(awk -v m="$mode" '$3 == m {print $4}' "$RESULTS" | median)
  CPU[$mode]=$(awk -v m="$mode" '$3 == m {print $6}' "$RESULTS" | median)
done
awk -v ron="${RATE[on]}" -v roff="${RATE[off]}" -v con="${CPU[on]}" -v coff="${CPU[off]}" 'BEGIN {
  printf "median rate: on %.0f, off %.0f req/s: on/off %.3f\n", ron, roff, ron / roff
  printf "median CPU per request: on %.1f, off %.1f us: off/on %.3f\n", con, coff, coff / con
}'
