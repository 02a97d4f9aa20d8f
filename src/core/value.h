/* CQL values: a flat, FFI-friendly cell representation and the codec for
 * every CQL type (protocol v3+ serialisation, spec section 5/6).
 *
 * A decoded value is a tree of fixed-size cells stored in one array
 * (cq_cells). Scalars are pre-decoded into the cell; byte-like values
 * (text, ascii, blob, uuid, timeuuid, inet, varint, custom, the unscaled part
 * of a decimal) are an (off, len) pair into the source bytes the value was
 * decoded from; collections, tuples, UDTs and vectors are a range of child
 * cells [off, off + len) in the same array. Nothing in a cell is a pointer,
 * so an array of cells can be copied, kept in a Lua cdata, or handed across
 * FFI without lifetime questions beyond the source bytes it refers to.
 *
 * Encoding takes the same representation: a cell array plus the byte buffer
 * the (off, len) pairs point into.
 *
 * Ownership: a cq_cells owns its `v` array (malloc, grown by doubling; free
 * with cq_cells_free). Source bytes are always borrowed, never copied. */
#ifndef CQ_VALUE_H
#define CQ_VALUE_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "status.h"
#include "types.h"

/* What a cell holds. Stable numbers: the Lua layer mirrors them. */
typedef enum cq_cell_kind {
  CQ_CELL_NULL = 0,      /* null ([bytes] length -1) */
  CQ_CELL_UNSET = 1,     /* unset ([value] length -2); encode only, top level */
  CQ_CELL_EMPTY = 2,     /* zero-length value of a non byte-like type */
  CQ_CELL_INT = 3,       /* tinyint smallint int bigint counter: i */
  CQ_CELL_DOUBLE = 4,    /* float double: d */
  CQ_CELL_BOOL = 5,      /* boolean: i = 0 or 1 */
  CQ_CELL_DATE = 6,      /* date: i = days since 1970-01-01 (wire value - 2^31) */
  CQ_CELL_TIME = 7,      /* time: i = nanoseconds since midnight */
  CQ_CELL_TIMESTAMP = 8, /* timestamp: i = milliseconds since the epoch */
  CQ_CELL_DURATION = 9,  /* duration: a = months, b = days, i = nanoseconds */
  CQ_CELL_BYTES = 10,    /* text ascii blob uuid timeuuid inet varint custom: off, len */
  CQ_CELL_DECIMAL = 11,  /* decimal: a = scale, (off, len) = unscaled varint bytes */
  CQ_CELL_LIST = 12,     /* children [off, off+len) */
  CQ_CELL_SET = 13,      /* children [off, off+len) */
  CQ_CELL_MAP = 14,      /* children k0 v0 k1 v1 ...: len = 2 * pairs */
  CQ_CELL_TUPLE = 15,    /* children, len <= number of tuple elements */
  CQ_CELL_UDT = 16,      /* children, len <= number of fields (trailing may be absent) */
  CQ_CELL_VECTOR = 17    /* children, len = dimension */
} cq_cell_kind;

/* Cell flags. */
enum {
  /* varint whose value fits int64: i holds it (the bytes stay the truth). */
  CQ_CELL_FLAG_I64 = 0x01
};

/* One value. 32 bytes, no pointers. */
typedef struct cq_cell {
  uint8_t kind;  /* cq_cell_kind */
  uint8_t flags; /* CQ_CELL_FLAG_* */
  uint16_t reserved;
  int32_t a;    /* decimal: scale; duration: months */
  int32_t b;    /* duration: days */
  uint32_t len; /* byte-like: length; containers: number of children */
  uint32_t off; /* byte-like: offset into the source; containers: first child index */
  uint32_t reserved2;
  union {
    int64_t i; /* integers, bool, date, time, timestamp, duration nanos, small varint */
    double d;  /* float, double */
  };
} cq_cell;

/* A growable cell array. Owns `v`. */
typedef struct cq_cells {
  cq_cell *v;
  size_t n;
  size_t cap;
} cq_cells;

/* Starts empty; no allocation until the first push. */
void cq_cells_init(cq_cells *c);
/* Frees the array. */
void cq_cells_free(cq_cells *c);
/* Forgets every cell but keeps the allocation, for reuse. */
void cq_cells_reset(cq_cells *c);
/* Appends k zeroed (CQ_CELL_NULL) cells; returns the index of the first or a
 * negative status (CQ_ERR_NOMEM, CQ_ERR_TOO_LARGE past 2^32-1 cells). */
int64_t cq_cells_push(cq_cells *c, size_t k);

/* Decodes one serialised value of type t from base[off, off+len) into the
 * already allocated cell cells->v[idx]; children are appended to `cells`.
 * Offsets stored in byte-like cells are relative to `base`. Validates
 * everything; on failure returns a negative status and writes a message
 * naming the type and the problem into err (if err != NULL). `cells->v` may
 * move (realloc): do not hold cell pointers across this call. */
