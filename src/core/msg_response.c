/* Response bodies (spec 4.2, error codes in section 8/9): decoding for the
 * driver, encoding for test servers. See message.h for the structures and
 * their ownership. */
#include <string.h>

#include "msg_util.h"

const char *cq_opcode_name(int opcode) {
  switch (opcode) {
  case CQ_OP_ERROR: return "ERROR";
  case CQ_OP_STARTUP: return "STARTUP";
  case CQ_OP_READY: return "READY";
  case CQ_OP_AUTHENTICATE: return "AUTHENTICATE";
  case CQ_OP_OPTIONS: return "OPTIONS";
  case CQ_OP_SUPPORTED: return "SUPPORTED";
  case CQ_OP_QUERY: return "QUERY";
  case CQ_OP_RESULT: return "RESULT";
  case CQ_OP_PREPARE: return "PREPARE";
  case CQ_OP_EXECUTE: return "EXECUTE";
  case CQ_OP_REGISTER: return "REGISTER";
  case CQ_OP_EVENT: return "EVENT";
  case CQ_OP_BATCH: return "BATCH";
  case CQ_OP_AUTH_CHALLENGE: return "AUTH_CHALLENGE";
  case CQ_OP_AUTH_RESPONSE: return "AUTH_RESPONSE";
  case CQ_OP_AUTH_SUCCESS: return "AUTH_SUCCESS";
  default: return "UNKNOWN";
  }
}

static int str_is(cq_str s, const char *lit) {
  size_t n = strlen(lit);
  return s.p && s.len == n && memcmp(s.p, lit, n) == 0;
}

/* ---- Decoding: ERROR ------------------------------------------------------ */

static int dec_reasons(cq_dec *D, cq_error *e) {
  if (D->version < CQ_PROTOCOL_V5) return cq_dec_i32(D, &e->num_failures, "numfailures");
  int32_t n;
  CQ_TRY(cq_dec_i32(D, &n, "reasonmap size"));
  if (n < 0) return cq_dec_fail(D, CQ_ERR_MALFORMED, "reasonmap size %d is negative", (int)n);
  /* An entry is at least 7 bytes: size byte, 4 address bytes, code. */
  cq_failure_reason *v = cq_dec_array(D, (size_t)n, sizeof *v, 7, "reasonmap entry");
  if (!v) return D->status;
  for (int32_t i = 0; i < n; i++) {
    CQ_TRY(cq_dec_inetaddr(D, &v[i].endpoint, "reasonmap endpoint"));
    CQ_TRY(cq_dec_u16(D, &v[i].code, "reasonmap failure code"));
  }
  e->reasons = v;
  e->nreasons = (uint32_t)n;
  e->num_failures = n;
  return CQ_OK;
}

static int dec_cl_received_blockfor(cq_dec *D, cq_error *e) {
  CQ_TRY(cq_dec_u16(D, &e->consistency, "consistency"));
  CQ_TRY(cq_dec_i32(D, &e->received, "received"));
  return cq_dec_i32(D, &e->block_for, "blockfor");
}

static int dec_error(cq_dec *D, cq_error *e) {
  CQ_TRY(cq_dec_i32(D, &e->code, "error code"));
  CQ_TRY(cq_dec_string(D, &e->message, "error message"));
  switch (e->code) {
  case CQ_ERROR_UNAVAILABLE:
    CQ_TRY(cq_dec_u16(D, &e->consistency, "consistency"));
    CQ_TRY(cq_dec_i32(D, &e->required, "required"));
    return cq_dec_i32(D, &e->alive, "alive");
  case CQ_ERROR_WRITE_TIMEOUT:
    CQ_TRY(dec_cl_received_blockfor(D, e));
    CQ_TRY(cq_dec_string(D, &e->write_type, "writeType"));
    if (D->version >= CQ_PROTOCOL_V5 && str_is(e->write_type, "CAS")) {
      e->has_contentions = 1;
      return cq_dec_u16(D, &e->contentions, "contentions");
    }
    return CQ_OK;
  case CQ_ERROR_READ_TIMEOUT:
    CQ_TRY(dec_cl_received_blockfor(D, e));
    return cq_dec_u8(D, &e->data_present, "data_present");
  case CQ_ERROR_READ_FAILURE:
    CQ_TRY(dec_cl_received_blockfor(D, e));
    CQ_TRY(dec_reasons(D, e));
    return cq_dec_u8(D, &e->data_present, "data_present");
  case CQ_ERROR_WRITE_FAILURE:
    CQ_TRY(dec_cl_received_blockfor(D, e));
    CQ_TRY(dec_reasons(D, e));
    return cq_dec_string(D, &e->write_type, "writeType");
  case CQ_ERROR_FUNCTION_FAILURE:
    CQ_TRY(cq_dec_string(D, &e->keyspace, "keyspace"));
    CQ_TRY(cq_dec_string(D, &e->function, "function"));
    return cq_dec_string_list(D, &e->arg_types, &e->narg_types, "arg types");
  case CQ_ERROR_ALREADY_EXISTS:
    CQ_TRY(cq_dec_string(D, &e->keyspace, "keyspace"));
    return cq_dec_string(D, &e->table, "table");
  case CQ_ERROR_UNPREPARED: return cq_dec_short_bytes(D, &e->unprepared_id, "unprepared id");
  case CQ_ERROR_CAS_WRITE_UNKNOWN:
    if (D->version >= CQ_PROTOCOL_V5) return dec_cl_received_blockfor(D, e);
    return CQ_OK;
  default: return CQ_OK; /* no extra fields, or a code newer than us: keep code + message */
  }
}

