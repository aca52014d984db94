#!/usr/bin/env bash
# The real-model walk of docs/TRAINING.md ("From a Hugging Face folder to a served model") at its smallest sizes, so
# the documented commands stay true: a Qwen2.5-0.5B-shaped folder (retool model init, the layout of a downloaded
# Qwen2.5-0.5B-Instruct), cold-start data (coldstart + convert --verify), LoRA SFT with dropout, LoRA PPO from the SFT
# adapters, merge, score, eval and serve with one request. Each step's wall time and peak RSS go to
# build/long-walk/times.tsv. Needs ~2.5 GB of memory and ~10 minutes on 2 cores; keeps its files in build/long-walk/.
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$PWD
bin="${RETOOL_BIN:-$PWD/build/retool}"
out="$PWD/build/long-walk"
tok="$PWD/build/fixtures/tokenizers/qwen3"
[ -e "$tok/tokenizer.json" ] || make --no-print-directory fixtures >/dev/null
rm -rf "$out" && mkdir -p "$out"
cd "$out"
printf 'step\twall_s\tpeak_rss_kb\n' > times.tsv

# step NAME CMD...: runs CMD under /usr/bin/time -v, records its wall time and peak RSS, fails the walk when it fails.
step() {
    local name=$1
    shift
    echo "-- $name: $*"
    if ! /usr/bin/time -v -o "time-$name.txt" "$@" > "$name.log" 2>&1; then
        tail -20 "$name.log" >&2
        echo "real_model_walk: step '$name' failed" >&2
        exit 1
    fi
    local w r
    w=$(awk -F': ' '/Elapsed \(wall clock\)/ {n = split($2, p, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + p[i]; print s}' "time-$name.txt")
    r=$(awk -F': ' '/Maximum resident set size/ {print $2}' "time-$name.txt")
    printf '%s\t%s\t%s\n' "$name" "$w" "$r" >> times.tsv
}
fail() {
    echo "real_model_walk: $*" >&2
    exit 1
}

# 1. The Hugging Face folder (a real run downloads one: huggingface-cli download Qwen/Qwen2.5-0.5B-Instruct).
step init "$bin" model init --config "$repo/configs/model-qwen2.5-0.5b.json" --out Qwen2.5-0.5B-Instruct \
    --dtype bf16 --tokenizer "$tok"
hf=$out/Qwen2.5-0.5B-Instruct
for f in config.json model.safetensors tokenizer.json tokenizer_config.json; do
    [ -e "$hf/$f" ] || fail "model init wrote no $f"
done

# 2. Cold-start data: template traces verified in the sandbox, and ReTool-SFT conversations re-run.
step gen "$bin" data gen --n 8 --seed 7 --out problems.jsonl
step coldstart "$bin" data coldstart --in problems.jsonl --out coldstart.jsonl --tokenizer "$hf" --repair-rate 0.25 \
    --quiet
step convert "$bin" data convert "$repo/tests/fixtures/sftconv/retool_sft.jsonl" --model "$hf" --out sftconv.jsonl \
    --verify
[ "$(wc -l < coldstart.jsonl)" -ge 6 ] || fail "coldstart kept fewer than 6 of 8 traces"
[ "$(wc -l < sftconv.jsonl)" -ge 1 ] || fail "convert kept no conversation"
grep -q '"status":"error"' coldstart.jsonl || fail "no repair trace (a failing block before the working one)"
cat coldstart.jsonl sftconv.jsonl > traces.jsonl

# 3. Cold-start SFT with LoRA (and LoRA dropout): an adapter folder in PEFT's layout.
step sft "$bin" sft --model "$hf" --data traces.jsonl --out sft --lora-rank 16 --lora-dropout 0.05 --max-steps 1 \
    --batch-tokens 256 --recompute --eval-frac 0 --quiet
/usr/bin/python3 - sft/model "$hf" <<'PY' || fail "the SFT adapter folder is not PEFT's layout"
import json, sys
c = json.load(open(sys.argv[1] + "/adapter_config.json"))
assert c["peft_type"] == "LORA" and c["r"] == 16 and c["lora_alpha"] == 32 and c["lora_dropout"] == 0.05, c
assert c["base_model_name_or_path"] == sys.argv[2], c["base_model_name_or_path"]
assert len(c["target_modules"]) == 7, c["target_modules"]
PY

