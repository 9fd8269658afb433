#!/usr/bin/env bash
# Aula's whole test suite: Rust unit and integration tests, then the browser tests in headless
# Chromium. On a fresh Debian machine it first installs what it needs (Chromium and Node.js
# from Debian, playwright-core from npm). Exits non-zero if anything fails.
set -euo pipefail
cd "$(dirname "$0")"

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

missing=()
command -v chromium >/dev/null || missing+=(chromium)
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || missing+=(npm)
if [ ${#missing[@]} -gt 0 ]; then
  echo "== installing ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
if [ ! -d web-client/tests/node_modules/playwright-core ]; then
  echo "== installing playwright-core (no browser download: Debian's Chromium is used)"
  (cd web-client/tests && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error)
fi

echo "== cargo test"
cargo test --workspace --all-targets

echo "== browser tests"
cargo build --bin aula
AULA_BIN="$PWD/target/debug/aula" node --test --test-concurrency=1 web-client/tests/
