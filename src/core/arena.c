#include "arena.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct cq_arena_chunk {
  cq_arena_chunk *next;
  size_t size;
  size_t used;
  _Alignas(16) unsigned char mem[];
};

#define CQ_ALIGN(n) (((n) + 15u) & ~(size_t)15u)

void cq_arena_init(cq_arena *a, size_t chunk_size) {
  a->head = NULL;
  a->chunk_size = chunk_size ? chunk_size : 4096;
  a->used = 0;
}

void cq_arena_free(cq_arena *a) {
  cq_arena_chunk *c = a->head;
  while (c) {
    cq_arena_chunk *next = c->next;
    free(c);
    c = next;
  }
  a->head = NULL;
  a->used = 0;
}

void cq_arena_reset(cq_arena *a) {
  if (!a->head) return;
  /* Keep the newest (usually largest) chunk, drop the rest. */
  cq_arena_chunk *keep = a->head, *c = keep->next;
  while (c) {
    cq_arena_chunk *next = c->next;
    free(c);
    c = next;
  }
  keep->next = NULL;
  keep->used = 0;
  a->used = 0;
}

void *cq_arena_alloc(cq_arena *a, size_t n) {
  if (n > SIZE_MAX / 2) return NULL;
  n = CQ_ALIGN(n ? n : 1);
  cq_arena_chunk *c = a->head;
  if (!c || c->size - c->used < n) {
    size_t size = a->chunk_size;
    while (size < n)
      size *= 2;
    c = malloc(sizeof *c + size);
    if (!c) return NULL;
    c->size = size;
    c->used = 0;
    c->next = a->head;
    a->head = c;
  }
  void *p = c->mem + c->used;
  c->used += n;
  a->used += n;
  return p;
}

void *cq_arena_calloc(cq_arena *a, size_t count, size_t size) {
  if (size && count > SIZE_MAX / 2 / size) return NULL;
  void *p = cq_arena_alloc(a, count * size);
  if (p) memset(p, 0, count * size);
  return p;
}

char *cq_arena_strndup(cq_arena *a, const char *s, size_t n) {
  char *d = cq_arena_alloc(a, n + 1);
  if (!d) return NULL;
  if (n) memcpy(d, s, n);
  d[n] = '\0';
  return d;
}
