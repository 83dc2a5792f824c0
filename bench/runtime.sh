# Sourced by the bench scripts: the runtime the service (and the peers) run on. Sets APP (the
# checkout to run, with dist/), SERVICE_ENV (the service's extra environment) and, for Node 24,
# puts its binary first in PATH. Needs ROOT; RUNTIME=system (default: the one `npm start` uses)
# or node24 (the Docker image's: Node 24 in a copy of the project at APP, jemalloc preloaded,
# JEMALLOC='' for glibc's malloc); APP_COPY: where that copy goes by default.
SERVICE_ENV=()
if [[ ${RUNTIME:-system} == node24 ]]; then
  APP=${APP:-${APP_COPY:-/tmp/file-service-bench-app}}
  BIN=$("$ROOT/scripts/node24-copy.sh" "$APP")
  export PATH="$BIN:$PATH" # the peers run on the same Node
  JEMALLOC=${JEMALLOC-/usr/lib/x86_64-linux-gnu/libjemalloc.so.2}
  [[ -z $JEMALLOC ]] || SERVICE_ENV=(LD_PRELOAD="$JEMALLOC")
else
  APP=${APP:-$ROOT}
fi
[[ -f $APP/dist/main.js ]] || { echo "no $APP/dist/main.js: run npm run build" >&2; exit 1; }
