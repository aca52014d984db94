#include "serve/dash_jscan.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

const char *dash_js_ws_slow(const char *p, const char *end) {
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
        p++;
    return p;
}

/* Bit 7 of each byte of x that is c (exact for the lowest such byte, which is all the callers use). */
static inline uint64_t bytes_eq(uint64_t x, unsigned char c) {
    uint64_t y = x ^ (0x0101010101010101ull * c);
    return (y - 0x0101010101010101ull) & ~y & 0x8080808080808080ull;
}

/* The first '"' or '\\' in [p, end), or end: eight bytes at a time. */
static inline const char *quote_or_backslash(const char *p, const char *end) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    for (; end - p >= 8; p += 8) {
        uint64_t x;
        memcpy(&x, p, 8);
        uint64_t m = bytes_eq(x, '"') | bytes_eq(x, '\\');
        if (m) return p + (__builtin_ctzll(m) >> 3);
    }
#endif
    while (p < end && *p != '"' && *p != '\\')
        p++;
    return p;
}

/* 1 when [p, end) holds a byte below 0x20 (which a JSON string must escape). */
static inline int has_control(const char *p, const char *end) {
    for (; end - p >= 8; p += 8) {
        uint64_t x;
        memcpy(&x, p, 8);
        if ((x - 0x2020202020202020ull) & ~x & 0x8080808080808080ull) return 1;
    }
    for (; p < end; p++)
        if ((unsigned char)*p < 0x20) return 1;
    return 0;
}

/* The end of the string starting at p (the opening quote): the next quote not escaped by a backslash (a backslash
 * escapes the byte after it). */
static const char *skip_string(const char *p, const char *end) {
    for (const char *q = p + 1;;) {
        q = quote_or_backslash(q, end);
        if (q >= end) return NULL;
        if (*q == '"') return q + 1;
        q += 2;
        if (q > end) return NULL;
    }
}

