#!/usr/bin/env bash
# Rebuilds build/*.json from src/*.sol using the pinned solc-js version.
set -euo pipefail
cd "$(dirname "$0")"
npm ci --no-audit --no-fund
node compile.js
node check.js
