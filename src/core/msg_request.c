/* Request bodies (spec 4.1): encoding for the driver, decoding for test
 * servers. See message.h for the structures and their ownership. */
#include <string.h>

#include "msg_util.h"

/* ---- Encoding ------------------------------------------------------------ */

/* QUERY/EXECUTE/BATCH flags: a [byte] before v5, an [int] from v5. */
static int put_qflags(cq_buf *b, int version, uint32_t flags) {
  if (version >= CQ_PROTOCOL_V5) {
    cq_w_u32(b, flags);
  } else {
    if (flags > 0xFF) return CQ_ERR_UNSUPPORTED;
    cq_w_u8(b, (uint8_t)flags);
  }
  return CQ_OK;
}

/* Flags that only exist from v5 on. */
#define V5_ONLY_QFLAGS (CQ_QFLAG_WITH_KEYSPACE | CQ_QFLAG_WITH_NOW_IN_SECONDS)

static int put_values(cq_buf *b, int version, uint16_t n, const cq_value *values,
                      const cq_str *names, int named) {
  if (n && !values) return CQ_ERR_INVALID;
  if (named && n && !names) return CQ_ERR_INVALID;
  cq_w_u16(b, n);
  for (uint16_t i = 0; i < n; i++) {
    if (named) cq_put_str(b, names[i]);
    if (values[i].len == CQ_VALUE_UNSET && version < CQ_PROTOCOL_V4) return CQ_ERR_UNSUPPORTED;
    CQ_TRY(cq_put_value(b, values[i]));
  }
  return CQ_OK;
}

static int put_params(cq_buf *b, int version, const cq_query_params *p) {
  uint32_t f = p->flags;
  if (p->nvalues) f |= CQ_QFLAG_VALUES;
  if (p->names) f |= CQ_QFLAG_NAMES_FOR_VALUES;
  if (p->paging_state.p) f |= CQ_QFLAG_PAGING_STATE;
  if (p->keyspace.p) f |= CQ_QFLAG_WITH_KEYSPACE;
  if (version < CQ_PROTOCOL_V5 && (f & V5_ONLY_QFLAGS)) return CQ_ERR_UNSUPPORTED;
  cq_w_u16(b, p->consistency);
  CQ_TRY(put_qflags(b, version, f));
  if (f & CQ_QFLAG_VALUES)
    CQ_TRY(put_values(b, version, p->nvalues, p->values, p->names,
                      (f & CQ_QFLAG_NAMES_FOR_VALUES) != 0));
  if (f & CQ_QFLAG_PAGE_SIZE) cq_w_u32(b, (uint32_t)p->page_size);
  if (f & CQ_QFLAG_PAGING_STATE) {
    cq_value ps = p->paging_state;
    if (ps.len == CQ_VALUE_UNSET) return CQ_ERR_INVALID;
    CQ_TRY(cq_put_value(b, ps));
  }
  if (f & CQ_QFLAG_SERIAL_CONSISTENCY) cq_w_u16(b, p->serial_consistency);
  if (f & CQ_QFLAG_DEFAULT_TIMESTAMP) cq_w_u64(b, (uint64_t)p->default_timestamp);
  if (f & CQ_QFLAG_WITH_KEYSPACE) cq_put_str(b, p->keyspace);
  if (f & CQ_QFLAG_WITH_NOW_IN_SECONDS) cq_w_u32(b, (uint32_t)p->now_in_seconds);
  return CQ_OK;
}

static void put_pair(cq_buf *b, const char *key, cq_str v) {
  cq_buf_put_string(b, key, strlen(key));
  cq_put_str(b, v);
}

