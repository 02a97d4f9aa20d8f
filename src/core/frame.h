/* CQL frames ("envelopes" in v5): the 9-byte header, a frame writer and a
 * streaming frame reader (native_protocol_v4.spec section 2,
 * native_protocol_v5.spec section 2.4).
 *
 *   0         8        16        24        32         40
 *   | version |  flags  |      stream       | opcode  |
 *   |                length                 |  body...
 *
 * All header fields are big-endian. The version byte carries the direction
 * in its top bit (0x80 = response). v3, v4 and v5 share this layout.
 *
 * In v3/v4 the frame is what travels on the socket, and its body may be LZ4
 * compressed (flag 0x01; body = u32 BE uncompressed length + LZ4 block).
 * In v5 frames travel inside segments (segment.h), the 0x01 flag is ignored
 * and compression happens at the segment level; v5 frames are sent bare
 * only during the handshake (OPTIONS/STARTUP and their answers).
 *
 * No global state: writer and reader state live in structs the caller owns.
 * Ownership is stated on each struct. */
#ifndef CQ_FRAME_H
#define CQ_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "compress.h"
#include "protocol.h"
#include "status.h"

/* Default cap on a frame body: the protocol's documented 256 MiB. */
#define CQ_FRAME_MAX_BODY_DEFAULT (256u * 1024u * 1024u)

/* Which direction bit the reader demands. */
typedef enum cq_frame_direction {
  CQ_DIR_ANY = 0,     /* accept both */
  CQ_DIR_REQUEST = 1, /* top bit must be clear (a server, or a test fake) */
  CQ_DIR_RESPONSE = 2 /* top bit must be set (a client) */
} cq_frame_direction;

/* A decoded frame header. */
typedef struct cq_frame_header {
  uint8_t version;  /* protocol version, response bit stripped (3..5) */
  uint8_t response; /* 1 when the response bit (0x80) is set */
  uint8_t flags;    /* CQ_FLAG_* as on the wire */
  uint8_t opcode;   /* cq_opcode */
  int16_t stream;   /* signed; -1 for server events */
  uint32_t length;  /* body length as on the wire (compressed size if compressed) */
} cq_frame_header;

/* A complete frame handed out by a reader or segment decoder. `body` is
 * borrowed from the reader (never free it) and is the uncompressed body. */
typedef struct cq_frame {
  cq_frame_header header;
  const uint8_t *body;
  size_t body_len;
} cq_frame;

/* Writes the 9 header bytes for h (h->length is written as is). */
void cq_frame_header_encode(uint8_t out[CQ_FRAME_HEADER_SIZE], const cq_frame_header *h);

/* Decodes 9 header bytes. Returns CQ_OK, or CQ_ERR_UNSUPPORTED when the
 * version is not 3, 4 or 5 (h is still filled so callers can report it). */
int cq_frame_header_decode(const uint8_t in[CQ_FRAME_HEADER_SIZE], cq_frame_header *h);

/* Decodes and validates 9 header bytes against a connection's
 * expectations (version 0 = any of 3..5; direction a cq_frame_direction;
 * max_body the body cap). On failure writes a short reason into msg (of
 * size msgsz, may be NULL) and returns CQ_ERR_UNSUPPORTED (unknown
 * version), CQ_ERR_MALFORMED (version mismatch, wrong direction) or
 * CQ_ERR_TOO_LARGE (length over max_body). */
int cq_frame_header_check(const uint8_t in[CQ_FRAME_HEADER_SIZE], cq_frame_header *h, int version,
                          int direction, uint32_t max_body, char *msg, size_t msgsz);

/* ---- writer ---------------------------------------------------------- */

/* Frame writer. Owns `scratch` (LZ4 output reused across frames) and `lz4s`
 * (LZ4 state); release with cq_frame_writer_free. The output cq_buf belongs
 * to the caller. */
typedef struct cq_frame_writer {
  uint8_t version;     /* version byte written (3..5), response bit not included */
  uint8_t lz4;         /* 1: compress bodies (honoured for v3/v4 only) */
  size_t compress_min; /* bodies shorter than this are sent plain (default 64) */
  uint32_t max_body;   /* larger bodies are refused (default 256 MiB) */
  cq_buf scratch;
  cq_lz4_ctx lz4s;
} cq_frame_writer;

