/* A walk over one JSON line that finds the ends of strings and of objects and arrays without looking at each of their
 * bytes in turn: 64 bytes at a time it marks the quotes that are not escaped and the brackets outside strings (the
 * way simdjson's first stage does), so a string is skipped by finding the next quote bit and an object or array by
 * matching bracket bits. It reads the values it skips as dash_jscan.h's dash_js_skip does (strings by their quotes,
 * objects and arrays by brackets that match), and the objects and arrays a reader walks member by member as
 * dash_js_member does (keys, colons, commas, whitespace): the same lines are well-formed for both. A cursor (at) moves
 * forward only; every function returns 0 or NULL where the text is malformed. Used where the dashboard summarizes a
 * million queue lines (dash_qline.c). */
#ifndef RETOOL_SERVE_DASH_JTOK_H
#define RETOOL_SERVE_DASH_JTOK_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "serve/dash_jscan.h"

typedef struct dash_jtok {
    const char *at;           /* the walk's position: just past what was read last */
    const char *end;          /* the end of the text */
    const char *blk, *next;   /* the block quote and bracket describe, and the one after it */
    uint64_t quote, bracket;  /* that block's quotes not escaped, and brackets outside strings */
    uint64_t backslash;       /* that block's backslashes */
    uint64_t in_str, escaped; /* carried into the next block: all ones inside a string; 1 when its first byte is
                                 escaped */
    int bad_escape;           /* a backslash seen so far escapes no byte JSON allows it to (then the line is
                                 malformed, as cJSON finds it) */
} dash_jtok;

/* Marks bytes with AVX2 (on, where the machine has it) or with SSE2 (off); by default whatever the machine has. For
 * tests, which check both give the same walk; call it before any walk starts. */
void dash_jtok_use_avx2(int on);

/* Starts a walk over [p, end), at p. */
void dash_jtok_init(dash_jtok *t, const char *p, const char *end);

/* The end of the value that starts at v (no whitespace before it), which the cursor moves to; NULL when it is
 * malformed. A number or literal is read as dash_js_skip reads it. */
const char *dash_jtok_skip(dash_jtok *t, const char *v);

/* Enters the object or array at v: the cursor moves past its bracket. */
static inline void dash_jtok_enter(dash_jtok *t, const char *v) {
    t->at = v + 1;
}

/* One member of an object: its key (decoded when written with escapes, as cJSON reads it; not NUL-terminated) and
 * where its value starts. The caller walks the value (dash_jtok_skip, or its own walk) before asking for the next
 * member. */
typedef struct dash_jtok_member {
    const char *key, *val;
    size_t klen;
    char decoded[64]; /* the key, when it has escapes (a longer one is none the readers look for: left empty) */
} dash_jtok_member;

/* The first quote (bracket: bracket) at or after from, past the block at hand (dash_jtok_next_bit's slow half). */
const char *dash_jtok_next_bit_slow(dash_jtok *t, const char *from, int bracket);

/* The first quote (bracket: bracket) at or after from, or NULL: inline, as most are in the block at hand. */
static inline const char *dash_jtok_next_bit(dash_jtok *t, const char *from, int bracket) {
    if (from >= t->blk && from < t->next) {
        uint64_t m = (bracket ? t->bracket : t->quote) & (~0ull << (from - t->blk));
        if (m) {
            const char *b = t->blk + __builtin_ctzll(m);
            return b < t->end ? b : NULL;
        }
    }
    return dash_jtok_next_bit_slow(t, from, bracket);
}

/* After entering an object (first set) or walking a member's value: the next member in *m (1), or the end of the
 * object (0, *bad clear, the cursor past the '}') or malformed text (0, *bad set). Inline: called for every member. */
static inline int dash_jtok_member_next(dash_jtok *t, int *first, dash_jtok_member *m, int *bad) {
    const char *p = dash_js_ws(t->at, t->end), *end = t->end;
    if (p < end && *p == '}') {
        t->at = p + 1;
        return 0;
    }
    if (!*first) {
        if (p >= end || *p != ',') return *bad = 1, 0;
        p = dash_js_ws(p + 1, end);
    }
    *first = 0;
    const char *ke = p < end && *p == '"' ? dash_jtok_next_bit(t, p + 1, 0) : NULL;
    if (!ke) return *bad = 1, 0;
    m->key = p + 1;
    m->klen = (size_t)(ke - p - 1);
    /* A key with a backslash is compared decoded (the block's backslash bits say so when the key lies in it). */
    int escapes = p + 1 >= t->blk ? (t->backslash & ~(~0ull << (ke - t->blk)) & (~0ull << (p + 1 - t->blk))) != 0
                                  : memchr(m->key, '\\', m->klen) != NULL;
    if (escapes) {
        m->key = m->decoded;
        m->klen = dash_js_str(p, ke + 1, m->decoded, sizeof m->decoded) ? strlen(m->decoded) : 0;
        if (m->klen == sizeof m->decoded - 1) m->klen = 0;
    }
    p = dash_js_ws(ke + 1, end);
    if (p >= end || *p != ':') return *bad = 1, 0;
    m->val = dash_js_ws(p + 1, end);
    if (m->val >= end) return *bad = 1, 0;
    return 1;
}

/* After entering an array (first set) or walking an element: where the next element starts, or NULL at the end of
 * the array (*bad clear, the cursor past the ']') or on malformed text (*bad set). */
const char *dash_jtok_elem_next(dash_jtok *t, int *first, int *bad);

/* 1 when m's key is k. */
static inline int dash_jtok_key_is(const dash_jtok_member *m, const char *k) {
    size_t n = strlen(k);
    return m->klen == n && !memcmp(m->key, k, n);
}

#endif
