#!/usr/bin/env bash
# The operations dashboard in a real browser (Debian's chromium, headless, driven by puppeteer-core from tests/node):
# a tiny random model served by `retool serve --dashboard` answers a question, the answer is flagged; the browser
# logs in, sees it, approves it with a note, and `retool review list` reports the approval; an entry whose program
# printed <script> and <img onerror> renders as text and runs nothing; screenshots of each page go to
# build/long-dashboard/ (their paths are printed).
set -euo pipefail
cd "$(dirname "$0")/../.."
bin="${RETOOL_BIN:-$PWD/build/retool}"
out="$PWD/build/long-dashboard"
rm -rf "$out" && mkdir -p "$out"
command -v chromium >/dev/null || { echo "dashboard_browser: chromium is not installed (scripts/deps-long.txt)" >&2; exit 1; }
[ -f tests/node/node_modules/puppeteer-core/package.json ] ||
    { echo "dashboard_browser: puppeteer-core is missing: bash scripts/install-deps.sh --test" >&2; exit 1; }

# A tiny random Llama model with a BPE tokenizer trained here (what tests/base/tiny_model.h builds, through the CLI).
for i in $(seq 0 199); do printf 'Compute %d*%d.\n\\boxed{%d}\n' "$i" $((i + 3)) $((i * (i + 3))); done >"$out/corpus.txt"
"$bin" tokenizer train --vocab-size 300 --out "$out/tok" --quiet "$out/corpus.txt"
cat >"$out/config.json" <<'JSON'
{"architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": 320, "hidden_size": 32,
 "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2, "num_key_value_heads": 2, "head_dim": 16,
 "max_position_embeddings": 512, "rms_norm_eps": 1e-5, "rope_theta": 10000, "torch_dtype": "float32",
 "tie_word_embeddings": false}
JSON
"$bin" model init --config "$out/config.json" --out "$out/model" --seed 3 --tokenizer "$out/tok" --template plain >/dev/null
head -c 24 /dev/urandom | base64 >"$out/token"

"$bin" serve --model "$out/model" --port 0 --sandbox local --workers 1 --threads 1 --f32 --max-tokens 48 \
    --review-queue "$out/review.jsonl" --audit-log "$out/audit.jsonl" \
    --dashboard --dashboard-token-file "$out/token" >"$out/serve.out" 2>"$out/serve.err" &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do grep -q 'dashboard at' "$out/serve.out" 2>/dev/null && break; sleep 0.1; done
url=$(grep -o 'http://127.0.0.1:[0-9]*/ui/' "$out/serve.out" | head -1)
[ -n "$url" ] || { echo "dashboard_browser: retool serve did not start:" >&2; cat "$out/serve.err" >&2; exit 1; }

node tests/node/dashboard_browser.mjs "${url%/ui/}" "$out/token" "$out/review.jsonl" "$out/audit.jsonl" "$bin" "$out"
kill -TERM $pid
wait $pid
trap - EXIT
for f in "$out"/*.png; do echo "dashboard_browser: screenshot $f"; done
