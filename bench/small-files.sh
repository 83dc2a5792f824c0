#!/usr/bin/env bash
# Small and medium downloads of the service beside the framework's and the runtime's ceilings, in
# one run of the shared rig (../shared/bench/run-peers.sh): plain node:http (`node-plain`), Nest +
# Express with one streaming route (`nest-bare`), and the service twice, at LOG_LEVEL=info (the
# default: one request line each) and at LOG_LEVEL=warn (no request lines). Only S2 (4 KiB, c=64)
# and S3 (1 MiB, c=16), plus S4 (1 GiB, one stream) for the info service when S4=1. A few minutes
# instead of bench/run.sh's 35.
#
#   bench/small-files.sh                      # as `npm start` runs: this machine's node (build first)
#   RUNTIME=node24 bench/small-files.sh       # as the Docker image runs: Node 24, jemalloc
#   REPS=3 S4=1 bench/small-files.sh          # more passes, and the 1 GiB download
#   APP=/tmp/other-checkout bench/small-files.sh   # another build (e.g. the base commit), same rig
#   COMPARE_APP=/tmp/base-build bench/small-files.sh
#       # adds that build at LOG_LEVEL=info as `base-info` to every pass (S2, S3 and with S4=1 S4):
#       # "no worse than before" measured in the same run. Built for the same runtime.
#
# Each pass measures every target once, in turn (node-plain, nest-bare, nest-info, nest-warn),
# so the machine's noise hits them alike: compare ratios within a pass. Results in OUT:
# table.md (the rig's tables), ratios.txt, and each pass's rig output under rig-<n>/.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
RIG=${RIG:-$(cd "$ROOT/../shared/bench" && pwd)}
DATA=${FILES_DIR:-/tmp/bench-data}
OUT=${OUT:-/tmp/bench-results/small-files-$(date +%Y%m%d-%H%M%S)}
REPS=${REPS:-2}
PY=/usr/bin/python3
# The rig always gives its peers S4; without S4=1, they make one 1 GiB run, not three.
[[ ${S4:-0} == 1 ]] && S4_RUNS=${S4_RUNS:-3} || S4_RUNS=${S4_RUNS:-1}
export S2_SECS=${S2_SECS:-10} S3_SECS=${S3_SECS:-10} WARMUP_S=${WARMUP_S:-3} S4_RUNS
mkdir -p "$OUT"

# --- runtime: the one `npm start` uses, or the Docker image's ------------------------------------
APP_COPY=/tmp/file-service-bench-app
. "$ROOT/bench/runtime.sh"
[[ -s $DATA/file-4k.bin && -s $DATA/file-1m.bin && -s $DATA/file-1g.bin ]] || "$RIG/make-data.sh" "$DATA"
echo "node $(node --version), $(nproc) cores, app $APP, ${SERVICE_ENV[*]:-glibc malloc}, REPS=$REPS, results in $OUT" |
  tee "$OUT/summary.txt"

# --- the service, once per log level, both running throughout -------------------------------------
declare -A PID PORT TOKEN ID_4K ID_1M ID_1G DIR LEVEL
PORT[info]=${PORT_INFO:-3301}
PORT[warn]=${PORT_WARN:-3302}
PORT[base]=${PORT_BASE:-3303}
DIR[info]=$APP DIR[warn]=$APP DIR[base]=${COMPARE_APP:-}
LEVEL[info]=info LEVEL[warn]=warn LEVEL[base]=info
PASSWORD=bench-admin-password-$$
STORAGE=$(mktemp -d /tmp/file-service-small-files.XXXXXX)
stop_services() {
  local level
  for level in "${!PID[@]}"; do
    kill -TERM "${PID[$level]}" 2>/dev/null || true
    wait "${PID[$level]}" 2>/dev/null || true
  done
  rm -rf "$STORAGE"
}
trap stop_services EXIT