static int enc_startup(cq_buf *b, const cq_startup *s) {
  size_t n = (size_t)s->nextra + (s->cql_version.p != NULL) + (s->compression.p != NULL) +
             (s->driver_name.p != NULL) + (s->driver_version.p != NULL);
  if (n > 0xFFFF) return CQ_ERR_TOO_LARGE;
  if (s->nextra && !s->extra) return CQ_ERR_INVALID;
  cq_w_u16(b, (uint16_t)n);
  if (s->cql_version.p) put_pair(b, "CQL_VERSION", s->cql_version);
  if (s->compression.p) put_pair(b, "COMPRESSION", s->compression);
  if (s->driver_name.p) put_pair(b, "DRIVER_NAME", s->driver_name);
  if (s->driver_version.p) put_pair(b, "DRIVER_VERSION", s->driver_version);
  for (uint16_t i = 0; i < s->nextra; i++) {
    cq_put_str(b, s->extra[i].key);
    cq_put_str(b, s->extra[i].value);
  }
  return CQ_OK;
}

static int enc_batch(cq_buf *b, int version, const cq_batch *bt) {
  uint32_t f = bt->flags;
  if (bt->keyspace.p) f |= CQ_QFLAG_WITH_KEYSPACE;
  if (bt->nstmts && !bt->stmts) return CQ_ERR_INVALID;
  for (uint16_t i = 0; i < bt->nstmts; i++)
    if (bt->stmts[i].names) f |= CQ_QFLAG_NAMES_FOR_VALUES;
  if (f & 0x0F) return CQ_ERR_INVALID; /* values/paging bits make no sense here */
  if (version < CQ_PROTOCOL_V5 && (f & V5_ONLY_QFLAGS)) return CQ_ERR_UNSUPPORTED;
  int named = (f & CQ_QFLAG_NAMES_FOR_VALUES) != 0;
  cq_w_u8(b, bt->type);
  cq_w_u16(b, bt->nstmts);
  for (uint16_t i = 0; i < bt->nstmts; i++) {
    const cq_batch_stmt *s = &bt->stmts[i];
    cq_w_u8(b, s->kind);
    if (s->kind == CQ_BATCH_KIND_QUERY) {
      cq_put_long_str(b, s->query);
    } else if (s->kind == CQ_BATCH_KIND_PREPARED) {
      if (!s->id.p) return CQ_ERR_INVALID;
      cq_put_short_bytes(b, s->id);
    } else {
      return CQ_ERR_INVALID;
    }
    CQ_TRY(put_values(b, version, s->nvalues, s->values, s->names, named));
  }
  cq_w_u16(b, bt->consistency);
  CQ_TRY(put_qflags(b, version, f));
  if (f & CQ_QFLAG_SERIAL_CONSISTENCY) cq_w_u16(b, bt->serial_consistency);
  if (f & CQ_QFLAG_DEFAULT_TIMESTAMP) cq_w_u64(b, (uint64_t)bt->default_timestamp);
  if (f & CQ_QFLAG_WITH_KEYSPACE) cq_put_str(b, bt->keyspace);
  if (f & CQ_QFLAG_WITH_NOW_IN_SECONDS) cq_w_u32(b, (uint32_t)bt->now_in_seconds);
  return CQ_OK;
}

