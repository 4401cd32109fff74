#!/usr/bin/env bash
# Installs what qmig needs on a fresh Debian machine and is a no-op when everything is there:
# Debian's rabbitmq-server (for the local cluster), curl (used by scripts/cluster.sh), chromium
# (UI end-to-end test; QMIG_NO_BROWSER=1 skips installing it, e.g. for `npm start`) and the
# node modules.
set -euo pipefail
cd "$(dirname "$0")/.."
missing=()
[ -x /usr/lib/rabbitmq/bin/rabbitmq-server ] || missing+=(rabbitmq-server)
command -v curl >/dev/null || missing+=(curl)
command -v flock >/dev/null || missing+=(util-linux)
# openssl makes the test clusters' TLS certificates (scripts/cluster.sh).
command -v openssl >/dev/null || missing+=(openssl)
# Debian's chromium drives the management-UI end-to-end test (playwright-core, no browser download).
[ -x /usr/bin/chromium ] || [ "${QMIG_NO_BROWSER:-0}" = 1 ] || missing+=(chromium)
if [ ${#missing[@]} -gt 0 ]; then
  echo "[install] apt-get install ${missing[*]}" >&2
  if [ "$(id -u)" -ne 0 ]; then echo "install-deps: installing ${missing[*]} needs root (or sudo)" >&2; exit 1; fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}" >/dev/null
fi
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "[install] node modules (npm ci)" >&2
  npm ci --no-audit --no-fund --loglevel=error
fi
# The lint and format tools live apart (scripts/lint/package.json says why); only tests need them.
if [ "${QMIG_NO_LINT:-0}" != 1 ] && { [ ! -d scripts/lint/node_modules ] || [ scripts/lint/package-lock.json -nt scripts/lint/node_modules/.package-lock.json ]; }; then
  echo "[install] lint tools (npm ci in scripts/lint)" >&2
  npm ci --prefix scripts/lint --no-audit --no-fund --loglevel=error
fi
