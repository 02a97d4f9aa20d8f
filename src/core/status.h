/* Status codes shared by every part of the core.
 * Zero is success; every failure is negative so `if (rc < 0)` works anywhere. */
#ifndef CQ_STATUS_H
#define CQ_STATUS_H

typedef enum cq_status {
  CQ_OK = 0,
  CQ_ERR_TRUNCATED = -1,   /* input ended before the structure did */
  CQ_ERR_MALFORMED = -2,   /* input is structurally invalid */
  CQ_ERR_NOMEM = -3,       /* an allocation failed */
  CQ_ERR_UNSUPPORTED = -4, /* valid, but not something this code handles */
  CQ_ERR_CHECKSUM = -5,    /* CRC mismatch (v5 segments) */
  CQ_ERR_INVALID = -6,     /* bad argument from the caller */
  CQ_ERR_TOO_LARGE = -7,   /* a length beyond a protocol or configured limit */
  CQ_ERR_STATE = -8        /* call not allowed in the current state */
} cq_status;

/* A short English name for a status, for messages ("truncated", ...). */
const char *cq_status_name(int status);

#endif
