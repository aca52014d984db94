#!/usr/bin/env bash
# The server under 64 concurrent loopback clients for a minute (SOAK_SECONDS): the load test of tests/serve run long.
# Every request must get a complete answer or a clear error (429 with an OpenAI error body), and the audit log (rotated
# by size into many files) must hold exactly the tool calls the answers report, each trajectory by name.
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds="${SOAK_SECONDS:-60}"
make -j2 build/tests/test_serve >/dev/null
RETOOL_SERVE_SOAK_S="$seconds" ./build/tests/test_serve --filter 'load/*' --verbose 2>&1 | grep -E 'clients|PASS|FAIL|Synthesis'
