/* BPE merges of one pre-token: lowest rank first, leftmost on ties (as Hugging Face's tokenizers), with a binary
 * heap so long words stay O(n log n); plus a cache of recent pre-tokens. */
#include <stdlib.h>
#include <string.h>

#include "tokenizer/tok_internal.h"

#define CACHE_MAX_KEY 256          /* longer pre-tokens are not cached */
#define CACHE_POOL_MAX (32u << 20) /* bytes of cached records before the cache is cleared */

rt_status tok_cache_init(tok_cache *c, rt_error *err) {
    memset(c, 0, sizeof *c);
    c->cap = 1 << 18;
    c->slots = calloc(c->cap, sizeof *c->slots);
    c->pool_cap = 1 << 20;
    c->pool = malloc(c->pool_cap);
    if (!c->slots || !c->pool) {
        free(c->slots);
        free(c->pool);
        return rt_err_set(err, RT_ENOMEM, "out of memory for the tokenizer cache");
    }
    c->pool_len = 4; /* offset 0 means empty */
    pthread_mutex_init(&c->lock, NULL);
    return RT_OK;
}

void tok_cache_free(tok_cache *c) {
    pthread_mutex_destroy(&c->lock);
    free(c->slots);
    free(c->pool);
    memset(c, 0, sizeof *c);
}

typedef struct rec_hdr {
    uint32_t hash, keylen, nids;
} rec_hdr;

static size_t rec_size(size_t keylen, size_t nids) {
    return sizeof(rec_hdr) + ((keylen + 3) & ~(size_t)3) + nids * sizeof(int32_t);
}

/* Appends the cached ids of key to out; returns 1 when found. Caller holds the lock. */
static int cache_get(tok_cache *c, uint32_t h, const char *key, size_t len, tok_ids *out, rt_error *err, int *fail) {
    size_t mask = c->cap - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        uint32_t off = c->slots[i];
        if (!off) return 0;
        rec_hdr hd;
        memcpy(&hd, c->pool + off, sizeof hd);
        if (hd.hash == h && hd.keylen == len && memcmp(c->pool + off + sizeof hd, key, len) == 0) {
            const unsigned char *ids = c->pool + off + sizeof hd + ((len + 3) & ~(size_t)3);
            for (uint32_t k = 0; k < hd.nids; k++) {
                int32_t id;
                memcpy(&id, ids + k * sizeof id, sizeof id);
                if (tok_ids_push(out, id, err)) {
                    *fail = 1;
                    return 1;
                }
            }
            return 1;
        }
    }
}

/* Stores ids for key; on memory pressure clears the cache first. Caller holds the lock. */
static void cache_put(tok_cache *c, uint32_t h, const char *key, size_t len, const int32_t *ids, size_t n) {
    size_t sz = rec_size(len, n);
    if (c->count * 2 >= c->cap || c->pool_len + sz > CACHE_POOL_MAX) {
        memset(c->slots, 0, c->cap * sizeof *c->slots);
        c->count = 0;
        c->pool_len = 4;
    }
    if (c->pool_len + sz > c->pool_cap) {
        size_t nc = c->pool_cap * 2;
        while (nc < c->pool_len + sz)
            nc *= 2;
        unsigned char *np = realloc(c->pool, nc);
        if (!np) return; /* a cache miss next time; not an error */
        c->pool = np;
        c->pool_cap = nc;
    }
    size_t off = c->pool_len;
    rec_hdr hd = {h, (uint32_t)len, (uint32_t)n};
    memcpy(c->pool + off, &hd, sizeof hd);
    memcpy(c->pool + off + sizeof hd, key, len);
    memcpy(c->pool + off + sizeof hd + ((len + 3) & ~(size_t)3), ids, n * sizeof *ids);
    c->pool_len += sz;
    size_t mask = c->cap - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask)
        if (!c->slots[i]) {
            c->slots[i] = (uint32_t)off;
            break;
        }
    c->count++;
}

typedef struct heap_item {
    uint32_t rank;
    uint32_t pos; /* index of the left symbol */
} heap_item;

static inline int item_less(heap_item a, heap_item b) {
    return a.rank < b.rank || (a.rank == b.rank && a.pos < b.pos);
}

static void heap_push(heap_item *h, size_t *n, heap_item it) {
    size_t i = (*n)++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!item_less(it, h[p])) break;
        h[i] = h[p];
        i = p;
    }
    h[i] = it;
}

static heap_item heap_pop(heap_item *h, size_t *n) {
    heap_item top = h[0], last = h[--(*n)];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        heap_item best = last;
        if (l < *n && item_less(h[l], best)) {
            m = l;
            best = h[l];
        }
        if (r < *n && item_less(h[r], best)) {
            m = r;
        }
        if (m == i) break;
        h[i] = h[m];
        i = m;
    }
    if (*n) h[i] = last;
    return top;
}

