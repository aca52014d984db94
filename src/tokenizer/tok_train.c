/* Byte-level BPE trainer: pre-tokenise the corpus with the Qwen2 split regex, count distinct words, then merge the
 * most frequent adjacent pair until the vocabulary is full. Pair counts live in a hash table with the list of words
 * each pair occurs in, and a lazy max-heap picks the next merge; only the words holding the merged pair are
 * rescanned. Ties go to the smaller (left id, right id), so training is deterministic. */
#include <stdlib.h>
#include <string.h>

#include "base/fileio.h"
#include "base/json.h"
#include "base/log.h"
#include "base/timer.h"
#include "tokenizer/tok_internal.h"
#include "tokenizer/tok_train_internal.h"

typedef struct word {
    int32_t *sym;
    uint32_t n;
    int64_t count;
    uint32_t stamp;
} word;

typedef struct pair_info {
    int32_t a, b;
    int64_t count;
    uint32_t *words; /* indices of words that held the pair when it was counted (may be stale) */
    uint32_t nwords, capwords;
    uint32_t dirty; /* merge number that last changed the count (queued for a heap push) */
} pair_info;

typedef struct trainer {
    word *words;
    size_t nwords, capwords;
    /* distinct-word table: hash -> word index (keys are the words' byte spellings, kept in wbytes) */
    uint32_t *wslots; /* index + 1 */
    size_t wcap;
    char **wbytes;
    uint32_t *wlen;
    /* pairs */
    pair_info *pairs;
    size_t npairs, cappairs;
    uint32_t *pslots; /* index + 1 */
    size_t pcap;
    /* heap of (count, pair index) */
    struct hent {
        int64_t count;
        uint32_t pair;
    } * heap;
    size_t nheap, capheap;
    uint32_t *dirty; /* pairs whose count changed during the current merge */
    size_t ndirty, capdirty;
    uint32_t merge_no;
} trainer;

static size_t pslot(int32_t a, int32_t b, size_t mask) {
    uint64_t k = ((uint64_t)(uint32_t)a << 32) | (uint32_t)b;
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdULL;
    k ^= k >> 33;
    return (size_t)k & mask;
}

static int grow(void **p, size_t *cap, size_t need, size_t elem) {
    if (need <= *cap) return 0;
    size_t c = *cap ? *cap : 16;
    while (c < need)
        c *= 2;
    void *n = realloc(*p, c * elem);
    if (!n) return -1;
    *p = n;
    *cap = c;
    return 0;
}

static int pairs_rehash(trainer *t) {
    size_t cap = t->pcap ? t->pcap * 2 : 1 << 16;
    uint32_t *s = calloc(cap, sizeof *s);
    if (!s) return -1;
    for (size_t i = 0; i < t->npairs; i++) {
        size_t j = pslot(t->pairs[i].a, t->pairs[i].b, cap - 1);
        while (s[j])
            j = (j + 1) & (cap - 1);
        s[j] = (uint32_t)i + 1;
    }
    free(t->pslots);
    t->pslots = s;
    t->pcap = cap;
    return 0;
}

/* The index of pair (a, b), created when absent; -1 on no memory. */
static long pair_get(trainer *t, int32_t a, int32_t b) {
    if ((t->npairs + 1) * 2 > t->pcap && pairs_rehash(t)) return -1;
    size_t mask = t->pcap - 1;
    for (size_t j = pslot(a, b, mask);; j = (j + 1) & mask) {
        uint32_t v = t->pslots[j];
        if (!v) {
            if (grow((void **)&t->pairs, &t->cappairs, t->npairs + 1, sizeof *t->pairs)) return -1;
            pair_info *p = &t->pairs[t->npairs];
            memset(p, 0, sizeof *p);
            p->a = a;
            p->b = b;
            t->pslots[j] = (uint32_t)++t->npairs;
            return (long)t->npairs - 1;
        }
        if (t->pairs[v - 1].a == a && t->pairs[v - 1].b == b) return (long)v - 1;
    }
}

static int heap_better(const struct hent *x, const struct hent *y, const trainer *t) {
    if (x->count != y->count) return x->count > y->count;
    const pair_info *p = &t->pairs[x->pair], *q = &t->pairs[y->pair];
    return p->a != q->a ? p->a < q->a : p->b < q->b;
}

