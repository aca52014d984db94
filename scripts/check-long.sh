#!/usr/bin/env bash
# Slow end-to-end checks (make check-long). Each script in tests/long/*.sh runs in turn; any failure fails the whole.
set -u
failed=0
passed=0
for s in tests/long/*.sh; do
    [ -e "$s" ] || continue
    echo "== $s"
    if bash "$s"; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAILED: $s" >&2; fi
done
echo "long checks: $passed passed, $failed failed"
[ "$failed" = 0 ]
