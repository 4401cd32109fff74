#!/usr/bin/env bash
# `npm start`: everything for real on this machine, in the foreground.
#   1. installs what is missing (rabbitmq-server via apt, node modules)   scripts/install-deps.sh
#   2. builds qmig (dist/)                                                 npm run build
#   3. starts the 3-node RabbitMQ cluster "main" (or reuses it)           scripts/cluster.sh up
#   4. seeds the demo vhost: mirrored classic queues with messages        scripts/seed-demo.ts
#   5. starts one qmig sidecar per node, waits for /healthz, prints the URLs and a curl to try
# Ctrl-C stops the sidecars; the cluster keeps running (`npm run cluster -- down` stops it).
#
# Environment (all optional):
#   QMIG_DEMO_NO_SEED=1        do not create/top up the demo vhost
#   QMIG_DEMO_RESET=1          delete the demo vhost and seed it from scratch
#   QMIG_DEMO_VHOST=demo       name of the demo vhost
#   QMIG_DEMO_NO_INSTALL=1     skip step 1;  QMIG_DEMO_NO_BUILD=1  skip step 2
#   QMIG_DEMO_CLUSTER=main     cluster name, QMIG_DEMO_OFFSET=0 its port offset (see scripts/cluster.sh)
#   QMIG_DEMO_SIDECAR_PORT=15680   first sidecar port (node i listens on PORT+i-1)
#   QMIG_DEMO_LOG_DIR=.qmig/demo   where the sidecars' logs go
#   QMIG_DEMO_FOLLOW_LOGS=1    print the sidecars' logs here (0: only print the file paths)
#   QMIG_LOG_LEVEL, and any other QMIG_* variable, is passed to the sidecars as is; the logs are
#   human-readable lines (QMIG_LOG_FORMAT=pretty) unless QMIG_LOG_FORMAT=json is set.
set -euo pipefail
cd "$(dirname "$0")/.."

CLUSTER=${QMIG_DEMO_CLUSTER:-main}
OFFSET=${QMIG_DEMO_OFFSET:-0}
NODES=3
VHOST=${QMIG_DEMO_VHOST:-demo}
SIDECAR_PORT=${QMIG_DEMO_SIDECAR_PORT:-15680}
LOG_DIR=${QMIG_DEMO_LOG_DIR:-.qmig/demo}
FOLLOW=${QMIG_DEMO_FOLLOW_LOGS:-1}
USER_NAME=guest
PASSWORD=guest

say() { echo "[start] $*" >&2; }
die() { echo "[start] ERROR: $*" >&2; exit 1; }

