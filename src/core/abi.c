/* Layout facts for the Lua FFI declarations (lua/cql/cdef.lua).
 *
 * The Lua side declares the core's structs by hand; a spec compares
 * ffi.sizeof/ffi.offsetof with what the compiler laid out here, so a header
 * change that is not mirrored in Lua fails a test instead of corrupting
 * memory. "s" gives sizeof(s), "s.f" gives offsetof(s, f); 0 for an unknown
 * name (no fact is 0 except offsets of first fields, which the spec knows). */
#include <stddef.h>
#include <string.h>

#include "arena.h"
#include "buf.h"
#include "conn.h"
#include "message.h"
#include "rows.h"
#include "segment.h"
#include "types.h"
#include "value.h"

size_t cq_abi_sizeof(const char *name);

#define SZ(T)                                                                                      \
  { #T, sizeof(T) }
#define OF(T, F)                                                                                   \
  { #T "." #F, offsetof(T, F) }

static const struct {
  const char *name;
  size_t value;
} facts[] = {
    SZ(cq_arena),
    OF(cq_arena, head),
    OF(cq_arena, chunk_size),
    OF(cq_arena, used),

    SZ(cq_buf),
    OF(cq_buf, data),
    OF(cq_buf, len),
    OF(cq_buf, cap),
    OF(cq_buf, err),

    {"cq_type", sizeof(struct cq_type)},
    OF(struct cq_type, kind),
    OF(struct cq_type, frozen),
    OF(struct cq_type, reversed),
    OF(struct cq_type, nsub),
    OF(struct cq_type, dimension),
    OF(struct cq_type, sub),
    OF(struct cq_type, field_names),
    OF(struct cq_type, keyspace),
    OF(struct cq_type, name),
    OF(struct cq_type, custom_class),

    SZ(cq_cell),
    OF(cq_cell, kind),
    OF(cq_cell, flags),
    OF(cq_cell, reserved),
    OF(cq_cell, a),
    OF(cq_cell, b),
    OF(cq_cell, len),
    OF(cq_cell, off),
    OF(cq_cell, reserved2),
    OF(cq_cell, i),
    OF(cq_cell, d),

    SZ(cq_cells),
    OF(cq_cells, v),
    OF(cq_cells, n),
    OF(cq_cells, cap),

    SZ(cq_rows_page),
    OF(cq_rows_page, src),
    OF(cq_rows_page, src_len),
    OF(cq_rows_page, nrows),
    OF(cq_rows_page, ncols),
    OF(cq_rows_page, cells),

    SZ(cq_type_kind),

    /* lua/cql/cdef_transport.lua */
    SZ(cq_str),
    SZ(cq_value),
    SZ(cq_query_params),
    OF(cq_query_params, paging_state),
    OF(cq_query_params, default_timestamp),
    OF(cq_query_params, now_in_seconds),
    SZ(cq_request),
    OF(cq_request, u),
    SZ(cq_error),
    OF(cq_error, unprepared_id),
    SZ(cq_col_spec),
    SZ(cq_rows_meta),
    OF(cq_rows_meta, columns),
    SZ(cq_prepared_meta),
    OF(cq_prepared_meta, pk_indexes),
    SZ(cq_result),
    OF(cq_result, rows),
    OF(cq_result, prepared),
    OF(cq_result, change),
    SZ(cq_event),
    SZ(cq_response),
    OF(cq_response, u),
    OF(cq_response, tracing_id),
    SZ(cq_frame_header),
    OF(cq_frame_header, stream),
    SZ(cq_frame),
    SZ(cq_conn_config),
    OF(cq_conn_config, heartbeat_timeout_ms),
    SZ(cq_conn_event),
    OF(cq_conn_event, frame),
    OF(cq_conn_event, suggested_version),

    /* spec/support/test_server_cdef.lua (the scriptable test server) */
    SZ(cq_lz4_ctx),
    SZ(cq_frame_writer),
    OF(cq_frame_writer, scratch),
    OF(cq_frame_writer, lz4s),
    SZ(cq_frame_reader),
    OF(cq_frame_reader, in),
    OF(cq_frame_reader, plain),
    OF(cq_frame_reader, msg),
    SZ(cq_segment_encoder),
    OF(cq_segment_encoder, lz4s),
    SZ(cq_segment_decoder),
    OF(cq_segment_decoder, large),
    OF(cq_segment_decoder, msg),
};

size_t cq_abi_sizeof(const char *name) {
  if (!name) return 0;
  for (size_t i = 0; i < sizeof facts / sizeof facts[0]; i++) {
    const char *n = facts[i].name;
    /* OF(struct cq_type, f) stringifies as "struct cq_type.f". */
    if (strncmp(n, "struct ", 7) == 0) n += 7;
    if (strcmp(n, name) == 0) return facts[i].value;
  }
  return 0;
}