static int enc_body(cq_buf *b, int version, const cq_request *req) {
  switch (req->opcode) {
  case CQ_OP_STARTUP: return enc_startup(b, &req->u.startup);
  case CQ_OP_OPTIONS: return CQ_OK;
  case CQ_OP_QUERY:
    cq_put_long_str(b, req->u.query.query);
    return put_params(b, version, &req->u.query.params);
  case CQ_OP_PREPARE: {
    const cq_prepare *p = &req->u.prepare;
    uint32_t f = p->flags | (p->keyspace.p ? CQ_PREPARE_WITH_KEYSPACE : 0);
    if (version < CQ_PROTOCOL_V5 && f) return CQ_ERR_UNSUPPORTED;
    cq_put_long_str(b, p->query);
    if (version >= CQ_PROTOCOL_V5) {
      cq_w_u32(b, f);
      if (f & CQ_PREPARE_WITH_KEYSPACE) cq_put_str(b, p->keyspace);
    }
    return CQ_OK;
  }
  case CQ_OP_EXECUTE: {
    const cq_execute *e = &req->u.execute;
    if (!e->id.p) return CQ_ERR_INVALID;
    cq_put_short_bytes(b, e->id);
    if (version >= CQ_PROTOCOL_V5) {
      if (!e->result_metadata_id.p) return CQ_ERR_INVALID;
      cq_put_short_bytes(b, e->result_metadata_id);
    }
    return put_params(b, version, &e->params);
  }
  case CQ_OP_BATCH: return enc_batch(b, version, &req->u.batch);
  case CQ_OP_REGISTER:
    if (req->u.reg.nevents && !req->u.reg.events) return CQ_ERR_INVALID;
    cq_put_string_list(b, req->u.reg.events, req->u.reg.nevents);
    return CQ_OK;
  case CQ_OP_AUTH_RESPONSE:
    if (req->u.auth_token.len == CQ_VALUE_UNSET) return CQ_ERR_INVALID;
    return cq_put_value(b, req->u.auth_token);
  default: return CQ_ERR_UNSUPPORTED;
  }
}

int cq_request_encode(cq_buf *b, int version, int flags, const cq_request *req) {
  if (version < CQ_PROTOCOL_MIN || version > CQ_PROTOCOL_MAX) return CQ_ERR_UNSUPPORTED;
  if (b->err) return b->err;
  if ((flags & CQ_FLAG_CUSTOM_PAYLOAD) && version >= CQ_PROTOCOL_V4) {
    if (req->npayload && !req->payload) return CQ_ERR_INVALID;
    cq_put_bytes_map(b, req->payload, req->npayload);
  }
  int rc = enc_body(b, version, req);
  if (rc < 0) return rc;
  return b->err;
}

/* ---- Decoding ------------------------------------------------------------ */

static int dec_qflags(cq_dec *D, uint32_t *flags) {
  if (D->version >= CQ_PROTOCOL_V5) {
    int32_t f;
    CQ_TRY(cq_dec_i32(D, &f, "flags"));
    *flags = (uint32_t)f;
  } else {
    uint8_t f;
    CQ_TRY(cq_dec_u8(D, &f, "flags"));
    *flags = f;
    if (f & CQ_QFLAG_WITH_KEYSPACE)
      return cq_dec_fail(D, CQ_ERR_MALFORMED, "flag 0x80 (keyspace) needs protocol v5");
  }
  return CQ_OK;
}

static int dec_params(cq_dec *D, cq_query_params *p) {
  memset(p, 0, sizeof *p);
  CQ_TRY(cq_dec_u16(D, &p->consistency, "consistency"));
  CQ_TRY(dec_qflags(D, &p->flags));
  uint32_t f = p->flags;
  if (f & CQ_QFLAG_VALUES)
    CQ_TRY(cq_dec_values(D, (f & CQ_QFLAG_NAMES_FOR_VALUES) != 0, &p->nvalues, &p->values,
                         &p->names, "value"));
  if (f & CQ_QFLAG_PAGE_SIZE) CQ_TRY(cq_dec_i32(D, &p->page_size, "page size"));
  if (f & CQ_QFLAG_PAGING_STATE) CQ_TRY(cq_dec_value(D, &p->paging_state, 0, "paging state"));
  if (f & CQ_QFLAG_SERIAL_CONSISTENCY)
    CQ_TRY(cq_dec_u16(D, &p->serial_consistency, "serial consistency"));
  if (f & CQ_QFLAG_DEFAULT_TIMESTAMP)
    CQ_TRY(cq_dec_i64(D, &p->default_timestamp, "default timestamp"));
  if (f & CQ_QFLAG_WITH_KEYSPACE) CQ_TRY(cq_dec_string(D, &p->keyspace, "keyspace"));
  if (f & CQ_QFLAG_WITH_NOW_IN_SECONDS) CQ_TRY(cq_dec_i32(D, &p->now_in_seconds, "now_in_seconds"));
  return CQ_OK;
}

