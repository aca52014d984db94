/* The worker loop's scratch memory: a bump arena in pages the children do not inherit (MADV_DONTFORK), emptied at
 * every control message. Whatever the worker writes after a fork would otherwise be copied on write, page by page,
 * because the pre-forked child still shares it; in the arena it is the worker's alone. Children (and anything that
 * must outlive a message) use malloc. */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "sandbox/zygote/zyg.h"

#define ARENA_BYTES ((size_t)64 << 20) /* address space only: pages are touched as used */
#define HDR 16                         /* each block starts with its size, keeping 16-byte alignment */

static unsigned char *arena;
static size_t used;
static int in_worker;

static size_t block_bytes(size_t n) {
    return (n + HDR + 15) & ~(size_t)15;
}

static int owned(const void *p) {
    return arena && (const unsigned char *)p >= arena && (const unsigned char *)p < arena + ARENA_BYTES;
}

void zyg_arena_init(void) {
    void *p = mmap(NULL, ARENA_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) return; /* malloc then serves everything, at the cost of copy-on-write */
    if (madvise(p, ARENA_BYTES, MADV_DONTFORK)) {
        munmap(p, ARENA_BYTES);
        return;
    }
    arena = p;
    in_worker = 1;
    cJSON_Hooks hooks = {zyg_malloc, zyg_free};
    cJSON_InitHooks(&hooks);
}

void zyg_arena_reset(void) {
    used = 0;
}

void zyg_arena_leave(void) {
    in_worker = 0;
}

void *zyg_malloc(size_t n) {
    if (in_worker && arena && used + block_bytes(n) <= ARENA_BYTES) {
        unsigned char *b = arena + used;
        memcpy(b, &n, sizeof n);
        used += block_bytes(n);
        return b + HDR;
    }
    return malloc(n);
}

void zyg_free(void *p) {
    if (p && !owned(p)) free(p);
}

void *zyg_realloc(void *p, size_t n) {
    if (!p) return zyg_malloc(n);
    if (!owned(p)) return realloc(p, n);
    unsigned char *b = (unsigned char *)p - HDR;
    size_t old;
    memcpy(&old, b, sizeof old);
    if (n <= old) return p;
    size_t at = (size_t)(b - arena);
    if (at + block_bytes(old) == used && at + block_bytes(n) <= ARENA_BYTES) { /* the last block grows in place */
        used = at + block_bytes(n);
        memcpy(b, &n, sizeof n);
        return p;
    }
    void *q = zyg_malloc(n);
    if (q) memcpy(q, p, old);
    return q;
}
