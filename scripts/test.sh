#!/usr/bin/env bash
# The whole test suite: unit tests and integration tests against a real 3-node RabbitMQ cluster.
# Brings the test cluster up (ports 6672-6674 / 16672-16674, name "test") unless it is already
# running, and stops it afterwards only if it started it, also when tests fail.
#   npm test                      everything
#   npm test -- test/unit         only some files or folders
set -euo pipefail
cd "$(dirname "$0")/.."
# QMIG_FAST=1 skips install, typecheck and build (for a quick re-run of a few files while developing).
if [ "${QMIG_FAST:-0}" != 1 ]; then
  bash scripts/install-deps.sh
  npm run -s typecheck
  # ESLint (layer boundaries, import cycles) and Prettier: a violation fails the suite.
  bash scripts/lint.sh
  npm run -s build
fi

# The source cluster (3 nodes) and an independent 1-node target cluster for transfer tests.
# QMIG_TEST_CLUSTER (name, default "test") and QMIG_TEST_OFFSET (port offset, default 1000) give
# a second checkout on the same machine clusters of its own; the target cluster is named
# "<name>-target" at offset +100.
TEST_CLUSTER=${QMIG_TEST_CLUSTER:-test}
TEST_OFFSET=${QMIG_TEST_OFFSET:-1000}
[[ "$TEST_OFFSET" =~ ^[0-9]+$ ]] || { echo "test.sh: QMIG_TEST_OFFSET must be a whole number" >&2; exit 2; }
TARGET_OFFSET=$((TEST_OFFSET + 100))
CLUSTER_ARGS=(--name "$TEST_CLUSTER" --nodes 3 --offset "$TEST_OFFSET")
TARGET_ARGS=(--name "$TEST_CLUSTER-target" --nodes 1 --offset "$TARGET_OFFSET")
started_source=0
started_target=0
cleanup() {
  # QMIG_KEEP_CLUSTER=1 leaves clusters up even when this run started them (shared dev machines).
  [ "${QMIG_KEEP_CLUSTER:-0}" = 1 ] && return 0
  if [ "$started_target" = 1 ]; then bash scripts/cluster.sh down "${TARGET_ARGS[@]}" || true; fi
  if [ "$started_source" = 1 ]; then bash scripts/cluster.sh down "${CLUSTER_ARGS[@]}" || true; fi
}
trap cleanup EXIT INT TERM
# A node that fails to boot once (seen on a loaded 2-core machine: the target's management
# listener did not come up while the other cluster booted beside it) is given one more try.
up_cluster() {
  bash scripts/cluster.sh up "$@" --fresh && return 0
  echo "test.sh: cluster $2 did not start; removing it and starting it once more" >&2
  bash scripts/cluster.sh down "$@" >/dev/null 2>&1 || true
  bash scripts/cluster.sh up "$@" --fresh
}
if ! bash scripts/cluster.sh status "${CLUSTER_ARGS[@]}" >/dev/null 2>&1; then
  started_source=1
  up_cluster "${CLUSTER_ARGS[@]}" &
fi
if ! bash scripts/cluster.sh status "${TARGET_ARGS[@]}" >/dev/null 2>&1; then
  started_target=1
  up_cluster "${TARGET_ARGS[@]}" &
fi
wait_all_ok=0
for job in $(jobs -p); do wait "$job" || wait_all_ok=1; done
[ "$wait_all_ok" = 0 ] || { echo "test.sh: a cluster failed to start" >&2; exit 1; }
eval "$(bash scripts/cluster.sh env "${CLUSTER_ARGS[@]}")"
export QMIG_TARGET_MGMT_URL=http://127.0.0.1:$((15672 + TARGET_OFFSET))
export QMIG_TARGET_AMQP_URL=amqp://127.0.0.1:$((5672 + TARGET_OFFSET))
export QMIG_TARGET_NODE=$TEST_CLUSTER-target1@localhost
# The target's own TLS listeners (scripts/cluster.sh: plain ports + 30000, client certificate required).
export QMIG_TARGET_MGMT_TLS_URL=https://localhost:$((45672 + TARGET_OFFSET))
export QMIG_TARGET_AMQPS_URL=amqps://localhost:$((35672 + TARGET_OFFSET))
export QMIG_LOG_LEVEL=${QMIG_LOG_LEVEL:-error}
# The key that seals qmig's broker-held state: test sidecars and the tests that write records
# directly must share it (test/support/state-secret.ts reads it).
export QMIG_STATE_SECRET=${QMIG_STATE_SECRET:-qmig-test-state-secret-$(printf '%s' "$TEST_CLUSTER" | sha256sum | cut -c1-32)}

targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(src test)
mapfile -t files < <(find "${targets[@]}" -name '*.test.ts' -not -path '*/node_modules/*' | sort)
mkdir -p test-output
# Each test file must finish within 10 minutes (QMIG_TEST_FILE_TIMEOUT_MS for a slow machine while developing).
run() { node --import tsx --test --test-concurrency=1 --test-timeout="${QMIG_TEST_FILE_TIMEOUT_MS:-600000}" "$@"; }
set +e
run "${files[@]}" | tee test-output/run.tap
rc=${PIPESTATUS[0]}
set -e
# Files whose tests failed are run once more and that second run decides (QMIG_NO_RETRY=1: no
# second chance). Every first failure stays in the output above and in test-output/run.tap: a
# file that needed the retry is a flake to investigate, not a pass to forget.
if [ "$rc" -ne 0 ] && [ "${QMIG_NO_RETRY:-0}" != 1 ]; then
  mapfile -t failed < <(grep -A6 '^not ok' test-output/run.tap | grep -oE "location: '[^:']+" | sed "s/location: '//" | sort -u)
  if [ ${#failed[@]} -gt 0 ]; then
    echo "== FLAKY? re-running ${#failed[@]} file(s) that failed: ${failed[*]}" >&2
    run "${failed[@]}"
    rc=$?
  fi
fi
exit "$rc"
