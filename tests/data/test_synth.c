/* Synthetic families: hand-computed answers, the Python check of programs and worked solutions, determinism,
 * train/test disjointness over thousands of problems, levels, uniqueness. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "../base/tmpdir.h"
#include "data/synth.h"

static void expect_build(const char *family, int level, int64_t a, int64_t b, int64_t c, int64_t d, const char *prompt,
                         const char *answer) {
    const data_family *f = data_family_find(family);
    cr_assert(f, "no family %s", family);
    int64_t ops[DATA_MAX_OPS] = {a, b, c, d};
    data_problem p;
    rt_error err;
    cr_assert_eq(data_family_build(f, level, ops, &p, &err), RT_OK, "%s", err.msg);
    cr_expect_str_eq(p.prompt, prompt);
    cr_expect_str_eq(p.answer, answer, "%s", prompt);
    cr_expect_str_eq(p.family, family);
    cr_expect_eq(p.level, level);
    cr_expect(strncmp(p.id, family, strlen(family)) == 0 && p.id[strlen(family)] == '-', "id %s", p.id);
    cr_expect(p.program && *p.program && p.text_solution && *p.text_solution);
    data_problem_free(&p);
}

/* Answers computed by hand (or well known), not by the generators. */
Test(synth, hand_computed_answers) {
    expect_build("mul", 2, 48213, 9177, 0, 0, "Compute 48213*9177.", "442450701");
    expect_build("modpow", 3, 7, 123, 1000, 0, "Compute 7^123 mod 1000.", "343"); /* 7^20 = 1 mod 1000; 7^3 = 343 */
    expect_build("digitsum", 1, 2, 15, 0, 0, "Sum the digits of 2^15.", "26");    /* 32768 */
    expect_build("digitsum", 2, 2, 100, 0, 0, "Sum the digits of 2^100.", "115"); /* 1267650600228229401496703205376 */
    expect_build("count", 1, 1, 100, 7, 0, "How many integers from 1 to 100 are divisible by 7?", "14");
    expect_build("count", 2, 1, 100, 3, 5, "How many integers from 1 to 100 are divisible by 3 or 5?", "47");
    expect_build("count", 3, 10, 20, 2, 3, "How many integers from 10 to 20 are divisible by 2 or 3?", "7");
    expect_build("count", 2, 1, 100, 4, 6, "How many integers from 1 to 100 are divisible by 4 or 6?", "33");
    expect_build("series", 1, 100, 0, 0, 0, "Compute 1+2+...+100.", "5050");
    expect_build("series", 2, 10, 0, 0, 0, "Compute 1^2+2^2+...+10^2.", "385");
    expect_build("series", 3, 10, 0, 0, 0, "Compute 1^3+2^3+...+10^3.", "3025");
    expect_build("binom", 1, 10, 3, 0, 0, "Compute C(10,3).", "120");
    expect_build("binom", 1, 10, 7, 0, 0, "Compute C(10,7).", "120");
    expect_build("binom", 2, 40, 20, 0, 0, "Compute C(40,20).", "137846528820");
    expect_build("gcdlcm", 1, 8316, 10920, 0, 0, "Compute gcd(8316,10920).", "84");
    expect_build("gcdlcm", 2, 4, 6, 0, 0, "Compute lcm(4,6).", "12");
    expect_build("gcdlcm", 3, 4, 6, 10, 0, "Compute lcm(4,6,10).", "60");
    expect_build("base", 2, 48213, 7, 0, 0, "Write 48213 in base 7.", "260364");
    expect_build("base", 1, 10, 2, 0, 0, "Write 10 in base 2.", "1010");
    expect_build("base", 3, 11, 2, 0, 0, "Convert 1011 from base 2 to base 10.", "11");
    expect_build("add", 1, 3, 5, 0, 0, "Compute 3+5.", "8");
    expect_build("sub", 1, 7, 2, 0, 0, "Compute 7-2.", "5");
    expect_build("compare", 2, 47, 74, 0, 0, "Which is larger, 47 or 74?", "74");
}