int cq_value_decode_at(cq_cells *cells, size_t idx, const cq_type *t, const uint8_t *base,
                       size_t off, size_t len, char *err, size_t errcap);

/* Convenience: appends a root cell and decodes p[0, len) into it (len < 0
 * means null). Byte offsets are relative to p. *root receives the index. */
int cq_value_decode(cq_cells *cells, const cq_type *t, const uint8_t *p, int64_t len, size_t *root,
                    char *err, size_t errcap);

/* Writes the serialised form of cells[idx] as type t (the body only, no
 * length prefix) to out. `bytes` is the buffer byte-like cells point into
 * (bytes_len bounds every (off, len)). A NULL/UNSET cell cannot be written
 * as a bare body: use cq_value_encode_value for that. Checks that every
 * cell's kind fits its type; on mismatch returns CQ_ERR_INVALID with a message
 * naming the expected and the given. */
int cq_value_encode(cq_buf *out, const cq_type *t, const cq_cell *cells, size_t ncells, size_t idx,
                    const uint8_t *bytes, size_t bytes_len, char *err, size_t errcap);

/* Like cq_value_encode but writes a [value]: i32 length then the body, -1 for
 * a NULL cell, -2 for an UNSET cell. This is what QUERY/EXECUTE carry. */
int cq_value_encode_value(cq_buf *out, const cq_type *t, const cq_cell *cells, size_t ncells,
                          size_t idx, const uint8_t *bytes, size_t bytes_len, char *err,
                          size_t errcap);

/* Deep equality of two cell trees (kinds, scalars bitwise, bytes by content,
 * children recursively). Each side has its own array and byte base. */
int cq_cell_equal(const cq_cell *ca, size_t na, size_t ia, const uint8_t *ba, const cq_cell *cb,
                  size_t nb, size_t ib, const uint8_t *bb);

/* The fixed serialised size of an element of type t inside a vector, or 0
 * when it is variable-size (then each element carries an unsigned vint
 * length). Follows Cassandra 5.0: boolean 1, int/float 4, bigint/double/
 * timestamp 8, uuid/timeuuid 16, vector of fixed = dimension * size; every
 * other type (including smallint, tinyint, date, time, counter) is variable. */
size_t cq_vector_elem_fixed_size(const cq_type *t);

/* Protocol vints (spec [unsigned vint] / [vint]). Return bytes written (1..9)
 * / bytes read, or 0 when the input is truncated. */
size_t cq_uvint_put(uint8_t out[9], uint64_t v);
size_t cq_uvint_get(const uint8_t *p, size_t n, uint64_t *v);

/* --- Helpers for the Lua layer -------------------------------------- */

/* Minimal two's complement big-endian varint for v; returns 1..8 bytes. */
size_t cq_varint_from_i64(int64_t v, uint8_t out[8]);
/* varint bytes -> int64; CQ_ERR_TOO_LARGE if it does not fit, CQ_ERR_INVALID
 * for zero bytes. */
int cq_varint_to_i64(const uint8_t *p, size_t n, int64_t *v);
/* Appends the decimal digits of a varint ("-1234") to out (no NUL). Any size. */
int cq_varint_to_string(cq_buf *out, const uint8_t *p, size_t n);
/* Parses an optionally signed decimal integer string (any size) and appends
 * its minimal varint bytes to out. CQ_ERR_INVALID on bad syntax. */
int cq_varint_from_string(cq_buf *out, const char *s, size_t n);
/* Appends a decimal as text: "-123.4500" for scale 4, unscaled -1234500.
 * Uses "<unscaled>E<exp>" (e.g. "12E+3", "5E-1000") when the scale is
 * negative or far beyond the digits, so scale survives a round trip. */
int cq_decimal_to_string(cq_buf *out, int32_t scale, const uint8_t *unscaled, size_t n);
/* Parses "[-+]digits[.digits][e[-+]digits]", appends the unscaled varint to
 * out and stores the scale. */
int cq_decimal_from_string(cq_buf *out, int32_t *scale, const char *s, size_t n);
/* Formats a duration the way Cassandra prints it ("-1y2mo3d4h5m6s7ms8us9ns",
 * "0s" for zero) into out (NUL-terminated). Returns the length, or
 * CQ_ERR_TOO_LARGE if cap is too small (64 bytes always suffice). */
int cq_duration_to_string(char *out, size_t cap, int32_t months, int32_t days, int64_t nanos);
/* Parses Cassandra's duration forms: "1y2mo3w4d5h6m7s8ms9us10ns" (units
 * case-insensitive, "µs" too), ISO 8601 "P1Y2M3DT4H5M6S", "P2W" and the
 * alternative "P0001-02-03T04:05:06"; a leading '-' negates. Errors name the
 * offset. */
int cq_duration_from_string(const char *s, size_t n, int32_t *months, int32_t *days, int64_t *nanos,
                            char *err, size_t errcap);

#endif
