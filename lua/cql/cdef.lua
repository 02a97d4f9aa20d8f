--- FFI declarations of the C core's types and functions that Lua uses.
-- Kept in step with the headers under `src/core/` (arena.h, buf.h, types.h,
-- type_util.h, type_parse.h, value.h, rows.h, murmur3.h, status.h); the
-- layouts are checked against the compiled library by `cq_abi_sizeof`
-- (src/core/abi.c, spec/lua/abi_spec.lua), so a drift fails a test.
-- Loaded once by `cql.core`; declaring twice would raise in ffi.cdef.
-- @module cql.cdef
local ffi = require "ffi"

ffi.cdef [[
const char *cqlua_version(void);
const char *cq_status_name(int status);
size_t cq_abi_sizeof(const char *name);

typedef struct cq_arena_chunk cq_arena_chunk;
typedef struct cq_arena {
  cq_arena_chunk *head;
  size_t chunk_size;
  size_t used;
} cq_arena;
void cq_arena_init(cq_arena *a, size_t chunk_size);
void cq_arena_free(cq_arena *a);
void cq_arena_reset(cq_arena *a);

typedef struct cq_buf {
  uint8_t *data;
  size_t len;
  size_t cap;
  int err;
} cq_buf;
void cq_buf_init(cq_buf *b);
void cq_buf_free(cq_buf *b);
void cq_buf_reset(cq_buf *b);
uint8_t *cq_buf_reserve(cq_buf *b, size_t n);
void cq_buf_put(cq_buf *b, const void *p, size_t n);

typedef enum cq_type_kind {
  CQ_TYPE_CUSTOM = 0x0000, CQ_TYPE_ASCII = 0x0001, CQ_TYPE_BIGINT = 0x0002,
  CQ_TYPE_BLOB = 0x0003, CQ_TYPE_BOOLEAN = 0x0004, CQ_TYPE_COUNTER = 0x0005,
  CQ_TYPE_DECIMAL = 0x0006, CQ_TYPE_DOUBLE = 0x0007, CQ_TYPE_FLOAT = 0x0008,
  CQ_TYPE_INT = 0x0009, CQ_TYPE_TIMESTAMP = 0x000B, CQ_TYPE_UUID = 0x000C,
  CQ_TYPE_VARCHAR = 0x000D, CQ_TYPE_VARINT = 0x000E, CQ_TYPE_TIMEUUID = 0x000F,
  CQ_TYPE_INET = 0x0010, CQ_TYPE_DATE = 0x0011, CQ_TYPE_TIME = 0x0012,
  CQ_TYPE_SMALLINT = 0x0013, CQ_TYPE_TINYINT = 0x0014, CQ_TYPE_DURATION = 0x0015,
  CQ_TYPE_LIST = 0x0020, CQ_TYPE_MAP = 0x0021, CQ_TYPE_SET = 0x0022,
  CQ_TYPE_UDT = 0x0030, CQ_TYPE_TUPLE = 0x0031, CQ_TYPE_VECTOR = 0x0100
} cq_type_kind;

typedef struct cq_type cq_type;
struct cq_type {
  cq_type_kind kind;
  uint8_t frozen;
  uint8_t reversed;
  uint16_t nsub;
  uint32_t dimension;
  const cq_type *const *sub;
  const char *const *field_names;
  const char *keyspace;
  const char *name;
  const char *custom_class;
};

cq_type *cq_type_native(cq_arena *a, cq_type_kind kind);
int cq_type_kind_is_native(cq_type_kind kind);
const char *cq_type_kind_name(cq_type_kind kind);
const char *cq_type_kind_class(cq_type_kind kind);
int cq_type_equal_flags(const cq_type *x, const cq_type *y, unsigned flags);
int cq_type_to_cql(cq_buf *out, const cq_type *t);
int cq_type_to_class(cq_buf *out, const cq_type *t);
int cq_type_parse_class(cq_arena *a, const char *s, size_t n, const cq_type **out, char *err,
                        size_t errcap);
int cq_type_parse_cql(cq_arena *a, const char *s, size_t n, const cq_type **out, char *err,
                      size_t errcap);

typedef struct cq_cell {
  uint8_t kind;
  uint8_t flags;
  uint16_t reserved;
  int32_t a;
  int32_t b;
  uint32_t len;
  uint32_t off;
  uint32_t reserved2;
  union {
    int64_t i;
    double d;
  };
} cq_cell;

typedef struct cq_cells {
  cq_cell *v;
  size_t n;
  size_t cap;
} cq_cells;

void cq_cells_init(cq_cells *c);
void cq_cells_free(cq_cells *c);
void cq_cells_reset(cq_cells *c);
int64_t cq_cells_push(cq_cells *c, size_t k);
int cq_value_decode(cq_cells *cells, const cq_type *t, const uint8_t *p, int64_t len, size_t *root,
                    char *err, size_t errcap);
int cq_value_encode(cq_buf *out, const cq_type *t, const cq_cell *cells, size_t ncells, size_t idx,
                    const uint8_t *bytes, size_t bytes_len, char *err, size_t errcap);
int cq_value_encode_value(cq_buf *out, const cq_type *t, const cq_cell *cells, size_t ncells,
                          size_t idx, const uint8_t *bytes, size_t bytes_len, char *err,
                          size_t errcap);
size_t cq_vector_elem_fixed_size(const cq_type *t);
size_t cq_varint_from_i64(int64_t v, uint8_t out[8]);
int cq_varint_to_i64(const uint8_t *p, size_t n, int64_t *v);
int cq_varint_to_string(cq_buf *out, const uint8_t *p, size_t n);
int cq_varint_from_string(cq_buf *out, const char *s, size_t n);
int cq_decimal_to_string(cq_buf *out, int32_t scale, const uint8_t *unscaled, size_t n);
int cq_decimal_from_string(cq_buf *out, int32_t *scale, const char *s, size_t n);
int cq_duration_to_string(char *out, size_t cap, int32_t months, int32_t days, int64_t nanos);
int cq_duration_from_string(const char *s, size_t n, int32_t *months, int32_t *days,
                            int64_t *nanos, char *err, size_t errcap);

typedef struct cq_rows_page {
  const uint8_t *src;
  size_t src_len;
  size_t nrows;
  size_t ncols;
  cq_cells cells;
} cq_rows_page;
void cq_rows_init(cq_rows_page *page);
void cq_rows_free(cq_rows_page *page);
int cq_rows_decode(cq_rows_page *page, const cq_type *const *types, size_t ncols,
                   int64_t rows_count, const uint8_t *p, size_t len, char *err, size_t errcap);

void cq_murmur3_x64_128(const void *key, size_t n, uint64_t seed, uint64_t out[2]);
int64_t cq_murmur3_token(const void *key, size_t n);
int cq_routing_key(cq_buf *out, const uint8_t *const *parts, const size_t *lens, size_t count);

int getpid(void);
]]

--- Structs and the fields whose sizes and offsets `cq_abi_sizeof` reports.
-- A name "s" asks for sizeof(s), "s.f" for offsetof(s, f).
return {
  abi = {
    "cq_arena", "cq_arena.head", "cq_arena.chunk_size", "cq_arena.used",
    "cq_buf", "cq_buf.data", "cq_buf.len", "cq_buf.cap", "cq_buf.err",
    "cq_type", "cq_type.kind", "cq_type.frozen", "cq_type.reversed", "cq_type.nsub",
    "cq_type.dimension", "cq_type.sub", "cq_type.field_names", "cq_type.keyspace",
    "cq_type.name", "cq_type.custom_class",
    "cq_cell", "cq_cell.kind", "cq_cell.flags", "cq_cell.reserved", "cq_cell.a", "cq_cell.b",
    "cq_cell.len", "cq_cell.off", "cq_cell.reserved2", "cq_cell.i", "cq_cell.d",
    "cq_cells", "cq_cells.v", "cq_cells.n", "cq_cells.cap",
    "cq_rows_page", "cq_rows_page.src", "cq_rows_page.src_len", "cq_rows_page.nrows",
    "cq_rows_page.ncols", "cq_rows_page.cells",
    "cq_type_kind",
  },
}
