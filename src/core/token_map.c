/* Token ring and replica tables; see token_map.h for the placement rules. */
#include "token_map.h"

#include <stdlib.h>
#include <string.h>

#include "status.h"

struct cq_token_ring {
  size_t n;         /* distinct tokens */
  int64_t *tokens;  /* sorted ascending */
  uint32_t *owners; /* owner of tokens[i] */
  size_t nhosts;
  uint32_t *host_dc;   /* per host */
  uint32_t *host_rack; /* per host */
  size_t ndcs, nracks; /* 1 + the largest id of each */
};

struct cq_replicas {
  size_t n;
  int64_t *tokens;   /* copy of the ring's tokens */
  uint32_t *offsets; /* n + 1 offsets into hosts */
  uint32_t *hosts;
};

static int fail(int *status, int code) {
  if (status) *status = code;
  return code;
}

typedef struct pair {
  int64_t token;
  uint32_t owner;
} pair;

static int cmp_pair(const void *a, const void *b) {
  const pair *x = a, *y = b;
  if (x->token != y->token) return x->token < y->token ? -1 : 1;
  return x->owner < y->owner ? -1 : x->owner > y->owner;
}

void cq_token_ring_free(cq_token_ring *r) {
  if (!r) return;
  free(r->tokens);
  free(r->owners);
  free(r->host_dc);
  free(r->host_rack);
  free(r);
}

cq_token_ring *cq_token_ring_new(const int64_t *tokens, const uint32_t *owners, size_t ntokens,
                                 const uint32_t *host_dc, const uint32_t *host_rack, size_t nhosts,
                                 int *status) {
  if ((ntokens && (!tokens || !owners)) || (nhosts && (!host_dc || !host_rack)) ||
      ntokens > UINT32_MAX || nhosts > UINT32_MAX) {
    fail(status, CQ_ERR_INVALID);
    return NULL;
  }
  for (size_t i = 0; i < ntokens; i++)
    if (owners[i] >= nhosts) {
      fail(status, CQ_ERR_INVALID);
      return NULL;
    }
  cq_token_ring *r = calloc(1, sizeof *r);
  pair *pairs = calloc(ntokens ? ntokens : 1, sizeof *pairs);
  if (!r || !pairs) goto nomem;
  r->tokens = malloc((ntokens ? ntokens : 1) * sizeof *r->tokens);
  r->owners = malloc((ntokens ? ntokens : 1) * sizeof *r->owners);
  r->host_dc = malloc((nhosts ? nhosts : 1) * sizeof *r->host_dc);
  r->host_rack = malloc((nhosts ? nhosts : 1) * sizeof *r->host_rack);
  if (!r->tokens || !r->owners || !r->host_dc || !r->host_rack) goto nomem;
  for (size_t i = 0; i < ntokens; i++)
    pairs[i] = (pair){tokens[i], owners[i]};
  qsort(pairs, ntokens, sizeof *pairs, cmp_pair);
  size_t n = 0;
  for (size_t i = 0; i < ntokens; i++) {
    if (n && r->tokens[n - 1] == pairs[i].token) continue; /* keep the lowest owner */
    r->tokens[n] = pairs[i].token;
    r->owners[n] = pairs[i].owner;
    n++;
  }
  r->n = n;
  r->nhosts = nhosts;
  for (size_t h = 0; h < nhosts; h++) {
    r->host_dc[h] = host_dc[h];
    r->host_rack[h] = host_rack[h];
    if (host_dc[h] >= r->ndcs) r->ndcs = (size_t)host_dc[h] + 1;
    if (host_rack[h] >= r->nracks) r->nracks = (size_t)host_rack[h] + 1;
  }
  free(pairs);
  if (status) *status = CQ_OK;
  return r;
nomem:
  free(pairs);
  cq_token_ring_free(r);
  fail(status, CQ_ERR_NOMEM);
  return NULL;
}

size_t cq_token_ring_size(const cq_token_ring *r) { return r ? r->n : 0; }
int64_t cq_token_ring_token(const cq_token_ring *r, size_t pos) { return r->tokens[pos]; }
uint32_t cq_token_ring_owner(const cq_token_ring *r, size_t pos) { return r->owners[pos]; }

/* First index whose token is >= t, wrapping to 0. */
static size_t find(const int64_t *tokens, size_t n, int64_t t) {
  size_t lo = 0, hi = n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (tokens[mid] < t)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo == n ? 0 : lo;
}

size_t cq_token_ring_find(const cq_token_ring *r, int64_t token) {
  return r && r->n ? find(r->tokens, r->n, token) : 0;
}

void cq_replicas_free(cq_replicas *m) {
  if (!m) return;
  free(m->tokens);
  free(m->offsets);
  free(m->hosts);
  free(m);
}

/* Growable output of a table under construction. */
typedef struct builder {
  cq_replicas *m;
  size_t cap;
  size_t len;
} builder;

static int push(builder *b, uint32_t host) {
  if (b->len == b->cap) {
    size_t cap = b->cap ? b->cap * 2 : 64;
    uint32_t *p = realloc(b->m->hosts, cap * sizeof *p);
    if (!p) return CQ_ERR_NOMEM;
    b->m->hosts = p;
    b->cap = cap;
  }
  b->m->hosts[b->len++] = host;
  return CQ_OK;
}

static cq_replicas *start(const cq_token_ring *r, builder *b, int *status) {
  cq_replicas *m = calloc(1, sizeof *m);
  if (!m) goto nomem;
  m->n = r->n;
  m->tokens = malloc((r->n ? r->n : 1) * sizeof *m->tokens);
  m->offsets = calloc(r->n + 1, sizeof *m->offsets);
  if (!m->tokens || !m->offsets) goto nomem;
  if (r->n) memcpy(m->tokens, r->tokens, r->n * sizeof *m->tokens);
  *b = (builder){m, 0, 0};
  return m;
nomem:
  cq_replicas_free(m);
  fail(status, CQ_ERR_NOMEM);
  return NULL;
}

