#!/usr/bin/env bash
# Starts and stops local RabbitMQ clusters on loopback, without the system service.
#
#   scripts/cluster.sh up     [--name NAME] [--nodes N] [--offset K]
#   scripts/cluster.sh down   [--name NAME]
#   scripts/cluster.sh status [--name NAME]
#   scripts/cluster.sh env    [--name NAME]      # prints export lines for the cluster's URLs
#   scripts/cluster.sh ctl    [--name NAME] [--node I] -- ARGS...   # rabbitmqctl against node I
#
# Node i (1-based) of a cluster with port offset K listens on AMQP 5672+K+i-1, management
# 15672+K+i-1 and distribution 25672+K+i-1, all on 127.0.0.1. Defaults: NAME=main, N=3, K=0.
# A second, independent cluster (e.g. a transfer target) needs another NAME and OFFSET, for
# example `--name target --nodes 1 --offset 100`.
# State lives in ${QMIG_CLUSTER_DIR:-/tmp/qmig-clusters}/NAME. The default user is guest/guest.
set -euo pipefail

BIN=/usr/lib/rabbitmq/bin
BASE_DIR=${QMIG_CLUSTER_DIR:-/tmp/qmig-clusters}
NAME=main
NODES=3
OFFSET=0
NODE_INDEX=1
cmd=${1:-}
shift || true
while [ $# -gt 0 ]; do
  case "$1" in
    --name) NAME=$2; shift 2 ;;
    --nodes) NODES=$2; shift 2 ;;
    --offset) OFFSET=$2; shift 2 ;;
    --node) NODE_INDEX=$2; shift 2 ;;
    --) shift; break ;;
    *) echo "cluster.sh: unknown option $1" >&2; exit 2 ;;
  esac
done

DIR="$BASE_DIR/$NAME"
export HOME="$DIR/home"

log() { echo "[cluster:$NAME] $*" >&2; }

ensure_installed() {
  if [ ! -x "$BIN/rabbitmq-server" ]; then
    log "rabbitmq-server is not installed; installing it with apt-get"
    if [ "$(id -u)" -ne 0 ]; then echo "cluster.sh: installing rabbitmq-server needs root" >&2; exit 1; fi
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq rabbitmq-server >/dev/null
  fi
}

node_name() { echo "${NAME}$1@localhost"; }
amqp_port() { echo $((5672 + OFFSET + $1 - 1)); }
mgmt_port() { echo $((15672 + OFFSET + $1 - 1)); }
dist_port() { echo $((25672 + OFFSET + $1 - 1)); }

node_env() {
  local i=$1 nd="$DIR/node$1"
  export RABBITMQ_NODENAME; RABBITMQ_NODENAME=$(node_name "$i")
  export RABBITMQ_NODE_PORT; RABBITMQ_NODE_PORT=$(amqp_port "$i")
  export RABBITMQ_DIST_PORT; RABBITMQ_DIST_PORT=$(dist_port "$i")
  export RABBITMQ_NODE_IP_ADDRESS=127.0.0.1
  export RABBITMQ_MNESIA_BASE="$nd/mnesia"
  export RABBITMQ_LOG_BASE="$nd/log"
  export RABBITMQ_CONFIG_FILE="$nd/rabbitmq.conf"
  export RABBITMQ_ADVANCED_CONFIG_FILE="$nd/advanced.config"
  export RABBITMQ_ENABLED_PLUGINS_FILE="$nd/enabled_plugins"
  export RABBITMQ_PID_FILE="$nd/rabbit.pid"
  export RABBITMQ_CONF_ENV_FILE="$DIR/empty-env.conf"
  export RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1} +sbwt none +sbwtdcpu none +sbwtdio none"
}

ctl() { local i=$1; shift; ( node_env "$i"; "$BIN/rabbitmqctl" -n "$(node_name "$i")" "$@" ); }

write_node_files() {
  local i=$1 nd="$DIR/node$1"
  mkdir -p "$nd/mnesia" "$nd/log"
  cat > "$nd/rabbitmq.conf" <<CONF
listeners.tcp.1 = 127.0.0.1:$(amqp_port "$i")
management.tcp.port = $(mgmt_port "$i")
management.tcp.ip = 127.0.0.1
loopback_users = none
default_user = guest
default_pass = guest
vm_memory_high_watermark.relative = 0.2
collect_statistics_interval = 1000
CONF
  cat > "$nd/advanced.config" <<'CONF'
[
 {rabbit, [{quorum_tick_interval, 1000}]},
 {rabbitmq_management_agent, [{sample_retention_policies,
    [{global, [{605, 1}]}, {basic, [{605, 1}]}, {detailed, [{10, 1}]}]}]}
].
CONF
  echo '[rabbitmq_management,rabbitmq_shovel,rabbitmq_shovel_management].' > "$nd/enabled_plugins"
}

