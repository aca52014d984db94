#!/usr/bin/env bash
# 100,000 mixed sandbox executions (normal, failing, hostile): no unexpected result, no leak, no latency drift.
set -eu
make --no-print-directory build/bench/sandbox_soak >/dev/null
exec build/bench/sandbox_soak --n "${SANDBOX_SOAK_N:-100000}" --workers 4
