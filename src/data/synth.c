/* The family table, the split rule, and the seeded generator loop. */
#include "data/synth.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/families.h"

static const data_family *const table[] = {
    &data_fam_mul,    &data_fam_modpow, &data_fam_digitsum, &data_fam_count, &data_fam_series,  &data_fam_binom,
    &data_fam_gcdlcm, &data_fam_base,   &data_fam_add,      &data_fam_sub,   &data_fam_compare,
};

const data_family *const *data_families(size_t *n) {
    *n = sizeof table / sizeof table[0];
    return table;
}

const data_family *data_family_find(const char *name) {
    size_t n;
    const data_family *const *f = data_families(&n);
    for (size_t i = 0; i < n; i++)
        if (strcmp(f[i]->name, name) == 0) return f[i];
    return NULL;
}

uint64_t data_problem_hash(const char *family, const char *prompt) {
    /* FNV-1a over "family\x1fprompt", then the SplitMix64 finaliser so that every bit mixes. */
    uint64_t h = 0xcbf29ce484222325ull;
    for (const char *s = family; *s; s++)
        h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
    h = (h ^ 0x1f) * 0x100000001b3ull;
    for (const char *s = prompt; *s; s++)
        h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
    h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ull;
    h = (h ^ (h >> 27)) * 0x94d049bb133111ebull;
    return h ^ (h >> 31);
}

rt_status data_problem_key(const data_family *f, int level, const int64_t *ops, uint64_t *key, rt_error *err) {
    int64_t c[DATA_MAX_OPS];
    memcpy(c, ops, sizeof c);
    if (f->canon) f->canon(level, c);
    data_problem p = {0};
    rt_status st = f->make(level, c, 0, &p, err);
    if (st) return st;
    *key = data_problem_hash(f->name, p.prompt);
    data_problem_free(&p);
    return RT_OK;
}

data_split data_split_of_key(uint64_t key) {
    return key % 5 == 0 ? DATA_SPLIT_TEST : DATA_SPLIT_TRAIN;
}

static rt_status set_identity(const data_family *f, int level, uint64_t key, data_problem *p, rt_error *err) {
    char id[64];
    snprintf(id, sizeof id, "%s-%016" PRIx64, f->name, key);
    p->id = strdup(id);
    p->family = strdup(f->name);
    p->level = level;
    if (!p->id || !p->family) {
        data_problem_free(p);
        return rt_err_set(err, RT_ENOMEM, "building a problem: out of memory");
    }
    return RT_OK;
}

/* The whole problem of (level, ops), whose canonical key the caller has. */
static rt_status build_keyed(const data_family *f, int level, const int64_t *ops, uint64_t key, data_problem *p,
                             rt_error *err) {
    memset(p, 0, sizeof *p);
    rt_status st = f->make(level, ops, 1, p, err);
    return st ? st : set_identity(f, level, key, p, err);
}

rt_status data_family_build(const data_family *f, int level, const int64_t *ops, data_problem *p, rt_error *err) {
    memset(p, 0, sizeof *p);
    if (level < 1 || level > DATA_LEVEL_MAX)
        return rt_err_set(err, RT_EINVAL, "family %s: level %d is not 1-%d", f->name, level, DATA_LEVEL_MAX);
    uint64_t key;
    rt_status st = data_problem_key(f, level, ops, &key, err);
    return st ? st : build_keyed(f, level, ops, key, p, err);
}

size_t data_problems_dedupe(data_problem *ps, size_t n) {
    size_t kept = 0;
    for (size_t i = 0; i < n; i++) {
        int dup = 0;
        for (size_t j = 0; ps[i].id && j < kept && !dup; j++) /* n is a held-out set's size: quadratic is fine */
            dup = ps[j].id && strcmp(ps[j].id, ps[i].id) == 0;
        if (dup) {
            data_problem_free(&ps[i]);
            continue;
        }
        if (kept != i) {
            ps[kept] = ps[i];
            memset(&ps[i], 0, sizeof ps[i]);
        }
        kept++;
    }
    return kept;
}