static int key_is(cq_str k, const char *name) {
  size_t n = strlen(name);
  return k.len == n && memcmp(k.p, name, n) == 0;
}

static int dec_startup(cq_dec *D, cq_startup *s) {
  const cq_str_pair *all;
  uint16_t n;
  CQ_TRY(cq_dec_string_map(D, &all, &n, "option"));
  cq_str_pair *extra = cq_dec_array(D, n, sizeof *extra, 0, "option");
  if (!extra) return D->status;
  for (uint16_t i = 0; i < n; i++) {
    cq_str *slot = NULL;
    if (key_is(all[i].key, "CQL_VERSION"))
      slot = &s->cql_version;
    else if (key_is(all[i].key, "COMPRESSION"))
      slot = &s->compression;
    else if (key_is(all[i].key, "DRIVER_NAME"))
      slot = &s->driver_name;
    else if (key_is(all[i].key, "DRIVER_VERSION"))
      slot = &s->driver_version;
    if (slot && !slot->p)
      *slot = all[i].value;
    else
      extra[s->nextra++] = all[i];
  }
  s->extra = extra;
  return CQ_OK;
}

/* BATCH statements carry names only when the flags (which come after them)
 * say so, so one pass has to guess: decode_batch runs once unnamed and, if
 * that fails or the flags then ask for names, once named. */
static int dec_batch_pass(cq_dec *D, cq_batch *bt, int named) {
  memset(bt, 0, sizeof *bt);
  CQ_TRY(cq_dec_u8(D, &bt->type, "batch type"));
  CQ_TRY(cq_dec_u16(D, &bt->nstmts, "statement count"));
  cq_batch_stmt *st = cq_dec_array(D, bt->nstmts, sizeof *st, 5, "statement");
  if (!st) return D->status;
  bt->stmts = st;
  for (uint16_t i = 0; i < bt->nstmts; i++) {
    CQ_TRY(cq_dec_u8(D, &st[i].kind, "statement kind"));
    if (st[i].kind == CQ_BATCH_KIND_QUERY) {
      CQ_TRY(cq_dec_long_string(D, &st[i].query, "statement query"));
    } else if (st[i].kind == CQ_BATCH_KIND_PREPARED) {
      CQ_TRY(cq_dec_short_bytes(D, &st[i].id, "statement id"));
    } else {
      return cq_dec_fail(D, CQ_ERR_MALFORMED, "statement %u has kind %u (must be 0 or 1)",
                         (unsigned)i, (unsigned)st[i].kind);
    }
    CQ_TRY(cq_dec_values(D, named, &st[i].nvalues, &st[i].values, &st[i].names, "value"));
  }
  CQ_TRY(cq_dec_u16(D, &bt->consistency, "consistency"));
  CQ_TRY(dec_qflags(D, &bt->flags));
  uint32_t f = bt->flags;
  if (f & 0x0F) return cq_dec_fail(D, CQ_ERR_MALFORMED, "flags 0x%x has low bits set", (unsigned)f);
  if (((f & CQ_QFLAG_NAMES_FOR_VALUES) != 0) != named)
    return cq_dec_fail(D, CQ_ERR_MALFORMED, "names-for-values flag disagrees with statements");
  if (f & CQ_QFLAG_SERIAL_CONSISTENCY)
    CQ_TRY(cq_dec_u16(D, &bt->serial_consistency, "serial consistency"));
  if (f & CQ_QFLAG_DEFAULT_TIMESTAMP)
    CQ_TRY(cq_dec_i64(D, &bt->default_timestamp, "default timestamp"));
  if (f & CQ_QFLAG_WITH_KEYSPACE) CQ_TRY(cq_dec_string(D, &bt->keyspace, "keyspace"));
  if (f & CQ_QFLAG_WITH_NOW_IN_SECONDS)
    CQ_TRY(cq_dec_i32(D, &bt->now_in_seconds, "now_in_seconds"));
  return CQ_OK;
}