/* Merges sym[0..n) in place (ids; next/prev links); returns the number of symbols left, written to out. */
static rt_status bpe_merge(const tok_tokenizer *tok, int32_t *sym, size_t n, tok_ids *out, rt_error *err) {
    int32_t stackbuf[3 * 64];
    heap_item hstack[128];
    int32_t *prev = stackbuf + 64, *next = stackbuf + 128;
    heap_item *heap = hstack;
    void *heapmem = NULL, *linkmem = NULL;
    if (n > 64) {
        linkmem = malloc(2 * n * sizeof(int32_t));
        if (!linkmem) return rt_err_set(err, RT_ENOMEM, "out of memory");
        prev = linkmem;
        next = prev + n;
    }
    if (n > 64) { /* each merge pops one entry and pushes at most two: the heap never exceeds 2n */
        heapmem = malloc(2 * n * sizeof(heap_item));
        if (!heapmem) {
            free(linkmem);
            return rt_err_set(err, RT_ENOMEM, "out of memory");
        }
        heap = heapmem;
    }
    size_t hn = 0;
    for (size_t i = 0; i < n; i++) {
        prev[i] = (int32_t)i - 1;
        next[i] = i + 1 < n ? (int32_t)i + 1 : -1;
    }
    uint32_t rank;
    int32_t merged;
    for (size_t i = 0; i + 1 < n; i++)
        if (tok_mergemap_get(&tok->merges, sym[i], sym[i + 1], &rank, &merged))
            heap_push(heap, &hn, (heap_item){rank, (uint32_t)i});
    while (hn) {
        heap_item it = heap_pop(heap, &hn);
        int32_t l = (int32_t)it.pos, r = next[l];
        if (sym[l] < 0 || r < 0) continue;
        if (!tok_mergemap_get(&tok->merges, sym[l], sym[r], &rank, &merged) || rank != it.rank) continue; /* stale */
        sym[l] = merged;
        sym[r] = -1;
        next[l] = next[r];
        if (next[r] >= 0) prev[next[r]] = l;
        if (prev[l] >= 0 && tok_mergemap_get(&tok->merges, sym[prev[l]], sym[l], &rank, &merged))
            heap_push(heap, &hn, (heap_item){rank, (uint32_t)prev[l]});
        if (next[l] >= 0 && tok_mergemap_get(&tok->merges, sym[l], sym[next[l]], &rank, &merged))
            heap_push(heap, &hn, (heap_item){rank, (uint32_t)l});
    }
    rt_status st = RT_OK;
    for (int32_t i = 0; i >= 0 && st == RT_OK; i = next[i])
        st = tok_ids_push(out, sym[i], err);
    free(heapmem);
    free(linkmem);
    return st;
}

rt_status tok_bpe_word(tok_tokenizer *tok, const char *s, size_t len, tok_ids *out, rt_error *err) {
    if (len == 0) return RT_OK;
    if (tok->ignore_merges) {
        int32_t id = tok_bytemap_get(&tok->vocab, tok->entries, s, len);
        if (id >= 0) return tok_ids_push(out, id, err);
    }
    if (len == 1) return tok_ids_push(out, tok->byte_id[(unsigned char)s[0]], err);
    uint32_t h = 0;
    size_t start = out->len;
    if (len <= CACHE_MAX_KEY) {
        h = tok_hash(s, len);
        int fail = 0, hit;
        pthread_mutex_lock(&tok->cache.lock);
        hit = cache_get(&tok->cache, h, s, len, out, err, &fail);
        pthread_mutex_unlock(&tok->cache.lock);
        if (fail) return err ? err->status : RT_ENOMEM;
        if (hit) return RT_OK;
    }
    int32_t stack[64];
    int32_t *sym = len <= 64 ? stack : malloc(len * sizeof *sym);
    if (!sym) return rt_err_set(err, RT_ENOMEM, "out of memory for a %zu-byte word", len);
    for (size_t i = 0; i < len; i++)
        sym[i] = tok->byte_id[(unsigned char)s[i]];
    rt_status st = bpe_merge(tok, sym, len, out, err);
    if (sym != stack) free(sym);
    if (st == RT_OK && len <= CACHE_MAX_KEY) {
        pthread_mutex_lock(&tok->cache.lock);
        cache_put(&tok->cache, h, s, len, out->ids + start, out->len - start);
        pthread_mutex_unlock(&tok->cache.lock);
    }
    return st;
}
