/* A decoded page of rows (RESULT Rows content, spec 4.2.5.2).
 *
 * cq_rows_decode walks <rows_content> once: rows_count rows of ncols [bytes]
 * values each. Row r, column c is cell r * ncols + c; nested values hang off
 * those cells as child ranges in the same array (see value.h).
 *
 * Lifetime: the page borrows the source bytes. Byte-like cells are (off, len)
 * into page->src, so the buffer holding the RESULT body must outlive every
 * use of the page (keep the frame alive, or copy it first). The page owns its
 * cell array (one malloc'd array grown by doubling - no per-value malloc);
 * release it with cq_rows_free, or keep it and call cq_rows_decode again to
 * reuse the allocation for the next page. */
#ifndef CQ_ROWS_H
#define CQ_ROWS_H

#include <stddef.h>
#include <stdint.h>

#include "types.h"
#include "value.h"

typedef struct cq_rows_page {
  const uint8_t *src; /* borrowed: the rows content bytes */
  size_t src_len;
  size_t nrows;
  size_t ncols;
  cq_cells cells; /* owned; cells.v[r * ncols + c] is row r, column c */
} cq_rows_page;

/* Zeroes a page (no allocation). */
void cq_rows_init(cq_rows_page *page);
/* Frees the page's cells; the source bytes are not the page's to free. */
void cq_rows_free(cq_rows_page *page);

/* Decodes rows_count rows of ncols columns of the given types from
 * p[0, len). Reuses page's allocation if any. Fails (negative status, message
 * in err) on counts that lie, truncation, bad values or trailing bytes; the
 * page is then empty (nrows 0) but keeps its allocation. */
int cq_rows_decode(cq_rows_page *page, const cq_type *const *types, size_t ncols,
                   int64_t rows_count, const uint8_t *p, size_t len, char *err, size_t errcap);

/* The cell at row r, column c (NULL when out of range). */
const cq_cell *cq_rows_cell(const cq_rows_page *page, size_t r, size_t c);

#endif
