/* Synthetic task families: seeded generators of exact-computation problems (a small model cannot do them in its
 * head; one line of Python can) and of problems that need no tool, with exact answers (GMP), reference programs and
 * worked text solutions. Train and test are disjoint by construction: a hash of the canonical problem (family and
 * prompt) decides its split, whatever the seed. docs/DATA.md describes every family. */
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
} data_family;

typedef enum data_split { DATA_SPLIT_TRAIN = 0, DATA_SPLIT_TEST } data_split;

/* The families, in a fixed order; *n gets their count. */
const data_family *const *data_families(size_t *n);

/* The family called name, or NULL. */
const data_family *data_family_find(const char *name);

/* The 64-bit hash of a canonical problem (family name and prompt text), identical on every machine. */
uint64_t data_problem_hash(const char *family, const char *prompt);

/* The split a problem belongs to: test when its hash is 0 mod 5 (a fifth of the problem space), else train. */
data_split data_split_of(const char *family, const char *prompt);

/* Builds one problem of family f from explicit operands (as draw would give them), with its id and family set. */
rt_status data_family_build(const data_family *f, int level, const int64_t *ops, data_problem *p, rt_error *err);

typedef struct data_gen_options {
    const char *family; /* a family name, or NULL / "all" for every family in turn */
    size_t n;           /* problems to generate */
    data_split split;
    uint64_t seed;
    int level;  /* 1-3, or 0 for levels 1, 2, 3 in turn */
    int unique; /* refuse repeats within the output (fails when a family has too few problems) */
} data_gen_options;

/* Generates o->n problems into a malloc'd array *out (free each with data_problem_free, then the array). The
 * problems depend only on the options, never on the machine. */
rt_status data_generate(const data_gen_options *o, data_problem **out, rt_error *err);

/* Parses "train" / "test". */
rt_status data_split_parse(const char *s, data_split *out, rt_error *err);

#endif