/* ---- Decoding: metadata --------------------------------------------------- */

/* count column specs; with a global table spec each is <name><type>,
 * otherwise <ks><table><name><type>. */
static int dec_col_specs(cq_dec *D, int32_t count, int global, cq_str ks, cq_str table,
                         const cq_col_spec **out) {
  size_t min = global ? 4 : 8;
  size_t left = cq_reader_left(&D->r);
  if ((size_t)count > left / min)
    return cq_dec_fail(D, CQ_ERR_TRUNCATED,
                       "column count %d but only %zu bytes left for col specs (%zu+ each)",
                       (int)count, left, min);
  cq_col_spec *v = cq_dec_array(D, (size_t)count, sizeof *v, 0, "col spec");
  if (!v) return D->status;
  for (int32_t i = 0; i < count; i++) {
    int rc = CQ_OK;
    if (global) {
      v[i].keyspace = ks;
      v[i].table = table;
    } else {
      rc = cq_dec_string(D, &v[i].keyspace, "col spec keyspace");
      if (rc == CQ_OK) rc = cq_dec_string(D, &v[i].table, "col spec table");
    }
    if (rc == CQ_OK) rc = cq_dec_string(D, &v[i].name, "col spec name");
    if (rc == CQ_OK) {
      cq_diag td;
      rc = cq_type_option_read(&D->r, D->a, &v[i].type, &td);
      if (rc < 0 && rc != CQ_ERR_TRUNCATED)
        return cq_dec_fail(D, rc, "column %d (%.*s) type: %s", (int)i, (int)v[i].name.len,
                           v[i].name.p, td.msg);
      if (rc < 0) cq_dec_check(D, "col spec type");
    }
    if (rc == CQ_ERR_TRUNCATED) {
      cq_dec_reword(D, "column count %d but %d col specs before end of body", (int)count, (int)i);
      return rc;
    }
    if (rc < 0) return rc;
  }
  *out = v;
  return CQ_OK;
}

static int dec_rows_meta(cq_dec *D, cq_rows_meta *m) {
  memset(m, 0, sizeof *m);
  int32_t f;
  CQ_TRY(cq_dec_i32(D, &f, "metadata flags"));
  m->flags = (uint32_t)f;
  CQ_TRY(cq_dec_i32(D, &m->column_count, "column count"));
  if (m->column_count < 0)
    return cq_dec_fail(D, CQ_ERR_MALFORMED, "column count %d is negative", (int)m->column_count);
  if (m->flags & CQ_RFLAG_HAS_MORE_PAGES)
    CQ_TRY(cq_dec_value(D, &m->paging_state, 0, "paging state"));
  if (D->version >= CQ_PROTOCOL_V5 && (m->flags & CQ_RFLAG_METADATA_CHANGED)) {
    if (m->flags & CQ_RFLAG_NO_METADATA)
      return cq_dec_fail(D, CQ_ERR_MALFORMED, "both No_metadata and Metadata_changed flags set");
    CQ_TRY(cq_dec_short_bytes(D, &m->new_metadata_id, "new_metadata_id"));
  }
  if (m->flags & CQ_RFLAG_NO_METADATA) return CQ_OK;
  int global = (m->flags & CQ_RFLAG_GLOBAL_TABLES_SPEC) != 0;
  if (global) {
    CQ_TRY(cq_dec_string(D, &m->keyspace, "global keyspace"));
    CQ_TRY(cq_dec_string(D, &m->table, "global table"));
  }
  return dec_col_specs(D, m->column_count, global, m->keyspace, m->table, &m->columns);
}