Test(synth, at_least_eight_tool_and_two_no_tool_families) {
    size_t n, tool = 0, notool = 0;
    const data_family *const *f = data_families(&n);
    for (size_t i = 0; i < n; i++)
        f[i]->needs_tool ? tool++ : notool++;
    cr_expect_geq(tool, 8);
    cr_expect_geq(notool, 2);
}

static data_problem *gen(const char *family, size_t n, data_split split, uint64_t seed, int level, int unique) {
    data_gen_options o = {family, n, split, seed, level, unique};
    data_problem *ps;
    rt_error err;
    cr_assert_eq(data_generate(&o, &ps, &err), RT_OK, "%s", err.msg);
    return ps;
}

static void free_all(data_problem *ps, size_t n) {
    for (size_t i = 0; i < n; i++)
        data_problem_free(&ps[i]);
    free(ps);
}

static int same(const data_problem *a, const data_problem *b) {
    return !strcmp(a->id, b->id) && !strcmp(a->prompt, b->prompt) && !strcmp(a->answer, b->answer) &&
           !strcmp(a->program, b->program) && !strcmp(a->text_solution, b->text_solution) && a->level == b->level;
}

Test(synth, deterministic_per_seed) {
    size_t n = 330;
    data_problem *a = gen("all", n, DATA_SPLIT_TRAIN, 7, 0, 0), *b = gen("all", n, DATA_SPLIT_TRAIN, 7, 0, 0),
                 *c = gen("all", n, DATA_SPLIT_TRAIN, 8, 0, 0);
    size_t diff = 0;
    for (size_t i = 0; i < n; i++) {
        cr_expect(same(&a[i], &b[i]), "problem %zu differs between two runs with seed 7", i);
        diff += !same(&a[i], &c[i]);
    }
    cr_expect_gt(diff, n / 2, "seeds 7 and 8 gave %zu different problems of %zu", diff, n);
    free_all(a, n);
    free_all(b, n);
    free_all(c, n);
}

Test(synth, train_and_test_never_share_a_problem) {
    size_t n = 4400; /* 400 per family, levels in turn */
    data_problem *tr = gen("all", n, DATA_SPLIT_TRAIN, 1, 0, 0), *te = gen("all", n, DATA_SPLIT_TEST, 2, 0, 0);
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(data_split_of(tr[i].family, tr[i].prompt), DATA_SPLIT_TRAIN);
    size_t shared = 0, test_levels[4] = {0};
    for (size_t i = 0; i < n; i++) {
        cr_assert_eq(data_split_of(te[i].family, te[i].prompt), DATA_SPLIT_TEST);
        test_levels[te[i].level]++;
        for (size_t j = 0; j < n; j++) /* every pair, by text: no trust in the hash */
            if (!strcmp(tr[j].prompt, te[i].prompt) && !strcmp(tr[j].family, te[i].family)) shared++;
    }
    cr_expect_eq(shared, 0, "%zu test problems also in train", shared);
    cr_expect(test_levels[1] > 0 && test_levels[2] > 0 && test_levels[3] > 0);
    free_all(tr, n);
    free_all(te, n);
}

Test(synth, split_is_about_a_fifth_and_independent_of_the_seed) {
    /* Over a family with a large problem space, about 1 in 5 distinct prompts is a test problem. */
    const data_family *f = data_family_find("mul");
    rt_rng r;
    rt_rng_seed(&r, 99);
    size_t test = 0, total = 20000;
    for (size_t i = 0; i < total; i++) {
        int64_t ops[DATA_MAX_OPS] = {0};
        f->draw(&r, 2, ops);
        char prompt[64];
        snprintf(prompt, sizeof prompt, "Compute %lld*%lld.", (long long)ops[0], (long long)ops[1]);
        test += data_split_of("mul", prompt) == DATA_SPLIT_TEST;
    }
    cr_expect(test > total * 0.18 && test < total * 0.22, "%zu of %zu in test", test, total);
}

