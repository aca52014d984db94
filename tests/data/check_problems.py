"""Independent check of generated problems (run by test_data with /usr/bin/python3).

For each JSONL problem: run its reference program and compare what it prints with the answer; verify every
arithmetic sentence of the worked text solution with exact integers/fractions (sentences made only of numbers and
+ - * / ^ ( ) =, optionally ending in "(mod M)", all parts must be equal, or congruent mod M); and check that the
answer appears in the text solution. Prints one summary line; exits 1 on any failure.
"""
import contextlib
import io
import json
import math
import re
import sys
from fractions import Fraction

SENTENCE = re.compile(r"^(?P<expr>(?:[0-9+\-*/^()= ]|gcd\(|lcm\(|,)+?)(?: \(mod (?P<mod>\d+)\))?$")


def value(expr):
    py = re.sub(r"\d+", lambda m: "F(%s)" % m.group(0), expr.replace("^", "**"))
    env = {"F": Fraction, "gcd": lambda *a: Fraction(math.gcd(*map(int, a))),
           "lcm": lambda *a: Fraction(math.lcm(*map(int, a))), "__builtins__": {}}
    return eval(py, env)


def check_text(text):
    checked = 0
    for sentence in re.split(r"\. |\.$", text):
        sentence = sentence.strip()
        m = SENTENCE.match(sentence)
        if not m or "=" not in sentence:
            continue
        parts = [value(p) for p in m.group("expr").split("=")]
        mod = m.group("mod")
        for p in parts[1:]:
            ok = (p - parts[0]) % int(mod) == 0 if mod else p == parts[0]
            if not ok:
                return checked, "false: %r" % sentence
        checked += 1
    return checked, None


def main(path):
    problems = sentences = 0
    failures = []
    per_family = {}
    for line in open(path):
        p = json.loads(line)
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            exec(p["program"], {})
        if out.getvalue().strip() != p["answer"]:
            failures.append("%s: program printed %r, answer %r" % (p["id"], out.getvalue().strip(), p["answer"]))
        n, bad = check_text(p["text_solution"])
        if bad:
            failures.append("%s: text solution %s" % (p["id"], bad))
        if not re.search(r"(?<![0-9])%s(?![0-9])" % re.escape(p["answer"]), p["text_solution"]):
            failures.append("%s: the answer %s is not in the text solution" % (p["id"], p["answer"]))
        problems += 1
        sentences += n
        per_family[p["family"]] = per_family.get(p["family"], 0) + n
    for f in failures[:20]:
        print("FAIL", f)
    print("checked %d problems, %d arithmetic sentences, %d failures; sentences per family: %s"
          % (problems, sentences, len(failures), " ".join("%s=%d" % kv for kv in sorted(per_family.items()))))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
