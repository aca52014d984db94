"""Rewrites section 6 of docs/REWARD.md (the case table) from tests/reward/cases.tsv.

Run from the repository root after editing the table: /usr/bin/python3 tests/reward/render_table.py
(test_reward's docs_table_lists_every_case fails until the doc matches the table).
"""
import re

HEAD = "## 6. The table"


def main():
    rows, n = [], 0
    for line in open("tests/reward/cases.tsv"):
        line = line.rstrip("\n")
        if line.startswith(("# truth", "# Each", "# <NL>")) or not line:
            continue
        if line.startswith("#"):
            rows.append("\n### %s\n| truth | response | verdict | with sympy |\n| --- | --- | --- | --- |" % line[2:])
            continue
        t, p, v, s = line.split("\t")
        assert "|" not in t + p and "`" not in t + p, line
        rows.append("| `%s` | `%s` | %s | %s |" % (t, p, v, s))
        n += 1
    doc = open("docs/REWARD.md").read()
    at = doc.index(HEAD)
    intro = ("%s (%d cases)\nColumns: reference answer, response (as the model wrote it; `<NL>` is a newline), the "
             "verdict by the exact rules\n(`no_answer`: extraction found nothing), and the verdict with the sympy "
             "checker where it differs (`-`: the same).\n" % (HEAD, n))
    open("docs/REWARD.md", "w").write(doc[:at] + intro + "\n".join(rows) + "\n")
    print("rendered %d cases" % n)


if __name__ == "__main__":
    main()
