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

/* The split of a generated problem, from the canonical key its id carries ("FAMILY-HEX"). */
static data_split split_of_id(const char *id) {
    const char *dash = strrchr(id, '-');
    cr_assert(dash, "id %s", id);
    return data_split_of_key(strtoull(dash + 1, NULL, 16));
}

/* An independent canonical form, read from the prompt text alone (not from the generators' operands): the numbers of
 * a symmetric operation sorted, C(n,k) with the smaller k, B^E with the smallest base. Two prompts with the same
 * form ask the same question. */
static void canon_text(const char *family, const char *prompt, char *out, size_t n) {
    char num[8][48] = {{0}}; /* the prompt's numbers as written (a base-2 numeral does not fit a long long) */
    int k = 0;
    for (const char *s = prompt; *s && k < 8;) {
        size_t len = strspn(s, "0123456789");
        if (len) {
            snprintf(num[k++], sizeof num[0], "%.*s", (int)len, s);
            s += len;
        } else {
            s++;
        }
    }
    int sort_from = 0, sort_n = 0;
    if (!strcmp(family, "mul") || !strcmp(family, "add") || !strcmp(family, "compare")) sort_n = 2;
    if (!strcmp(family, "gcdlcm")) sort_n = k;
    if (!strcmp(family, "count") && k == 4) sort_from = 2, sort_n = 2;
    for (int i = sort_from; i < sort_from + sort_n; i++)
        for (int j = i + 1; j < sort_from + sort_n; j++)
            if (atoll(num[j]) < atoll(num[i])) {
                char t[48];
                memcpy(t, num[i], sizeof t);
                memcpy(num[i], num[j], sizeof t);
                memcpy(num[j], t, sizeof t);
            }
    long long a = atoll(num[0]), b = atoll(num[1]);
    if (!strcmp(family, "binom") && a - b < b) snprintf(num[1], sizeof num[1], "%lld", a - b);
    if (!strcmp(family, "modpow") || !strcmp(family, "digitsum"))
        for (long long r = 2; r < a; r++) { /* the smallest r with r^e = B, by repeated division */
            long long rest = a, e = 0;
            while (rest % r == 0)
                rest /= r, e++;
            if (rest == 1) {
                snprintf(num[0], sizeof num[0], "%lld", r);
                snprintf(num[1], sizeof num[1], "%lld", b * e);
                break;
            }
        }
    /* The words matter too (gcd and lcm, series of squares and of cubes): keep the prompt's letters. */
    char words[80];
    size_t w = 0;
    for (const char *s = prompt; *s && w + 1 < sizeof words; s++)
        if ((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || *s == '^') words[w++] = *s;
    words[w] = '\0';
    int len = snprintf(out, n, "%s|%s", family, words);
    for (int i = 0; i < k && len > 0 && (size_t)len < n; i++)
        len += snprintf(out + len, n - (size_t)len, "|%s", num[i]);
}

Test(synth, equivalent_problems_share_a_key_and_a_split) {
    static const struct {
        const char *family;
        int level;
        int64_t a[4], b[4];
    } pairs[] = {
        {"mul", 2, {4821, 9177}, {9177, 4821}},  {"add", 1, {3, 5}, {5, 3}},
        {"compare", 2, {47, 74}, {74, 47}},      {"binom", 1, {20, 3}, {20, 17}},
        {"gcdlcm", 3, {4, 6, 10}, {10, 4, 6}},   {"gcdlcm", 1, {84, 126}, {126, 84}},
        {"digitsum", 1, {4, 15}, {2, 30}},       {"modpow", 2, {27, 100, 997}, {3, 300, 997}},
        {"count", 2, {1, 100, 3, 5}, {1, 100, 5, 3}},
    };
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
        const data_family *f = data_family_find(pairs[i].family);
        uint64_t ka, kb;
        rt_error err;
        cr_assert_eq(data_problem_key(f, pairs[i].level, pairs[i].a, &ka, &err), RT_OK, "%s", err.msg);
        cr_assert_eq(data_problem_key(f, pairs[i].level, pairs[i].b, &kb, &err), RT_OK, "%s", err.msg);
        cr_expect_eq(ka, kb, "%s: two forms of one problem have different keys", pairs[i].family);
        data_problem pa, pb;
        cr_assert_eq(data_family_build(f, pairs[i].level, pairs[i].a, &pa, &err), RT_OK, "%s", err.msg);
        cr_assert_eq(data_family_build(f, pairs[i].level, pairs[i].b, &pb, &err), RT_OK, "%s", err.msg);
        cr_expect_str_eq(pa.id, pb.id);
        cr_expect_str_eq(pa.answer, pb.answer); /* the same problem: the same answer */
        data_problem_free(&pa);
        data_problem_free(&pb);
    }
    /* Different problems keep different keys. */
    uint64_t k1, k2;
    rt_error err;
    cr_assert_eq(data_problem_key(data_family_find("sub"), 1, (int64_t[4]){7, 2}, &k1, &err), RT_OK);
    cr_assert_eq(data_problem_key(data_family_find("sub"), 1, (int64_t[4]){2, 7}, &k2, &err), RT_OK);
    cr_expect_neq(k1, k2);
}

