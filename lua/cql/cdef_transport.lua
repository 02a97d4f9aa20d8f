--- FFI declarations for the protocol messages, the connection state machine
-- and the libuv transport (src/core/message.h, frame.h, conn.h,
-- src/transport/tls.h, uv_io.h). The codec's types come from cql.cdef,
-- loaded first. Layouts must match the C headers exactly: spec/lua
-- checks them against the C compiler's sizeof/offsetof.
-- @module cql.cdef_transport
local ffi = require "ffi"
require "cql.cdef"

ffi.cdef [[
typedef struct cq_str { const char *p; size_t len; } cq_str;
typedef struct cq_bytes { const uint8_t *p; size_t len; } cq_bytes;
typedef struct cq_value { const uint8_t *p; int32_t len; } cq_value;
typedef struct cq_str_pair { cq_str key; cq_str value; } cq_str_pair;
typedef struct cq_multimap_entry { cq_str key; const cq_str *values; uint16_t nvalues; } cq_multimap_entry;
typedef struct cq_payload_entry { cq_str key; cq_value value; } cq_payload_entry;
typedef struct cq_inetaddr { uint8_t len; uint8_t addr[16]; } cq_inetaddr;
typedef struct cq_inet { cq_inetaddr addr; int32_t port; } cq_inet;

typedef struct cq_startup {
  cq_str cql_version, compression, driver_name, driver_version;
  const cq_str_pair *extra; uint16_t nextra;
} cq_startup;
typedef struct cq_query_params {
  uint16_t consistency; uint32_t flags; uint16_t nvalues;
  const cq_value *values; const cq_str *names;
  int32_t page_size; cq_value paging_state; uint16_t serial_consistency;
  int64_t default_timestamp; cq_str keyspace; int32_t now_in_seconds;
} cq_query_params;
typedef struct cq_query { cq_str query; cq_query_params params; } cq_query;
typedef struct cq_prepare { cq_str query; uint32_t flags; cq_str keyspace; } cq_prepare;
typedef struct cq_execute { cq_bytes id; cq_bytes result_metadata_id; cq_query_params params; } cq_execute;
typedef struct cq_batch_stmt {
  uint8_t kind; cq_str query; cq_bytes id; uint16_t nvalues;
  const cq_value *values; const cq_str *names;
} cq_batch_stmt;
typedef struct cq_batch {
  uint8_t type; uint16_t nstmts; const cq_batch_stmt *stmts; uint16_t consistency;
  uint32_t flags; uint16_t serial_consistency; int64_t default_timestamp;
  cq_str keyspace; int32_t now_in_seconds;
} cq_batch;
typedef struct cq_register { const cq_str *events; uint16_t nevents; } cq_register;
typedef struct cq_request {
  int opcode;
  const cq_payload_entry *payload; uint16_t npayload;
  union {
    cq_startup startup; cq_query query; cq_prepare prepare; cq_execute execute;
    cq_batch batch; cq_register reg; cq_value auth_token;
  } u;
} cq_request;

typedef struct cq_failure_reason { cq_inetaddr endpoint; uint16_t code; } cq_failure_reason;
typedef struct cq_error {
  int32_t code; cq_str message; uint16_t consistency; int32_t required, alive;
  int32_t received, block_for; cq_str write_type; uint8_t has_contentions; uint16_t contentions;
  uint8_t data_present; int32_t num_failures; const cq_failure_reason *reasons; uint32_t nreasons;
  cq_str keyspace, table, function; const cq_str *arg_types; uint16_t narg_types;
  cq_bytes unprepared_id;
} cq_error;
typedef struct cq_col_spec { cq_str keyspace, table, name; const cq_type *type; } cq_col_spec;
typedef struct cq_rows_meta {
  uint32_t flags; int32_t column_count; cq_value paging_state; cq_bytes new_metadata_id;
  cq_str keyspace, table; const cq_col_spec *columns;
} cq_rows_meta;
typedef struct cq_prepared_meta {
  uint32_t flags; int32_t column_count; int32_t pk_count; const uint16_t *pk_indexes;
  cq_str keyspace, table; const cq_col_spec *columns;
} cq_prepared_meta;
typedef struct cq_schema_change {
  cq_str change_type, target, keyspace, name; const cq_str *arg_types; uint16_t narg_types;
} cq_schema_change;
typedef struct cq_result {
  int32_t kind; cq_rows_meta meta; int32_t row_count; const uint8_t *rows; size_t rows_len;
  cq_str keyspace; cq_bytes id; cq_bytes result_metadata_id; cq_prepared_meta prepared;
  cq_schema_change change;
} cq_result;
typedef struct cq_event { cq_str type; cq_str change; cq_inet node; cq_schema_change schema; } cq_event;
typedef struct cq_response {
  int opcode;
  uint8_t tracing_id[16];
  const cq_str *warnings; uint16_t nwarnings;
  const cq_payload_entry *payload; uint16_t npayload;
  union {
    cq_error error; cq_str authenticator;
    struct { const cq_multimap_entry *entries; uint16_t n; } supported;
    cq_result result; cq_event event; cq_value auth_token;
  } u;
} cq_response;
typedef struct cq_diag { char msg[192]; } cq_diag;
int cq_response_decode(cq_response *out, int version, int flags, int opcode, const uint8_t *body,
                       size_t len, cq_arena *arena, cq_diag *diag);
long cq_response_message_offset(int version, int flags, const uint8_t *body, size_t len);

typedef struct cq_frame_header {
  uint8_t version, response, flags, opcode; int16_t stream; uint32_t length;
} cq_frame_header;
typedef struct cq_frame { cq_frame_header header; const uint8_t *body; size_t body_len; } cq_frame;

typedef struct cq_conn cq_conn;
typedef struct cq_conn_config {
  int version; int lz4; const char *cql_version; const char *driver_name;
  const char *driver_version; const char *keyspace; const char *const *events; uint16_t nevents;
  uint32_t max_body; int64_t handshake_timeout_ms; int64_t heartbeat_interval_ms;
  int64_t heartbeat_timeout_ms;
} cq_conn_config;
typedef struct cq_conn_event {
  int kind; int status; uint64_t user_id; const char *text; cq_frame frame; cq_value token;
  int32_t server_error; int suggested_version;
} cq_conn_event;
int cq_conn_get_state(const cq_conn *c);
int cq_conn_version(const cq_conn *c);
int cq_conn_compressed(const cq_conn *c);
uint32_t cq_conn_in_flight(const cq_conn *c);
uint32_t cq_conn_streams_held(const cq_conn *c);

typedef struct cq_tls_config {
  const char *ca_file; const char *cert_file; const char *key_file; int no_verify; int no_hostname_check;
} cq_tls_config;
typedef struct cq_tls_ctx cq_tls_ctx;
cq_tls_ctx *cq_tls_ctx_new(const cq_tls_config *cfg, char *err, size_t errcap);
void cq_tls_ctx_free(cq_tls_ctx *ctx);

typedef struct cqlua_io cqlua_io;
typedef struct cqlua_io_event {
  int kind; uint32_t conn; uint32_t timer; uint64_t user_id; cq_conn_event ev;
} cqlua_io_event;
cqlua_io *cqlua_io_new(void *loop);
void cqlua_io_free(cqlua_io *io);
int64_t cqlua_io_now(const cqlua_io *io);
int cqlua_io_connect(cqlua_io *io, const char *address, int port, const cq_conn_config *cfg,
                     cq_tls_ctx *tls, const char *tls_name, int64_t connect_timeout_ms, uint32_t *conn);
cq_conn *cqlua_io_conn(cqlua_io *io, uint32_t conn);
int cqlua_io_send_request(cqlua_io *io, uint32_t conn, const cq_request *req, int flags,
                          uint64_t user_id, int64_t deadline_ms, int16_t *stream);
int cqlua_io_auth_response(cqlua_io *io, uint32_t conn, const void *token, int32_t len);
int cqlua_io_close(cqlua_io *io, uint32_t conn, const char *reason);
int cqlua_io_timer_start(cqlua_io *io, int64_t delay_ms, uint64_t user_id, uint32_t *timer);
void cqlua_io_timer_cancel(cqlua_io *io, uint32_t timer);
int cqlua_io_run(cqlua_io *io, int64_t timeout_ms);
int cqlua_io_next_event(cqlua_io *io, cqlua_io_event *e);
uint32_t cqlua_io_connections(const cqlua_io *io);
uint32_t cqlua_io_timers(const cqlua_io *io);
]]

