/* arena.h - bump allocator for memory whose lifetimes end together.
 *
 * A loaded charter lives in one arena and is freed at once; a decision uses a
 * scratch arena that is reset between decisions so the hot path does not call
 * malloc once the arena has grown to its working size.
 *
 * Ownership: the caller embeds `arena` (arena_init/arena_release). Every
 * pointer returned by arena_* lives until arena_reset or arena_release.
 * Allocation failure returns NULL; nothing else is reported.
 * Thread safety: an arena belongs to one thread at a time.
 */
#ifndef CHARTER_BASE_ARENA_H
#define CHARTER_BASE_ARENA_H

#include <stddef.h>

typedef struct arena_chunk arena_chunk;

typedef struct arena {
    arena_chunk *head;    /* chunk being filled; older chunks follow ->next */
    size_t chunk_size;    /* size of the next ordinary chunk */
    size_t total;         /* bytes handed out since init/reset (for limits) */
    size_t limit;         /* 0 = unlimited; otherwise arena_alloc fails past it */
} arena;

/* chunk_size 0 picks a default (16 KiB). */
void arena_init(arena *a, size_t chunk_size);
/* Frees every chunk. Safe on a zeroed or released arena. */
void arena_release(arena *a);
/* Forgets every allocation but keeps the largest chunk for reuse. */
void arena_reset(arena *a);

/* Returns n bytes aligned for any scalar type, or NULL. n == 0 returns a
 * valid unique pointer. */
void *arena_alloc(arena *a, size_t n);
/* As arena_alloc, zero-filled. */
void *arena_calloc(arena *a, size_t count, size_t size);
/* Copies n bytes and adds a terminating NUL. */
char *arena_strndup(arena *a, const char *s, size_t n);
char *arena_strdup(arena *a, const char *s);
void *arena_memdup(arena *a, const void *p, size_t n);
/* printf into the arena. */
char *arena_printf(arena *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
