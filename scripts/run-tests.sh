#!/usr/bin/env bash
# Runs each test binary given after the build folder; exits non-zero if any fails. Prints one summary line.
set -u
build="$1"
shift
export RETOOL_BIN="$PWD/$build/retool"
# Leaks inside third-party libraries (Criterion's runner) are not ours: see scripts/lsan.supp.
export LSAN_OPTIONS="suppressions=$PWD/scripts/lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
failed=0
passed=0
for t in "$@"; do
    echo "== $t"
    if "$t" --jobs 2; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        echo "FAILED: $t" >&2
    fi
done
echo "test binaries that passed: $passed, that failed: $failed"
[ "$failed" = 0 ]