static int heap_push(trainer *t, uint32_t pair) {
    if (grow((void **)&t->heap, &t->capheap, t->nheap + 1, sizeof *t->heap)) return -1;
    struct hent e = {t->pairs[pair].count, pair};
    size_t i = t->nheap++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!heap_better(&e, &t->heap[p], t)) break;
        t->heap[i] = t->heap[p];
        i = p;
    }
    t->heap[i] = e;
    return 0;
}

static struct hent heap_pop(trainer *t) {
    struct hent top = t->heap[0], last = t->heap[--t->nheap];
    size_t i = 0, n = t->nheap;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        const struct hent *best = &last;
        if (l < n && heap_better(&t->heap[l], best, t)) {
            m = l;
            best = &t->heap[l];
        }
        if (r < n && heap_better(&t->heap[r], best, t)) m = r;
        if (m == i) break;
        t->heap[i] = t->heap[m];
        i = m;
    }
    if (n) t->heap[i] = last;
    return top;
}

/* Appends w to the word list of pair p (skipping an immediate repeat). */
static int note_word(pair_info *pi, uint32_t w) {
    if (pi->nwords && pi->words[pi->nwords - 1] == w) return 0;
    size_t cap = pi->capwords;
    if (grow((void **)&pi->words, &cap, pi->nwords + 1, sizeof *pi->words)) return -1;
    pi->capwords = (uint32_t)cap;
    pi->words[pi->nwords++] = w;
    return 0;
}

/* Adds the pairs of word w (times its count) to the table, before merging starts. */
static int count_word_pairs(trainer *t, uint32_t w) {
    word *wd = &t->words[w];
    for (uint32_t i = 0; i + 1 < wd->n; i++) {
        long p = pair_get(t, wd->sym[i], wd->sym[i + 1]);
        if (p < 0 || note_word(&t->pairs[p], w)) return -1;
        t->pairs[p].count += wd->count;
    }
    return 0;
}

/* Changes the count of (a, b) by delta during a merge; a pair that gains records w and is queued for the heap. */
static int pair_delta(trainer *t, int32_t a, int32_t b, int64_t delta, uint32_t w) {
    long p = pair_get(t, a, b);
    if (p < 0) return -1;
    pair_info *pi = &t->pairs[p];
    pi->count += delta;
    if (delta > 0 && note_word(pi, w)) return -1;
    if (pi->dirty != t->merge_no) {
        pi->dirty = t->merge_no;
        if (grow((void **)&t->dirty, &t->capdirty, t->ndirty + 1, sizeof *t->dirty)) return -1;
        t->dirty[t->ndirty++] = (uint32_t)p;
    }
    return 0;
}

static int add_word(trainer *t, const char *s, size_t len) {
    if ((t->nwords + 1) * 2 > t->wcap) {
        size_t cap = t->wcap ? t->wcap * 2 : 1 << 16;
        uint32_t *sl = calloc(cap, sizeof *sl);
        if (!sl) return -1;
        for (size_t i = 0; i < t->nwords; i++) {
            size_t j = tok_hash(t->wbytes[i], t->wlen[i]) & (cap - 1);
            while (sl[j])
                j = (j + 1) & (cap - 1);
            sl[j] = (uint32_t)i + 1;
        }
        free(t->wslots);
        t->wslots = sl;
        t->wcap = cap;
    }
    size_t mask = t->wcap - 1;
    for (size_t j = tok_hash(s, len) & mask;; j = (j + 1) & mask) {
        uint32_t v = t->wslots[j];
        if (!v) {
            size_t cap = t->capwords;
            if (grow((void **)&t->words, &cap, t->nwords + 1, sizeof *t->words)) return -1;
            if (cap != t->capwords) {
                char **nb = realloc(t->wbytes, cap * sizeof *nb);
                if (!nb) return -1;
                t->wbytes = nb;
                uint32_t *nl = realloc(t->wlen, cap * sizeof *nl);
                if (!nl) return -1;
                t->wlen = nl;
                t->capwords = cap;
            }
            char *copy = malloc(len);
            if (!copy) return -1;
            memcpy(copy, s, len);
            t->wbytes[t->nwords] = copy;
            t->wlen[t->nwords] = (uint32_t)len;
            t->words[t->nwords] = (word){NULL, (uint32_t)len, 1, 0};
            t->wslots[j] = (uint32_t)++t->nwords;
            return 0;
        }
        if (t->wlen[v - 1] == len && memcmp(t->wbytes[v - 1], s, len) == 0) {
            t->words[v - 1].count++;
            return 0;
        }
    }
}

