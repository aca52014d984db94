#include "serve/dash_jtok.h"

#include "serve/dash_jscan.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

void dash_jtok_init(dash_jtok *t, const char *p, const char *end) {
    memset(t, 0, sizeof *t);
    t->at = t->blk = t->next = p;
    t->end = end;
}

/* Bits of the 64 bytes at p: quotes, backslashes, brackets ('[' and '{' differ only in bit 5, as do ']' and '}'). */
#if defined(__x86_64__)
#define T_AVX2 __attribute__((target("avx2")))
T_AVX2 static uint64_t eq32(__m256i v, char c) {
    return (uint64_t)(uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(v, _mm256_set1_epi8(c)));
}

T_AVX2 static void classify_avx2(const char *p, uint64_t *quote, uint64_t *backslash, uint64_t *bracket) {
    __m256i lo = _mm256_loadu_si256((const __m256i *)(const void *)p);
    __m256i hi = _mm256_loadu_si256((const __m256i *)(const void *)(p + 32));
    __m256i b20 = _mm256_set1_epi8(0x20), llo = _mm256_or_si256(lo, b20), lhi = _mm256_or_si256(hi, b20);
    *quote = eq32(lo, '"') | eq32(hi, '"') << 32;
    *backslash = eq32(lo, '\\') | eq32(hi, '\\') << 32;
    *bracket = (eq32(llo, '{') | eq32(llo, '}')) | (eq32(lhi, '{') | eq32(lhi, '}')) << 32;
}

static inline uint64_t eq16(__m128i v, char c) {
    return (uint64_t)(uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8(c)));
}

static int avx2_choice = -1; /* dash_jtok_use_avx2's choice; -1: whatever the machine has */

void dash_jtok_use_avx2(int on) {
    avx2_choice = on && __builtin_cpu_supports("avx2");
}

static inline void classify(const char *p, uint64_t *quote, uint64_t *backslash, uint64_t *bracket) {
    if (avx2_choice < 0 ? __builtin_cpu_supports("avx2") : avx2_choice) {
        classify_avx2(p, quote, backslash, bracket);
        return;
    }
    *quote = *backslash = *bracket = 0;
    for (int k = 0; k < 4; k++) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(p + 16 * k));
        __m128i low = _mm_or_si128(v, _mm_set1_epi8(0x20));
        *quote |= eq16(v, '"') << (16 * k);
        *backslash |= eq16(v, '\\') << (16 * k);
        *bracket |= (eq16(low, '{') | eq16(low, '}')) << (16 * k);
    }
}
#else
void dash_jtok_use_avx2(int on) {
    (void)on;
}

static inline void classify(const char *p, uint64_t *quote, uint64_t *backslash, uint64_t *bracket) {
    *quote = *backslash = *bracket = 0;
    for (int i = 0; i < 64; i++) {
        uint64_t bit = 1ull << i;
        char c = p[i];
        *quote |= c == '"' ? bit : 0;
        *backslash |= c == '\\' ? bit : 0;
        *bracket |= c == '{' || c == '}' || c == '[' || c == ']' ? bit : 0;
    }
}
#endif

/* Bit i set when an odd number of bits at or below i are. */
static inline uint64_t prefix_xor(uint64_t x) {
    x ^= x << 1;
    x ^= x << 2;
    x ^= x << 4;
    x ^= x << 8;
    x ^= x << 16;
    x ^= x << 32;
    return x;
}

static int hex(char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* 1 when the byte at p (after a backslash) makes an escape JSON allows: one of "\/bfnrt, or u and four hex digits. */
static int valid_escape(const char *p, const char *end) {
    if (p >= end) return 0;
    switch (*p) {
    case '"':
    case '\\':
    case '/':
    case 'b':
    case 'f':
    case 'n':
    case 'r':
    case 't':
        return 1;
    case 'u':
        break;
    default:
        return 0;
    }
    return end - p > 4 && hex(p[1]) && hex(p[2]) && hex(p[3]) && hex(p[4]);
}

/* Describes the next block; 0 past the end of the text. */
static int advance(dash_jtok *t) {
    if (t->next >= t->end) return 0;
    const char *p = t->next;
    char pad[64];
    if (t->end - p < 64) {
        /* The last bytes, padded with spaces. */
        memset(pad, ' ', sizeof pad);
        memcpy(pad, p, (size_t)(t->end - p));
        p = pad;
    }
    uint64_t quote, backslash, bracket;
    classify(p, &quote, &backslash, &bracket);
    /* A backslash escapes the byte after it: the rare backslashes one at a time, left to right. */
    uint64_t escaped = t->escaped, bs = backslash & ~escaped;
    t->escaped = 0;
    while (bs) {
        unsigned i = (unsigned)__builtin_ctzll(bs);
        bs &= bs - 1;
        if (!valid_escape(t->next + i + 1, t->end)) t->bad_escape = 1;
        if (i == 63) {
            t->escaped = 1;
        } else {
            escaped |= 1ull << (i + 1);
            bs &= ~(1ull << (i + 1));
        }
    }
    quote &= ~escaped;
    /* Inside a string: from its opening quote (included) to its closing quote (not). */
    uint64_t in_str = prefix_xor(quote) ^ t->in_str;
    t->in_str = (uint64_t)((int64_t)in_str >> 63);
    t->quote = quote;
    t->backslash = backslash;
    t->bracket = bracket & ~in_str;
    t->blk = t->next;
    t->next += 64;
    return 1;
}

const char *dash_jtok_next_bit_slow(dash_jtok *t, const char *from, int bracket) {
    for (;;) {
        while (from >= t->next)
            if (!advance(t)) return NULL;
        if (from < t->blk) from = t->blk; /* never: the walk moves forward */
        uint64_t m = (bracket ? t->bracket : t->quote) & (~0ull << (from - t->blk));
        if (m) {
            const char *b = t->blk + __builtin_ctzll(m);
            return b < t->end ? b : NULL;
        }
        from = t->next;
    }
}

/* The end of the object or array at v, by brackets that match (strings hold none: their brackets are no bits). */
static const char *skip_container(dash_jtok *t, const char *v) {
    char stack[64];
    int depth = 0;
    for (const char *b = v; (b = dash_jtok_next_bit(t, b, 1)); b++) {
        if (*b == '{' || *b == '[') {
            if (depth == (int)sizeof stack) return NULL;
            stack[depth++] = *b == '{' ? '}' : ']';
        } else {
            if (!depth || stack[depth - 1] != *b) return NULL;
            if (--depth == 0) return b + 1;
        }
    }
    return NULL;
}

const char *dash_jtok_skip(dash_jtok *t, const char *v) {
    const char *e = NULL;
    if (v >= t->end) {
        e = NULL;
    } else if (*v == '"') {
        e = dash_jtok_next_bit(t, v + 1, 0);
        e = e ? e + 1 : NULL;
    } else if (*v == '{' || *v == '[') {
        e = skip_container(t, v);
    } else {
        e = dash_js_skip(v, t->end); /* a number or literal */
    }
    if (e) t->at = e;
    return e;
}

const char *dash_jtok_elem_next(dash_jtok *t, int *first, int *bad) {
    const char *p = dash_js_ws(t->at, t->end);
    if (p < t->end && *p == ']') {
        t->at = p + 1;
        return NULL;
    }
    if (!*first) {
        if (p >= t->end || *p != ',') return *bad = 1, NULL;
        p = dash_js_ws(p + 1, t->end);
    }
    *first = 0;
    if (p >= t->end) return *bad = 1, NULL;
    return p;
}
