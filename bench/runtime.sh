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

# The service once started: its health answering, an admin's token, a stored file.
await_service() { # BASE PID LOG: waits up to 30 s for BASE/health; exits if PID dies first
  for _ in $(seq 150); do
    curl -sf "$1/health" >/dev/null 2>&1 && return 0
    kill -0 "$2" 2>/dev/null || { echo "the service exited: $3" >&2; exit 1; }
    sleep 0.2
  done
  echo "the service did not answer in 30 s: $3" >&2
  exit 1
}
admin_token() { # BASE PASSWORD: the admin's access token
  curl -sf "$1/auth/login" -H 'content-type: application/json' \
    -d "{\"username\":\"admin\",\"password\":\"$2\"}" | sed -E 's/.*"access_token":"([^"]+)".*/\1/'
}
stored_id() { # BASE TOKEN FILE: uploads FILE, prints the new file's id
  curl -sf "$1/files" -H "Authorization: Bearer $2" -F "file=@$3" | sed -E 's/.*"id":"([^"]+)".*/\1/'
}