static void trainer_free(trainer *t) {
    for (size_t i = 0; i < t->nwords; i++) {
        free(t->words[i].sym);
        free(t->wbytes[i]);
    }
    for (size_t i = 0; i < t->npairs; i++)
        free(t->pairs[i].words);
    free(t->words);
    free(t->wbytes);
    free(t->wlen);
    free(t->wslots);
    free(t->pairs);
    free(t->pslots);
    free(t->heap);
    free(t->dirty);
}

/* Counts the words of one text: the added tokens are cut out first, the rest split by the regex. */
static rt_status count_text(trainer *t, const tok_regex *re, pcre2_match_data *md, const char *s, size_t len,
                            const char *const *cut, size_t ncut, rt_error *err) {
    size_t start = 0;
    for (size_t i = 0; i <= len; i++) {
        size_t hit = 0;
        if (i < len && s[i] == '<')
            for (size_t k = 0; k < ncut && !hit; k++) {
                size_t cl = strlen(cut[k]);
                if (cl <= len - i && memcmp(s + i, cut[k], cl) == 0) hit = cl;
            }
        if (!hit && i < len) continue;
        size_t pos = start, end = i;
        while (pos < end) {
            size_t ms, me;
            int r = tok_regex_next(re, md, s + start, end - start, pos - start, &ms, &me, err);
            if (r < 0) return err ? err->status : RT_EINTERNAL;
            size_t a = r ? start + ms : end, b = r ? start + me : end;
            if (a > pos && add_word(t, s + pos, a - pos)) return rt_err_set(err, RT_ENOMEM, "out of memory");
            if (r == 0) break;
            if (b > a && add_word(t, s + a, b - a)) return rt_err_set(err, RT_ENOMEM, "out of memory");
            pos = b > a ? b : b + 1;
        }
        if (hit) i += hit - 1;
        start = i + 1;
    }
    return RT_OK;
}

/* Replaces each (a, b) in word wi by m, left to right, updating the neighbouring pair counts:
 * x a b y -> x m y loses (x,a), (a,b), (b,y) and gains (x,m), (m,y). Returns -1 on no memory. */
static int merge_word(trainer *t, uint32_t wi, int32_t a, int32_t b, int32_t m) {
    word *w = &t->words[wi];
    int64_t c = w->count;
    uint32_t o = 0;
    for (uint32_t i = 0; i < w->n;) {
        if (i + 1 < w->n && w->sym[i] == a && w->sym[i + 1] == b) {
            if (pair_delta(t, a, b, -c, wi)) return -1;
            if (o > 0 && (pair_delta(t, w->sym[o - 1], a, -c, wi) || pair_delta(t, w->sym[o - 1], m, c, wi))) return -1;
            if (i + 2 < w->n && (pair_delta(t, b, w->sym[i + 2], -c, wi) || pair_delta(t, m, w->sym[i + 2], c, wi)))
                return -1;
            w->sym[o++] = m;
            i += 2;
        } else {
            w->sym[o++] = w->sym[i++];
        }
    }
    w->n = o;
    return 0;
}

