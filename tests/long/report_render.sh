#!/usr/bin/env bash
# Renders a report of two synthetic runs (40 steps each, sample trajectories with code and interpreter output) in
# headless Chromium to a PNG and checks it is not blank: many distinct colours, enough ink, and both runs' line
# colours drawn. Also runs `retool eval-metrics` on the rollouts. Keeps the files in build/long-report/.
set -euo pipefail
cd "$(dirname "$0")/../.."
bin="${RETOOL_BIN:-$PWD/build/retool}"
out="$PWD/build/long-report"
rm -rf "$out" && mkdir -p "$out"
command -v chromium >/dev/null || { echo "report_render: chromium is not installed (scripts/deps-test.txt)" >&2; exit 1; }

/usr/bin/python3 - "$out" <<'PY'
import json, math, os, sys
out = sys.argv[1]
def run(name, tool):
    os.makedirs(f"{out}/{name}/rollouts", exist_ok=True)
    with open(f"{out}/{name}/metrics.jsonl", "w") as f:
        for s in range(1, 41):
            u = s / 40
            m = {"step": s, "accuracy": (0.2 + 0.5 * u if tool else 0.1 + 0.1 * u) + 0.03 * math.sin(s),
                 "reward": (-0.6 + 1.0 * u if tool else -0.8 + 0.2 * u),
                 "response_length": (900 - 360 * u) if tool else 1000 + 50 * math.sin(s / 3),
                 "entropy": 1.2 - 0.5 * u, "kl": 0.001 * s}
            if tool:
                m.update({"code_ratio": 0.4 + 0.58 * u, "code_lines": 3 + 12 * u, "code_pass_rate": 0.6 + 0.38 * u,
                          "invocation_timing": 0.5 - 0.3 * u, "tool_errors": 0.4 - 0.3 * u,
                          "self_corrections": 0.02 + 0.1 * u})
            if s == 17:
                m["accuracy"] = None  # a missing value: skipped
            f.write(json.dumps(m) + "\n")
    text = ("Let me compute 2^100 mod 7 </script><script>alert('x')</script> & more.\n<code>\n```python\n"
            "print(pow(2, 100, 7))\n```\n</code>\n<interpreter>\n2\n</interpreter>\n\n"
            "The interpreter says 2.\n<answer>\n\\boxed{2}\n</answer>")
    n = 40
    traj = {"version": 1, "id": "p0-s0", "prompt_index": 0, "sample_index": 0, "prompt_ids": [1, 2, 3],
            "response_ids": list(range(n)), "logprobs": [0.0] * n, "mask": [1] * 30 + [0] * 4 + [1] * 6,
            "tool_calls": [{"response_index": 30, "n_tokens": 4, "code": "print(pow(2, 100, 7))", "output": "2",
                            "status": "ok", "refused": False, "latency_s": 0.01}],
            "answer": "2", "truth": "2", "reward": 1.0, "flags": [], "stop": "stop_string", "wall_s": 1.0,
            "prompt_text": "What is 2^100 mod 7?", "response_text": text if tool else "2^100 mod 7 ... <answer>\n\\boxed{4}\n</answer>"}
    if not tool:
        traj.update(tool_calls=[], answer="4", reward=-1.0, mask=[1] * n)
    with open(f"{out}/{name}/rollouts/step-40.jsonl", "w") as f:
        f.write(json.dumps(traj) + "\n")
        t2 = dict(traj, id="p0-s1", sample_index=1)
        f.write(json.dumps(t2) + "\n")
run("tool", True)
run("text", False)
PY

"$bin" report --out "$out/report.html" --samples 2 "$out/tool" "$out/text"
"$bin" eval-metrics "$out/tool/rollouts/step-40.jsonl" > "$out/eval.txt"
grep -q "^pass@1 " "$out/eval.txt" || { echo "report_render: eval-metrics printed no pass@1" >&2; exit 1; }
if grep -Eq 'https?://|<script' "$out/report.html"; then
    echo "report_render: the report links something or holds a script" >&2
    exit 1
fi

profile="$(mktemp -d /tmp/retool-chromium-XXXXXX)"
trap 'rm -rf "$profile"' EXIT
timeout 120 chromium --headless --no-sandbox --disable-gpu --disable-background-networking \
    --disable-component-update --disable-sync --no-first-run --user-data-dir="$profile" \
    --screenshot="$out/report.png" --window-size=1200,2000 "file://$out/report.html" >"$out/chromium.log" 2>&1 || {
    cat "$out/chromium.log" >&2
    echo "report_render: chromium failed" >&2
    exit 1
}
/usr/bin/python3 - "$out/report.png" <<'PY'
import struct, sys, zlib
data = open(sys.argv[1], "rb").read()
assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
pos, idat, w = 8, b"", 0
while pos < len(data):
    n, kind = struct.unpack(">I4s", data[pos:pos + 8])
    body = data[pos + 8:pos + 8 + n]
    if kind == b"IHDR":
        w, h, depth, ctype, _, _, interlace = struct.unpack(">IIBBBBB", body)
        assert depth == 8 and ctype in (2, 6) and interlace == 0, f"unexpected PNG format {depth} {ctype} {interlace}"
        bpp = 3 if ctype == 2 else 4
    elif kind == b"IDAT":
        idat += body
    pos += 12 + n
raw = zlib.decompress(idat)
stride = w * bpp
prev = bytearray(stride)
colours, ink, seen = set(), 0, set()
want = {(0x1f, 0x77, 0xb4): "tool run (blue)", (0xd6, 0x27, 0x28): "text run (red)"}
for y in range(h):
    f = raw[y * (stride + 1)]
    line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
    for i in range(stride):
        a = line[i - bpp] if i >= bpp else 0
        b = prev[i]
        c = prev[i - bpp] if i >= bpp else 0
        if f == 1: line[i] = (line[i] + a) & 255
        elif f == 2: line[i] = (line[i] + b) & 255
        elif f == 3: line[i] = (line[i] + (a + b) // 2) & 255
        elif f == 4:
            p = a + b - c
            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
    for x in range(0, stride, bpp):
        px = tuple(line[x:x + 3])
        colours.add(px)
        if sum(px) < 600:
            ink += 1
        if px in want:
            seen.add(want[px])
    prev = line
share = ink / (w * h)
print(f"report_render: {w}x{h} PNG, {len(colours)} distinct colours, {share:.1%} ink, line colours seen: {sorted(seen)}")
assert len(colours) > 64, "too few colours: blank page?"
assert share > 0.01, "almost no ink: blank page?"
assert len(seen) == 2, f"the runs' line colours are missing: {sorted(seen)}"
PY
echo "report_render: ok ($out/report.png)"
