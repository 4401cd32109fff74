#!/usr/bin/env bash
# Starts and stops local RabbitMQ clusters on loopback, without the system service.
#
#   scripts/cluster.sh up     [--name NAME] [--nodes N] [--offset K] [--fresh] [--default-intervals] [--no-tls]
#                             [--net-ticktime S]
#   scripts/cluster.sh stop   [--name NAME]      # stops every node, keeps the data (`up` restarts it)
#   scripts/cluster.sh down   [--name NAME]      # stops every node and deletes the cluster
#   scripts/cluster.sh status [--name NAME]
#   scripts/cluster.sh env    [--name NAME]      # prints export lines for the cluster's URLs
#   scripts/cluster.sh ctl    [--name NAME] [--node I] -- ARGS...   # rabbitmqctl against node I
#
# Node i (1-based) of a cluster with port offset K listens on AMQP 5672+K+i-1, management
# 15672+K+i-1 and distribution 25672+K+i-1, all on 127.0.0.1. Defaults: NAME=main, N=3, K=0.
# Next to them, the broker's own TLS listeners: AMQPS on 35672+K+i-1 and management HTTPS on
# 45672+K+i-1 (the plain ports + 30000: for offsets below 10000 they meet no plain port of any
# cluster). Both require a client certificate (verify_peer, fail_if_no_peer_cert). Certificates
# live in NAME/tls: ca.pem, server.pem/server.key (SAN localhost and 127.0.0.1), client.pem/
# client.key; every cluster's are signed by one test CA shared by all clusters of this machine
# (${QMIG_CLUSTER_DIR}/.tls-ca), so one cluster's client certificate is accepted by another
# (a transfer's shovel presents it to the target).
# --no-tls creates the cluster with the plain listeners only, like the queue-migration plugin's own
# test cluster: clients that take every `amqp*` listener of GET /api/overview as a plain AMQP port
# (the plugin's Java integration scenarios) would otherwise connect without TLS to the AMQPS port.
# A cluster keeps the choice it was created with (restarts included) until `down`. The TLS ports
# lie in Linux's ephemeral port range (32768-60999): a node booted again while clients keep
# connecting can find one taken by an outgoing connection (could_not_start_listener): clusters
# that tests stop and start again are created with --no-tls.
# A second, independent cluster (e.g. a transfer target) needs another NAME and OFFSET, for
# example `--name target --nodes 1 --offset 100`.
# `up` restarts a stopped cluster on its existing data; with --fresh a cluster none of whose node
# VMs runs is wiped and created anew (tests: state left by a killed run is never reused).
# Statistics and quorum ticks run every second (counts in the management API lag 1-2 s, which
# tests want); --default-intervals keeps RabbitMQ's defaults (5 s), as production clusters run,
# where the broker's idle work per queue is 5 times smaller (benchmarks).
# --net-ticktime S sets the Erlang kernel's net_ticktime of the nodes (and of rabbitmqctl calls)
# to S seconds instead of 60: a node that stops answering (SIGSTOP of its VM, a frozen host) is
# declared down by its peers after S to 1.25 S seconds, which tests of node loss and partitions
# want. Kept in the cluster's meta like the other choices (restarts included) until `down`.
# `stop` stops all node VMs at once (rabbitmqctl stop in parallel, each bounded by
# QMIG_STOP_TIMEOUT seconds, default 90, after which its VM is killed) and keeps their data and
# meta: `up` (without --fresh) boots the cluster again on that data, as after a whole-cluster
# outage. `down` stops the nodes and deletes everything.
# State lives in ${QMIG_CLUSTER_DIR:-/tmp/qmig-clusters}/NAME. The default user is guest/guest.
set -euo pipefail

