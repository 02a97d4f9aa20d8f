#include "status.h"

#include <stdarg.h>
#include <stdio.h>

const char *cq_status_name(int status) {
  switch (status) {
  case CQ_OK: return "ok";
  case CQ_ERR_TRUNCATED: return "truncated input";
  case CQ_ERR_MALFORMED: return "malformed input";
  case CQ_ERR_NOMEM: return "out of memory";
  case CQ_ERR_UNSUPPORTED: return "unsupported";
  case CQ_ERR_CHECKSUM: return "checksum mismatch";
  case CQ_ERR_INVALID: return "invalid argument";
  case CQ_ERR_TOO_LARGE: return "too large";
  case CQ_ERR_STATE: return "invalid state";
  case CQ_ERR_TIMEOUT: return "timed out";
  case CQ_ERR_CLOSED: return "connection closed";
  case CQ_ERR_VERSION: return "protocol version refused";
  case CQ_ERR_SERVER: return "server error";
  case CQ_ERR_BUSY: return "no free stream id";
  default: return "unknown error";
  }
}

int cq_errorf(char *err, size_t errcap, int status, const char *fmt, ...) {
  if (err && errcap) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errcap, fmt, ap);
    va_end(ap);
  }
  return status;
}
