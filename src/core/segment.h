/* v5 outer framing: segments (native_protocol_v5.spec section 2; the spec
 * calls them "frames" and the CQL frames inside them "envelopes").
 *
 * Uncompressed segment:
 *   3 bytes LE: payload length (17 bits) | self-contained (bit 17) | pad
 *   3 bytes LE: CRC24 of those 3 bytes
 *   payload (<= 131071 bytes), then 4 bytes LE: CRC32 of the payload
 * LZ4 segment:
 *   5 bytes LE: compressed length (17 bits) | uncompressed length (17 bits,
 *               0 = payload stored uncompressed) | self-contained (bit 34) | pad
 *   3 bytes LE: CRC24 of those 5 bytes
 *   payload (compressed length bytes), then 4 bytes LE: CRC32 of the payload
 *               as sent (i.e. of the compressed bytes)
 * CRCs as in crc.h (CRC32 includes Cassandra's fa 2d 55 ca prefix).
 *
 * A self-contained segment holds one or more whole frames; a frame larger
 * than a segment payload is cut into consecutive non-self-contained
 * segments. No global state; every buffer's owner is named below. */
#ifndef CQ_SEGMENT_H
#define CQ_SEGMENT_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "frame.h"
#include "status.h"

enum {
  CQ_SEGMENT_MAX_PAYLOAD = 131071, /* 2^17 - 1 */
  CQ_SEGMENT_HEADER_SIZE = 6,      /* uncompressed variant, CRC24 included */
  CQ_SEGMENT_HEADER_SIZE_LZ4 = 8,  /* compressed variant, CRC24 included */
  CQ_SEGMENT_TRAILER_SIZE = 4      /* payload CRC32 */
};

/* Segment encoder. Owns `scratch` (LZ4 output, reused) and `lz4s` (LZ4
 * state); free with cq_segment_encoder_free. The output cq_buf belongs to the caller. */
typedef struct cq_segment_encoder {
  uint8_t lz4;        /* 1: LZ4 variant (8-byte headers) */
  size_t max_payload; /* payload cap per segment, default and maximum 131071 */
  cq_buf scratch;
  cq_lz4_ctx lz4s;
} cq_segment_encoder;

/* Sets up an encoder; lz4 != 0 selects the compressed format. */
void cq_segment_encoder_init(cq_segment_encoder *e, int lz4);

/* Releases the scratch buffer and LZ4 state. */
void cq_segment_encoder_free(cq_segment_encoder *e);

/* Appends one segment carrying payload[0..n) (n <= max_payload, else
 * CQ_ERR_TOO_LARGE). With LZ4 the payload is compressed when that makes it
 * smaller and stored as is (uncompressed length 0) otherwise. On failure
 * out->len is restored. */
int cq_segment_write(cq_segment_encoder *e, cq_buf *out, const void *payload, size_t n,
                     int self_contained);

/* Wraps a run of complete frames (9-byte header + body each, as the frame
 * writer produces them) into segments appended to out: consecutive frames
 * are packed into self-contained segments up to max_payload; a frame larger
 * than that gets its own run of non-self-contained segments. Returns
 * CQ_ERR_INVALID if the bytes do not split into whole frames. */
int cq_segment_encode_frames(cq_segment_encoder *e, cq_buf *out, const void *frames, size_t n);

/* Streaming segment decoder that hands out whole frames. Owns `in` (bytes
 * received), `plain` (decompressed payload) and `large` (reassembly of a
 * frame split across segments); free with cq_segment_decoder_free. Errors
 * are sticky; after one the connection should be closed. */
typedef struct cq_segment_decoder {
  uint8_t lz4;       /* 1: compressed format */
  uint8_t direction; /* cq_frame_direction demanded of frames; default CQ_DIR_RESPONSE */
  uint8_t version;   /* version demanded of frames; default 5 (0 = any of 3..5) */
  uint32_t max_body; /* frame body cap, default CQ_FRAME_MAX_BODY_DEFAULT */
  cq_buf in;
  size_t pos; /* next unparsed segment byte in `in` */
  cq_buf plain;
  /* Frames still to hand out from the current self-contained payload,
   * which lives in `in` (cur_src 1) or `plain` (cur_src 2). */
  uint8_t cur_src;
  size_t cur_off, cur_end;
  cq_buf large;
  size_t large_need;   /* total bytes of the split frame once its header is in, else 0 */
  uint8_t large_ready; /* `large` was handed out; clear it on the next call */
  int err;
  char msg[112];
} cq_segment_decoder;

/* Sets up a decoder; lz4 != 0 selects the compressed format. */
void cq_segment_decoder_init(cq_segment_decoder *d, int lz4);

/* Releases the decoder's buffers. */
void cq_segment_decoder_free(cq_segment_decoder *d);

/* Appends received bytes (any chunking). Invalidates frames handed out
 * earlier. Returns CQ_OK or the sticky error. */
int cq_segment_decoder_feed(cq_segment_decoder *d, const void *p, size_t n);

/* Hands out the next complete frame: 1 with *f filled (f->body valid until
 * the next feed/next/free), 0 if more bytes are needed, or a negative status:
 * CQ_ERR_CHECKSUM (header CRC24 or payload CRC32 mismatch; the message says
 * which), CQ_ERR_MALFORMED (lengths that lie, corrupt LZ4, a frame cut off
 * inside a self-contained segment, a split frame interrupted), or the frame
 * header errors of cq_frame_header_check. */
int cq_segment_decoder_next(cq_segment_decoder *d, cq_frame *f);

/* Call at end of stream: CQ_OK when nothing partial is buffered, else
 * CQ_ERR_TRUNCATED (recorded as the decoder's error). */
int cq_segment_decoder_finish(cq_segment_decoder *d);

/* The message for the decoder's error ("" if none). */
static inline const char *cq_segment_decoder_error(const cq_segment_decoder *d) { return d->msg; }

#endif
