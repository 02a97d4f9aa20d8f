/* The token ring and per-keyspace replica tables (Murmur3 tokens).
 *
 * A ring is built once per topology change from every (token, owner) pair
 * the cluster announces; hosts are small integers 0..nhosts-1 chosen by the
 * caller, each with a data-center id and a rack id (rack ids name a
 * (data center, rack) pair, so equal rack names in two DCs get two ids).
 *
 * A replica table is built from a ring for one replication setting: for
 * every ring position, the replicas of the range ending at that token, in
 * ring-walk order, exactly as Cassandra 5.0 places them:
 *
 * - SimpleStrategy: the first rf distinct owners walking clockwise from the
 *   position (wrapping).
 * - NetworkTopologyStrategy: walking clockwise, per data center with an rf,
 *   up to min(rf, nodes in the DC) replicas; a host on a rack not yet used
 *   in its DC is always taken, a host on a used rack only while the DC still
 *   has "acceptable rack repeats" (rf minus the DC's rack count) left.
 *   Data centers without an rf, and rf's for data centers not in the ring,
 *   are ignored.
 * - Everywhere: every host that owns a token (SimpleStrategy with rf = the
 *   number of owners).
 *
 * A token belongs to the range (previous token, token of position i] where
 * i is the first position whose token is >= the key's token, wrapping to
 * position 0 past the last one. Lookups are one binary search.
 *
 * Both objects are immutable once built and independent of each other
 * (a table keeps its own copy of the tokens), so they can be freed in any
 * order. */
#ifndef CQ_TOKEN_MAP_H
#define CQ_TOKEN_MAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct cq_token_ring cq_token_ring;
typedef struct cq_replicas cq_replicas;

/* Builds a ring from ntokens (token, owner) pairs in any order. host_dc and
 * host_rack give each of the nhosts hosts its data-center and rack id.
 * Owners must be < nhosts; a token announced twice keeps its lowest owner.
 * Returns NULL and sets *status (CQ_ERR_INVALID, CQ_ERR_NOMEM) on failure;
 * status may be NULL. An empty ring is valid. */
cq_token_ring *cq_token_ring_new(const int64_t *tokens, const uint32_t *owners, size_t ntokens,
                                 const uint32_t *host_dc, const uint32_t *host_rack, size_t nhosts,
                                 int *status);
void cq_token_ring_free(cq_token_ring *r);

/* Number of distinct tokens, and the sorted ring's entries. */
size_t cq_token_ring_size(const cq_token_ring *r);
int64_t cq_token_ring_token(const cq_token_ring *r, size_t pos);
uint32_t cq_token_ring_owner(const cq_token_ring *r, size_t pos);
/* The position owning token (first token >= it, wrapping); 0 when empty. */
size_t cq_token_ring_find(const cq_token_ring *r, int64_t token);

/* Replica tables. dc_rf[d] is the replication factor of data center d
 * (0: none); ndcs may be smaller than the ring's data-center count (missing
 * ones get 0). NULL with *status set on failure. */
cq_replicas *cq_replicas_simple(const cq_token_ring *r, uint32_t rf, int *status);
cq_replicas *cq_replicas_nts(const cq_token_ring *r, const uint32_t *dc_rf, size_t ndcs,
                             int *status);
cq_replicas *cq_replicas_everywhere(const cq_token_ring *r, int *status);
void cq_replicas_free(cq_replicas *m);

/* The replicas (host ids) of token's range; *count gets their number (0
 * for an empty ring, and then the result is NULL). Valid until freed. */
const uint32_t *cq_replicas_get(const cq_replicas *m, int64_t token, size_t *count);
/* The replicas of ring position pos (pos < ring size). */
const uint32_t *cq_replicas_at(const cq_replicas *m, size_t pos, size_t *count);

#endif