int cq_rows_meta_decode(cq_reader *r, int version, cq_rows_meta *out, cq_arena *arena,
                        cq_diag *diag) {
  cq_dec D;
  cq_dec_init(&D, NULL, 0, version, arena, diag, "Rows metadata");
  D.r = *r;
  if (r->err) return cq_dec_fail(&D, r->err, "reader already failed");
  int rc = dec_rows_meta(&D, out);
  *r = D.r;
  return rc;
}

static int dec_prepared_meta(cq_dec *D, cq_prepared_meta *m) {
  int32_t f;
  CQ_TRY(cq_dec_i32(D, &f, "prepared metadata flags"));
  m->flags = (uint32_t)f;
  CQ_TRY(cq_dec_i32(D, &m->column_count, "bind marker count"));
  if (m->column_count < 0)
    return cq_dec_fail(D, CQ_ERR_MALFORMED, "bind marker count %d is negative",
                       (int)m->column_count);
  if (D->version >= CQ_PROTOCOL_V4) {
    CQ_TRY(cq_dec_i32(D, &m->pk_count, "pk count"));
    if (m->pk_count < 0)
      return cq_dec_fail(D, CQ_ERR_MALFORMED, "pk count %d is negative", (int)m->pk_count);
    uint16_t *pk = cq_dec_array(D, (size_t)m->pk_count, sizeof *pk, 2, "pk index");
    if (!pk) return D->status;
    for (int32_t i = 0; i < m->pk_count; i++) {
      CQ_TRY(cq_dec_u16(D, &pk[i], "pk index"));
      if (pk[i] >= m->column_count)
        return cq_dec_fail(D, CQ_ERR_MALFORMED, "pk index %u >= bind marker count %d",
                           (unsigned)pk[i], (int)m->column_count);
    }
    m->pk_indexes = pk;
  }
  int global = (m->flags & CQ_RFLAG_GLOBAL_TABLES_SPEC) != 0;
  if (global) {
    CQ_TRY(cq_dec_string(D, &m->keyspace, "global keyspace"));
    CQ_TRY(cq_dec_string(D, &m->table, "global table"));
  }
  return dec_col_specs(D, m->column_count, global, m->keyspace, m->table, &m->columns);
}

/* ---- Decoding: RESULT, EVENT --------------------------------------------- */

static int dec_schema_change(cq_dec *D, cq_schema_change *c) {
  CQ_TRY(cq_dec_string(D, &c->change_type, "change type"));
  CQ_TRY(cq_dec_string(D, &c->target, "target"));
  if (str_is(c->target, "KEYSPACE")) return cq_dec_string(D, &c->keyspace, "keyspace");
  if (str_is(c->target, "TABLE") || str_is(c->target, "TYPE")) {
    CQ_TRY(cq_dec_string(D, &c->keyspace, "keyspace"));
    return cq_dec_string(D, &c->name, "name");
  }
  if (str_is(c->target, "FUNCTION") || str_is(c->target, "AGGREGATE")) {
    CQ_TRY(cq_dec_string(D, &c->keyspace, "keyspace"));
    CQ_TRY(cq_dec_string(D, &c->name, "name"));
    return cq_dec_string_list(D, &c->arg_types, &c->narg_types, "argument types");
  }
  return cq_dec_fail(D, CQ_ERR_UNSUPPORTED, "unknown schema change target '%.*s'",
                     (int)(c->target.len > 40 ? 40 : c->target.len), c->target.p);
}