mgmt_port() { echo $((15672 + OFFSET + $1 - 1)); }
amqp_port() { echo $((5672 + OFFSET + $1 - 1)); }
sidecar_port() { echo $((SIDECAR_PORT + $1 - 1)); }
stop_cluster_cmd() { if [ "$CLUSTER" = main ]; then echo "npm run cluster -- down"; else echo "npm run cluster -- down --name $CLUSTER"; fi; }
http_code() { curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$@" 2>/dev/null || true; }

# --- 1. dependencies -----------------------------------------------------------------------
if [ "${QMIG_DEMO_NO_INSTALL:-0}" != 1 ]; then
  QMIG_NO_BROWSER=1 QMIG_NO_LINT=1 bash scripts/install-deps.sh
fi
command -v curl >/dev/null || die "curl is required (apt-get install -y curl)"

# --- 2. build ------------------------------------------------------------------------------
if [ "${QMIG_DEMO_NO_BUILD:-0}" != 1 ]; then
  say "building (npm run build)"
  npm run -s build
fi
[ -f dist/cli/main.js ] || die "dist/cli/main.js is missing: the build did not produce the qmig CLI"

# The sidecar ports must be free: another `npm start` may still be running.
for i in $(seq 1 "$NODES"); do
  p=$(sidecar_port "$i")
  code=$(http_code "http://127.0.0.1:$p/healthz")
  if [ -n "$code" ] && [ "$code" != 000 ]; then
    die "port $p already answers HTTP (another 'npm start' running?). Stop it first, or set QMIG_DEMO_SIDECAR_PORT."
  fi
done

# --- 3. cluster ----------------------------------------------------------------------------
bash scripts/cluster.sh up --name "$CLUSTER" --nodes "$NODES" --offset "$OFFSET"

# --- 4. demo vhost -------------------------------------------------------------------------
if [ "${QMIG_DEMO_NO_SEED:-0}" != 1 ]; then
  say "seeding vhost \"$VHOST\" (mirrored classic queues, messages, bindings)"
  QMIG_DEMO_VHOST="$VHOST" \
  QMIG_DEMO_MANAGEMENT_URL="http://127.0.0.1:$(mgmt_port 1)" \
  QMIG_DEMO_AMQP_URL="amqp://127.0.0.1:$(amqp_port 1)" \
  QMIG_DEMO_USER=$USER_NAME QMIG_DEMO_PASSWORD=$PASSWORD \
    node --import tsx scripts/seed-demo.ts
fi

# --- 5. sidecars ---------------------------------------------------------------------------
mkdir -p "$LOG_DIR"
pids=()
tail_pid=""
stopping=0
stop_sidecars() {
  [ "$stopping" = 1 ] && return
  stopping=1
  # The sidecars run in their own sessions: this script must not die before they are stopped.
  trap '' INT TERM
  if [ ${#pids[@]} -gt 0 ]; then
    say "stopping the sidecars (${pids[*]}); waiting up to 30 s for a graceful stop"
    kill -TERM "${pids[@]}" 2>/dev/null || true
    for _ in $(seq 1 300); do
      alive=0
      for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
      [ "$alive" = 0 ] && break
      sleep 0.1
    done
    kill -KILL "${pids[@]}" 2>/dev/null || true
  fi
  if [ -n "$tail_pid" ]; then kill "$tail_pid" 2>/dev/null || true; fi
  rm -f "$LOG_DIR"/sidecar[0-9]*.pid
  say "sidecars stopped; the cluster \"$CLUSTER\" is still running (stop it: $(stop_cluster_cmd))"
}
trap stop_sidecars EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# The key that seals qmig's broker-held state (QMIG_STATE_SECRET): generated once per demo
# cluster and kept (mode 600) so that the sidecars verify what they wrote before a restart.
# An explicit QMIG_STATE_SECRET in the environment wins.
SECRET_FILE=".qmig/$CLUSTER.state-secret"
if [ -z "${QMIG_STATE_SECRET:-}" ]; then
  if [ ! -s "$SECRET_FILE" ]; then
    mkdir -p "$(dirname "$SECRET_FILE")"
    (umask 077 && head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$SECRET_FILE")
  fi
  QMIG_STATE_SECRET=$(cat "$SECRET_FILE")
fi
export QMIG_STATE_SECRET

# RabbitMQ 3.10 lacks the relaxed-redeclaration setting, so the relaxed_checks_setting check fails
# there and a production sidecar refuses to start (QMIG_RELAXED_CHECKS_WARN_ONLY defaults to false).
# The demo has no clients that redeclare its queues: its sidecars report it as a warning, so that
# the printed "Try it" migration runs; the banner says so. An explicit setting wins.
DEMO_RELAXED=${QMIG_RELAXED_CHECKS_WARN_ONLY:-true}

# Each sidecar runs in its own session (setsid) so that a terminal Ctrl-C does not reach it: this
# script then stops every sidecar with exactly one SIGTERM (a second signal makes qmig exit at once).
for i in $(seq 1 "$NODES"); do
  peers=""
  for j in $(seq 1 "$NODES"); do
    [ "$j" = "$i" ] || peers="$peers${peers:+,}http://127.0.0.1:$(sidecar_port "$j")"
  done
  log="$LOG_DIR/sidecar$i.log"
  : > "$log"
  # The node options of the image (Dockerfile ENV NODE_OPTIONS), so that sidecars run here as there.
  SIDECAR_NODE_OPTIONS=$(sed -n 's/^ *NODE_OPTIONS=\([^ ]*\).*/\1/p' Dockerfile)
  QMIG_LISTEN_PORT=$(sidecar_port "$i") \
  QMIG_LISTEN_HOST=127.0.0.1 \
  QMIG_MANAGEMENT_URL="http://127.0.0.1:$(mgmt_port "$i")" \
  QMIG_AMQP_URL="amqp://127.0.0.1:$(amqp_port "$i")" \
  QMIG_USER=$USER_NAME QMIG_PASSWORD=$PASSWORD \
  QMIG_PEERS="$peers" \
  QMIG_RELAXED_CHECKS_WARN_ONLY="$DEMO_RELAXED" \
  QMIG_LOG_FORMAT="${QMIG_LOG_FORMAT:-pretty}" \
  NODE_OPTIONS="${NODE_OPTIONS:-$SIDECAR_NODE_OPTIONS}" \
    setsid node dist/cli/main.js serve >>"$log" 2>&1 < /dev/null &
  pids+=($!)
  echo $! > "$LOG_DIR/sidecar$i.pid"
done

say "waiting for the sidecars' /healthz"
for i in $(seq 1 "$NODES"); do
  p=$(sidecar_port "$i") pid=${pids[$((i - 1))]} deadline=$((SECONDS + 60))
  until [ "$(http_code "http://127.0.0.1:$p/healthz")" = 200 ]; do
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "----- $LOG_DIR/sidecar$i.log -----" >&2; tail -n 30 "$LOG_DIR/sidecar$i.log" >&2
      die "sidecar $i (port $p) exited during startup; its log is above"
    fi
    if [ $SECONDS -ge $deadline ]; then
      echo "----- $LOG_DIR/sidecar$i.log -----" >&2; tail -n 30 "$LOG_DIR/sidecar$i.log" >&2
      die "sidecar $i did not answer 200 on http://127.0.0.1:$p/healthz within 60 s"
    fi
    sleep 0.3
  done
done

relaxed_note() {
  if [ "$DEMO_RELAXED" = true ]; then
    cat <<NOTE
 Demo setting: QMIG_RELAXED_CHECKS_WARN_ONLY=true. RabbitMQ 3.10 lacks the relaxed-
 redeclaration setting, so a client that redeclares a migrated queue without x-queue-type
 gets 406; the demo has no such clients, so the check reports it as a warning here.
 Production default (false): the check fails and start refuses.
NOTE
  else
    cat <<NOTE
 QMIG_RELAXED_CHECKS_WARN_ONLY=$DEMO_RELAXED: on RabbitMQ 3.10 the check reports
 relaxed_checks_setting as failed and start refuses (the production default).
NOTE
  fi
}

vh_enc=$(node -e 'process.stdout.write(encodeURIComponent(process.argv[1]))' "$VHOST")
S1="http://127.0.0.1:$(sidecar_port 1)"
cat <<EOF

================================================================================
 qmig is running: 3 RabbitMQ nodes ("$CLUSTER") + one sidecar per node

 Management UI through sidecar 1   $S1/
 qmig API base (sidecar 1)         $S1/api/queue-migration/
 Sidecars                          $(for i in $(seq 1 "$NODES"); do printf 'http://127.0.0.1:%s  ' "$(sidecar_port "$i")"; done)
 Brokers' own management UI        $(for i in $(seq 1 "$NODES"); do printf 'http://127.0.0.1:%s  ' "$(mgmt_port "$i")"; done)
 AMQP                              $(for i in $(seq 1 "$NODES"); do printf 'amqp://127.0.0.1:%s  ' "$(amqp_port "$i")"; done)
 Credentials                       $USER_NAME / $PASSWORD
 Demo vhost                        $VHOST
 Sidecar logs                      $(for i in $(seq 1 "$NODES"); do printf '%s  ' "$LOG_DIR/sidecar$i.log"; done)

 Try it (check, migrate the demo vhost, follow it):
   curl -u $USER_NAME:$PASSWORD -X POST $S1/api/queue-migration/check/$vh_enc
   curl -u $USER_NAME:$PASSWORD -X POST $S1/api/queue-migration/start/$vh_enc
   curl -u $USER_NAME:$PASSWORD $S1/api/queue-migration/status

$(relaxed_note)

 Ctrl-C stops the sidecars. The cluster keeps running; stop it with:
   $(stop_cluster_cmd)
================================================================================

EOF

if [ "$FOLLOW" = 1 ]; then
  tail -n +1 -F "${LOG_DIR}"/sidecar[0-9]*.log &
  tail_pid=$!
fi
# Stay in the foreground while every sidecar runs; if one dies, say so and stop the others.
while :; do
  for i in $(seq 1 "$NODES"); do
    if ! kill -0 "${pids[$((i - 1))]}" 2>/dev/null; then
      wait "${pids[$((i - 1))]}" && rc=0 || rc=$?
      die "sidecar $i exited (status $rc); see $LOG_DIR/sidecar$i.log"
    fi
  done
  sleep 1
done
