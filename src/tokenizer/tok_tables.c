/* Hash tables (bytes -> id, pair -> merge), the byte-level alphabet, growing buffers and lossy UTF-8. */
#include <stdlib.h>
#include <string.h>

#include "tokenizer/tok_internal.h"

uint32_t tok_hash(const void *data, size_t len) {
    const unsigned char *p = data;
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < len; i++)
        h = (h ^ p[i]) * 1099511628211ULL;
    return (uint32_t)(h ^ (h >> 32));
}

/* GPT-2's bytes_to_unicode: printable Latin-1 bytes stand for themselves, the others map to 256 + n. */
uint32_t tok_byte_to_cp(unsigned b) {
    static uint32_t table[256];
    static int ready = 0;
    if (!__atomic_load_n(&ready, __ATOMIC_ACQUIRE)) {
        uint32_t t[256];
        unsigned n = 0;
        for (unsigned c = 0; c < 256; c++) {
            int printable = (c >= '!' && c <= '~') || (c >= 0xA1 && c <= 0xAC) || (c >= 0xAE && c <= 0xFF);
            t[c] = printable ? c : 256 + n++;
        }
        memcpy(table, t, sizeof t);
        __atomic_store_n(&ready, 1, __ATOMIC_RELEASE);
    }
    return table[b & 255];
}

int tok_cp_to_byte(uint32_t cp) {
    if (cp < 256) {
        int printable = (cp >= '!' && cp <= '~') || (cp >= 0xA1 && cp <= 0xAC) || (cp >= 0xAE && cp <= 0xFF);
        return printable ? (int)cp : -1;
    }
    if (cp >= 256 + 68) return -1; /* 68 bytes are not printable */
    /* The n-th non-printable byte maps to 256 + n. */
    unsigned n = cp - 256;
    for (unsigned c = 0; c < 256; c++) {
        int printable = (c >= '!' && c <= '~') || (c >= 0xA1 && c <= 0xAC) || (c >= 0xAE && c <= 0xFF);
        if (!printable && n-- == 0) return (int)c;
    }
    return -1;
}

size_t tok_utf8_next(const unsigned char *s, size_t len, uint32_t *cp) {
    if (len == 0) return 0;
    unsigned c = s[0];
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    size_t n = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 0;
    if (n == 0 || n > len) return 0;
    uint32_t v = c & (0x7F >> n);
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        v = (v << 6) | (s[i] & 0x3F);
    }
    *cp = v;
    return n;
}

long tok_bytelevel_decode(const char *s, size_t len, char *out) {
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0, o = 0;
    while (i < len) {
        uint32_t cp;
        size_t n = tok_utf8_next(p + i, len - i, &cp);
        if (n == 0) return -1;
        int b = tok_cp_to_byte(cp);
        if (b < 0) return -1;
        out[o++] = (char)b;
        i += n;
    }
    return (long)o;
}

int tok_buf_append(char **buf, size_t *blen, size_t *bcap, const void *data, size_t len) {
    if (*blen + len + 1 > *bcap) {
        size_t cap = *bcap ? *bcap : 64;
        while (cap < *blen + len + 1)
            cap *= 2;
        char *nb = realloc(*buf, cap);
        if (!nb) return -1;
        *buf = nb;
        *bcap = cap;
    }
    if (len) memcpy(*buf + *blen, data, len);
    *blen += len;
    (*buf)[*blen] = 0;
    return 0;
}

int tok_bytelevel_encode(const char *s, size_t len, char **buf, size_t *blen, size_t *bcap) {
    for (size_t i = 0; i < len; i++) {
        uint32_t cp = tok_byte_to_cp((unsigned char)s[i]);
        char u[2];
        size_t n;
        if (cp < 0x80) {
            u[0] = (char)cp;
            n = 1;
        } else {
            u[0] = (char)(0xC0 | (cp >> 6));
            u[1] = (char)(0x80 | (cp & 0x3F));
            n = 2;
        }
        if (tok_buf_append(buf, blen, bcap, u, n)) return -1;
    }
    return 0;
}

static size_t pow2_at_least(size_t n) {
    size_t c = 16;
    while (c < n)
        c *= 2;
    return c;
}

rt_status tok_bytemap_init(tok_bytemap *m, size_t n, rt_error *err) {
    m->cap = pow2_at_least(n * 2 + 1);
    m->slots = malloc(m->cap * sizeof *m->slots);
    m->hashes = malloc(m->cap * sizeof *m->hashes);
    if (!m->slots || !m->hashes) {
        tok_bytemap_free(m);
        return rt_err_set(err, RT_ENOMEM, "tokenizer: out of memory for a %zu-entry table", n);
    }
    memset(m->slots, 0xFF, m->cap * sizeof *m->slots);
    return RT_OK;
}

void tok_bytemap_free(tok_bytemap *m) {
    free(m->slots);
    free(m->hashes);
    m->slots = NULL;
    m->hashes = NULL;
    m->cap = 0;
}

