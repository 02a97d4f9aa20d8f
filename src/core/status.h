/* Status codes shared by every part of the core.
 * Zero is success; every failure is negative so `if (rc < 0)` works anywhere. */
#ifndef CQ_STATUS_H
#define CQ_STATUS_H

#include <stddef.h>

typedef enum cq_status {
  CQ_OK = 0,
  CQ_ERR_TRUNCATED = -1,   /* input ended before the structure did */
  CQ_ERR_MALFORMED = -2,   /* input is structurally invalid */
  CQ_ERR_NOMEM = -3,       /* an allocation failed */
  CQ_ERR_UNSUPPORTED = -4, /* valid, but not something this code handles */
  CQ_ERR_CHECKSUM = -5,    /* CRC mismatch (v5 segments) */
  CQ_ERR_INVALID = -6,     /* bad argument from the caller */
  CQ_ERR_TOO_LARGE = -7,   /* a length beyond a protocol or configured limit */
  CQ_ERR_STATE = -8,       /* call not allowed in the current state */
  CQ_ERR_TIMEOUT = -9,     /* a deadline passed */
  CQ_ERR_CLOSED = -10,     /* the connection is closed or was closed meanwhile */
  CQ_ERR_VERSION = -11,    /* the server refused the protocol version */
  CQ_ERR_SERVER = -12,     /* the server answered with an ERROR message */
  CQ_ERR_BUSY = -13        /* no stream id is free on this connection */
} cq_status;

/* A short English name for a status, for messages ("truncated", ...). */
const char *cq_status_name(int status);

/* Formats a message into err (of errcap bytes; err may be NULL) and returns
 * status: lets a decoder report and fail in one statement. */
int cq_errorf(char *err, size_t errcap, int status, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
