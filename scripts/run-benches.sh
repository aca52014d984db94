#!/usr/bin/env bash
# Runs each benchmark binary given after the build folder, in order; stops at the first failure.
set -eu
build="$1"
shift
export RETOOL_BIN="$PWD/$build/retool"
for b in "$@"; do
    echo "== $b"
    "$b"
done