BIN=/usr/lib/rabbitmq/bin
BASE_DIR=${QMIG_CLUSTER_DIR:-/tmp/qmig-clusters}
NAME=main
NODES=3
OFFSET=0
NODE_INDEX=1
FRESH=0
INTERVALS=fast
INTERVALS_SET=0
TLS=1
NET_TICKTIME=
NET_TICKTIME_SET=0
NODES_SET=0
OFFSET_SET=0
cmd=${1:-}
shift || true
ARGS=("$@")
while [ $# -gt 0 ]; do
  case "$1" in
    --name) NAME=$2; shift 2 ;;
    --nodes) NODES=$2; NODES_SET=1; shift 2 ;;
    --offset) OFFSET=$2; OFFSET_SET=1; shift 2 ;;
    --node) NODE_INDEX=$2; shift 2 ;;
    --fresh) FRESH=1; shift ;;
    --default-intervals) INTERVALS=default; INTERVALS_SET=1; shift ;;
    --no-tls) TLS=0; shift ;;
    --net-ticktime)
      [[ "${2:-}" =~ ^[1-9][0-9]*$ ]] || { echo "cluster.sh: --net-ticktime needs a whole number of seconds" >&2; exit 2; }
      NET_TICKTIME=$2; NET_TICKTIME_SET=1; shift 2 ;;
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
TLS_PORT_SHIFT=30000
amqps_port() { echo $(($(amqp_port "$1") + TLS_PORT_SHIFT)); }
mgmt_tls_port() { echo $(($(mgmt_port "$1") + TLS_PORT_SHIFT)); }

# The machine's test CA (made once, under a lock: clusters start in parallel) and this cluster's
# server and client certificates signed by it (made when missing; EC keys: fast to generate).
ensure_tls() {
  local ca_dir="$BASE_DIR/.tls-ca" tls="$DIR/tls"
  mkdir -p "$ca_dir" "$tls"
  (
    flock 9
    if [ ! -s "$ca_dir/ca.pem" ] || [ ! -s "$ca_dir/ca.key" ]; then
      openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 3650 \
        -subj '/CN=qmig test CA' -keyout "$ca_dir/ca.key.tmp" -out "$ca_dir/ca.pem.tmp" 2>/dev/null
      mv "$ca_dir/ca.key.tmp" "$ca_dir/ca.key"; mv "$ca_dir/ca.pem.tmp" "$ca_dir/ca.pem"
    fi
  ) 9>"$BASE_DIR/.tls-ca.lock"
  if [ -s "$tls/server.pem" ] && [ -s "$tls/client.pem" ] && cmp -s "$ca_dir/ca.pem" "$tls/ca.pem"; then return 0; fi
  cp "$ca_dir/ca.pem" "$tls/ca.pem"
  local who usage
  for who in server client; do
    usage=clientAuth; [ "$who" = server ] && usage=serverAuth,clientAuth
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=$NAME-$who" \
      -keyout "$tls/$who.key" -out "$tls/$who.csr" 2>/dev/null
    printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=%s\n' "$usage" > "$tls/$who.ext"
    openssl x509 -req -in "$tls/$who.csr" -CA "$ca_dir/ca.pem" -CAkey "$ca_dir/ca.key" -CAcreateserial \
      -CAserial "$tls/ca.srl" -days 825 -extfile "$tls/$who.ext" -out "$tls/$who.pem" 2>/dev/null
    rm -f "$tls/$who.csr" "$tls/$who.ext"
  done
}

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
  # A VM that fails to boot writes its crash dump beside its logs, not into the caller's directory.
  export ERL_CRASH_DUMP="$nd/log/erl_crash.dump"
  export RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1} +sbwt none +sbwtdcpu none +sbwtdio none"
  # The CLI's own VM ticks like the nodes: with the default 60 s it would be dropped by a node
  # whose ticktime is shorter during a long call.
  if [ -n "$NET_TICKTIME" ]; then
    RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="$RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS -kernel net_ticktime $NET_TICKTIME"
    export RABBITMQ_CTL_ERL_ARGS="-kernel net_ticktime $NET_TICKTIME"
  fi
}

# CTL_TIMEOUT (seconds, default 0 = none) bounds one rabbitmqctl call.
ctl() { local i=$1; shift; ( node_env "$i"; exec timeout "${CTL_TIMEOUT:-0}" "$BIN/rabbitmqctl" -n "$(node_name "$i")" "$@" ); }

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
CONF
  if [ "$TLS" = 1 ]; then cat >> "$nd/rabbitmq.conf" <<CONF
