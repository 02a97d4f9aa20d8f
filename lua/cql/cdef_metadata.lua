--- FFI declarations for the token ring and replica tables
-- (src/core/token_map.h). Both are opaque: Lua holds pointers only, freed
-- by the GC through `ffi.gc`.
-- @module cql.cdef_metadata
local ffi = require "ffi"

ffi.cdef [[
typedef struct cq_token_ring cq_token_ring;
typedef struct cq_replicas cq_replicas;
cq_token_ring *cq_token_ring_new(const int64_t *tokens, const uint32_t *owners, size_t ntokens,
                                 const uint32_t *host_dc, const uint32_t *host_rack, size_t nhosts,
                                 int *status);
void cq_token_ring_free(cq_token_ring *r);
size_t cq_token_ring_size(const cq_token_ring *r);
int64_t cq_token_ring_token(const cq_token_ring *r, size_t pos);
uint32_t cq_token_ring_owner(const cq_token_ring *r, size_t pos);
size_t cq_token_ring_find(const cq_token_ring *r, int64_t token);
cq_replicas *cq_replicas_simple(const cq_token_ring *r, uint32_t rf, int *status);
cq_replicas *cq_replicas_nts(const cq_token_ring *r, const uint32_t *dc_rf, size_t ndcs, int *status);
cq_replicas *cq_replicas_everywhere(const cq_token_ring *r, int *status);
void cq_replicas_free(cq_replicas *m);
const uint32_t *cq_replicas_get(const cq_replicas *m, int64_t token, size_t *count);
const uint32_t *cq_replicas_at(const cq_replicas *m, size_t pos, size_t *count);
]]

return true