static int dec_result(cq_dec *D, cq_result *res) {
  CQ_TRY(cq_dec_i32(D, &res->kind, "result kind"));
  switch (res->kind) {
  case CQ_RESULT_VOID: D->ctx = "RESULT Void"; return CQ_OK;
  case CQ_RESULT_ROWS: {
    D->ctx = "RESULT Rows";
    CQ_TRY(dec_rows_meta(D, &res->meta));
    CQ_TRY(cq_dec_i32(D, &res->row_count, "rows count"));
    if (res->row_count < 0)
      return cq_dec_fail(D, CQ_ERR_MALFORMED, "rows count %d is negative", (int)res->row_count);
    res->rows = D->r.p + D->r.pos;
    res->rows_len = cq_reader_left(&D->r);
    /* Every cell is a [bytes] of 4+ bytes: a count the rest cannot hold is
     * a lie the row decoder should never see. */
    uint64_t need = (uint64_t)res->row_count * (uint64_t)res->meta.column_count * 4u;
    if (need > res->rows_len)
      return cq_dec_fail(D, CQ_ERR_TRUNCATED,
                         "rows count %d x %d columns needs %llu+ bytes but %zu left",
                         (int)res->row_count, (int)res->meta.column_count, (unsigned long long)need,
                         res->rows_len);
    D->r.pos = D->r.len; /* the rows are consumed by the row decoder */
    return CQ_OK;
  }
  case CQ_RESULT_SET_KEYSPACE:
    D->ctx = "RESULT Set_keyspace";
    return cq_dec_string(D, &res->keyspace, "keyspace");
  case CQ_RESULT_PREPARED:
    D->ctx = "RESULT Prepared";
    CQ_TRY(cq_dec_short_bytes(D, &res->id, "prepared id"));
    if (D->version >= CQ_PROTOCOL_V5)
      CQ_TRY(cq_dec_short_bytes(D, &res->result_metadata_id, "result_metadata_id"));
    CQ_TRY(dec_prepared_meta(D, &res->prepared));
    D->ctx = "RESULT Prepared result metadata";
    return dec_rows_meta(D, &res->meta);
  case CQ_RESULT_SCHEMA_CHANGE:
    D->ctx = "RESULT Schema_change";
    return dec_schema_change(D, &res->change);
  default:
    return cq_dec_fail(D, CQ_ERR_UNSUPPORTED, "unknown result kind 0x%x", (unsigned)res->kind);
  }
}

static int dec_event(cq_dec *D, cq_event *ev) {
  CQ_TRY(cq_dec_string(D, &ev->type, "event type"));
  if (str_is(ev->type, "TOPOLOGY_CHANGE") || str_is(ev->type, "STATUS_CHANGE")) {
    CQ_TRY(cq_dec_string(D, &ev->change, "change"));
    return cq_dec_inet(D, &ev->node, "node address");
  }
  if (str_is(ev->type, "SCHEMA_CHANGE")) return dec_schema_change(D, &ev->schema);
  return cq_dec_fail(D, CQ_ERR_UNSUPPORTED, "unknown event type '%.*s'",
                     (int)(ev->type.len > 40 ? 40 : ev->type.len), ev->type.p);
}

int cq_response_decode(cq_response *out, int version, int flags, int opcode, const uint8_t *body,
                       size_t len, cq_arena *arena, cq_diag *diag) {
  cq_dec D;
  memset(out, 0, sizeof *out);
  out->opcode = (cq_opcode)opcode;
  cq_dec_init(&D, body, len, version, arena, diag, cq_opcode_name(opcode));
  if (version < CQ_PROTOCOL_MIN || version > CQ_PROTOCOL_MAX)
    return cq_dec_fail(&D, CQ_ERR_UNSUPPORTED, "protocol version %d", version);
  if (flags & CQ_FLAG_TRACING) {
    const uint8_t *id = cq_read_raw(&D.r, 16);
    CQ_TRY(cq_dec_check(&D, "tracing id"));
    memcpy(out->tracing_id, id, 16);
  }
  if ((flags & CQ_FLAG_WARNING) && version >= CQ_PROTOCOL_V4)
    CQ_TRY(cq_dec_string_list(&D, &out->warnings, &out->nwarnings, "warnings"));
  if ((flags & CQ_FLAG_CUSTOM_PAYLOAD) && version >= CQ_PROTOCOL_V4)
    CQ_TRY(cq_dec_bytes_map(&D, &out->payload, &out->npayload, "custom payload"));
  switch (opcode) {
  case CQ_OP_ERROR: return dec_error(&D, &out->u.error);
  case CQ_OP_READY: return CQ_OK;
  case CQ_OP_AUTHENTICATE: return cq_dec_string(&D, &out->u.authenticator, "authenticator");
  case CQ_OP_SUPPORTED:
    return cq_dec_string_multimap(&D, &out->u.supported.entries, &out->u.supported.n, "option");
  case CQ_OP_RESULT: return dec_result(&D, &out->u.result);
  case CQ_OP_EVENT: return dec_event(&D, &out->u.event);
  case CQ_OP_AUTH_CHALLENGE:
  case CQ_OP_AUTH_SUCCESS: return cq_dec_value(&D, &out->u.auth_token, 0, "token");
  default: return cq_dec_fail(&D, CQ_ERR_UNSUPPORTED, "opcode 0x%02x is not a response", opcode);
  }
}