/* Sets up a writer for `version`; lz4 != 0 enables body compression. */
void cq_frame_writer_init(cq_frame_writer *w, int version, int lz4);

/* Releases the scratch buffer and LZ4 state. */
void cq_frame_writer_free(cq_frame_writer *w);

/* Appends a whole frame (header + body) to out. h gives response, flags,
 * stream and opcode; version and length come from the writer and n. The
 * compression flag is set only when the body was actually compressed
 * (v3/v4, LZ4 on, body >= compress_min, not STARTUP/OPTIONS, and smaller
 * once compressed) and cleared otherwise. Returns CQ_OK or a status; on
 * failure out->len is restored. */
int cq_frame_write(cq_frame_writer *w, cq_buf *out, const cq_frame_header *h, const void *body,
                   size_t n);

/* Starts a frame whose body the caller appends straight to out (saves a
 * copy for message encoders). Returns the header's offset in out, to pass to
 * cq_frame_end. */
size_t cq_frame_begin(cq_frame_writer *w, cq_buf *out, const cq_frame_header *h);

/* Completes the frame started at `start`: compresses the body if allowed and
 * worthwhile, and patches flags and length. On failure out->len is reset to
 * `start` and a status is returned (out->err if the body encoding failed). */
int cq_frame_end(cq_frame_writer *w, cq_buf *out, size_t start);

/* ---- streaming reader (v3/v4 connections, and v5 before framing) ----- */

/* Streaming frame reader. Owns `in` (bytes received, compacted as frames
 * are consumed) and `plain` (decompressed body, reused); free with
 * cq_frame_reader_free. Errors are sticky: after the first failure every
 * call returns it, and the connection should be closed. */
typedef struct cq_frame_reader {
  uint8_t version;   /* expected version; 0 = not negotiated yet, accept 3..5 */
  uint8_t lz4;       /* 1 once LZ4 is negotiated; compressed frames fail otherwise */
  uint8_t direction; /* cq_frame_direction; default CQ_DIR_RESPONSE */
  uint32_t max_body; /* default CQ_FRAME_MAX_BODY_DEFAULT; checked on the wire
                        length and on the decompressed length */
  cq_buf in;
  size_t pos; /* start of the first unconsumed byte in `in` */
  cq_buf plain;
  int err;       /* sticky status, 0 if none */
  char msg[112]; /* short description of err, "" if none */
} cq_frame_reader;

/* Sets up a reader. version 0 accepts any of 3..5 (negotiation); lz4 != 0
 * allows compressed frames. The fields may be changed between calls (for
 * example version and lz4 once STARTUP is answered). */
void cq_frame_reader_init(cq_frame_reader *r, int version, int lz4);

/* Releases the reader's buffers. */
void cq_frame_reader_free(cq_frame_reader *r);

/* Appends n received bytes (any chunking, down to one byte). Invalidates
 * bodies handed out earlier. Returns CQ_OK or the sticky error / NOMEM. */
int cq_frame_reader_feed(cq_frame_reader *r, const void *p, size_t n);

/* Hands out the next complete frame: returns 1 and fills *f, 0 when more
 * bytes are needed, or a negative status (see cq_frame_reader_error). f->body
 * stays valid until the next feed/next/free call on this reader. Errors:
 * CQ_ERR_UNSUPPORTED unknown version; CQ_ERR_MALFORMED version differs from
 * the negotiated one, wrong direction, unexpected compression, corrupt LZ4;
 * CQ_ERR_TOO_LARGE body over max_body. */
int cq_frame_reader_next(cq_frame_reader *r, cq_frame *f);

/* Bytes received but not yet handed out as frames (a partial frame, or
 * bytes that follow the handshake and belong to the v5 segment layer). */
const uint8_t *cq_frame_reader_pending(const cq_frame_reader *r, size_t *n);

/* Call at end of stream: CQ_OK if no partial frame is buffered, otherwise
 * CQ_ERR_TRUNCATED (also recorded as the reader's error). */
int cq_frame_reader_finish(cq_frame_reader *r);

/* The message for the reader's error ("" if none). */
static inline const char *cq_frame_reader_error(const cq_frame_reader *r) { return r->msg; }

#endif