static cq_replicas *finish(builder *b, int rc, int *status) {
  if (rc < 0 || b->len > UINT32_MAX) {
    cq_replicas_free(b->m);
    fail(status, rc < 0 ? rc : CQ_ERR_TOO_LARGE);
    return NULL;
  }
  if (status) *status = CQ_OK;
  return b->m;
}

cq_replicas *cq_replicas_simple(const cq_token_ring *r, uint32_t rf, int *status) {
  if (!r) {
    fail(status, CQ_ERR_INVALID);
    return NULL;
  }
  builder b;
  if (!start(r, &b, status)) return NULL;
  /* seen[h] == pos + 1 when host h is already a replica of position pos */
  size_t *seen = calloc(r->nhosts ? r->nhosts : 1, sizeof *seen);
  int rc = seen ? CQ_OK : CQ_ERR_NOMEM;
  for (size_t pos = 0; rc == CQ_OK && pos < r->n; pos++) {
    uint32_t taken = 0;
    for (size_t k = 0; k < r->n && taken < rf; k++) {
      uint32_t h = r->owners[(pos + k) % r->n];
      if (seen[h] == pos + 1) continue;
      seen[h] = pos + 1;
      if ((rc = push(&b, h)) < 0) break;
      taken++;
    }
    b.m->offsets[pos + 1] = (uint32_t)b.len;
  }
  free(seen);
  return finish(&b, rc, status);
}

cq_replicas *cq_replicas_everywhere(const cq_token_ring *r, int *status) {
  if (!r) {
    fail(status, CQ_ERR_INVALID);
    return NULL;
  }
  return cq_replicas_simple(r, r->nhosts > UINT32_MAX ? UINT32_MAX : (uint32_t)r->nhosts, status);
}

cq_replicas *cq_replicas_nts(const cq_token_ring *r, const uint32_t *dc_rf, size_t ndcs,
                             int *status) {
  if (!r || (ndcs && !dc_rf)) {
    fail(status, CQ_ERR_INVALID);
    return NULL;
  }
  builder b;
  if (!start(r, &b, status)) return NULL;
  size_t nd = r->ndcs ? r->ndcs : 1, nr = r->nracks ? r->nracks : 1;
  size_t nh = r->nhosts ? r->nhosts : 1;
  /* Per DC: nodes and racks among token owners (Cassandra's topology). */
  uint32_t *nodes = calloc(nd, sizeof *nodes), *racks = calloc(nd, sizeof *racks);
  uint8_t *owner = calloc(nh, 1), *rack_seen = calloc(nr, 1);
  /* Per walk: remaining rf and acceptable rack repeats per DC. */
  int64_t *left = calloc(nd, sizeof *left), *repeats = calloc(nd, sizeof *repeats);
  size_t *host_mark = calloc(nh, sizeof *host_mark), *rack_mark = calloc(nr, sizeof *rack_mark);
  int rc = CQ_OK;
  if (!nodes || !racks || !owner || !rack_seen || !left || !repeats || !host_mark || !rack_mark) {
    rc = CQ_ERR_NOMEM;
    goto done;
  }
  for (size_t i = 0; i < r->n; i++) {
    uint32_t h = r->owners[i];
    if (owner[h]) continue;
    owner[h] = 1;
    nodes[r->host_dc[h]]++;
    if (!rack_seen[r->host_rack[h]]) {
      rack_seen[r->host_rack[h]] = 1;
      racks[r->host_dc[h]]++;
    }
  }
  for (size_t pos = 0; pos < r->n; pos++) {
    size_t dcs_to_fill = 0;
    for (size_t d = 0; d < r->ndcs; d++) {
      uint32_t rf = d < ndcs ? dc_rf[d] : 0;
      left[d] = rf && nodes[d] ? (rf < nodes[d] ? rf : nodes[d]) : 0;
      repeats[d] = (int64_t)rf - (int64_t)racks[d];
      if (left[d] > 0) dcs_to_fill++;
    }
    for (size_t k = 0; k < r->n && dcs_to_fill; k++) {
      uint32_t h = r->owners[(pos + k) % r->n];
      uint32_t d = r->host_dc[h], rk = r->host_rack[h];
      if (left[d] <= 0 || host_mark[h] == pos + 1) continue;
      if (rack_mark[rk] != pos + 1) {
        rack_mark[rk] = pos + 1;
      } else if (repeats[d] > 0) {
        repeats[d]--;
      } else {
        continue;
      }
      host_mark[h] = pos + 1;
      if ((rc = push(&b, h)) < 0) goto done;
      if (--left[d] == 0) dcs_to_fill--;
    }
    b.m->offsets[pos + 1] = (uint32_t)b.len;
  }
done:
  free(nodes);
  free(racks);
  free(owner);
  free(rack_seen);
  free(left);
  free(repeats);
  free(host_mark);
  free(rack_mark);
  return finish(&b, rc, status);
}

const uint32_t *cq_replicas_at(const cq_replicas *m, size_t pos, size_t *count) {
  if (!m || pos >= m->n) {
    if (count) *count = 0;
    return NULL;
  }
  if (count) *count = m->offsets[pos + 1] - m->offsets[pos];
  return m->hosts ? m->hosts + m->offsets[pos] : NULL;
}

const uint32_t *cq_replicas_get(const cq_replicas *m, int64_t token, size_t *count) {
  if (!m || !m->n) {
    if (count) *count = 0;
    return NULL;
  }
  return cq_replicas_at(m, find(m->tokens, m->n, token), count);
}