long cq_response_message_offset(int version, int flags, const uint8_t *body, size_t len) {
  cq_reader r;
  size_t n;
  cq_reader_init(&r, body, len);
  if (flags & CQ_FLAG_TRACING) cq_read_raw(&r, 16);
  if ((flags & CQ_FLAG_WARNING) && version >= CQ_PROTOCOL_V4)
    for (unsigned count = cq_read_u16(&r); count > 0 && !r.err; count--)
      cq_read_string(&r, &n);
  if ((flags & CQ_FLAG_CUSTOM_PAYLOAD) && version >= CQ_PROTOCOL_V4) {
    for (unsigned count = cq_read_u16(&r); count > 0 && !r.err; count--) {
      cq_read_string(&r, &n);
      cq_read_bytes(&r, &n);
    }
  }
  return r.err ? -1 : (long)r.pos;
}

/* ---- Encoding ------------------------------------------------------------ */

static void put_cl_received_blockfor(cq_buf *b, const cq_error *e) {
  cq_w_u16(b, e->consistency);
  cq_w_u32(b, (uint32_t)e->received);
  cq_w_u32(b, (uint32_t)e->block_for);
}

static int put_reasons(cq_buf *b, int version, const cq_error *e) {
  if (version < CQ_PROTOCOL_V5) {
    cq_w_u32(b, (uint32_t)e->num_failures);
    return CQ_OK;
  }
  if (e->nreasons > INT32_MAX || (e->nreasons && !e->reasons)) return CQ_ERR_INVALID;
  cq_w_u32(b, e->nreasons);
  for (uint32_t i = 0; i < e->nreasons; i++) {
    CQ_TRY(cq_put_inetaddr(b, &e->reasons[i].endpoint));
    cq_w_u16(b, e->reasons[i].code);
  }
  return CQ_OK;
}

static int enc_error(cq_buf *b, int version, const cq_error *e) {
  cq_w_u32(b, (uint32_t)e->code);
  cq_put_str(b, e->message);
  switch (e->code) {
  case CQ_ERROR_UNAVAILABLE:
    cq_w_u16(b, e->consistency);
    cq_w_u32(b, (uint32_t)e->required);
    cq_w_u32(b, (uint32_t)e->alive);
    return CQ_OK;
  case CQ_ERROR_WRITE_TIMEOUT:
    put_cl_received_blockfor(b, e);
    cq_put_str(b, e->write_type);
    if (version >= CQ_PROTOCOL_V5 && str_is(e->write_type, "CAS")) cq_w_u16(b, e->contentions);
    return CQ_OK;
  case CQ_ERROR_READ_TIMEOUT:
    put_cl_received_blockfor(b, e);
    cq_w_u8(b, e->data_present);
    return CQ_OK;
  case CQ_ERROR_READ_FAILURE:
    put_cl_received_blockfor(b, e);
    CQ_TRY(put_reasons(b, version, e));
    cq_w_u8(b, e->data_present);
    return CQ_OK;
  case CQ_ERROR_WRITE_FAILURE:
    put_cl_received_blockfor(b, e);
    CQ_TRY(put_reasons(b, version, e));
    cq_put_str(b, e->write_type);
    return CQ_OK;
  case CQ_ERROR_FUNCTION_FAILURE:
    if (e->narg_types && !e->arg_types) return CQ_ERR_INVALID;
    cq_put_str(b, e->keyspace);
    cq_put_str(b, e->function);
    cq_put_string_list(b, e->arg_types, e->narg_types);
    return CQ_OK;
  case CQ_ERROR_ALREADY_EXISTS:
    cq_put_str(b, e->keyspace);
    cq_put_str(b, e->table);
    return CQ_OK;
  case CQ_ERROR_UNPREPARED: cq_put_short_bytes(b, e->unprepared_id); return CQ_OK;
  case CQ_ERROR_CAS_WRITE_UNKNOWN:
    if (version >= CQ_PROTOCOL_V5) put_cl_received_blockfor(b, e);
    return CQ_OK;
  default: return CQ_OK;
  }
}

static int put_col_specs(cq_buf *b, int32_t count, int global, const cq_col_spec *cols) {
  if (count < 0 || (count && !cols)) return CQ_ERR_INVALID;
  for (int32_t i = 0; i < count; i++) {
    if (!global) {
      cq_put_str(b, cols[i].keyspace);
      cq_put_str(b, cols[i].table);
    }
    cq_put_str(b, cols[i].name);
    CQ_TRY(cq_type_option_write(b, cols[i].type));
  }
  return CQ_OK;
}

