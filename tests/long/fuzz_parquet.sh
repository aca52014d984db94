#!/usr/bin/env bash
# Fuzzes the Parquet reader (and its streaming snappy decoder against libsnappy) for ~60 s (FUZZ_SECONDS) with libFuzzer + ASan + UBSan, seeded with the small fixtures
# of the two independent writers (tests/fixtures/parquet). Any crash, sanitizer report, or broken property (see
# tests/fuzz/fuzz_parquet.c) fails the check; the crashing input is kept in build/fuzz/ (crash-*) for reproduction:
# build/fuzz/fuzz_parquet build/fuzz/crash-...
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds="${FUZZ_SECONDS:-60}"
out=build/fuzz
mkdir -p "$out"
corpus="$out/corpus-parquet"
rm -rf "$corpus" && mkdir -p "$corpus"
src=(tests/fuzz/fuzz_parquet.c src/data/parquet*.c src/base/*.c)
# shellcheck disable=SC2046
clang -std=c17 -D_GNU_SOURCE -DRETOOL_FUZZ -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
    -Isrc $(pkg-config --cflags libcjson libzstd zlib) "${src[@]}" $(pkg-config --libs libcjson libzstd zlib) \
    -lsnappy -lm -o "$out/fuzz_parquet"
i=0
for f in tests/fixtures/parquet/{tiny_*,aime_shaped,dapo_shaped,duck_nested_v2,rs_nested_v2,rs_nested_small_pages_v1}.parquet.gz; do
    gzip -dc "$f" > "$corpus/seed-$i"
    i=$((i + 1))
done
echo "fuzzing the Parquet reader for ${seconds}s from $i seeds"
"$out/fuzz_parquet" -max_total_time="$seconds" -max_len=65536 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$out/" "$corpus" 2>&1 | tail -n 25
