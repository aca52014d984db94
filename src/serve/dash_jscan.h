/* A reader of one JSON line that walks it without building a tree: the dashboard's indexes take a few fields from
 * each of a million lines, which cJSON would first copy whole. Every function takes the text [p, end) and returns
 * NULL when it is not well-formed JSON there (the caller names the file and line). */
#ifndef RETOOL_SERVE_DASH_JSCAN_H
#define RETOOL_SERVE_DASH_JSCAN_H

#include <stddef.h>
#include <string.h>

/* Skips whitespace (dash_js_ws_slow past the first byte). */
const char *dash_js_ws_slow(const char *p, const char *end);

/* Skips whitespace: inline, as most values start right after their ':' or ','. */
static inline const char *dash_js_ws(const char *p, const char *end) {
    return p < end && (unsigned char)*p > ' ' ? p : dash_js_ws_slow(p, end);
}

/* The end of the value starting at p (after leading whitespace), or NULL when it is malformed. */
const char *dash_js_skip(const char *p, const char *end);

/* The value of key in the object at p (the start of its value), or NULL when p is no object or has no such key;
 * *bad is set when the object is malformed. A key written with escapes ("\u006bind") matches as decoded. */
const char *dash_js_get(const char *p, const char *end, const char *key, int *bad);

/* Decodes the string at p into buf (NUL-terminated, cut to cap - 1 bytes); returns the end of the string or NULL
 * when p is no string. \u escapes are decoded to UTF-8. */
const char *dash_js_str(const char *p, const char *end, char *buf, size_t cap);

/* Reads the number at p; returns its end or NULL when p is no number. */
const char *dash_js_num(const char *p, const char *end, double *out);

/* The first element of the array at p (NULL when the array is empty or p is none); *bad set when malformed. */
const char *dash_js_first(const char *p, const char *end, int *bad);

/* The element after the one at p inside its array (NULL at the end); *bad set when malformed. */
const char *dash_js_next(const char *p, const char *end, int *bad);

/* A walk over the members of one object, each visited once: dash_js_iter_init at the '{', then dash_js_member
 * until it returns 0 (the end, or bad set when malformed; then end_of_object is just past the '}'). */
typedef struct dash_js_iter {
    const char *p, *end;
    const char *key, *val; /* the member: key (not NUL-terminated, klen bytes, still escaped) and its value */
    size_t klen;
    int started, bad;
} dash_js_iter;

/* Starts a walk over the object at p; 0 (and bad set) when p is no object. */
int dash_js_iter_init(dash_js_iter *it, const char *p, const char *end);

/* Moves to the next member (past the current value; a caller that walked the value itself sets val to NULL and p
 * just past it); 0 at the end of the object (it->p is then just past the '}') or when malformed. */
int dash_js_member(dash_js_iter *it);

/* 1 when the current member's key is k (inline: the length of a literal k is known at compile time). */
static inline int dash_js_key_is(const dash_js_iter *it, const char *k) {
    size_t n = strlen(k);
    return it->klen == n && !memcmp(it->key, k, n);
}

/* p is just past an array element: the next element's start, or NULL at the end of the array (*after then just past
 * the ']') or when malformed (*bad set). */
const char *dash_js_after_elem(const char *p, const char *end, const char **after, int *bad);

#endif
