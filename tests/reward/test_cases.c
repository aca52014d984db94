/* The table tests/reward/cases.tsv: extraction and equivalence on answers in the formats real math datasets use
 * (AIME, MATH, GSM8K), with expectations written from the mathematics; the sympy column runs the Python checker. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fileio.h"
#include "reward/reward.h"

#define CASES "tests/reward/cases.tsv"

typedef struct row {
    char *truth, *response, *expect, *expect_sympy;
    size_t line;
} row;

/* Splits the table into rows (skipping comments); returns the count. Fields point into text. */
static size_t load(char *text, row *rows, size_t max) {
    size_t n = 0, line = 0;
    for (char *save = NULL, *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        line++;
        if (l[0] == '#' || l[0] == '\0') continue;
        char *f[4];
        int k = 0;
        for (char *p = l; k < 4; k++) {
            f[k] = p;
            char *tab = strchr(p, '\t');
            if (!tab) break;
            *tab = '\0';
            p = tab + 1;
        }
        cr_assert_eq(k, 3, CASES " line %zu: expected 4 tab-separated fields", line);
        cr_assert_lt(n, max);
        rows[n++] = (row){f[0], f[1], f[2], f[3], line};
    }
    return n;
}

static char *unescape_newlines(const char *s) {
    char *out = malloc(strlen(s) + 1), *w = out;
    for (const char *p = s; *p;) {
        if (strncmp(p, "<NL>", 4) == 0) {
            *w++ = '\n';
            p += 4;
        } else {
            *w++ = *p++;
        }
    }
    *w = '\0';
    return out;
}

/* The verdict name for one row, through extraction then equivalence. */
static const char *judge(const row *r, reward_symbolic_fn fn, void *ctx) {
    char *response = unescape_newlines(r->response), *answer = NULL;
    rt_error err;
    rt_status st = reward_extract(response, &answer, &err);
    free(response);
    if (st == RT_ENOTFOUND) return "no_answer";
    cr_assert_eq(st, RT_OK, "line %zu: %s", r->line, err.msg);
    reward_verdict v;
    st = reward_equivalent(r->truth, answer, fn, ctx, &v, &err);
    free(answer);
    cr_assert_eq(st, RT_OK, "line %zu: %s", r->line, err.msg);
    return reward_verdict_name(v);
}

static row rows[400];
static char *text;

static size_t setup_rows(void) {
    size_t len;
    rt_error err;
    cr_assert_eq(rt_file_read_all(CASES, &text, &len, &err), RT_OK, "%s", err.msg);
    return load(text, rows, 400);
}

Test(reward_cases, table_has_at_least_150_cases_and_every_verdict_kind) {
    size_t n = setup_rows();
    cr_expect_geq(n, 150, "only %zu cases", n);
    const char *kinds[] = {"equal", "not_equal", "undecided", "no_answer"};
    for (size_t k = 0; k < 4; k++) {
        size_t c = 0;
        for (size_t i = 0; i < n; i++)
            c += strcmp(rows[i].expect, kinds[k]) == 0;
        cr_expect_gt(c, 3, "few '%s' cases", kinds[k]);
    }
    free(text);
}

Test(reward_cases, exact_rules_match_the_table) {
    size_t n = setup_rows(), bad = 0;
    for (size_t i = 0; i < n; i++) {
        const char *got = judge(&rows[i], NULL, NULL);
        if (strcmp(got, rows[i].expect) != 0) {
            bad++;
            cr_log_error("line %zu: truth '%s' response '%s': expected %s, got %s", rows[i].line, rows[i].truth,
                         rows[i].response, rows[i].expect, got);
        }
    }
    cr_expect_eq(bad, 0, "%zu of %zu cases disagree", bad, n);
    free(text);
}

Test(reward_cases, sympy_checker_matches_the_table, .timeout = 80) {
    size_t n = setup_rows(), bad = 0, ran = 0;
    reward_python_checker py = {NULL, 20.0};
    for (size_t i = 0; i < n; i++) {
        if (strcmp(rows[i].expect_sympy, "-") == 0) continue;
        const char *got = judge(&rows[i], reward_symbolic_python, &py);
        ran++;
        if (strcmp(got, rows[i].expect_sympy) != 0) {
            bad++;
            cr_log_error("line %zu: truth '%s' response '%s': sympy expected %s, got %s", rows[i].line, rows[i].truth,
                         rows[i].response, rows[i].expect_sympy, got);
        }
    }
    cr_expect_gt(ran, 10);
    cr_expect_eq(bad, 0, "%zu of %zu sympy cases disagree", bad, ran);
    free(text);
}

Test(reward_cases, scores_follow_the_verdicts) {
    size_t n = setup_rows();
    reward_options opt;
    reward_options_default(&opt);
    for (size_t i = 0; i < n; i++) {
        char *response = unescape_newlines(rows[i].response);
        reward_result res;
        rt_error err;
        cr_assert_eq(reward_score(response, rows[i].truth, &opt, &res, &err), RT_OK, "%s", err.msg);
        double want = strcmp(rows[i].expect, "equal") == 0 ? 1.0 : -1.0;
        cr_expect_eq(res.reward, want, "line %zu: reward %g", rows[i].line, res.reward);
        cr_expect_eq(res.has_answer, strcmp(rows[i].expect, "no_answer") != 0, "line %zu", rows[i].line);
        reward_result_free(&res);
        free(response);
    }
    free(text);
}

Test(reward_cases, docs_table_lists_every_case) {
    size_t n = setup_rows(), missing = 0;
    char *doc;
    size_t len;
    rt_error err;
    cr_assert_eq(rt_file_read_all("docs/REWARD.md", &doc, &len, &err), RT_OK, "%s", err.msg);
    for (size_t i = 0; i < n; i++) {
        char line[1024];
        snprintf(line, sizeof line, "| `%s` | `%s` | %s | %s |\n", rows[i].truth, rows[i].response, rows[i].expect,
                 rows[i].expect_sympy);
        if (!strstr(doc, line)) {
            missing++;
            cr_log_error("docs/REWARD.md lacks the row of " CASES " line %zu: %s", rows[i].line, line);
        }
    }
    cr_expect_eq(missing, 0);
    free(doc);
    free(text);
}
