#!/usr/bin/python3
"""Writes the tokenizer parity corpus: one JSON string a line, deterministic (fixed seed), >= 2000 strings.

usage: gen_corpus.py OUT.jsonl [N]
       gen_corpus.py --text OUT.txt BYTES [SEED]   (raw text of the same mix, for benchmarks and training)

Kinds: source code in several languages, LaTeX and math, many scripts and emoji (ZWJ, flags, skin tones),
combining marks (NFC), long digit runs, runs of spaces, tabs, CR/LF mixes, contractions in any case, special tokens
inside text, empty strings, very long words, rollout tags, and random mixes of all of these.
Characters come from blocks assigned before Unicode 12 so that PCRE2 (Unicode 14) and node's ICU agree on \\p{L}/\\p{N}.
"""
import json
import random
import sys

SCRIPTS = {
    "latin": [(0x41, 0x5A), (0x61, 0x7A), (0xC0, 0xFF), (0x100, 0x17E)],
    "greek": [(0x391, 0x3A9), (0x3B1, 0x3C9)],
    "cyrillic": [(0x410, 0x44F)],
    "arabic": [(0x621, 0x64A), (0x660, 0x669)],
    "hebrew": [(0x5D0, 0x5EA)],
    "devanagari": [(0x905, 0x939), (0x93E, 0x94D), (0x966, 0x96F)],
    "bengali": [(0x985, 0x98C), (0x995, 0x9A8)],
    "tamil": [(0xB95, 0xB9A), (0xBBE, 0xBC2)],
    "thai": [(0xE01, 0xE30), (0xE50, 0xE59)],
    "georgian": [(0x10D0, 0x10F0)],
    "armenian": [(0x531, 0x556)],
    "ethiopic": [(0x1200, 0x1248)],
    "hangul": [(0xAC00, 0xD7A3)],
    "hiragana": [(0x3041, 0x3096)],
    "katakana": [(0x30A1, 0x30FA)],
    "cjk": [(0x4E00, 0x9FA5)],
    "fullwidth": [(0xFF10, 0xFF19), (0xFF21, 0xFF3A)],
    "math": [(0x2200, 0x22FF), (0x2190, 0x21FF), (0x1D400, 0x1D6A3)],
    "emoji": [(0x1F600, 0x1F64F), (0x1F300, 0x1F5FF), (0x1F680, 0x1F6C5), (0x2600, 0x26FF)],
    "punct": [(0x21, 0x2F), (0x3A, 0x40), (0x5B, 0x60), (0x7B, 0x7E), (0x2010, 0x2027), (0x3000, 0x3003)],
    "digits": [(0x30, 0x39), (0x660, 0x669), (0x966, 0x96F), (0xFF10, 0xFF19), (0xB2, 0xB3), (0xBC, 0xBE)],
    "spaces": [(0x20, 0x20), (0x09, 0x0D), (0xA0, 0xA0), (0x2000, 0x200A), (0x3000, 0x3000), (0x85, 0x85),
               (0x2028, 0x2029), (0x202F, 0x202F)],
}
SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|begin_of_text|>", "<|eot_id|>",
            "<|start_header_id|>", "<|end_header_id|>", "<think>", "</think>", "<tool_call>", "<|fim_middle|>"]
