#!/usr/bin/env bash
# Fuzzes the safetensors and config.json readers for ~60 s (FUZZ_SECONDS) with libFuzzer + ASan + UBSan.
# Seeds: the independent Python writer's good and malformed files, and the sample configs. Any crash, sanitizer
# report, or broken property (see tests/fuzz/fuzz_safetensors.c) fails the check; the crashing input is kept in
# build/fuzz/ (crash-*) for reproduction: build/fuzz/fuzz_safetensors build/fuzz/crash-...
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds="${FUZZ_SECONDS:-60}"
out=build/fuzz
mkdir -p "$out"
corpus="$out/corpus-model-io"
rm -rf "$corpus" && mkdir -p "$corpus"
src=(tests/fuzz/fuzz_safetensors.c src/model/safetensors.c src/model/st_convert.c src/model/st_write.c
     src/model/config.c src/base/*.c)
# shellcheck disable=SC2046
clang -std=c17 -D_GNU_SOURCE -DRETOOL_FUZZ -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
    -Isrc $(pkg-config --cflags libcjson) "${src[@]}" $(pkg-config --libs libcjson) -lm -o "$out/fuzz_safetensors"

seeds="$(mktemp -d /tmp/retool-fuzz-seeds-XXXXXX)"
trap 'rm -rf "$seeds"' EXIT
/usr/bin/python3 tests/model_io/write_safetensors.py good "$seeds/good.safetensors"
/usr/bin/python3 tests/model_io/write_safetensors.py good "$seeds/nopad.safetensors" --no-pad
mkdir -p "$seeds/bad" && /usr/bin/python3 tests/model_io/write_safetensors.py bad "$seeds/bad"
i=0
for f in "$seeds"/*.safetensors "$seeds"/bad/*.safetensors; do   # even first byte: safetensors reader
    { printf '\x00'; cat "$f"; } > "$corpus/st-$i"; i=$((i + 1))
done
for f in configs/*.json; do                                       # odd first byte: config reader
    { printf '\x01'; cat "$f"; } > "$corpus/cfg-$i"; i=$((i + 1))
done
echo "fuzzing the safetensors and config readers for ${seconds}s from $i seeds"
"$out/fuzz_safetensors" -max_total_time="$seconds" -max_len=8192 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$out/" "$corpus" 2>&1 | tail -n 25
