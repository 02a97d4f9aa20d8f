/* CQL message bodies (spec sections 4.1 and 4.2) for protocol v3, v4, v5.
 *
 * This layer encodes and decodes the BODY of a message, given the opcode,
 * the protocol version and the frame header flags. Frame headers, v5
 * segments and compression belong to the framing code; CQL values are kept
 * as already-encoded [value] bytes (the value codec interprets them).
 *
 * Ownership and lifetime of decoded structures:
 *   - every cq_str, cq_bytes and cq_value in a decoded structure points INTO
 *     THE INPUT BODY (never NUL-terminated, never copied): keep the body alive
 *     as long as the structure is used;
 *   - every array (values, column specs, string lists, maps) and every type
 *     tree is allocated in the cq_arena the caller passes in, which owns
 *     them until the caller frees or resets it;
 *   - on failure the arena may hold partial allocations; nothing else leaks.
 * Structures given to the encoders are only read, never retained.
 *
 * Every decoder returns CQ_OK or a negative cq_status and, when diag is not
 * NULL, fills diag->msg with a message naming the problem. Decoders never
 * read past the input and bound every allocation by the bytes remaining, so
 * lying counts fail fast. Bytes after the end of a known body are ignored, as
 * the spec asks (they may be future extensions). */
#ifndef CQ_MESSAGE_H
#define CQ_MESSAGE_H

#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "buf.h"
#include "protocol.h"
#include "status.h"
#include "type_option.h"
#include "types.h"

/* ---- Building blocks --------------------------------------------------- */

/* A [string] / [long string]: p points into the input (decoded) or at the
 * caller's bytes (encoded); not NUL-terminated. p == NULL means "absent"
 * where a field is optional. */
typedef struct cq_str {
  const char *p;
  size_t len;
} cq_str;

/* [short bytes] (prepared ids, metadata ids). p == NULL means absent. */
typedef struct cq_bytes {
  const uint8_t *p;
  size_t len;
} cq_bytes;

/* A [value] / [bytes]: len >= 0 is present (p valid for len bytes),
 * CQ_VALUE_NULL (-1) is null, CQ_VALUE_UNSET (-2) is "not set" (v4+). */
typedef struct cq_value {
  const uint8_t *p;
  int32_t len;
} cq_value;
enum { CQ_VALUE_NULL = -1, CQ_VALUE_UNSET = -2 };

/* One [string map] entry (STARTUP options). */
typedef struct cq_str_pair {
  cq_str key;
  cq_str value;
} cq_str_pair;

/* One [string multimap] entry (SUPPORTED). */
typedef struct cq_multimap_entry {
  cq_str key;
  const cq_str *values;
  uint16_t nvalues;
} cq_multimap_entry;

/* One [bytes map] entry (custom payload). */
typedef struct cq_payload_entry {
  cq_str key;
  cq_value value; /* [bytes]: may be null, never unset */
} cq_payload_entry;

/* [inetaddr] (len 4 or 16) and [inet] (address + port). */
typedef struct cq_inetaddr {
  uint8_t len;
  uint8_t addr[16];
} cq_inetaddr;
typedef struct cq_inet {
  cq_inetaddr addr;
  int32_t port;
} cq_inet;

/* ---- Requests ---------------------------------------------------------- */

/* STARTUP: a [string map]. The four well-known keys have their own fields
 * (p == NULL: not sent); anything else (THROW_ON_OVERLOAD, NO_COMPACT, ...)
 * goes in extra. Encoding writes the known keys first, then extra in order.
 * Decoding fills the known fields from the first occurrence of each key and
 * puts every other entry (including repeats) in extra. */
typedef struct cq_startup {
  cq_str cql_version;
  cq_str compression;
  cq_str driver_name;
  cq_str driver_version;
  const cq_str_pair *extra;
  uint16_t nextra;
} cq_startup;