static int dec_batch(cq_dec *D, cq_batch *bt) {
  cq_dec save = *D;
  int rc = dec_batch_pass(D, bt, 0);
  if (rc == CQ_OK || rc == CQ_ERR_NOMEM) return rc;
  cq_diag first;
  if (D->d) first = *D->d;
  cq_dec second = save;
  rc = dec_batch_pass(&second, bt, 1);
  if (rc == CQ_OK || second.status == CQ_ERR_NOMEM) {
    *D = second;
    return rc;
  }
  /* Report the unnamed attempt: names in batches are the rare case. */
  if (D->d) *D->d = first;
  return D->status;
}

static int dec_body(cq_dec *D, cq_request *out) {
  switch (out->opcode) {
  case CQ_OP_STARTUP: return dec_startup(D, &out->u.startup);
  case CQ_OP_OPTIONS: return CQ_OK;
  case CQ_OP_QUERY:
    CQ_TRY(cq_dec_long_string(D, &out->u.query.query, "query string"));
    return dec_params(D, &out->u.query.params);
  case CQ_OP_PREPARE: {
    cq_prepare *p = &out->u.prepare;
    CQ_TRY(cq_dec_long_string(D, &p->query, "query string"));
    if (D->version >= CQ_PROTOCOL_V5) {
      int32_t f;
      CQ_TRY(cq_dec_i32(D, &f, "flags"));
      p->flags = (uint32_t)f;
      if (p->flags & CQ_PREPARE_WITH_KEYSPACE) CQ_TRY(cq_dec_string(D, &p->keyspace, "keyspace"));
    }
    return CQ_OK;
  }
  case CQ_OP_EXECUTE: {
    cq_execute *e = &out->u.execute;
    CQ_TRY(cq_dec_short_bytes(D, &e->id, "prepared id"));
    if (D->version >= CQ_PROTOCOL_V5)
      CQ_TRY(cq_dec_short_bytes(D, &e->result_metadata_id, "result metadata id"));
    return dec_params(D, &e->params);
  }
  case CQ_OP_BATCH: return dec_batch(D, &out->u.batch);
  case CQ_OP_REGISTER:
    return cq_dec_string_list(D, &out->u.reg.events, &out->u.reg.nevents, "event type");
  case CQ_OP_AUTH_RESPONSE: return cq_dec_value(D, &out->u.auth_token, 0, "token");
  default:
    return cq_dec_fail(D, CQ_ERR_UNSUPPORTED, "opcode 0x%02x is not a request",
                       (unsigned)out->opcode);
  }
}

int cq_request_decode(cq_request *out, int version, int flags, int opcode, const uint8_t *body,
                      size_t len, cq_arena *arena, cq_diag *diag) {
  cq_dec D;
  memset(out, 0, sizeof *out);
  out->opcode = (cq_opcode)opcode;
  cq_dec_init(&D, body, len, version, arena, diag, cq_opcode_name(opcode));
  if (version < CQ_PROTOCOL_MIN || version > CQ_PROTOCOL_MAX)
    return cq_dec_fail(&D, CQ_ERR_UNSUPPORTED, "protocol version %d", version);
  if ((flags & CQ_FLAG_CUSTOM_PAYLOAD) && version >= CQ_PROTOCOL_V4)
    CQ_TRY(cq_dec_bytes_map(&D, &out->payload, &out->npayload, "custom payload"));
  return dec_body(&D, out);
}

/* ---- Equality ------------------------------------------------------------ */

static int values_eq(uint16_t n, const cq_value *a, const cq_value *b, const cq_str *na,
                     const cq_str *nb) {
  if ((na == NULL) != (nb == NULL)) return 0;
  for (uint16_t i = 0; i < n; i++) {
    if (!cq_value_eq(a[i], b[i])) return 0;
    if (na && !cq_str_eq(na[i], nb[i])) return 0;
  }
  return 1;
}