void tok_bytemap_put(tok_bytemap *m, const tok_entry *entries, int32_t id) {
    const tok_entry *e = &entries[id];
    uint32_t h = tok_hash(e->bytes, e->len);
    size_t mask = m->cap - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        int32_t s = m->slots[i];
        if (s < 0) {
            m->slots[i] = id;
            m->hashes[i] = h;
            return;
        }
        if (m->hashes[i] == h && entries[s].len == e->len && memcmp(entries[s].bytes, e->bytes, e->len) == 0) return;
    }
}

int32_t tok_bytemap_get(const tok_bytemap *m, const tok_entry *entries, const char *s, size_t len) {
    if (!m->cap) return -1;
    uint32_t h = tok_hash(s, len);
    size_t mask = m->cap - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        int32_t id = m->slots[i];
        if (id < 0) return -1;
        if (m->hashes[i] == h && entries[id].len == len && memcmp(entries[id].bytes, s, len) == 0) return id;
    }
}

rt_status tok_mergemap_init(tok_mergemap *m, size_t n, rt_error *err) {
    m->cap = pow2_at_least(n * 2 + 1);
    m->keys = calloc(m->cap, sizeof *m->keys);
    m->rank = malloc(m->cap * sizeof *m->rank);
    m->merged = malloc(m->cap * sizeof *m->merged);
    if (!m->keys || !m->rank || !m->merged) {
        tok_mergemap_free(m);
        return rt_err_set(err, RT_ENOMEM, "tokenizer: out of memory for %zu merges", n);
    }
    return RT_OK;
}

void tok_mergemap_free(tok_mergemap *m) {
    free(m->keys);
    free(m->rank);
    free(m->merged);
    m->keys = NULL;
    m->rank = NULL;
    m->merged = NULL;
    m->cap = 0;
}

static inline size_t pair_slot(uint64_t key, size_t mask) {
    key ^= key >> 33;
    key *= 0xff51afd7ed558ccdULL;
    key ^= key >> 33;
    return (size_t)key & mask;
}

int tok_mergemap_put(tok_mergemap *m, int32_t a, int32_t b, uint32_t rank, int32_t merged) {
    uint64_t key = (((uint64_t)(uint32_t)a << 32) | (uint32_t)b) + 1;
    size_t mask = m->cap - 1;
    for (size_t i = pair_slot(key, mask);; i = (i + 1) & mask) {
        if (m->keys[i] == 0) {
            m->keys[i] = key;
            m->rank[i] = rank;
            m->merged[i] = merged;
            return 0;
        }
        if (m->keys[i] == key) return 1;
    }
}

int tok_mergemap_get(const tok_mergemap *m, int32_t a, int32_t b, uint32_t *rank, int32_t *merged) {
    uint64_t key = (((uint64_t)(uint32_t)a << 32) | (uint32_t)b) + 1;
    size_t mask = m->cap - 1;
    for (size_t i = pair_slot(key, mask);; i = (i + 1) & mask) {
        uint64_t k = m->keys[i];
        if (k == 0) return 0;
        if (k == key) {
            *rank = m->rank[i];
            *merged = m->merged[i];
            return 1;
        }
    }
}

/* WHATWG / Rust from_utf8_lossy: the valid range of the second byte depends on the lead byte. */
static size_t utf8_expected(unsigned c, unsigned *lo, unsigned *hi) {
    *lo = 0x80;
    *hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) return 2;
    if (c >= 0xE0 && c <= 0xEF) {
        if (c == 0xE0) *lo = 0xA0;
        if (c == 0xED) *hi = 0x9F;
        return 3;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        if (c == 0xF0) *lo = 0x90;
        if (c == 0xF4) *hi = 0x8F;
        return 4;
    }
    return 0;
}

int tok_utf8_lossy(const unsigned char *s, size_t len, int final, char **buf, size_t *blen, size_t *bcap,
                   size_t *consumed) {
    static const char repl[] = "\xEF\xBF\xBD";
    size_t i = 0, run = 0; /* run: start of the pending run of valid bytes */
    while (i < len) {
        unsigned c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        unsigned lo, hi;
        size_t n = utf8_expected(c, &lo, &hi);
        if (n == 0) {
            if (tok_buf_append(buf, blen, bcap, s + run, i - run) || tok_buf_append(buf, blen, bcap, repl, 3))
                return -1;
            i++;
            run = i;
            continue;
        }
        size_t k = 1;
        while (k < n && i + k < len) {
            unsigned d = s[i + k];
            if (k == 1 ? (d < lo || d > hi) : (d < 0x80 || d > 0xBF)) break;
            k++;
        }
        if (k == n) {
            i += n;
            continue;
        }
        if (i + k == len && !final) break; /* incomplete but possibly valid: keep for later */
        if (tok_buf_append(buf, blen, bcap, s + run, i - run) || tok_buf_append(buf, blen, bcap, repl, 3)) return -1;
        i += k;
        run = i;
    }
    if (tok_buf_append(buf, blen, bcap, s + run, i - run)) return -1;
    if (consumed) *consumed = i;
    return 0;
}
