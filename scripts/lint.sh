#!/usr/bin/env bash
# ESLint (typescript-eslint, import cycles, the layer boundaries of ARCHITECTURE.md) and Prettier
# over src, test, bench and scripts/lint. Run by `npm test` (unless QMIG_FAST=1) and `npm run lint`;
# `npm run format` rewrites what Prettier would change.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -d scripts/lint/node_modules ] || npm ci --prefix scripts/lint --no-audit --no-fund --loglevel=error
bin=scripts/lint/node_modules/.bin
if [ "${1:-}" = --fix ]; then
  "$bin/prettier" --log-level warn --write .
  "$bin/eslint" -c scripts/lint/eslint.config.js --fix src test bench
  exit 0
fi
"$bin/prettier" --log-level warn --check .
"$bin/eslint" -c scripts/lint/eslint.config.js --max-warnings 0 src test bench
echo "[lint] clean"