Test(synth, levels_and_short_prompts) {
    size_t n = 99;
    for (int level = 1; level <= 3; level++) {
        data_problem *ps = gen("all", n, DATA_SPLIT_TRAIN, 3, level, 0);
        for (size_t i = 0; i < n; i++) {
            cr_expect_eq(ps[i].level, level);
            cr_expect_leq(strlen(ps[i].prompt), 72, "long prompt: %s", ps[i].prompt);
        }
        free_all(ps, n);
    }
    data_problem *mul = gen("mul", 6, DATA_SPLIT_TRAIN, 3, 0, 0);
    for (size_t i = 0; i < 6; i++)
        cr_expect_eq(mul[i].level, (int)(i % 3) + 1);
    /* Operand sizes grow with the level: the product has more digits. */
    cr_expect_lt(strlen(mul[0].answer), strlen(mul[1].answer));
    cr_expect_lt(strlen(mul[1].answer), strlen(mul[2].answer));
    free_all(mul, 6);
}

Test(synth, unique_and_its_limit) {
    data_problem *ps = gen("add", 10, DATA_SPLIT_TEST, 4, 1, 1);
    for (size_t i = 0; i < 10; i++)
        for (size_t j = i + 1; j < 10; j++)
            cr_expect(strcmp(ps[i].id, ps[j].id) != 0);
    free_all(ps, 10);
    /* 100 single-digit sums, about 20 of them in test: 60 distinct test problems cannot exist. */
    data_gen_options o = {"add", 60, DATA_SPLIT_TEST, 4, 1, 1};
    rt_error err;
    cr_expect_eq(data_generate(&o, &ps, &err), RT_ERANGE);
    cr_expect(strstr(err.msg, "family add") && strstr(err.msg, "too few distinct"), "%s", err.msg);
    /* Without --unique, repeats are allowed. */
    o.unique = 0;
    cr_assert_eq(data_generate(&o, &ps, &err), RT_OK, "%s", err.msg);
    free_all(ps, 60);
}

Test(synth, bad_options) {
    data_problem *ps;
    rt_error err;
    data_gen_options o = {"nope", 5, DATA_SPLIT_TRAIN, 1, 0, 0};
    cr_expect_eq(data_generate(&o, &ps, &err), RT_ENOTFOUND);
    o.family = "mul";
    o.level = 4;
    cr_expect_eq(data_generate(&o, &ps, &err), RT_EINVAL);
    o.level = 1;
    o.n = 0;
    cr_expect_eq(data_generate(&o, &ps, &err), RT_EINVAL);
    data_split s;
    cr_expect_eq(data_split_parse("validation", &s, &err), RT_EINVAL);
}

/* The reference programs and the worked solutions, checked by Python (tests/data/check_problems.py). */
Test(synth, python_confirms_programs_and_worked_solutions, .timeout = 60) {
    char dir[64], path[128];
    test_tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/p.jsonl", dir);
    size_t n = 660; /* 60 per family, 20 per level */
    data_problem *ps = gen("all", n, DATA_SPLIT_TEST, 11, 0, 0);
    rt_error err;
    cr_assert_eq(data_problems_write_jsonl(path, ps, n, &err), RT_OK, "%s", err.msg);
    free_all(ps, n);
    char cmd[256], out[8192];
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 tests/data/check_problems.py %s 2>&1", path);
    FILE *p = popen(cmd, "r");
    size_t len = fread(out, 1, sizeof out - 1, p);
    out[len] = '\0';
    int st = pclose(p);
    cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s", out);
    cr_expect(strstr(out, "checked 660 problems") != NULL, "%s", out);
    /* Every tool family's worked solution has checkable arithmetic. */
    const char *fams[] = {"mul=", "modpow=", "digitsum=", "count=", "series=", "binom=", "gcdlcm=", "base="};
    for (size_t i = 0; i < 8; i++) {
        const char *at = strstr(out, fams[i]);
        cr_expect(at && atoi(at + strlen(fams[i])) > 0, "%s: no checked sentence (%s)", fams[i], out);
    }
    test_rmdir(dir);
}