/* QUERY / EXECUTE parameters (4.1.4).
 * flags: on decode, the flags exactly as received. On encode, the flags to
 * send are `flags` OR the bits implied by fields: VALUES when nvalues > 0,
 * NAMES_FOR_VALUES when names != NULL, PAGING_STATE when paging_state.p,
 * WITH_KEYSPACE when keyspace.p. Scalar options have no sentinel, so their
 * presence is the flag bit itself: PAGE_SIZE, SERIAL_CONSISTENCY,
 * DEFAULT_TIMESTAMP, WITH_NOW_IN_SECONDS. SKIP_METADATA is only a flag.
 * v3/v4 send flags as a [byte], v5 as an [int]; keyspace and now_in_seconds
 * are v5 only (CQ_ERR_UNSUPPORTED earlier), unset values v4+ only. */
typedef struct cq_query_params {
  uint16_t consistency;
  uint32_t flags;
  uint16_t nvalues;
  const cq_value *values; /* nvalues entries */
  const cq_str *names;    /* NULL, or nvalues names (NAMES_FOR_VALUES) */
  int32_t page_size;
  cq_value paging_state; /* [bytes]; p == NULL && len == 0: absent */
  uint16_t serial_consistency;
  int64_t default_timestamp; /* microseconds */
  cq_str keyspace;           /* v5 */
  int32_t now_in_seconds;    /* v5 */
} cq_query_params;

typedef struct cq_query {
  cq_str query; /* [long string] */
  cq_query_params params;
} cq_query;

/* PREPARE: v5 adds an [int] flags (0x01 = with keyspace) and the keyspace.
 * On encode the keyspace flag is implied by keyspace.p (v5 only). */
enum { CQ_PREPARE_WITH_KEYSPACE = 0x01 };
typedef struct cq_prepare {
  cq_str query;
  uint32_t flags; /* v5 */
  cq_str keyspace;
} cq_prepare;

typedef struct cq_execute {
  cq_bytes id;
  cq_bytes result_metadata_id; /* v5 only, required there */
  cq_query_params params;
} cq_execute;

/* One statement of a BATCH: kind 0 = query string, kind 1 = prepared id. */
enum { CQ_BATCH_KIND_QUERY = 0, CQ_BATCH_KIND_PREPARED = 1 };
typedef struct cq_batch_stmt {
  uint8_t kind;
  cq_str query; /* kind 0 */
  cq_bytes id;  /* kind 1 */
  uint16_t nvalues;
  const cq_value *values;
  const cq_str *names; /* NULL unless the batch has NAMES_FOR_VALUES */
} cq_batch_stmt;

/* BATCH. flags as in cq_query_params (encode ORs in NAMES_FOR_VALUES when any
 * statement has names, WITH_KEYSPACE when keyspace.p); the low 4 bits must
 * be zero. All statements must then carry names. */
typedef struct cq_batch {
  uint8_t type; /* cq_batch_type */
  uint16_t nstmts;
  const cq_batch_stmt *stmts;
  uint16_t consistency;
  uint32_t flags;
  uint16_t serial_consistency;
  int64_t default_timestamp;
  cq_str keyspace;        /* v5 */
  int32_t now_in_seconds; /* v5 */
} cq_batch;

/* REGISTER: event type names. */
typedef struct cq_register {
  const cq_str *events;
  uint16_t nevents;
} cq_register;

/* Any request body. payload is the custom payload, written and read only
 * when the frame flags carry CQ_FLAG_CUSTOM_PAYLOAD (v4+). OPTIONS has no
 * body. AUTH_RESPONSE's token may be null (len CQ_VALUE_NULL). */
typedef struct cq_request {
  cq_opcode opcode;
  const cq_payload_entry *payload;
  uint16_t npayload;
  union {
    cq_startup startup;
    cq_query query;
    cq_prepare prepare;
    cq_execute execute;
    cq_batch batch;
    cq_register reg;
    cq_value auth_token;
  } u;
} cq_request;

/* ---- Responses --------------------------------------------------------- */

/* One entry of a v5 read/write failure reason map. */
typedef struct cq_failure_reason {
  cq_inetaddr endpoint;
  uint16_t code;
} cq_failure_reason;