static int put_rows_meta(cq_buf *b, int version, const cq_rows_meta *m) {
  uint32_t f = m->flags;
  if (m->column_count < 0) return CQ_ERR_INVALID;
  cq_w_u32(b, f);
  cq_w_u32(b, (uint32_t)m->column_count);
  if (f & CQ_RFLAG_HAS_MORE_PAGES) {
    if (m->paging_state.len == CQ_VALUE_UNSET) return CQ_ERR_INVALID;
    CQ_TRY(cq_put_value(b, m->paging_state));
  }
  if (version >= CQ_PROTOCOL_V5 && (f & CQ_RFLAG_METADATA_CHANGED)) {
    if (f & CQ_RFLAG_NO_METADATA) return CQ_ERR_INVALID;
    cq_put_short_bytes(b, m->new_metadata_id);
  }
  if (f & CQ_RFLAG_NO_METADATA) return CQ_OK;
  int global = (f & CQ_RFLAG_GLOBAL_TABLES_SPEC) != 0;
  if (global) {
    cq_put_str(b, m->keyspace);
    cq_put_str(b, m->table);
  }
  return put_col_specs(b, m->column_count, global, m->columns);
}

static int put_prepared_meta(cq_buf *b, int version, const cq_prepared_meta *m) {
  if (m->column_count < 0 || m->pk_count < 0 || (m->pk_count && !m->pk_indexes))
    return CQ_ERR_INVALID;
  cq_w_u32(b, m->flags);
  cq_w_u32(b, (uint32_t)m->column_count);
  if (version >= CQ_PROTOCOL_V4) {
    cq_w_u32(b, (uint32_t)m->pk_count);
    for (int32_t i = 0; i < m->pk_count; i++)
      cq_w_u16(b, m->pk_indexes[i]);
  }
  int global = (m->flags & CQ_RFLAG_GLOBAL_TABLES_SPEC) != 0;
  if (global) {
    cq_put_str(b, m->keyspace);
    cq_put_str(b, m->table);
  }
  return put_col_specs(b, m->column_count, global, m->columns);
}

static int put_schema_change(cq_buf *b, const cq_schema_change *c) {
  cq_put_str(b, c->change_type);
  cq_put_str(b, c->target);
  if (str_is(c->target, "KEYSPACE")) {
    cq_put_str(b, c->keyspace);
  } else if (str_is(c->target, "TABLE") || str_is(c->target, "TYPE")) {
    cq_put_str(b, c->keyspace);
    cq_put_str(b, c->name);
  } else if (str_is(c->target, "FUNCTION") || str_is(c->target, "AGGREGATE")) {
    if (c->narg_types && !c->arg_types) return CQ_ERR_INVALID;
    cq_put_str(b, c->keyspace);
    cq_put_str(b, c->name);
    cq_put_string_list(b, c->arg_types, c->narg_types);
  } else {
    return CQ_ERR_INVALID;
  }
  return CQ_OK;
}

static int enc_result(cq_buf *b, int version, const cq_result *r) {
  cq_w_u32(b, (uint32_t)r->kind);
  switch (r->kind) {
  case CQ_RESULT_VOID: return CQ_OK;
  case CQ_RESULT_ROWS:
    CQ_TRY(put_rows_meta(b, version, &r->meta));
    if (r->row_count < 0 || (r->rows_len && !r->rows)) return CQ_ERR_INVALID;
    cq_w_u32(b, (uint32_t)r->row_count);
    cq_w_raw(b, r->rows, r->rows_len);
    return CQ_OK;
  case CQ_RESULT_SET_KEYSPACE: cq_put_str(b, r->keyspace); return CQ_OK;
  case CQ_RESULT_PREPARED:
    cq_put_short_bytes(b, r->id);
    if (version >= CQ_PROTOCOL_V5) cq_put_short_bytes(b, r->result_metadata_id);
    CQ_TRY(put_prepared_meta(b, version, &r->prepared));
    return put_rows_meta(b, version, &r->meta);
  case CQ_RESULT_SCHEMA_CHANGE: return put_schema_change(b, &r->change);
  default: return CQ_ERR_UNSUPPORTED;
  }
}

static int enc_event(cq_buf *b, const cq_event *ev) {
  cq_put_str(b, ev->type);
  if (str_is(ev->type, "TOPOLOGY_CHANGE") || str_is(ev->type, "STATUS_CHANGE")) {
    cq_put_str(b, ev->change);
    CQ_TRY(cq_put_inetaddr(b, &ev->node.addr));
    cq_w_u32(b, (uint32_t)ev->node.port);
    return CQ_OK;
  }
  if (str_is(ev->type, "SCHEMA_CHANGE")) return put_schema_change(b, &ev->schema);
  return CQ_ERR_INVALID;
}