TAGS = ["<code>", "</code>", "<interpreter>", "</interpreter>", "<answer>", "</answer>"]
CODE = [
    'def fib(n):\n    if n < 2:\n        return n\n    return fib(n - 1) + fib(n - 2)\n\nprint(fib(30))\n',
    'import numpy as np\nx = np.arange(10)**2\nprint(x.sum())  # 285\n',
    '#include <stdio.h>\nint main(void) {\n\tprintf("%d\\n", 1 << 20);\n\treturn 0;\n}\n',
    'fn main() {\n    let v: Vec<u64> = (1..=10).map(|x| x * x).collect();\n    println!("{:?}", v);\n}\n',
    'const f = async (a, b) => { await sleep(100); return a ?? b; };\r\nconsole.log(f(1, 2));\r\n',
    'SELECT id, name FROM users WHERE age >= 18 ORDER BY name DESC LIMIT 10;',
    'package main\n\nimport "fmt"\n\nfunc main() {\n\tfmt.Println("héllo, 世界")\n}\n',
    '<html>\n  <body class="x">&amp; &lt;tag&gt;</body>\n</html>',
    'for i in $(seq 1 10); do echo "$i"; done | sort -rn | head -3',
    '```python\nfrom sympy import *\nx = symbols("x")\nprint(integrate(sin(x)**2, (x, 0, pi)))\n```',
    'class Foo(Base):\n    """Docstring."""\n    __slots__ = ("a", "b")\n    def __init__(self, a=1, *args, **kw):\n        super().__init__()\n',
    '    \n\t\t\n  x = [1,2,3]\n    \n',
]
LATEX = [
    r'\int_0^{\infty} e^{-x^2}\,dx = \frac{\sqrt{\pi}}{2}',
    r'\boxed{\frac{3}{4}}', r'$$\sum_{k=1}^{n} k^2 = \frac{n(n+1)(2n+1)}{6}$$',
    r'\begin{align} a &= b + c \\ d &\le e \end{align}', r'Let $f(x)=x^3-3x+1$; then $f\'(x)=3x^2-3$.',
    r'\lim_{n\to\infty}\left(1+\frac{1}{n}\right)^n=e', '∀ε>0 ∃δ>0: |x−a|<δ ⇒ |f(x)−f(a)|<ε',
    r'\mathbb{Z}/p\mathbb{Z}', '2^{10} = 1024, 10! = 3628800, 7^{-1} ≡ 5 (mod 17)',
]
CONTRACTIONS = ["'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "'S", "'T", "'RE", "'Ve", "'M", "'LL", "'D", "n't", "'"]
WORDS = ["the", "The", "THE", "hello", "world", "token", "don", "isn", "they", "We", "you", "it", "café", "naïve",
         "résumé", "Straße", "Ελλάδα", "Москва", "東京", "서울", "مرحبا", "שלום", "नमस्ते", "ไทย", "日本語"]


def rand_char(rng, script):
    lo, hi = rng.choice(SCRIPTS[script])
    return chr(rng.randint(lo, hi))


def rand_run(rng, script, n):
    return "".join(rand_char(rng, script) for _ in range(n))


def emoji_seq(rng):
    kinds = [
        lambda: rand_char(rng, "emoji"),
        lambda: "👍" + chr(0x1F3FB + rng.randint(0, 4)),
        lambda: "👨\u200d👩\u200d👧\u200d👦",
        lambda: "🏳️\u200d🌈",
        lambda: "".join(chr(0x1F1E6 + rng.randint(0, 25)) for _ in range(2)),
        lambda: "❤️",
        lambda: "1\ufe0f\u20e3",
    ]
    return rng.choice(kinds)()


def combining(rng):
    base = rng.choice("aeiouAEIOUnNcCsz")
    marks = "".join(chr(rng.choice([0x300, 0x301, 0x302, 0x303, 0x308, 0x30A, 0x327, 0x328, 0x323]))
                    for _ in range(rng.randint(1, 3)))
    return base + marks


def spaces(rng):
    return "".join(rng.choice([" ", " ", " ", "\t", "\n", "\r\n", "\r", "\u00a0", "\u3000", "\u2003", "\u0085",
                               "\u000b", "\u000c"]) for _ in range(rng.randint(1, 12)))


def piece(rng):
    k = rng.randint(0, 15)
    if k == 0:
        return rng.choice(CODE)
    if k == 1:
        return rng.choice(LATEX)
    if k == 2:
        return rand_run(rng, rng.choice(list(SCRIPTS)), rng.randint(1, 12))
    if k == 3:
        return emoji_seq(rng)
    if k == 4:
        return "".join(rng.choice("0123456789") for _ in range(rng.randint(1, 40)))
    if k == 5:
        return spaces(rng)
    if k == 6:
        return rng.choice(WORDS) + rng.choice(CONTRACTIONS)
    if k == 7:
        return rng.choice(SPECIALS + TAGS)
    if k == 8:
        return combining(rng)
    if k == 9:
        return rng.choice(WORDS)
    if k == 10:
        return rand_char(rng, "punct") * rng.randint(1, 6)
    if k == 11:
        return "".join(rand_char(rng, "digits") for _ in range(rng.randint(1, 8)))
    if k == 12:
        return " " + rng.choice(WORDS)
    if k == 13:
        return rng.choice(["\r\n", "\n\n", "\r", "\n\r", "\r\n\r\n", "\t\n", " \n "])
    if k == 14:
        return rand_run(rng, "math", rng.randint(1, 4))
    return rng.choice([".", ",", "!", "?", ":", ";", "(", ")", "'", '"', "-", "--", "...", "/", "\\"])


def generate(n, seed=20260101):
    rng = random.Random(seed)
    out = ["", " ", "  ", "\n", "\r\n", "\t", "a", "0", "😀", "é", "e\u0301", "<|im_start|>", "<|endoftext|>a",
           "a<|im_end|>b", "<|im_start|><|im_end|>", "I'M fine, they'LL go", "don't DON'T Don'T", "x 's 'S",
           "1234567890" * 30, " " * 200, "\t" * 50, "\r\n" * 40, "\n" * 30 + "x", "a" * 5000,
           "supercalifragilisticexpialidocious" * 40, "日本語" * 500, "😀" * 300, "x" + "\u0301" * 50,
           "<code>\n```python\nprint(2**100)\n```\n</code>\n<interpreter>\n1267650600228229401496703205376\n"
           "</interpreter>\n\n<answer>\n\\boxed{1267650600228229401496703205376}\n</answer>",
           "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n", "<|im_start", "|im_end|>",
           "<|<|im_start|>|>", "\u00a0\u00a0x", "\u3000x\u3000", "\u2028\u2029", "\ufeffBOM", "x\u0085y"]
    for s in CODE + LATEX:
        out.append(s)
    while len(out) < n:
        k = rng.random()
        if k < 0.05:
            out.append("")
        elif k < 0.1:
            out.append(rand_run(rng, rng.choice(["latin", "cyrillic", "cjk", "hangul", "arabic"]),
                                rng.randint(200, 3000)))
        else:
            out.append("".join(piece(rng) for _ in range(rng.randint(1, 12))))
    return out


def write_text(path, nbytes, seed):
    """Raw UTF-8 text of the same mix (fresh strings, no repeats) until nbytes are written."""
    rng_seed = seed
    written = 0
    with open(path, "w", encoding="utf-8") as f:
        while written < nbytes:
            chunk = "\n".join(generate(2000, seed=rng_seed)) + "\n"
            rng_seed += 1
            f.write(chunk)
            written += len(chunk.encode("utf-8"))


def main():
    if sys.argv[1] == "--text":
        write_text(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]) if len(sys.argv) > 4 else 1)
        return
    path = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 2400
    with open(path, "w", encoding="utf-8") as f:
        for s in generate(n):
            f.write(json.dumps(s, ensure_ascii=True) + "\n")


if __name__ == "__main__":
    main()