/* ERROR (4.2.1, 8). Which fields are meaningful depends on code:
 *   UNAVAILABLE: consistency, required, alive
 *   WRITE_TIMEOUT: consistency, received, block_for, write_type, and on v5
 *     when write_type is "CAS" also contentions (has_contentions = 1)
 *   READ_TIMEOUT: consistency, received, block_for, data_present
 *   READ_FAILURE: consistency, received, block_for, failures, data_present
 *   WRITE_FAILURE: consistency, received, block_for, failures, write_type
 *     failures: v3/v4 send <numfailures>; v5 sends a reason map (reasons,
 *     nreasons) and num_failures is then set to nreasons
 *   FUNCTION_FAILURE: keyspace, function, arg_types
 *   ALREADY_EXISTS: keyspace, table
 *   UNPREPARED: unprepared_id
 *   CAS_WRITE_UNKNOWN (v5): consistency, received, block_for
 * Other codes (including unknown ones) have only code and message. */
typedef struct cq_error {
  int32_t code;
  cq_str message;
  uint16_t consistency;
  int32_t required, alive;
  int32_t received, block_for;
  cq_str write_type;
  uint8_t has_contentions;
  uint16_t contentions;
  uint8_t data_present;
  int32_t num_failures;
  const cq_failure_reason *reasons;
  uint32_t nreasons;
  cq_str keyspace, table, function;
  const cq_str *arg_types;
  uint16_t narg_types;
  cq_bytes unprepared_id;
} cq_error;

/* A column spec of result or prepared metadata. keyspace/table are the
 * global table spec when the GLOBAL_TABLES_SPEC flag is set (copied into
 * each column for convenience), the per-column ones otherwise. */
typedef struct cq_col_spec {
  cq_str keyspace, table, name;
  const cq_type *type; /* in the arena */
} cq_col_spec;

/* Rows metadata (4.2.5.2), also the <result_metadata> of a Prepared result.
 * columns is NULL when NO_METADATA is set (column_count still given). */
typedef struct cq_rows_meta {
  uint32_t flags;
  int32_t column_count;
  cq_value paging_state;    /* HAS_MORE_PAGES */
  cq_bytes new_metadata_id; /* v5, METADATA_CHANGED */
  cq_str keyspace, table;   /* GLOBAL_TABLES_SPEC */
  const cq_col_spec *columns;
} cq_rows_meta;

/* Prepared metadata (4.2.5.4 <metadata>): bind markers. pk indexes are v4+. */
typedef struct cq_prepared_meta {
  uint32_t flags;
  int32_t column_count;
  int32_t pk_count;
  const uint16_t *pk_indexes;
  cq_str keyspace, table;
  const cq_col_spec *columns;
} cq_prepared_meta;

/* SCHEMA_CHANGE (RESULT kind 5 and EVENT): change_type CREATED/UPDATED/
 * DROPPED; target KEYSPACE (keyspace), TABLE/TYPE (keyspace, name),
 * FUNCTION/AGGREGATE (keyspace, name, arg_types). */
typedef struct cq_schema_change {
  cq_str change_type;
  cq_str target;
  cq_str keyspace;
  cq_str name;
  const cq_str *arg_types;
  uint16_t narg_types;
} cq_schema_change;

/* RESULT (4.2.5). For Rows, rows/rows_len is the raw <rows_content> (every
 * byte after <rows_count> to the end of the body), left for the row decoder;
 * the decoder only checks that it can plausibly hold row_count rows of
 * column_count [bytes] (4 bytes each at least). */
typedef struct cq_result {
  int32_t kind;
  /* ROWS: meta, row_count, rows. PREPARED: meta is the result metadata. */
  cq_rows_meta meta;
  int32_t row_count;
  const uint8_t *rows;
  size_t rows_len;
  /* SET_KEYSPACE */
  cq_str keyspace;
  /* PREPARED */
  cq_bytes id;
  cq_bytes result_metadata_id; /* v5 */
  cq_prepared_meta prepared;
  /* SCHEMA_CHANGE */
  cq_schema_change change;
} cq_result;