static int enc_response_body(cq_buf *b, int version, const cq_response *r) {
  switch (r->opcode) {
  case CQ_OP_ERROR: return enc_error(b, version, &r->u.error);
  case CQ_OP_READY: return CQ_OK;
  case CQ_OP_AUTHENTICATE: cq_put_str(b, r->u.authenticator); return CQ_OK;
  case CQ_OP_SUPPORTED: {
    if (r->u.supported.n && !r->u.supported.entries) return CQ_ERR_INVALID;
    cq_w_u16(b, r->u.supported.n);
    for (uint16_t i = 0; i < r->u.supported.n; i++) {
      const cq_multimap_entry *e = &r->u.supported.entries[i];
      if (e->nvalues && !e->values) return CQ_ERR_INVALID;
      cq_put_str(b, e->key);
      cq_put_string_list(b, e->values, e->nvalues);
    }
    return CQ_OK;
  }
  case CQ_OP_RESULT: return enc_result(b, version, &r->u.result);
  case CQ_OP_EVENT: return enc_event(b, &r->u.event);
  case CQ_OP_AUTH_CHALLENGE:
  case CQ_OP_AUTH_SUCCESS:
    if (r->u.auth_token.len == CQ_VALUE_UNSET) return CQ_ERR_INVALID;
    return cq_put_value(b, r->u.auth_token);
  default: return CQ_ERR_UNSUPPORTED;
  }
}

int cq_response_encode(cq_buf *b, int version, int flags, const cq_response *r) {
  if (version < CQ_PROTOCOL_MIN || version > CQ_PROTOCOL_MAX) return CQ_ERR_UNSUPPORTED;
  if (b->err) return b->err;
  if (flags & CQ_FLAG_TRACING) cq_w_raw(b, r->tracing_id, 16);
  if ((flags & CQ_FLAG_WARNING) && version >= CQ_PROTOCOL_V4) {
    if (r->nwarnings && !r->warnings) return CQ_ERR_INVALID;
    cq_put_string_list(b, r->warnings, r->nwarnings);
  }
  if ((flags & CQ_FLAG_CUSTOM_PAYLOAD) && version >= CQ_PROTOCOL_V4) {
    if (r->npayload && !r->payload) return CQ_ERR_INVALID;
    cq_put_bytes_map(b, r->payload, r->npayload);
  }
  int rc = enc_response_body(b, version, r);
  if (rc < 0) return rc;
  return b->err;
}

/* ---- Equality ------------------------------------------------------------ */

static int strs_eq(uint16_t n, const cq_str *a, const cq_str *b) {
  for (uint16_t i = 0; i < n; i++)
    if (!cq_str_eq(a[i], b[i])) return 0;
  return 1;
}

static int inetaddr_eq(const cq_inetaddr *a, const cq_inetaddr *b) {
  return a->len == b->len && memcmp(a->addr, b->addr, a->len) == 0;
}

static int error_eq(const cq_error *a, const cq_error *b) {
  if (a->code != b->code || !cq_str_eq(a->message, b->message) ||
      a->consistency != b->consistency || a->required != b->required || a->alive != b->alive ||
      a->received != b->received || a->block_for != b->block_for ||
      !cq_str_eq(a->write_type, b->write_type) || a->has_contentions != b->has_contentions ||
      a->contentions != b->contentions || a->data_present != b->data_present ||
      a->num_failures != b->num_failures || a->nreasons != b->nreasons ||
      !cq_str_eq(a->keyspace, b->keyspace) || !cq_str_eq(a->table, b->table) ||
      !cq_str_eq(a->function, b->function) || a->narg_types != b->narg_types ||
      !strs_eq(a->narg_types, a->arg_types, b->arg_types) ||
      !cq_bytes_eq(a->unprepared_id, b->unprepared_id))
    return 0;
  for (uint32_t i = 0; i < a->nreasons; i++)
    if (!inetaddr_eq(&a->reasons[i].endpoint, &b->reasons[i].endpoint) ||
        a->reasons[i].code != b->reasons[i].code)
      return 0;
  return 1;
}

static int cols_eq(int32_t n, const cq_col_spec *a, const cq_col_spec *b) {
  if ((a == NULL) != (b == NULL)) return 0;
  if (!a) return 1;
  for (int32_t i = 0; i < n; i++)
    if (!cq_str_eq(a[i].keyspace, b[i].keyspace) || !cq_str_eq(a[i].table, b[i].table) ||
        !cq_str_eq(a[i].name, b[i].name) || !cq_type_equal(a[i].type, b[i].type))
      return 0;
  return 1;
}