wait_http_nodes() {
  local want=$1 deadline=$((SECONDS + 90)) port; port=$(mgmt_port 1)
  while [ $SECONDS -lt $deadline ]; do
    local n
    n=$(curl -s -u guest:guest "http://127.0.0.1:$port/api/nodes" 2>/dev/null \
      | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{try{const a=JSON.parse(s);console.log(a.filter(x=>x.running&&x.mem_used!=null&&x.disk_free!=null).length)}catch{console.log(0)}})')
    [ "$n" = "$want" ] && return 0
    sleep 0.5
  done
  log "timed out waiting for $want running nodes on the management API"; return 1
}

start_node() {
  local i=$1 nd="$DIR/node$1"
  ( node_env "$i"; setsid "$BIN/rabbitmq-server" >"$nd/log/stdout.log" 2>&1 < /dev/null & echo $! > "$nd/launcher.pid" )
}

wait_node() {
  local i=$1 nd="$DIR/node$1" pid
  for _ in $(seq 1 100); do [ -s "$nd/rabbit.pid" ] && break; sleep 0.2; done
  pid=$(cat "$nd/rabbit.pid" 2>/dev/null || cat "$nd/launcher.pid")
  ctl "$i" wait --pid "$pid" --timeout 90 >/dev/null
}

is_up() { curl -s -o /dev/null -w '%{http_code}' -u guest:guest "http://127.0.0.1:$(mgmt_port 1)/api/overview" 2>/dev/null | grep -q 200; }

up() {
  ensure_installed
  if is_up; then log "already running (management on $(mgmt_port 1))"; save_meta; return 0; fi
  local fresh=1
  [ -f "$DIR/meta" ] && [ -d "$DIR/node1/mnesia" ] && fresh=0
  if [ $fresh -eq 1 ]; then rm -rf "$DIR"; fi
  mkdir -p "$DIR/home"
  : > "$DIR/empty-env.conf"
  if [ ! -f "$HOME/.erlang.cookie" ]; then
    head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' | tr a-f A-F > "$HOME/.erlang.cookie"
    chmod 400 "$HOME/.erlang.cookie"
  fi
  for i in $(seq 1 "$NODES"); do write_node_files "$i"; done
  save_meta
  if [ $fresh -eq 1 ]; then
    for i in $(seq 1 "$NODES"); do start_node "$i"; done
    for i in $(seq 1 "$NODES"); do wait_node "$i"; done
    for i in $(seq 2 "$NODES"); do
      ctl "$i" stop_app >/dev/null 2>&1
      ctl "$i" join_cluster "$(node_name 1)" >/dev/null 2>&1
      ctl "$i" start_app >/dev/null 2>&1
    done
  else
    # Existing data: node 1 first (it was stopped last), then the others.
    start_node 1
    for i in $(seq 2 "$NODES"); do start_node "$i"; done
    for i in $(seq 1 "$NODES"); do wait_node "$i"; done
  fi
  wait_http_nodes "$NODES"
  log "up: $NODES node(s), management http://127.0.0.1:$(mgmt_port 1)/ (guest/guest)"
}

save_meta() { mkdir -p "$DIR"; printf 'NODES=%s\nOFFSET=%s\n' "$NODES" "$OFFSET" > "$DIR/meta"; }
load_meta() { if [ -f "$DIR/meta" ]; then . "$DIR/meta"; fi; }

down() {
  load_meta
  [ -d "$DIR" ] || { log "nothing to stop"; return 0; }
  # Stop the others first and node 1 last, so a later restart can boot node 1 first.
  for i in $(seq "$NODES" -1 1); do
    local nd="$DIR/node$i"
    [ -d "$nd" ] || continue
    ctl "$i" stop >/dev/null 2>&1 || true
    for f in rabbit.pid launcher.pid; do
      if [ -s "$nd/$f" ]; then kill -9 "$(cat "$nd/$f")" 2>/dev/null || true; fi
    done
  done
  rm -rf "$DIR"
  log "stopped and removed"
}

status() {
  load_meta
  if is_up; then echo "up"; else echo "down"; return 1; fi
}

print_env() {
  load_meta
  local urls="" amqps=""
  for i in $(seq 1 "$NODES"); do
    urls="$urls${urls:+,}http://127.0.0.1:$(mgmt_port "$i")"
    amqps="$amqps${amqps:+,}amqp://guest:guest@127.0.0.1:$(amqp_port "$i")"
  done
  echo "export QMIG_CLUSTER_NAME=$NAME"
  echo "export QMIG_CLUSTER_NODES=$NODES"
  echo "export QMIG_CLUSTER_HOME=$HOME"
  echo "export QMIG_CLUSTER_MGMT_URLS=$urls"
  echo "export QMIG_CLUSTER_AMQP_URLS=$amqps"
}

case "$cmd" in
  up) up ;;
  down) down ;;
  status) status ;;
  env) print_env ;;
  ctl) load_meta; ctl "$NODE_INDEX" "$@" ;;
  *) sed -n '2,14p' "$0"; exit 2 ;;
esac