rt_status data_split_parse(const char *s, data_split *out, rt_error *err) {
    if (strcmp(s, "train") == 0) {
        *out = DATA_SPLIT_TRAIN;
    } else if (strcmp(s, "test") == 0) {
        *out = DATA_SPLIT_TEST;
    } else {
        return rt_err_set(err, RT_EINVAL, "split '%s': expected train or test", s);
    }
    return RT_OK;
}

/* A set of 64-bit problem hashes (open addressing; 0 marks a free slot, so hash 0 is stored as 1). */
typedef struct hash_set {
    uint64_t *slots;
    size_t cap;
} hash_set;

/* Inserts h; returns 1 when it was new, 0 when present (the table is sized so it never fills). */
static int hash_set_add(hash_set *s, uint64_t h) {
    h = h ? h : 1;
    for (size_t i = h & (s->cap - 1);; i = (i + 1) & (s->cap - 1)) {
        if (s->slots[i] == h) return 0;
        if (s->slots[i] == 0) {
            s->slots[i] = h;
            return 1;
        }
    }
}

enum { MAX_TRIES = 10000 };

rt_status data_generate(const data_gen_options *o, data_problem **out, rt_error *err) {
    *out = NULL;
    size_t nfam;
    const data_family *const *all = data_families(&nfam);
    const data_family *one = NULL;
    if (o->family && strcmp(o->family, "all") != 0) {
        one = data_family_find(o->family);
        if (!one) return rt_err_set(err, RT_ENOTFOUND, "no family '%s' (retool data families lists them)", o->family);
    }
    if (o->level < 0 || o->level > DATA_LEVEL_MAX)
        return rt_err_set(err, RT_EINVAL, "level %d: expected 1-%d, or 0 for all levels in turn", o->level,
                          DATA_LEVEL_MAX);
    if (o->n == 0) return rt_err_set(err, RT_EINVAL, "n must be at least 1");
    data_problem *ps = calloc(o->n, sizeof *ps);
    hash_set seen = {NULL, 16};
    while (seen.cap < 2 * o->n)
        seen.cap *= 2;
    seen.slots = o->unique ? calloc(seen.cap, sizeof *seen.slots) : NULL;
    if (!ps || (o->unique && !seen.slots)) {
        free(ps);
        free(seen.slots);
        return rt_err_set(err, RT_ENOMEM, "generating %zu problems: out of memory", o->n);
    }
    rt_rng root;
    rt_rng_seed(&root, o->seed);
    rt_status st = RT_OK;
    size_t done = 0;
    for (size_t i = 0; st == RT_OK && i < o->n; i++) {
        const data_family *f = one ? one : all[i % nfam];
        size_t j = one ? i : i / nfam; /* index within the family: levels 1, 2, 3 in turn */
        int level = o->level ? o->level : (int)(j % DATA_LEVEL_MAX) + 1;
        rt_rng rng = rt_rng_split(&root, i);
        int found = 0;
        for (int t = 0; st == RT_OK && t < MAX_TRIES && !found; t++) {
            int64_t ops[DATA_MAX_OPS] = {0};
            f->draw(&rng, level, ops);
            uint64_t key;
            st = data_problem_key(f, level, ops, &key, err); /* the canonical form alone decides the split */
            if (st) break;
            int ok = data_split_of_key(key) == o->split;
            if (ok && o->unique) ok = hash_set_add(&seen, key) == 1;
            if (!ok) continue;
            st = build_keyed(f, level, ops, key, &ps[i], err);
            found = st == RT_OK;
        }
        if (st == RT_OK && !found)
            st = rt_err_set(err, RT_ERANGE,
                            "family %s, level %d: no new %s problem in %d tries for problem %zu of %zu; the family has "
                            "too few distinct problems for this many (lower --n, or allow repeats)",
                            f->name, level, o->split == DATA_SPLIT_TEST ? "test" : "train", MAX_TRIES, i + 1, o->n);
        if (st == RT_OK) done++;
    }
    free(seen.slots);
    if (st != RT_OK) {
        for (size_t i = 0; i < done; i++)
            data_problem_free(&ps[i]);
        free(ps);
        return st;
    }
    *out = ps;
    return RT_OK;
}