static int rows_meta_eq(const cq_rows_meta *a, const cq_rows_meta *b) {
  return a->flags == b->flags && a->column_count == b->column_count &&
         cq_value_eq(a->paging_state, b->paging_state) &&
         cq_bytes_eq(a->new_metadata_id, b->new_metadata_id) &&
         cq_str_eq(a->keyspace, b->keyspace) && cq_str_eq(a->table, b->table) &&
         cols_eq(a->column_count, a->columns, b->columns);
}

static int schema_eq(const cq_schema_change *a, const cq_schema_change *b) {
  return cq_str_eq(a->change_type, b->change_type) && cq_str_eq(a->target, b->target) &&
         cq_str_eq(a->keyspace, b->keyspace) && cq_str_eq(a->name, b->name) &&
         a->narg_types == b->narg_types && strs_eq(a->narg_types, a->arg_types, b->arg_types);
}

static int result_eq(const cq_result *a, const cq_result *b) {
  if (a->kind != b->kind) return 0;
  switch (a->kind) {
  case CQ_RESULT_ROWS:
    return rows_meta_eq(&a->meta, &b->meta) && a->row_count == b->row_count &&
           a->rows_len == b->rows_len &&
           (a->rows_len == 0 || memcmp(a->rows, b->rows, a->rows_len) == 0);
  case CQ_RESULT_SET_KEYSPACE: return cq_str_eq(a->keyspace, b->keyspace);
  case CQ_RESULT_PREPARED: {
    const cq_prepared_meta *x = &a->prepared, *y = &b->prepared;
    if (!cq_bytes_eq(a->id, b->id) || !cq_bytes_eq(a->result_metadata_id, b->result_metadata_id) ||
        x->flags != y->flags || x->column_count != y->column_count || x->pk_count != y->pk_count ||
        !cq_str_eq(x->keyspace, y->keyspace) || !cq_str_eq(x->table, y->table) ||
        !cols_eq(x->column_count, x->columns, y->columns) || !rows_meta_eq(&a->meta, &b->meta))
      return 0;
    for (int32_t i = 0; i < x->pk_count; i++)
      if (x->pk_indexes[i] != y->pk_indexes[i]) return 0;
    return 1;
  }
  case CQ_RESULT_SCHEMA_CHANGE: return schema_eq(&a->change, &b->change);
  default: return 1;
  }
}

int cq_response_equal(const cq_response *a, const cq_response *b) {
  if (a->opcode != b->opcode || memcmp(a->tracing_id, b->tracing_id, 16) != 0 ||
      a->nwarnings != b->nwarnings || !strs_eq(a->nwarnings, a->warnings, b->warnings) ||
      a->npayload != b->npayload)
    return 0;
  for (uint16_t i = 0; i < a->npayload; i++)
    if (!cq_str_eq(a->payload[i].key, b->payload[i].key) ||
        !cq_value_eq(a->payload[i].value, b->payload[i].value))
      return 0;
  switch (a->opcode) {
  case CQ_OP_ERROR: return error_eq(&a->u.error, &b->u.error);
  case CQ_OP_AUTHENTICATE: return cq_str_eq(a->u.authenticator, b->u.authenticator);
  case CQ_OP_SUPPORTED:
    if (a->u.supported.n != b->u.supported.n) return 0;
    for (uint16_t i = 0; i < a->u.supported.n; i++) {
      const cq_multimap_entry *x = &a->u.supported.entries[i], *y = &b->u.supported.entries[i];
      if (!cq_str_eq(x->key, y->key) || x->nvalues != y->nvalues ||
          !strs_eq(x->nvalues, x->values, y->values))
        return 0;
    }
    return 1;
  case CQ_OP_RESULT: return result_eq(&a->u.result, &b->u.result);
  case CQ_OP_EVENT:
    return cq_str_eq(a->u.event.type, b->u.event.type) &&
           cq_str_eq(a->u.event.change, b->u.event.change) &&
           inetaddr_eq(&a->u.event.node.addr, &b->u.event.node.addr) &&
           a->u.event.node.port == b->u.event.node.port &&
           schema_eq(&a->u.event.schema, &b->u.event.schema);
  case CQ_OP_AUTH_CHALLENGE:
  case CQ_OP_AUTH_SUCCESS: return cq_value_eq(a->u.auth_token, b->u.auth_token);
  default: return 1;
  }
}