# 4. PPO with LoRA from the SFT adapters (policy and critic on one frozen base, KL to the base).
step rl "$bin" rl --algo ppo --model sft/model --data problems.jsonl --steps 1 --prompts-per-step 2 --samples 2 \
    --max-tokens 32 --lora-rank 16 --kl-coef 0.01 --recompute --micro-tokens 256 --out rl --quiet
[ -e rl/model/adapter_model.safetensors ] && [ ! -e rl/model/model.safetensors ] || fail "rl wrote no adapter folder"
/usr/bin/python3 - rl/metrics.jsonl <<'PY' || fail "PPO did not start from the SFT adapters"
import json, sys
m = json.loads(open(sys.argv[1]).readline())
# the policy starts from the SFT adapters (B != 0), so it differs from the base (the KL reference) at step 1
assert m["kl"] > 0, m["kl"]
assert m["trained_trajectories"] == 4, m["trained_trajectories"]
PY

# 5. Merge into a plain Hugging Face folder; score a line with it.
step merge "$bin" model merge --model "$hf" --adapter rl/model --out merged
[ -e merged/model.safetensors ] && [ ! -e merged/adapter_config.json ] || fail "merge wrote no plain folder"
echo '[151644, 872, 198, 3838, 374, 220, 17, 10, 17, 30]' > ids.jsonl
step score sh -c "\"$bin\" score --model merged --precision bf16 < ids.jsonl > scores.jsonl"
/usr/bin/python3 -c "
import json, math, sys
v = json.loads(open('scores.jsonl').readline())
assert len(v) == 9 and all(x <= 0 and math.isfinite(x) for x in v), v" || fail "score gave no 9 log-probs"

# 6. Eval on the merged folder.
step eval "$bin" eval --model merged --data problems.jsonl --limit 2 --samples 2 --max-tokens 32 --json eval.json \
    --out eval-traj.jsonl --quiet
/usr/bin/python3 -c "
import json
e = json.load(open('eval.json'))
assert e['eval']['problems'] == 2 and e['eval']['trajectories'] == 4, e['eval']" || fail "eval.json is not 2 x 2"

# 7. Serve the merged folder; one chat completion with curl.
/usr/bin/time -v -o time-serve.txt "$bin" serve --model merged --port 0 > serve.log 2>&1 &
spid=$!
port=
for _ in $(seq 1 120); do
    port=$(sed -n 's|.*listening on http://127.0.0.1:\([0-9]*\).*|\1|p' serve.log)
    [ -n "$port" ] && break
    kill -0 $spid 2>/dev/null || break
    sleep 1
done
[ -n "$port" ] || { cat serve.log >&2; fail "serve did not start"; }
t0=$(date +%s.%N)
curl -sf "http://127.0.0.1:$port/v1/chat/completions" -H 'Content-Type: application/json' \
    -d '{"model": "merged", "messages": [{"role": "user", "content": "Compute 434*79."}], "max_tokens": 16, "seed": 1}' \
    > reply.json || { kill "$(pgrep -P $spid)"; fail "the request failed"; }
t1=$(date +%s.%N)
kill -TERM "$(pgrep -P $spid)" # retool itself, under /usr/bin/time
wait $spid || fail "serve did not stop cleanly on SIGTERM"
/usr/bin/python3 -c "
import json
r = json.load(open('reply.json'))
assert r['object'] == 'chat.completion' and r['choices'][0]['message']['role'] == 'assistant', r
assert r['usage']['completion_tokens'] == 16, r['usage']" || fail "the reply is not a chat completion"
printf 'serve_request\t%s\t-\n' "$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.2f", b - a}')" >> times.tsv
printf 'serve\t-\t%s\n' "$(awk -F': ' '/Maximum resident set size/ {print $2}' time-serve.txt)" >> times.tsv

column -t times.tsv
echo "real_model_walk: ok ($out)"