static int number_char(char c) {
    return (c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E';
}

const char *dash_js_skip(const char *p, const char *end) {
    p = dash_js_ws(p, end);
    if (p >= end) return NULL;
    if (*p == '"') return skip_string(p, end);
    if (*p == '{' || *p == '[') {
        /* Brackets are matched by depth alone; strings are skipped whole so their brackets do not count. */
        char stack[64];
        int depth = 0;
        for (; p < end; p++) {
            char c = *p;
            if (c == '"') {
                p = skip_string(p, end);
                if (!p) return NULL;
                p--;
            } else if (c == '{' || c == '[') {
                if (depth == (int)sizeof stack) return NULL;
                stack[depth++] = c == '{' ? '}' : ']';
            } else if (c == '}' || c == ']') {
                if (!depth || stack[depth - 1] != c) return NULL;
                if (--depth == 0) return p + 1;
            }
        }
        return NULL;
    }
    const char *q = p;
    while (q < end && (number_char(*q) || (*q >= 'a' && *q <= 'z')))
        q++;
    if (q == p) return NULL;
    size_t n = (size_t)(q - p);
    if ((n == 4 && !memcmp(p, "true", 4)) || (n == 5 && !memcmp(p, "false", 5)) || (n == 4 && !memcmp(p, "null", 4)))
        return q;
    return (*p == '-' || (*p >= '0' && *p <= '9')) ? q : NULL;
}

/* 1 when the key string [q, ke) (quotes included) is key, as written or, when it holds escapes, decoded (as cJSON
 * reads it; keys looked up are short literals, decoded up to 62 bytes). */
static int key_is(const char *q, const char *ke, const char *key, size_t klen) {
    size_t n = (size_t)(ke - q) - 2;
    if (n == klen && !memcmp(q + 1, key, klen)) return 1;
    char buf[64];
    if (klen + 2 > sizeof buf || !memchr(q + 1, '\\', n)) return 0;
    /* decoded into klen + 1 bytes at most: a longer key is cut one byte past key's length and differs */
    return dash_js_str(q, ke, buf, klen + 2) && strlen(buf) == klen && !memcmp(buf, key, klen);
}

const char *dash_js_get(const char *p, const char *end, const char *key, int *bad) {
    p = dash_js_ws(p, end);
    if (p >= end || *p != '{') return NULL;
    size_t klen = strlen(key);
    p = dash_js_ws(p + 1, end);
    if (p < end && *p == '}') return NULL;
    for (;;) {
        if (p >= end || *p != '"') break;
        const char *ke = skip_string(p, end);
        if (!ke) break;
        int match = key_is(p, ke, key, klen);
        p = dash_js_ws(ke, end);
        if (p >= end || *p != ':') break;
        const char *v = dash_js_ws(p + 1, end);
        if (match) return v;
        p = dash_js_skip(v, end);
        if (!p) break;
        p = dash_js_ws(p, end);
        if (p < end && *p == '}') return NULL;
        if (p >= end || *p != ',') break;
        p = dash_js_ws(p + 1, end);
    }
    *bad = 1;
    return NULL;
}

static size_t put_utf8(char *o, unsigned cp) {
    if (cp < 0x80) return o[0] = (char)cp, 1;
    if (cp < 0x800) return o[0] = (char)(0xC0 | cp >> 6), o[1] = (char)(0x80 | (cp & 63)), 2;
    if (cp < 0x10000)
        return o[0] = (char)(0xE0 | cp >> 12), o[1] = (char)(0x80 | ((cp >> 6) & 63)), o[2] = (char)(0x80 | (cp & 63)),
               3;
    o[0] = (char)(0xF0 | cp >> 18);
    o[1] = (char)(0x80 | ((cp >> 12) & 63));
    o[2] = (char)(0x80 | ((cp >> 6) & 63));
    o[3] = (char)(0x80 | (cp & 63));
    return 4;
}

static int hex4(const char *p, const char *end, unsigned *out) {
    if (end - p < 4) return 0;
    char h[5] = {p[0], p[1], p[2], p[3], 0};
    char *e;
    *out = (unsigned)strtoul(h, &e, 16);
    return e == h + 4;
}

const char *dash_js_str(const char *p, const char *end, char *buf, size_t cap) {
    p = dash_js_ws(p, end);
    if (p >= end || *p != '"' || !cap) return NULL;
    size_t n = 0;
    for (p++; p < end; p++) {
        /* A run of plain bytes is copied at once; the loop below checks each for a control byte. */
        const char *run = quote_or_backslash(p, end);
        if (has_control(p, run)) return NULL;
        size_t k = (size_t)(run - p) < cap - 1 - n ? (size_t)(run - p) : cap - 1 - n;
        memcpy(buf + n, p, k);
        n += k;
        p = run;
        if (p >= end) return NULL;
        char tmp[4];
        k = 1;
        tmp[0] = *p;
        if (*p == '"') {
            buf[n] = 0;
            return p + 1;
        }
        if ((unsigned char)*p < 0x20) return NULL;
        if (*p == '\\') {
            if (++p >= end) return NULL;
            switch (*p) {
            case 'n':
                tmp[0] = '\n';
                break;
            case 't':
                tmp[0] = '\t';
                break;
            case 'r':
                tmp[0] = '\r';
                break;
            case 'b':
                tmp[0] = '\b';
                break;
            case 'f':
                tmp[0] = '\f';
                break;
            case '"':
            case '\\':
            case '/':
                tmp[0] = *p;
                break;
            case 'u': {
                unsigned cp, lo;
                if (!hex4(p + 1, end, &cp)) return NULL;
                p += 4;
                if (cp >= 0xD800 && cp < 0xDC00 && end - p > 6 && p[1] == '\\' && p[2] == 'u' &&
                    hex4(p + 3, end, &lo) && lo >= 0xDC00 && lo < 0xE000) {
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                    p += 6;
                }
                k = put_utf8(tmp, cp);
                break;
            }
            default:
                return NULL;
            }
        }
        if (n + k < cap) {
            memcpy(buf + n, tmp, k);
            n += k;
        }
    }
    return NULL;
}

const char *dash_js_num(const char *p, const char *end, double *out) {
    p = dash_js_ws(p, end);
    const char *e = dash_js_skip(p, end);
    if (!e || (*p != '-' && (*p < '0' || *p > '9'))) return NULL;
    /* Clinger's fast path: at most 15 digits and 22 after the point make a mantissa and a power of ten that are
     * both exact doubles, so one division is correctly rounded, as strtod would round. */
    static const double pow10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
                                   1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
    const char *q = p + (*p == '-');
    uint64_t mant = 0;
    int digits = 0, frac = -1;
    for (; q < e && digits <= 15; q++) {
        if (*q >= '0' && *q <= '9') {
            mant = mant * 10 + (uint64_t)(*q - '0');
            digits += mant != 0;
            frac += frac >= 0;
        } else if (*q == '.' && frac < 0) {
            frac = 0;
        } else {
            break;
        }
    }
    if (q == e && digits <= 15 && frac <= 22 && q[-1] != '.') {
        double v = (double)mant / pow10[frac < 0 ? 0 : frac];
        *out = *p == '-' ? -v : v;
        return e;
    }
    char tmp[64];
    size_t n = (size_t)(e - p);
    if (n >= sizeof tmp) return NULL;
    memcpy(tmp, p, n);
    tmp[n] = 0;
    char *stop;
    *out = strtod(tmp, &stop);
    return stop == tmp + n ? e : NULL;
}

const char *dash_js_first(const char *p, const char *end, int *bad) {
    p = dash_js_ws(p, end);
    if (p >= end || *p != '[') return NULL;
    p = dash_js_ws(p + 1, end);
    if (p < end && *p == ']') return NULL;
    if (p >= end) *bad = 1;
    return p < end ? p : NULL;
}

const char *dash_js_next(const char *p, const char *end, int *bad) {
    p = dash_js_skip(p, end);
    if (!p) {
        *bad = 1;
        return NULL;
    }
    p = dash_js_ws(p, end);
    if (p < end && *p == ']') return NULL;
    if (p >= end || *p != ',') {
        *bad = 1;
        return NULL;
    }
    return dash_js_ws(p + 1, end);
}

int dash_js_iter_init(dash_js_iter *it, const char *p, const char *end) {
    memset(it, 0, sizeof *it);
    it->end = end;
    p = dash_js_ws(p, end);
    if (p >= end || *p != '{') {
        it->bad = 1;
        return 0;
    }
    it->p = p + 1;
    return 1;
}

int dash_js_member(dash_js_iter *it) {
    if (it->bad) return 0;
    const char *p = it->p, *end = it->end;
    if (it->started) {
        p = it->val ? dash_js_skip(it->val, end) : p;
        if (!p) return it->bad = 1, 0;
        p = dash_js_ws(p, end);
        if (p < end && *p == '}') return it->p = p + 1, 0;
        if (p >= end || *p != ',') return it->bad = 1, 0;
        p++;
    } else {
        p = dash_js_ws(p, end);
        if (p < end && *p == '}') return it->p = p + 1, 0;
    }
    p = dash_js_ws(p, end);
    if (p >= end || *p != '"') return it->bad = 1, 0;
    const char *ke = skip_string(p, end);
    if (!ke) return it->bad = 1, 0;
    it->key = p + 1;
    it->klen = (size_t)(ke - 1 - it->key);
    p = dash_js_ws(ke, end);
    if (p >= end || *p != ':') return it->bad = 1, 0;
    it->val = dash_js_ws(p + 1, end);
    it->started = 1;
    return 1;
}

const char *dash_js_after_elem(const char *p, const char *end, const char **after, int *bad) {
    p = dash_js_ws(p, end);
    if (p < end && *p == ']') {
        *after = p + 1;
        return NULL;
    }
    if (p >= end || *p != ',') {
        *bad = 1;
        return NULL;
    }
    return dash_js_ws(p + 1, end);
}
