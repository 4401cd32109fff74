#!/usr/bin/env bash
# Installs what qmig needs on a fresh Debian machine and is a no-op when everything is there:
# Debian's rabbitmq-server (for the local cluster) and the node modules.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x /usr/lib/rabbitmq/bin/rabbitmq-server ]; then
  echo "[install] rabbitmq-server (apt-get)" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq rabbitmq-server >/dev/null
fi
if ! command -v curl >/dev/null; then
  apt-get install -y -qq curl >/dev/null
fi
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "[install] node modules (npm ci)" >&2
  npm ci --no-audit --no-fund --loglevel=error
fi
