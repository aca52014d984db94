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

typedef struct dash_jtok {
    const char *at;            /* the walk's position: just past what was read last */
    const char *end;           /* the end of the text */
    const char *blk, *next;    /* the block quote and bracket describe, and the one after it */
    uint64_t quote, bracket;   /* that block's quotes not escaped, and brackets outside strings */
    uint64_t backslash;        /* that block's backslashes */
    uint64_t in_str, escaped;  /* carried into the next block: all ones inside a string; 1 when its first byte is
                                  escaped */
    int bad_escape;            /* a backslash seen so far escapes no byte JSON allows it to (then the line is
                                  malformed, as cJSON finds it) */
} dash_jtok;

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

/* After entering an object (first set) or walking a member's value: the next member in *m (1), or the end of the
 * object (0, *bad clear, the cursor past the '}') or malformed text (0, *bad set). */
int dash_jtok_member_next(dash_jtok *t, int *first, dash_jtok_member *m, int *bad);

/* After entering an array (first set) or walking an element: where the next element starts, or NULL at the end of
 * the array (*bad clear, the cursor past the ']') or on malformed text (*bad set). */
const char *dash_jtok_elem_next(dash_jtok *t, int *first, int *bad);

/* 1 when m's key is k. */
static inline int dash_jtok_key_is(const dash_jtok_member *m, const char *k) {
    size_t n = strlen(k);
    return m->klen == n && !memcmp(m->key, k, n);
}

#endif