listeners.ssl.1 = 127.0.0.1:$(amqps_port "$i")
ssl_options.cacertfile = $DIR/tls/ca.pem
ssl_options.certfile = $DIR/tls/server.pem
ssl_options.keyfile = $DIR/tls/server.key
ssl_options.verify = verify_peer
ssl_options.fail_if_no_peer_cert = true
management.ssl.port = $(mgmt_tls_port "$i")
management.ssl.ip = 127.0.0.1
management.ssl.cacertfile = $DIR/tls/ca.pem
management.ssl.certfile = $DIR/tls/server.pem
management.ssl.keyfile = $DIR/tls/server.key
management.ssl.verify = verify_peer
management.ssl.fail_if_no_peer_cert = true
CONF
  fi
  if [ "$INTERVALS" = fast ]; then
    echo 'collect_statistics_interval = 1000' >> "$nd/rabbitmq.conf"
    cat > "$nd/advanced.config" <<'CONF'
[
 {rabbit, [{quorum_tick_interval, 1000}]},
 {rabbitmq_management_agent, [{sample_retention_policies,
    [{global, [{605, 1}]}, {basic, [{605, 1}]}, {detailed, [{10, 1}]}]}]}
].
CONF
  else
    echo '[].' > "$nd/advanced.config"
  fi
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
  # A pid file left by a VM that was killed would make wait_node watch a dead process.
  rm -f "$nd/rabbit.pid" "$nd/launcher.pid"
  [ -f "$nd/log/$(node_name "$i").log" ] && mv "$nd/log/$(node_name "$i").log" "$nd/log/$(node_name "$i").log.previous"
  ( node_env "$i"; setsid "$BIN/rabbitmq-server" >"$nd/log/stdout.log" 2>&1 < /dev/null & echo $! > "$nd/launcher.pid" )
}

wait_node() {
  local i=$1 nd="$DIR/node$1" pid
  for _ in $(seq 1 100); do [ -s "$nd/rabbit.pid" ] && break; sleep 0.2; done
  pid=$(cat "$nd/rabbit.pid" 2>/dev/null || cat "$nd/launcher.pid")
  if ! ctl "$i" wait --pid "$pid" --timeout 90 >/dev/null; then
    log "node $i ($(node_name "$i")) did not start; the end of its logs:"
    tail -n 20 "$nd/log/stdout.log" >&2 2>/dev/null || true
    tail -n 40 "$nd/log/$(node_name "$i").log" >&2 2>/dev/null || true
    return 1
  fi
}

# Nodes with existing data must not sync feature flags with each other while booting (3.10 fails
# with incompatible_feature_flags {badmap,undefined}): start them one by one, each after the one
# before has got past that step (it then waits for its peers' Mnesia tables, which is fine).
start_node_after_feature_flags() {
  local i=$1 nd="$DIR/node$1" deadline=$((SECONDS + 60))
  start_node "$i"
  while [ $SECONDS -lt $deadline ]; do
    grep -qE 'Running boot step database|Server startup complete' "$nd/log/$(node_name "$i").log" 2>/dev/null && return 0
    if [ -s "$nd/rabbit.pid" ] && ! kill -0 "$(cat "$nd/rabbit.pid")" 2>/dev/null; then return 0; fi  # wait_node reports it
    sleep 0.2
  done
}

is_up() { curl -s -o /dev/null -w '%{http_code}' -u guest:guest "http://127.0.0.1:$(mgmt_port 1)/api/overview" 2>/dev/null | grep -q 200; }

# Is node i's Erlang VM running (whatever its management API says right now)?
node_alive() { local f="$DIR/node$1/rabbit.pid"; [ -s "$f" ] && kill -0 "$(cat "$f")" 2>/dev/null; }
alive_count() { local n=0 i; for i in $(seq 1 "$NODES"); do node_alive "$i" && n=$((n + 1)); done; echo "$n"; }

# A cluster started by an older version of this script has no TLS listeners until it is recreated.
warn_no_tls() { [ -s "$DIR/tls/server.pem" ] || [ "$(sed -n 's/^TLS=//p' "$DIR/meta" 2>/dev/null)" = 0 ] || log "this cluster has no TLS listeners (started before they existed): 'down' then 'up' recreates it with them"; }

