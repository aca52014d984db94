/* Synthetic task families: seeded generators of exact-computation problems (a small model cannot do them in its
 * head; one line of Python can) and of problems that need no tool, with exact answers (GMP), reference programs and
 * worked text solutions. Train and test are disjoint by construction: a hash of the problem's canonical form (the
 * prompt of its canonical operands, so that "a*b" and "b*a" or C(n,k) and C(n,n-k) are one problem) decides its split,
 * whatever the seed. docs/DATA.md describes every family. */
#ifndef RETOOL_DATA_SYNTH_H
#define RETOOL_DATA_SYNTH_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "base/rng.h"
#include "data/problem.h"

enum { DATA_MAX_OPS = 4, DATA_LEVEL_MAX = 3 };

typedef struct data_family {
    const char *name;
    const char *summary; /* one line: what the problems ask, per level */
    int needs_tool;      /* 0 for the families a model should answer without calling Python */
    /* Draws the operands of one problem at level (1-3) into ops. */
    void (*draw)(rt_rng *rng, int level, int64_t *ops);
    /* Builds the prompt (always) and, when full, the answer, program and text solution from the operands. */
    rt_status (*make)(int level, const int64_t *ops, int full, data_problem *p, rt_error *err);
    /* Rewrites ops in place to the canonical operands of the same mathematical problem (sorted operands of a
     * symmetric operation, the smaller k of C(n,k), ...); NULL when every operand tuple is its own canonical form. */
    void (*canon)(int level, int64_t *ops);
} data_family;

typedef enum data_split { DATA_SPLIT_TRAIN = 0, DATA_SPLIT_TEST } data_split;

/* The families, in a fixed order; *n gets their count. */
const data_family *const *data_families(size_t *n);

/* The family called name, or NULL. */
const data_family *data_family_find(const char *name);

/* The 64-bit hash of a family name and a prompt text, identical on every machine. */
uint64_t data_problem_hash(const char *family, const char *prompt);

/* The hash of the problem's canonical form: data_problem_hash of the prompt that f builds from the canonical operands
 * of (level, ops). Two problems with the same answer by the same symmetry (a*b, b*a) get the same key. */
rt_status data_problem_key(const data_family *f, int level, const int64_t *ops, uint64_t *key, rt_error *err);

/* The split of a problem with canonical key: test when the key is 0 mod 5 (a fifth of the problem space), else
 * train. */
data_split data_split_of_key(uint64_t key);

/* Builds one problem of family f from explicit operands (as draw would give them), with its id ("FAMILY-KEY", the
 * canonical key in hex: equivalent problems share an id) and family set. */
rt_status data_family_build(const data_family *f, int level, const int64_t *ops, data_problem *p, rt_error *err);

typedef struct data_gen_options {
    const char *family; /* a family name, or NULL / "all" for every family in turn */
    size_t n;           /* problems to generate */
    data_split split;
    uint64_t seed;
    int level;  /* 1-3, or 0 for levels 1, 2, 3 in turn */
    int unique; /* refuse repeats (same canonical form) within the output (fails when a family has too few problems) */
} data_gen_options;

/* Generates o->n problems into a malloc'd array *out (free each with data_problem_free, then the array). The
 * problems depend only on the options, never on the machine. */
rt_status data_generate(const data_gen_options *o, data_problem **out, rt_error *err);

/* Keeps the first of each group of problems with the same id (the canonical form, for synthetic problems) in order,
 * frees the others; returns the new count. Problems without an id are kept. */
size_t data_problems_dedupe(data_problem *ps, size_t n);

/* Parses "train" / "test". */
rt_status data_split_parse(const char *s, data_split *out, rt_error *err);

#endif
