--- FFI declarations the scriptable test server needs beyond cql.cdef and
-- cql.cdef_transport: the server direction of the codec (request decoding,
-- response encoding), the frame writer and reader, the v5 segment encoder
-- and decoder (src/core/message.h, frame.h, segment.h, compress.h), and the
-- few libc calls the server and its spec helper use. Only what those files
-- lack is declared here (a type declared twice makes ffi.cdef fail), and
-- the struct layouts copy the C headers field for field.
-- @module test_server_cdef
local ffi = require "ffi"
require "cql.cdef_transport"

ffi.cdef [[
int cq_request_decode(cq_request *out, int version, int flags, int opcode, const uint8_t *body,
                      size_t len, cq_arena *arena, cq_diag *diag);
int cq_response_encode(cq_buf *b, int version, int flags, const cq_response *resp);
const char *cq_opcode_name(int opcode);

typedef struct cq_lz4_ctx { void *stream; } cq_lz4_ctx;

typedef struct cq_frame_writer {
  uint8_t version; uint8_t lz4; size_t compress_min; uint32_t max_body;
  cq_buf scratch; cq_lz4_ctx lz4s;
} cq_frame_writer;
void cq_frame_writer_init(cq_frame_writer *w, int version, int lz4);
void cq_frame_writer_free(cq_frame_writer *w);
int cq_frame_write(cq_frame_writer *w, cq_buf *out, const cq_frame_header *h, const void *body,
                   size_t n);

typedef struct cq_frame_reader {
  uint8_t version; uint8_t lz4; uint8_t direction; uint32_t max_body;
  cq_buf in; size_t pos; cq_buf plain; int err; char msg[112];
} cq_frame_reader;
void cq_frame_reader_init(cq_frame_reader *r, int version, int lz4);
void cq_frame_reader_free(cq_frame_reader *r);
int cq_frame_reader_feed(cq_frame_reader *r, const void *p, size_t n);
int cq_frame_reader_next(cq_frame_reader *r, cq_frame *f);
const uint8_t *cq_frame_reader_pending(const cq_frame_reader *r, size_t *n);

typedef struct cq_segment_encoder {
  uint8_t lz4; size_t max_payload; cq_buf scratch; cq_lz4_ctx lz4s;
} cq_segment_encoder;
void cq_segment_encoder_init(cq_segment_encoder *e, int lz4);
void cq_segment_encoder_free(cq_segment_encoder *e);
int cq_segment_encode_frames(cq_segment_encoder *e, cq_buf *out, const void *frames, size_t n);

typedef struct cq_segment_decoder {
  uint8_t lz4; uint8_t direction; uint8_t version; uint32_t max_body;
  cq_buf in; size_t pos; cq_buf plain;
  uint8_t cur_src; size_t cur_off, cur_end;
  cq_buf large; size_t large_need; uint8_t large_ready;
  int err; char msg[112];
} cq_segment_decoder;
void cq_segment_decoder_init(cq_segment_decoder *d, int lz4);
void cq_segment_decoder_free(cq_segment_decoder *d);
int cq_segment_decoder_feed(cq_segment_decoder *d, const void *p, size_t n);
int cq_segment_decoder_next(cq_segment_decoder *d, cq_frame *f);

int getppid(void);
int kill(int pid, int sig);
]]

return true
