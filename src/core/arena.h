/* A bump allocator for objects that live and die together (a decoded page of
 * rows, a parsed type tree, a prepared statement's metadata). The arena owns
 * every block it hands out; cq_arena_free releases them all at once. */
#ifndef CQ_ARENA_H
#define CQ_ARENA_H

#include <stddef.h>

typedef struct cq_arena_chunk cq_arena_chunk;

typedef struct cq_arena {
  cq_arena_chunk *head;
  size_t chunk_size; /* default size for new chunks */
  size_t used;       /* bytes handed out, for memory accounting */
} cq_arena;

/* chunk_size 0 picks a default (4 KiB). */
void cq_arena_init(cq_arena *a, size_t chunk_size);
/* Releases every block; the arena can be reused afterwards. */
void cq_arena_free(cq_arena *a);
/* Keeps the first chunk and forgets every block (cheap reuse per page). */
void cq_arena_reset(cq_arena *a);
/* 16-byte aligned, uninitialised; NULL when out of memory. */
void *cq_arena_alloc(cq_arena *a, size_t n);
/* Like cq_arena_alloc but zero-filled. */
void *cq_arena_calloc(cq_arena *a, size_t count, size_t size);
/* Copies n bytes and appends a NUL (handy for strings from the wire). */
char *cq_arena_strndup(cq_arena *a, const char *s, size_t n);

#endif
