#!/usr/bin/env bash
# What metrics and the audit trail cost the 4 KiB download: the rig's S2 (GET 4 KiB, wrk c=64,
# ../shared/bench/lib/scenarios.sh) against two instances of the same build, both running
# throughout: `observed`, with METRICS_TOKEN set and AUDIT_ENABLED=true (its scrapes are not part
# of the load), and `plain`, with METRICS_TOKEN unset (metrics off, nothing measured) and
# AUDIT_ENABLED=false. Each pass measures both, in turn (the order alternating from pass to pass),
# so the machine's noise hits them alike; ratios.txt gives observed/plain per pass. Issue 12 asks
# for >= 0.95.
#
#   bench/observability.sh                               # REPS=3 passes of 15 s (build first)
#   REPS=1 S2_SECS=5 WARMUP_S=1 bench/observability.sh   # a smoke run
#   RUNTIME=node24 bench/observability.sh                # as the Docker image runs (bench/runtime.sh)
#   OBSERVED_ENV='LOG_LEVEL=warn' PLAIN_ENV='LOG_LEVEL=warn' bench/observability.sh
#       # more variables for one instance or both (space-separated NAME=value)
#
# Needs wrk (apt-get install wrk) and the rig in ../shared/bench; only the 4 KiB file of its data.
# Results in OUT: summary.txt, ratios.txt, table.md, results.tsv and each pass's raw/ output.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
RIG=${RIG:-$(cd "$ROOT/../shared/bench" && pwd)}
DATA=${FILES_DIR:-/tmp/bench-data}
OUT=${OUT:-/tmp/bench-results/observability-$(date +%Y%m%d-%H%M%S)}
REPS=${REPS:-3}
PY=/usr/bin/python3
export S2_SECS=${S2_SECS:-15} WARMUP_S=${WARMUP_S:-3}
mkdir -p "$OUT/raw"
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 1; }

APP_COPY=/tmp/file-service-bench-app
. "$ROOT/bench/runtime.sh"
mkdir -p "$DATA"
[[ -s $DATA/file-4k.bin ]] || head -c 4096 /dev/urandom >"$DATA/file-4k.bin"
echo "node $(node --version), $(nproc) cores, app $APP, ${SERVICE_ENV[*]:-glibc malloc}, REPS=$REPS, S2 ${S2_SECS}s, results in $OUT" |
  tee "$OUT/summary.txt"

# --- the two instances ----------------------------------------------------------------------------
declare -A PID PORT TOKEN ID_4K EXTRA
PORT[observed]=${PORT_OBSERVED:-3311}
PORT[plain]=${PORT_PLAIN:-3312}
METRICS_TOKEN=bench-metrics-token-$$-$RANDOM
# The switches under test; AUDIT_ENABLED is the audit trail's (true by default).
EXTRA[observed]="METRICS_TOKEN=$METRICS_TOKEN AUDIT_ENABLED=true ${OBSERVED_ENV:-}"
EXTRA[plain]="AUDIT_ENABLED=false ${PLAIN_ENV:-}"
PASSWORD=bench-admin-password-$$
STORAGE=$(mktemp -d /tmp/file-service-observability.XXXXXX)
stop_services() {
  local name
  for name in "${!PID[@]}"; do
    kill -TERM "${PID[$name]}" 2>/dev/null || true
    wait "${PID[$name]}" 2>/dev/null || true
  done
  rm -rf "$STORAGE"
}
trap stop_services EXIT

start_service() { # NAME (observed, plain): as `npm start` runs it, stdout to a file
  local name=$1 base=http://127.0.0.1:${PORT[$1]}
  # shellcheck disable=SC2086 # EXTRA is a list of NAME=value words
  (cd "$APP" && exec env -u METRICS_TOKEN "${SERVICE_ENV[@]}" STORAGE_DIR="$STORAGE/$name" \
    PORT="${PORT[$name]}" ADMIN_PASSWORD="$PASSWORD" ${EXTRA[$name]} \
    node --max-semi-space-size=16 dist/main.js >"$OUT/service-$name.log" 2>&1) &
  PID[$name]=$!
  await_service "$base" "${PID[$name]}" "$OUT/service-$name.log"
  TOKEN[$name]=$(admin_token "$base" "$PASSWORD")
  ID_4K[$name]=$(stored_id "$base" "${TOKEN[$name]}" "$DATA/file-4k.bin")
  echo "$name service: pid ${PID[$name]}, ${EXTRA[$name]//$METRICS_TOKEN/<token>}, idle RSS $(awk \
    '/^VmRSS/ {printf "%.0f", $2 / 1024}' "/proc/${PID[$name]}/status") MiB" | tee -a "$OUT/summary.txt"
}
start_service observed
start_service plain
# Metrics are on in one and off in the other, or the comparison means nothing.
curl -sf -o /dev/null -H "Authorization: Bearer $METRICS_TOKEN" "http://127.0.0.1:${PORT[observed]}/metrics" ||
  { echo "the observed service serves no /metrics" >&2; exit 1; }
[[ $(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:${PORT[plain]}/metrics") == 404 ]] ||
  { echo "the plain service has metrics on" >&2; exit 1; }

# --- the passes: S2 on each, in turn --------------------------------------------------------------
. "$RIG/lib/scenarios.sh"
: >"$OUT/results.tsv"
: >"$OUT/commands.log"
measure() { # NAME
  run_scenarios "$1" "" "http://127.0.0.1:${PORT[$1]}/files/${ID_4K[$1]}/download" "" "" \
    "Authorization: Bearer ${TOKEN[$1]}" "${PID[$1]}"
}
for ((REP = 1; REP <= REPS; REP++)); do
  echo "pass $REP of $REPS" >&2
  if ((REP % 2)); then measure observed && measure plain; else measure plain && measure observed; fi
done
"$PY" "$RIG/lib/table.py" "$OUT/results.tsv" >"$OUT/table.md"

# What the observed instance counted: the downloads were measured indeed.
curl -sf -H "Authorization: Bearer $METRICS_TOKEN" "http://127.0.0.1:${PORT[observed]}/metrics" |
  grep -E '^files_http_requests_total\{.*route="/files/:id/download"' | tee -a "$OUT/summary.txt"

"$PY" - "$OUT/results.tsv" <<'EOF' | tee "$OUT/ratios.txt"
import sys
from collections import defaultdict
rps = defaultdict(dict)  # pass -> target -> req/s
for line in open(sys.argv[1]):
    cells = line.rstrip("\n").split("\t")
    target, scen, rep, value = cells[:4]
    if scen == "S2" and value:
        rps[int(rep)][target] = float(value)
cells = [
    f"{by['observed']:.0f}/{by['plain']:.0f} = {by['observed'] / by['plain']:.3f}"
    for _, by in sorted(rps.items())
    if "observed" in by and "plain" in by
]
print("4 KiB, observed / plain (target >= 0.95):", " | ".join(cells) or "-")
ratios = sorted(by["observed"] / by["plain"] for by in rps.values() if "observed" in by and "plain" in by)
if ratios:
    n = len(ratios)
    print(f"median {(ratios[(n - 1) // 2] + ratios[n // 2]) / 2:.3f} of {n} passes")
EOF
cat "$OUT/table.md"
