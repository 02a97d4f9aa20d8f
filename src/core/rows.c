/* One-pass decoder for a page of rows. */
#include "rows.h"

#include <stdio.h>
#include <string.h>

void cq_rows_init(cq_rows_page *page) { memset(page, 0, sizeof *page); }

void cq_rows_free(cq_rows_page *page) {
  cq_cells_free(&page->cells);
  memset(page, 0, sizeof *page);
}

const cq_cell *cq_rows_cell(const cq_rows_page *page, size_t r, size_t c) {
  if (r >= page->nrows || c >= page->ncols) return NULL;
  return &page->cells.v[r * page->ncols + c];
}

/* Prefixes the value decoder's message with the row and column. */
static int fail_at(char *err, size_t errcap, int status, size_t r, size_t c) {
  if (err && errcap) {
    char inner[200];
    snprintf(inner, sizeof inner, "%s", err);
    snprintf(err, errcap, "row %zu column %zu: %s", r, c, inner);
  }
  return status;
}

int cq_rows_decode(cq_rows_page *page, const cq_type *const *types, size_t ncols,
                   int64_t rows_count, const uint8_t *p, size_t len, char *err, size_t errcap) {
  cq_cells_reset(&page->cells);
  page->src = p;
  page->src_len = len;
  page->nrows = 0;
  page->ncols = ncols;
  if (rows_count < 0)
    return cq_errorf(err, errcap, CQ_ERR_MALFORMED, "negative rows count %lld",
                     (long long)rows_count);
  if (len > UINT32_MAX) return cq_errorf(err, errcap, CQ_ERR_TOO_LARGE, "rows content over 4 GiB");
  for (size_t c = 0; c < ncols; c++)
    if (!types[c]) return cq_errorf(err, errcap, CQ_ERR_INVALID, "column %zu has no type", c);
  if (ncols == 0) {
    /* No columns: rows carry no bytes at all (e.g. SELECT with no columns
     * is impossible, but a count with no metadata must still be sane). */
    if (len) return cq_errorf(err, errcap, CQ_ERR_MALFORMED, "%zu bytes for zero columns", len);
    page->nrows = (size_t)rows_count;
    return CQ_OK;
  }
  /* Every value needs at least its 4-byte length: a count that lies is
   * caught before allocating for it. */
  uint64_t nvals = (uint64_t)rows_count * ncols;
  if ((uint64_t)rows_count > UINT32_MAX || nvals > len / 4)
    return cq_errorf(err, errcap, CQ_ERR_TRUNCATED,
                     "%lld rows of %zu columns need more than the %zu bytes given",
                     (long long)rows_count, ncols, len);
  int64_t first = cq_cells_push(&page->cells, (size_t)nvals);
  if (first < 0) return cq_errorf(err, errcap, (int)first, "out of memory");
  size_t pos = 0, idx = 0;
  for (size_t r = 0; r < (size_t)rows_count; r++) {
    for (size_t c = 0; c < ncols; c++, idx++) {
      if (len - pos < 4) {
        cq_cells_reset(&page->cells);
        return cq_errorf(err, errcap, CQ_ERR_TRUNCATED, "row %zu column %zu: length truncated", r,
                         c);
      }
      int32_t l = (int32_t)cq_load_u32(p + pos);
      pos += 4;
      if (l < 0) {
        if (l != -1) {
          cq_cells_reset(&page->cells);
          return cq_errorf(err, errcap, CQ_ERR_MALFORMED, "row %zu column %zu: invalid length %d",
                           r, c, (int)l);
        }
        continue; /* cells start as CQ_CELL_NULL */
      }
      if ((size_t)l > len - pos) {
        cq_cells_reset(&page->cells);
        return cq_errorf(err, errcap, CQ_ERR_TRUNCATED,
                         "row %zu column %zu: length %d exceeds the %zu bytes left", r, c, (int)l,
                         len - pos);
      }
      int rc = cq_value_decode_at(&page->cells, idx, types[c], p, pos, (size_t)l, err, errcap);
      if (rc < 0) {
        cq_cells_reset(&page->cells);
        return fail_at(err, errcap, rc, r, c);
      }
      pos += (size_t)l;
    }
  }
  if (pos != len) {
    cq_cells_reset(&page->cells);
    return cq_errorf(err, errcap, CQ_ERR_MALFORMED, "%zu bytes of trailing garbage after %lld rows",
                     len - pos, (long long)rows_count);
  }
  page->nrows = (size_t)rows_count;
  return CQ_OK;
}