static int params_eq(const cq_query_params *a, const cq_query_params *b) {
  return a->consistency == b->consistency && a->flags == b->flags && a->nvalues == b->nvalues &&
         values_eq(a->nvalues, a->values, b->values, a->names, b->names) &&
         a->page_size == b->page_size && cq_value_eq(a->paging_state, b->paging_state) &&
         a->serial_consistency == b->serial_consistency &&
         a->default_timestamp == b->default_timestamp && cq_str_eq(a->keyspace, b->keyspace) &&
         a->now_in_seconds == b->now_in_seconds;
}

static int payload_eq(uint16_t n, const cq_payload_entry *a, const cq_payload_entry *b) {
  for (uint16_t i = 0; i < n; i++)
    if (!cq_str_eq(a[i].key, b[i].key) || !cq_value_eq(a[i].value, b[i].value)) return 0;
  return 1;
}

static int startup_eq(const cq_startup *a, const cq_startup *b) {
  if (!cq_str_eq(a->cql_version, b->cql_version) || !cq_str_eq(a->compression, b->compression) ||
      !cq_str_eq(a->driver_name, b->driver_name) ||
      !cq_str_eq(a->driver_version, b->driver_version) || a->nextra != b->nextra)
    return 0;
  for (uint16_t i = 0; i < a->nextra; i++)
    if (!cq_str_eq(a->extra[i].key, b->extra[i].key) ||
        !cq_str_eq(a->extra[i].value, b->extra[i].value))
      return 0;
  return 1;
}

static int batch_eq(const cq_batch *a, const cq_batch *b) {
  if (a->type != b->type || a->nstmts != b->nstmts || a->consistency != b->consistency ||
      a->flags != b->flags || a->serial_consistency != b->serial_consistency ||
      a->default_timestamp != b->default_timestamp || !cq_str_eq(a->keyspace, b->keyspace) ||
      a->now_in_seconds != b->now_in_seconds)
    return 0;
  for (uint16_t i = 0; i < a->nstmts; i++) {
    const cq_batch_stmt *x = &a->stmts[i], *y = &b->stmts[i];
    if (x->kind != y->kind || !cq_str_eq(x->query, y->query) || !cq_bytes_eq(x->id, y->id) ||
        x->nvalues != y->nvalues ||
        !values_eq(x->nvalues, x->values, y->values, x->names, y->names))
      return 0;
  }
  return 1;
}

int cq_request_equal(const cq_request *a, const cq_request *b) {
  if (a->opcode != b->opcode || a->npayload != b->npayload ||
      !payload_eq(a->npayload, a->payload, b->payload))
    return 0;
  switch (a->opcode) {
  case CQ_OP_STARTUP: return startup_eq(&a->u.startup, &b->u.startup);
  case CQ_OP_QUERY:
    return cq_str_eq(a->u.query.query, b->u.query.query) &&
           params_eq(&a->u.query.params, &b->u.query.params);
  case CQ_OP_PREPARE:
    return cq_str_eq(a->u.prepare.query, b->u.prepare.query) &&
           a->u.prepare.flags == b->u.prepare.flags &&
           cq_str_eq(a->u.prepare.keyspace, b->u.prepare.keyspace);
  case CQ_OP_EXECUTE:
    return cq_bytes_eq(a->u.execute.id, b->u.execute.id) &&
           cq_bytes_eq(a->u.execute.result_metadata_id, b->u.execute.result_metadata_id) &&
           params_eq(&a->u.execute.params, &b->u.execute.params);
  case CQ_OP_BATCH: return batch_eq(&a->u.batch, &b->u.batch);
  case CQ_OP_REGISTER:
    if (a->u.reg.nevents != b->u.reg.nevents) return 0;
    for (uint16_t i = 0; i < a->u.reg.nevents; i++)
      if (!cq_str_eq(a->u.reg.events[i], b->u.reg.events[i])) return 0;
    return 1;
  case CQ_OP_AUTH_RESPONSE: return cq_value_eq(a->u.auth_token, b->u.auth_token);
  default: return 1;
  }
}