ffi.cdef [[
size_t cqlua_transport_abi_sizeof(const char *name);
]]

--- Sizes and offsets checked against the C compiler by
-- spec/lua/abi_spec.lua: the core's facts come from cq_abi_sizeof, the
-- transport's (`transport = true`) from cqlua_transport_abi_sizeof.
return {
  abi = {
    "cq_str", "cq_value", "cq_query_params", "cq_query_params.paging_state",
    "cq_query_params.default_timestamp", "cq_query_params.now_in_seconds", "cq_request",
    "cq_request.u", "cq_error", "cq_error.unprepared_id", "cq_col_spec", "cq_rows_meta",
    "cq_rows_meta.columns", "cq_prepared_meta", "cq_prepared_meta.pk_indexes", "cq_result",
    "cq_result.rows", "cq_result.prepared", "cq_result.change", "cq_event", "cq_response",
    "cq_response.u", "cq_response.tracing_id", "cq_frame_header", "cq_frame_header.stream",
    "cq_frame", "cq_conn_config", "cq_conn_config.heartbeat_timeout_ms", "cq_conn_event",
    "cq_conn_event.frame", "cq_conn_event.suggested_version",
  },
  transport_abi = {
    "cq_tls_config", "cq_tls_config.no_hostname_check", "cqlua_io_event", "cqlua_io_event.user_id",
    "cqlua_io_event.ev",
  },
}
