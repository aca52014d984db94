/* An arena allocator for long-lived tensors: one reservation, pointers carved from it, aligned, freed all at once. */
#ifndef RETOOL_BASE_ARENA_H
#define RETOOL_BASE_ARENA_H

#include <stddef.h>

#include "base/error.h"

#define RT_ARENA_ALIGN 64 /* cache line and AVX-512 register width */

typedef struct rt_arena {
    unsigned char *base; /* start of the block, RT_ARENA_ALIGN aligned */
    size_t capacity;     /* bytes in the block */
    size_t used;         /* bytes handed out, including alignment padding */
} rt_arena;

/* Reserves capacity bytes (zeroed) for the arena. */
rt_status rt_arena_init(rt_arena *arena, size_t capacity, rt_error *err);

/* Releases the whole block; every pointer carved from it becomes invalid. */
void rt_arena_free(rt_arena *arena);

/* Carves size bytes aligned to RT_ARENA_ALIGN; NULL (and err set) when the arena is full. */
void *rt_arena_alloc(rt_arena *arena, size_t size, rt_error *err);

/* Forgets every allocation (keeps the block) so the arena can be refilled; zeroes it when zero is non-zero. */
void rt_arena_reset(rt_arena *arena, int zero);

/* Bytes still available before the arena is full (not counting alignment padding of the next allocation). */
size_t rt_arena_remaining(const rt_arena *arena);

#endif
