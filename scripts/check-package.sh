#!/usr/bin/env bash
# The package as a user gets it: `npm pack`, installed elsewhere with
# `npm install --omit=dev` (no TypeScript, no Vite), serves everything from
# its bin, the panel at / included. Used by .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'kill "${pid:-}" 2>/dev/null || true; rm -rf "$work"' EXIT

tarball=$(npm pack --silent --pack-destination "$work" | tail -n 1)
cd "$work"
npm init -y >/dev/null
# Build better-sqlite3 from source here too: nothing downloads a binary.
echo "buildFromSource=true" > .prebuild-installrc
npm install --omit=dev --no-audit --no-fund "./$tarball"
[ ! -e node_modules/typescript ] && [ ! -e node_modules/vite ] || { echo "dev tools were installed" >&2; exit 1; }

port=$((20000 + RANDOM % 20000))
PORT=$port DATA_DIR="$work/data" ./node_modules/.bin/codex-settings-server > server.log 2>&1 &
pid=$!
for _ in $(seq 1 100); do
  curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
  kill -0 "$pid" 2>/dev/null || { cat server.log >&2; exit 1; }
  sleep 0.1
done
curl -fsS "http://127.0.0.1:$port/" | grep -q "<!doctype html>"
curl -fsS "http://127.0.0.1:$port/api/openapi.json" | grep -q '"openapi":"3.1.0"'
curl -fsS -X POST "http://127.0.0.1:$port/api/sessions" -H 'content-type: application/json' -d '{"sessionId":"packed"}' | grep -q '"sessionId":"packed"'
./node_modules/.bin/cm --base-url "http://127.0.0.1:$port" sessions settings get --session-id packed >/dev/null
kill -TERM "$pid"
wait "$pid"
grep -q '"msg":"stopped"' server.log
echo "the packed package installs without dev tools and serves from its bin"