up() {
  ensure_installed
  # A running or restarted cluster keeps the intervals it was created with, unless told otherwise.
  if [ "$INTERVALS_SET" = 0 ] && [ "$FRESH" = 0 ] && [ -f "$DIR/meta" ]; then
    INTERVALS=$(sed -n 's/^INTERVALS=//p' "$DIR/meta"); INTERVALS=${INTERVALS:-fast}
  fi
  # Likewise the listeners (a restart rewrites the node files): --no-tls only takes on a new cluster.
  if [ "$FRESH" = 0 ] && [ -f "$DIR/meta" ]; then
    # A restart after `stop` needs no more than the name: nodes and offset come from the meta.
    [ "$NODES_SET" = 1 ] || NODES=$(sed -n 's/^NODES=//p' "$DIR/meta")
    [ "$OFFSET_SET" = 1 ] || OFFSET=$(sed -n 's/^OFFSET=//p' "$DIR/meta")
    local tls; tls=$(sed -n 's/^TLS=//p' "$DIR/meta"); TLS=${tls:-1}
    # And the net_ticktime, unless given again.
    [ "$NET_TICKTIME_SET" = 1 ] || NET_TICKTIME=$(sed -n 's/^NET_TICKTIME=//p' "$DIR/meta")
  fi
  # Node VMs of this cluster still run (all, or some while others are stopped or restarting):
  # never boot a second VM for a running node; start only the stopped ones and wait for all.
  if [ -d "$DIR/node1/mnesia" ] && [ "$(alive_count)" -gt 0 ]; then
    if [ "$(alive_count)" -eq "$NODES" ] && is_up; then log "already running (management on $(mgmt_port 1))"; warn_no_tls; save_meta; return 0; fi
    log "$(alive_count) of $NODES node(s) running; starting the others"
    for i in $(seq 1 "$NODES"); do node_alive "$i" || start_node_after_feature_flags "$i"; done
    for i in $(seq 1 "$NODES"); do wait_node "$i"; done
    wait_http_nodes "$NODES"
    log "up: $NODES node(s), management http://127.0.0.1:$(mgmt_port 1)/ (guest/guest)"
    return 0
  fi
  if is_up; then log "already running (management on $(mgmt_port 1))"; warn_no_tls; save_meta; return 0; fi
  local fresh=1
  [ "$FRESH" = 0 ] && [ -f "$DIR/meta" ] && [ -d "$DIR/node1/mnesia" ] && fresh=0
  if [ $fresh -eq 1 ]; then rm -rf "$DIR"; fi
  mkdir -p "$DIR/home"
  : > "$DIR/empty-env.conf"
  if [ ! -f "$HOME/.erlang.cookie" ]; then
    head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' | tr a-f A-F > "$HOME/.erlang.cookie"
    chmod 400 "$HOME/.erlang.cookie"
  fi
  ensure_tls
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
    # Existing data: node 1 first (`down` stops it last), then the others one by one.
    for i in $(seq 1 "$NODES"); do start_node_after_feature_flags "$i"; done
    for i in $(seq 1 "$NODES"); do wait_node "$i"; done
  fi
  wait_http_nodes "$NODES"
  log "up: $NODES node(s), management http://127.0.0.1:$(mgmt_port 1)/ (guest/guest)"
}

save_meta() { mkdir -p "$DIR"; printf 'NODES=%s\nOFFSET=%s\nINTERVALS=%s\nTLS=%s\nNET_TICKTIME=%s\n' "$NODES" "$OFFSET" "$INTERVALS" "$TLS" "$NET_TICKTIME" > "$DIR/meta"; }
load_meta() { if [ -f "$DIR/meta" ]; then . "$DIR/meta"; fi; }

down() {
  load_meta
  [ -d "$DIR" ] || { log "nothing to stop"; return 0; }
  # Stop the others first and node 1 last, so a later restart can boot node 1 first.
  for i in $(seq "$NODES" -1 1); do
    local nd="$DIR/node$i"
    [ -d "$nd" ] || continue
    # Bounded: a node with thousands of mirrored queues can take many minutes to stop cleanly;
    # the cluster is thrown away anyway, so after a minute its processes are killed below.
    CTL_TIMEOUT=60 ctl "$i" stop >/dev/null 2>&1 || true
    for f in rabbit.pid launcher.pid; do
      if [ -s "$nd/$f" ]; then kill -9 "$(cat "$nd/$f")" 2>/dev/null || true; fi
    done
  done
  rm -rf "$DIR"
  log "stopped and removed"
}