start_service() { # NAME (info, warn, base): as `npm start` runs it (the same node flags), stdout to a file
  local level=$1 base=http://127.0.0.1:${PORT[$1]}
  (cd "${DIR[$level]}" && exec env "${SERVICE_ENV[@]}" STORAGE_DIR="$STORAGE/$level" PORT="${PORT[$level]}" \
    LOG_LEVEL="${LEVEL[$level]}" ADMIN_PASSWORD="$PASSWORD" node --max-semi-space-size=16 dist/main.js \
    >"$OUT/service-$level.log" 2>&1) &
  PID[$level]=$!
  await_service "$base" "${PID[$level]}" "$OUT/service-$level.log"
  TOKEN[$level]=$(admin_token "$base" "$PASSWORD")
  ID_4K[$level]=$(stored_id "$base" "${TOKEN[$level]}" "$DATA/file-4k.bin")
  ID_1M[$level]=$(stored_id "$base" "${TOKEN[$level]}" "$DATA/file-1m.bin")
  if [[ ${S4:-0} == 1 && $level != warn ]]; then
    ID_1G[$level]=$(stored_id "$base" "${TOKEN[$level]}" "$DATA/file-1g.bin")
  fi
  echo "$level service: pid ${PID[$level]}, idle RSS $(awk '/^VmRSS/ {printf "%.0f", $2 / 1024}' \
    "/proc/${PID[$level]}/status") MiB" | tee -a "$OUT/summary.txt"
}
start_service info
start_service warn
[[ -z ${COMPARE_APP:-} ]] || start_service base

rig() { # PASS NAME PEERS: one pass of the rig over PEERS and the service NAME (info, warn, base)
  local level=$2 base=http://127.0.0.1:${PORT[$2]}
  local name=nest-$level
  [[ $level != base ]] || name=base-info
  OUT=$OUT/rig-$1-$level REPS=1 PEERS=$3 APP_DIR=$APP TARGET_NAME=$name TARGET_BASE_URL=$base \
    TARGET_TOKEN=${TOKEN[$level]} TARGET_PID=${PID[$level]} \
    TARGET_DL_URL_4K=/files/${ID_4K[$level]}/download TARGET_DL_URL_1M=/files/${ID_1M[$level]}/download \
    TARGET_DL_URL_1G=${ID_1G[$level]:+/files/${ID_1G[$level]}/download} \
    "$RIG/run-peers.sh" >"$OUT/rig-$1-$level.out" 2>&1
  # The rig numbers its passes from 1: renumbered here, so the tables show one column per pass.
  awk -v rep="$1" 'BEGIN {FS = OFS = "\t"} {$3 = rep; print}' "$OUT/rig-$1-$level/results.tsv" >>"$OUT/results.tsv"
}
: >"$OUT/results.tsv"
for ((pass = 1; pass <= REPS; pass++)); do
  echo "pass $pass of $REPS" >&2
  rig "$pass" info "node-plain nest-bare"
  rig "$pass" warn ""
  [[ -z ${COMPARE_APP:-} ]] || rig "$pass" base ""
done
grep -h 'cpu steal' "$OUT"/rig-*/machine.txt | tee -a "$OUT/summary.txt"
"$PY" "$RIG/lib/table.py" "$OUT/results.tsv" >"$OUT/table.md"

# --- the ratios the issue asks for, per pass --------------------------------------------------------
"$PY" - "$OUT/results.tsv" <<'EOF' | tee "$OUT/ratios.txt"
import sys
from collections import defaultdict
rps = defaultdict(dict)  # (scenario, pass) -> target -> req/s (S4: MB/s)
for line in open(sys.argv[1]):
    cells = line.rstrip("\n").split("\t")
    target, scen, rep = cells[:3]
    value = cells[6] if scen == "S4" else cells[3]
    if value:
        rps[(scen, int(rep))][target] = float(value)
def ratio(scen, a, b):
    cells = []
    for (s, rep), by in sorted(rps.items()):
        if s == scen and a in by and b in by:
            cells.append(f"{by[a]:.0f}/{by[b]:.0f} = {by[a] / by[b]:.2f}")
    return " | ".join(cells) or "-"
print("4 KiB, nest-info / nest-bare :", ratio("S2", "nest-info", "nest-bare"))
print("4 KiB, nest-info / nest-warn :", ratio("S2", "nest-info", "nest-warn"))
print("4 KiB, nest-info / node-plain:", ratio("S2", "nest-info", "node-plain"))
print("1 MiB, nest-info / node-plain:", ratio("S3", "nest-info", "node-plain"))
print("1 MiB, nest-warn / node-plain:", ratio("S3", "nest-warn", "node-plain"))
print("4 KiB, nest-info / base-info :", ratio("S2", "nest-info", "base-info"))
print("1 MiB, nest-info / base-info :", ratio("S3", "nest-info", "base-info"))
print("1 GiB, nest-info / base-info :", ratio("S4", "nest-info", "base-info"))
EOF
cat "$OUT/table.md"