rt_status tok_train(const char *const *files, size_t nfiles, const tok_train_opts *opts, const char *out_dir,
                    rt_error *err) {
    const char *const *added = tok_train_added_tokens(opts->tags_as_tokens);
    size_t nadded = 0;
    while (added[nadded])
        nadded++;
    if (opts->vocab_size < 256 + nadded)
        return rt_err_set(err, RT_EINVAL, "--vocab-size %zu is too small: 256 byte tokens + %zu added tokens",
                          opts->vocab_size, nadded);
    size_t nmerges_max = opts->vocab_size - 256 - nadded;
    double t0 = rt_time_now();
    trainer t;
    memset(&t, 0, sizeof t);
    tok_regex re;
    rt_status st = tok_regex_compile(&re, TOK_TRAIN_PATTERN, strlen(TOK_TRAIN_PATTERN), 0, err);
    if (st) return st;
    pcre2_match_data *md = pcre2_match_data_create(16, NULL);
    size_t total = 0;
    for (size_t f = 0; f < nfiles && st == RT_OK && md; f++) {
        char *text;
        size_t len, bad;
        st = rt_file_read_all(files[f], &text, &len, err);
        if (st) break;
        if (!rt_utf8_valid(text, len, &bad))
            st = rt_err_set(err, RT_EFORMAT, "%s: not valid UTF-8 at byte %zu", files[f], bad);
        else
            st = count_text(&t, &re, md, text, len, added, nadded, err);
        if (st) rt_err_prefix(err, "%s", files[f]);
        total += len;
        free(text);
    }
    if (!md && st == RT_OK) st = rt_err_set(err, RT_ENOMEM, "out of memory");
    if (md) pcre2_match_data_free(md);
    tok_regex_free(&re);
    if (opts->verbose && st == RT_OK)
        rt_log_info("tokenizer train: %zu bytes, %zu distinct words (%.1f s)", total, t.nwords, rt_time_now() - t0);
    for (size_t w = 0; w < t.nwords && st == RT_OK; w++) {
        t.words[w].sym = malloc(t.words[w].n * sizeof(int32_t));
        if (!t.words[w].sym) {
            st = rt_err_set(err, RT_ENOMEM, "out of memory");
            break;
        }
        for (uint32_t i = 0; i < t.words[w].n; i++)
            t.words[w].sym[i] = (unsigned char)t.wbytes[w][i];
        if (count_word_pairs(&t, (uint32_t)w)) st = rt_err_set(err, RT_ENOMEM, "out of memory");
    }
    for (size_t p = 0; p < t.npairs && st == RT_OK; p++)
        if (heap_push(&t, (uint32_t)p)) st = rt_err_set(err, RT_ENOMEM, "out of memory");
    /* merges[k] = (left, right); token 256 + k is their concatenation */
    int32_t(*merges)[2] = malloc((nmerges_max ? nmerges_max : 1) * sizeof *merges);
    size_t nmerges = 0;
    uint32_t stamp = 0;
    if (!merges && st == RT_OK) st = rt_err_set(err, RT_ENOMEM, "out of memory");
    while (st == RT_OK && nmerges < nmerges_max && t.nheap) {
        struct hent top = heap_pop(&t);
        pair_info *p = &t.pairs[top.pair];
        if (top.count != p->count) continue; /* stale: each change of a count pushed a fresh entry */
        if (p->count < (int64_t)opts->min_frequency || p->count <= 0) break;
        int32_t a = p->a, b = p->b, m = (int32_t)(256 + nmerges);
        merges[nmerges][0] = a;
        merges[nmerges][1] = b;
        nmerges++;
        stamp++;
        t.merge_no = stamp;
        t.ndirty = 0;
        uint32_t nw = p->nwords;
        uint32_t *ws = p->words;
        p->words = NULL;
        p->nwords = p->capwords = 0;
        for (uint32_t k = 0; k < nw && st == RT_OK; k++) {
            word *w = &t.words[ws[k]];
            if (w->stamp == stamp) continue;
            w->stamp = stamp;
            if (merge_word(&t, ws[k], a, b, m)) st = rt_err_set(err, RT_ENOMEM, "out of memory");
        }
        free(ws);
        for (size_t k = 0; k < t.ndirty && st == RT_OK; k++)
            if (t.pairs[t.dirty[k]].count > 0 && heap_push(&t, t.dirty[k]))
                st = rt_err_set(err, RT_ENOMEM, "out of memory");
        if (opts->verbose && nmerges % 1000 == 0)
            rt_log_info("tokenizer train: %zu merges (%.1f s)", nmerges, rt_time_now() - t0);
    }
    if (st == RT_OK) {
        if (nmerges < nmerges_max)
            rt_log_warn("tokenizer train: only %zu merges reached --min-frequency %zu; vocabulary is %zu, not %zu",
                        nmerges, opts->min_frequency, 256 + nmerges + nadded, opts->vocab_size);
        st = tok_train_write(out_dir, merges, nmerges, added, opts->tags_as_tokens, err);
    }
    if (opts->verbose && st == RT_OK)
        rt_log_info("tokenizer train: %zu merges, wrote %s (%.1f s)", nmerges, out_dir, rt_time_now() - t0);
    free(merges);
    trainer_free(&t);
    return st;
}