/* EVENT (4.2.6): type TOPOLOGY_CHANGE / STATUS_CHANGE (change, node) or
 * SCHEMA_CHANGE (schema). */
typedef struct cq_event {
  cq_str type;
  cq_str change;
  cq_inet node;
  cq_schema_change schema;
} cq_event;

/* Any response body, with the prefixes the frame flags announce: tracing id
 * (CQ_FLAG_TRACING), warnings (CQ_FLAG_WARNING, v4+), custom payload
 * (CQ_FLAG_CUSTOM_PAYLOAD, v4+), in that order. READY has no body. */
typedef struct cq_response {
  cq_opcode opcode;
  uint8_t tracing_id[16];
  const cq_str *warnings;
  uint16_t nwarnings;
  const cq_payload_entry *payload;
  uint16_t npayload;
  union {
    cq_error error;
    cq_str authenticator; /* AUTHENTICATE */
    struct {
      const cq_multimap_entry *entries;
      uint16_t n;
    } supported;
    cq_result result;
    cq_event event;
    cq_value auth_token; /* AUTH_CHALLENGE / AUTH_SUCCESS */
  } u;
} cq_response;

/* ---- Functions ---------------------------------------------------------- */

/* Appends the body of req (opcode req->opcode) for protocol `version` and the
 * frame `flags` the caller will send. Returns CQ_OK; CQ_ERR_UNSUPPORTED for a
 * feature the version lacks (unset values on v3, keyspace/now_in_seconds
 * before v5, a response opcode); CQ_ERR_INVALID for inconsistent input
 * (names count, missing v5 result_metadata_id, batch kind); CQ_ERR_TOO_LARGE
 * for counts beyond a [short]; or the buffer's sticky error. On failure b
 * may hold a partial body; the caller truncates it. */
int cq_request_encode(cq_buf *b, int version, int flags, const cq_request *req);

/* Decodes a request body (for test servers). Pointers go into body, arrays
 * into arena (see the ownership notes at the top). */
int cq_request_decode(cq_request *out, int version, int flags, int opcode, const uint8_t *body,
                      size_t len, cq_arena *arena, cq_diag *diag);

/* Decodes a response body into *out. Pointers go into body, arrays and type
 * trees into arena. Unknown error codes decode (code and message kept);
 * unknown opcodes, result kinds and event types return CQ_ERR_UNSUPPORTED
 * (out->opcode / out->u.result.kind are still filled). */
int cq_response_decode(cq_response *out, int version, int flags, int opcode, const uint8_t *body,
                       size_t len, cq_arena *arena, cq_diag *diag);

/* Where the message proper starts in a response body: after the tracing id,
 * the warnings and the custom payload that flags announce (what
 * cq_response_decode skips first). -1 when the body is too short for them. */
long cq_response_message_offset(int version, int flags, const uint8_t *body, size_t len);

/* Decodes only Rows metadata (after the kind) from r; the building block of
 * RESULT Rows and Prepared results, exposed for the row decoder's tests. */
int cq_rows_meta_decode(cq_reader *r, int version, cq_rows_meta *out, cq_arena *arena,
                        cq_diag *diag);

/* Appends a response body for protocol `version` and frame `flags` (for
 * test servers). Same status conventions as cq_request_encode. */
int cq_response_encode(cq_buf *b, int version, int flags, const cq_response *resp);

/* Structural equality of two decoded (or hand-built) requests / responses:
 * same opcode and same field contents, comparing bytes, not pointers. Only
 * the fields the opcode uses are compared. For round-trip tests and fuzzers. */
int cq_request_equal(const cq_request *a, const cq_request *b);
int cq_response_equal(const cq_response *a, const cq_response *b);

/* The spec's name of an opcode ("QUERY"), or "UNKNOWN". */
const char *cq_opcode_name(int opcode);

#endif
