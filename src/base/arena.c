#include "base/arena.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

rt_status rt_arena_init(rt_arena *arena, size_t capacity, rt_error *err) {
    memset(arena, 0, sizeof *arena);
    size_t rounded = (capacity + RT_ARENA_ALIGN - 1) / RT_ARENA_ALIGN * RT_ARENA_ALIGN;
    if (rounded < capacity) return rt_err_set(err, RT_ERANGE, "arena size %zu bytes overflows", capacity);
    if (rounded == 0) rounded = RT_ARENA_ALIGN;
    void *p = aligned_alloc(RT_ARENA_ALIGN, rounded);
    if (!p) return rt_err_set(err, RT_ENOMEM, "cannot reserve an arena of %zu bytes", capacity);
    memset(p, 0, rounded);
    arena->base = p;
    arena->capacity = rounded;
    return RT_OK;
}

void rt_arena_free(rt_arena *arena) {
    free(arena->base);
    memset(arena, 0, sizeof *arena);
}

void *rt_arena_alloc(rt_arena *arena, size_t size, rt_error *err) {
    size_t start = (arena->used + RT_ARENA_ALIGN - 1) / RT_ARENA_ALIGN * RT_ARENA_ALIGN;
    if (start < arena->used || start > arena->capacity || size > arena->capacity - start) {
        rt_err_set(err, RT_ENOMEM, "arena full: %zu bytes asked, %zu of %zu bytes left", size,
                   arena->capacity - (start < arena->capacity ? start : arena->capacity), arena->capacity);
        return NULL;
    }
    arena->used = start + size;
    return arena->base + start;
}

void rt_arena_reset(rt_arena *arena, int zero) {
    if (zero && arena->base) memset(arena->base, 0, arena->capacity);
    arena->used = 0;
}

size_t rt_arena_remaining(const rt_arena *arena) { return arena->capacity - arena->used; }