# Every node VM stopped at once, data and meta kept. In parallel: one by one, each stop moves
# the mirrored queues' masters and the quorum leaders to the nodes still running, and the last
# ones (quorum queues without a majority) took over 2 minutes to stop. Each stop is bounded; a VM
# still running after it is killed (a crash, as far as its data is concerned).
stop_all() {
  load_meta
  [ -f "$DIR/meta" ] && [ -d "$DIR/node1/mnesia" ] || { log "nothing to stop"; return 0; }
  local bound=${QMIG_STOP_TIMEOUT:-90} i
  for i in $(seq 1 "$NODES"); do
    node_alive "$i" || continue
    ( CTL_TIMEOUT=$bound ctl "$i" stop >/dev/null 2>&1 || true
      if node_alive "$i"; then
        log "node $i did not stop within ${bound} s: killing its VM"
        kill -9 "$(cat "$DIR/node$i/rabbit.pid" 2>/dev/null)" 2>/dev/null || true
      fi ) &
  done
  wait
  for i in $(seq 1 "$NODES"); do
    while node_alive "$i"; do sleep 0.2; done
    rm -f "$DIR/node$i/rabbit.pid" "$DIR/node$i/launcher.pid"
  done
  log "stopped (data kept: \`up --name $NAME\` starts it again)"
}

# "up": node 1 answers; "degraded": not all answering but node VMs run (counts as existing, exit 0,
# so that callers do not start or tear down a cluster that is only restarting a node); "down".
status() {
  # No state directory: this script did not start it (without this, a cluster that is gone would
  # be probed on the default offset and could answer for another one).
  [ -f "$DIR/meta" ] || { echo "down"; return 1; }
  load_meta
  if is_up; then echo "up"; return 0; fi
  local alive; alive=$(alive_count)
  if [ "$alive" -gt 0 ]; then echo "degraded ($alive of $NODES node VMs running; management on $(mgmt_port 1) not answering)"; return 0; fi
  echo "down"; return 1
}

print_env() {
  load_meta
  local urls="" amqps="" tls_urls="" tls_amqps=""
  for i in $(seq 1 "$NODES"); do
    urls="$urls${urls:+,}http://127.0.0.1:$(mgmt_port "$i")"
    amqps="$amqps${amqps:+,}amqp://guest:guest@127.0.0.1:$(amqp_port "$i")"
    tls_urls="$tls_urls${tls_urls:+,}https://localhost:$(mgmt_tls_port "$i")"
    tls_amqps="$tls_amqps${tls_amqps:+,}amqps://guest:guest@localhost:$(amqps_port "$i")"
  done
  echo "export QMIG_CLUSTER_NAME=$NAME"
  echo "export QMIG_CLUSTER_NODES=$NODES"
  echo "export QMIG_CLUSTER_HOME=$HOME"
  echo "export QMIG_CLUSTER_MGMT_URLS=$urls"
  echo "export QMIG_CLUSTER_AMQP_URLS=$amqps"
  echo "export QMIG_CLUSTER_MGMT_TLS_URLS=$tls_urls"
  echo "export QMIG_CLUSTER_AMQPS_URLS=$tls_amqps"
  echo "export QMIG_CLUSTER_TLS_DIR=$DIR/tls"
}

# up and down of one cluster never overlap (two `npm test` runs, a test run and `npm start`):
# the second waits, then finds the cluster up (or gone) instead of booting a second set of VMs.
# flock -o holds the lock in flock itself, so the node VMs and epmd started inside do not inherit it.
with_lock() {
  mkdir -p "$BASE_DIR"
  local lock="$BASE_DIR/.$NAME.lock"
  if ! flock -n -o "$lock" true; then log "waiting for another up/down of this cluster to finish"; fi
  exec flock -o "$lock" bash "$0" "locked-$cmd" "${ARGS[@]}"
}

case "$cmd" in
  up) with_lock ;;
  down) with_lock ;;
  stop) with_lock ;;
  locked-up) up ;;
  locked-down) down ;;
  locked-stop) stop_all ;;
  status) status ;;
  env) print_env ;;
  ctl) load_meta; ctl "$NODE_INDEX" "$@" ;;
  *) sed -n '2,/^set -/p' "$0" | grep '^#'; exit 2 ;;
esac