Test(synth, train_and_test_never_share_a_problem) {
    size_t n = 4400; /* 400 per family, levels in turn */
    data_problem *tr = gen("all", n, DATA_SPLIT_TRAIN, 1, 0, 0), *te = gen("all", n, DATA_SPLIT_TEST, 2, 0, 0);
    char(*ctr)[400] = malloc(n * sizeof *ctr);
    cr_assert(ctr);
    for (size_t i = 0; i < n; i++) {
        cr_assert_eq(split_of_id(tr[i].id), DATA_SPLIT_TRAIN);
        canon_text(tr[i].family, tr[i].prompt, ctr[i], sizeof ctr[i]);
    }
    size_t shared = 0, test_levels[4] = {0};
    for (size_t i = 0; i < n; i++) {
        cr_assert_eq(split_of_id(te[i].id), DATA_SPLIT_TEST);
        test_levels[te[i].level]++;
        char c[400];
        canon_text(te[i].family, te[i].prompt, c, sizeof c);
        for (size_t j = 0; j < n; j++) /* every pair, by the test's own canonical text: no trust in the key */
            if (!strcmp(ctr[j], c)) {
                if (shared++ < 5) cr_log_error("shared: train '%s', test '%s'", tr[j].prompt, te[i].prompt);
            }
    }
    cr_expect_eq(shared, 0, "%zu test problems are also in train in another form", shared);
    cr_expect(test_levels[1] > 0 && test_levels[2] > 0 && test_levels[3] > 0);
    free(ctr);
    free_all(tr, n);
    free_all(te, n);
}

Test(synth, dedupe_keeps_one_of_each_canonical_problem) {
    size_t n = 600;
    data_problem *te = gen("all", n, DATA_SPLIT_TEST, 5, 0, 0);
    size_t kept = data_problems_dedupe(te, n);
    cr_expect_lt(kept, n, "600 draws from small families (add: ~11 test problems) must repeat");
    for (size_t i = 0; i < kept; i++) {
        char a[400];
        canon_text(te[i].family, te[i].prompt, a, sizeof a);
        for (size_t j = i + 1; j < kept; j++) {
            char b[400];
            canon_text(te[j].family, te[j].prompt, b, sizeof b);
            cr_expect_str_neq(a, b, "kept twice: '%s' and '%s'", te[i].prompt, te[j].prompt);
        }
    }
    free_all(te, n); /* the dropped entries are zeroed: freeing them is a no-op */
}

Test(synth, split_is_about_a_fifth_and_independent_of_the_seed) {
    /* Over a family with a large problem space, about 1 in 5 distinct problems is a test problem. */
    const data_family *f = data_family_find("mul");
    rt_rng r;
    rt_rng_seed(&r, 99);
    size_t test = 0, total = 20000;
    for (size_t i = 0; i < total; i++) {
        int64_t ops[DATA_MAX_OPS] = {0};
        f->draw(&r, 2, ops);
        uint64_t key;
        rt_error err;
        cr_assert_eq(data_problem_key(f, 2, ops, &key, &err), RT_OK, "%s", err.msg);
        test += data_split_of_key(key) == DATA_SPLIT_TEST;
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
    data_problem *ps = gen("add", 5, DATA_SPLIT_TEST, 4, 1, 1);
    for (size_t i = 0; i < 5; i++)
        for (size_t j = i + 1; j < 5; j++)
            cr_expect(strcmp(ps[i].id, ps[j].id) != 0);
    free_all(ps, 5);
    /* 55 single-digit sums up to order, about 11 of them in test: 60 distinct test problems cannot exist. */
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
