/* Token ring and replica tables: hand-computed rings for SimpleStrategy and
 * NetworkTopologyStrategy (with racks), and properties on random rings. */
#include "../../src/core/status.h"
#include "../../src/core/token_map.h"
#include "unit.h"

static int same(const uint32_t *got, size_t n, const uint32_t *want, size_t wn) {
  if (n != wn) return 0;
  for (size_t i = 0; i < n; i++)
    if (got[i] != want[i]) return 0;
  return 1;
}

#define EXPECT_REPLICAS(m, token, ...)                                                             \
  do {                                                                                             \
    static const uint32_t want_[] = {__VA_ARGS__};                                                 \
    size_t n_;                                                                                     \
    const uint32_t *got_ = cq_replicas_get((m), (token), &n_);                                     \
    if (!same(got_, n_, want_, sizeof want_ / sizeof want_[0])) {                                  \
      UNIT_FAIL("replicas of token %lld: got %zu hosts", (long long)(token), n_);                  \
      for (size_t i_ = 0; i_ < n_; i_++)                                                           \
        fprintf(stderr, "    got[%zu] = %u\n", i_, got_[i_]);                                      \
    }                                                                                              \
  } while (0)

TEST(ring_sorts_finds_and_wraps) {
  const int64_t tokens[] = {100, -100, 0, INT64_MAX, 100};
  const uint32_t owners[] = {1, 0, 2, 0, 2};
  const uint32_t dc[] = {0, 0, 0}, rack[] = {0, 0, 0};
  int st = 1;
  cq_token_ring *r = cq_token_ring_new(tokens, owners, 5, dc, rack, 3, &st);
  CHECK(r != NULL);
  CHECK_EQ(st, CQ_OK);
  CHECK_EQ(cq_token_ring_size(r), 4); /* 100 twice: kept once, lowest owner */
  CHECK_EQ(cq_token_ring_token(r, 0), -100);
  CHECK_EQ(cq_token_ring_token(r, 2), 100);
  CHECK_EQ(cq_token_ring_owner(r, 2), 1);
  CHECK_EQ(cq_token_ring_find(r, INT64_MIN), 0);
  CHECK_EQ(cq_token_ring_find(r, -100), 0); /* a range ends at its token, inclusive */
  CHECK_EQ(cq_token_ring_find(r, -99), 1);
  CHECK_EQ(cq_token_ring_find(r, 0), 1);
  CHECK_EQ(cq_token_ring_find(r, 1), 2);
  CHECK_EQ(cq_token_ring_find(r, 101), 3);
  CHECK_EQ(cq_token_ring_find(r, INT64_MAX), 3);
  cq_token_ring_free(r);

  /* Without INT64_MAX in the ring, tokens past the last wrap to the first. */
  const int64_t t2[] = {-50, 50};
  const uint32_t o2[] = {0, 1};
  r = cq_token_ring_new(t2, o2, 2, dc, rack, 2, NULL);
  CHECK_EQ(cq_token_ring_find(r, 51), 0);
  CHECK_EQ(cq_token_ring_find(r, INT64_MAX), 0);
  cq_token_ring_free(r);
}

TEST(ring_rejects_bad_input) {
  const int64_t tokens[] = {1};
  const uint32_t owners[] = {3};
  const uint32_t dc[] = {0}, rack[] = {0};
  int st = 0;
  CHECK(cq_token_ring_new(tokens, owners, 1, dc, rack, 1, &st) == NULL);
  CHECK_EQ(st, CQ_ERR_INVALID);
  CHECK(cq_token_ring_new(NULL, owners, 1, dc, rack, 1, &st) == NULL);
  CHECK_EQ(st, CQ_ERR_INVALID);
  CHECK(cq_replicas_simple(NULL, 1, &st) == NULL);
  CHECK_EQ(st, CQ_ERR_INVALID);
}

TEST(empty_ring_has_no_replicas) {
  cq_token_ring *r = cq_token_ring_new(NULL, NULL, 0, NULL, NULL, 0, NULL);
  CHECK(r != NULL);
  cq_replicas *m = cq_replicas_simple(r, 3, NULL);
  CHECK(m != NULL);
  size_t n = 99;
  CHECK(cq_replicas_get(m, 42, &n) == NULL);
  CHECK_EQ(n, 0);
  cq_replicas_free(m);
  uint32_t rf[] = {1};
  m = cq_replicas_nts(r, rf, 1, NULL);
  CHECK(m != NULL);
  CHECK(cq_replicas_get(m, 42, &n) == NULL);
  cq_replicas_free(m);
  cq_token_ring_free(r);
}

/* Four hosts, two tokens each (vnodes), one DC: 0..3 at 0,10,20,...,70 with
 * owners 0,1,0,2,3,1,2,3. */
TEST(simple_strategy_walks_distinct_owners) {
  const int64_t tokens[] = {0, 10, 20, 30, 40, 50, 60, 70};
  const uint32_t owners[] = {0, 1, 0, 2, 3, 1, 2, 3};
  const uint32_t dc[] = {0, 0, 0, 0}, rack[] = {0, 0, 0, 0};
  cq_token_ring *r = cq_token_ring_new(tokens, owners, 8, dc, rack, 4, NULL);
  cq_replicas *m1 = cq_replicas_simple(r, 1, NULL);
  cq_replicas *m3 = cq_replicas_simple(r, 3, NULL);
  cq_replicas *m9 = cq_replicas_simple(r, 9, NULL);
  cq_replicas *all = cq_replicas_everywhere(r, NULL);
  EXPECT_REPLICAS(m1, 5, 1);
  EXPECT_REPLICAS(m3, 5, 1, 0, 2);  /* 10:1 20:0 30:2 */
  EXPECT_REPLICAS(m3, 11, 0, 2, 3); /* 20:0 30:2 40:3 */
  EXPECT_REPLICAS(m3, 65, 3, 0, 1); /* 70:3, wrap 0:0 10:1 */
  EXPECT_REPLICAS(m3, 71, 0, 1, 2); /* past the end: from 0 */
  EXPECT_REPLICAS(m3, -5, 0, 1, 2);
  EXPECT_REPLICAS(m9, 41, 1, 2, 3, 0); /* capped at the number of hosts */
  EXPECT_REPLICAS(all, 41, 1, 2, 3, 0);
  size_t n;
  const uint32_t *p = cq_replicas_at(m3, 7, &n);
  CHECK_EQ(n, 3);
  CHECK_EQ(p[0], 3);
  CHECK(cq_replicas_at(m3, 8, &n) == NULL);
  CHECK_EQ(n, 0);
  cq_replicas_free(m1);
  cq_replicas_free(m3);
  cq_replicas_free(m9);
  cq_replicas_free(all);
  cq_token_ring_free(r);
}

/* Two DCs. dc0: hosts 0,1,2,3 on racks A(0),A(0),B(1),B(1); dc1: hosts 4,5
 * on rack C(2). Ring: 0:h0 10:h1 20:h4 30:h2 40:h5 50:h3. */
TEST(nts_places_per_dc_and_spreads_racks) {
  const int64_t tokens[] = {0, 10, 20, 30, 40, 50};
  const uint32_t owners[] = {0, 1, 4, 2, 5, 3};
  const uint32_t dc[] = {0, 0, 0, 0, 1, 1}, rack[] = {0, 0, 1, 1, 2, 2};
  cq_token_ring *r = cq_token_ring_new(tokens, owners, 6, dc, rack, 6, NULL);
  uint32_t rf21[] = {2, 1}, rf20[] = {2}, rf32[] = {3, 2}, rf01[] = {0, 1}, rf99[] = {9, 9};
  cq_replicas *a = cq_replicas_nts(r, rf21, 2, NULL);
  /* from 0: h0 (dc0 rack A), h1 (rack A again, no repeats allowed: 2 - 2
   * racks = 0), h4 (dc1, done), h2 (rack B, dc0 done). */
  EXPECT_REPLICAS(a, 0, 0, 4, 2);
  /* from 10: h1 (A), h4 (dc1), h2 (B). */
  EXPECT_REPLICAS(a, 5, 1, 4, 2);
  /* from 30: h2 (B), h5 (dc1), h3 (B: skipped), wrap h0 (A). */
  EXPECT_REPLICAS(a, 25, 2, 5, 0);
  cq_replicas *b = cq_replicas_nts(r, rf20, 1, NULL); /* dc1 absent: no replicas there */
  EXPECT_REPLICAS(b, 25, 2, 0);
  /* rf 3 in dc0 with 2 racks: one repeat allowed, taken by the first host
   * met on a used rack. From 0: h0 A, h1 A (repeat), h4, h2 B; dc1 rf 2:
   * h4, h5. */
  cq_replicas *c = cq_replicas_nts(r, rf32, 2, NULL);
  EXPECT_REPLICAS(c, 0, 0, 1, 4, 2, 5);
  /* From 30: h2 B, h5, h3 B (repeat), h0 A, then h4 for dc1 after wrapping
   * (h1 would be a second repeat in dc0, which is done anyway). */
  EXPECT_REPLICAS(c, 30, 2, 5, 3, 0, 4);
  cq_replicas *d = cq_replicas_nts(r, rf01, 2, NULL);
  EXPECT_REPLICAS(d, 0, 4);
  EXPECT_REPLICAS(d, 41, 4);
  cq_replicas *e = cq_replicas_nts(r, rf99, 2, NULL); /* capped at the DCs' sizes */
  EXPECT_REPLICAS(e, 0, 0, 1, 4, 2, 5, 3);
  cq_replicas_free(a);
  cq_replicas_free(b);
  cq_replicas_free(c);
  cq_replicas_free(d);
  cq_replicas_free(e);
  cq_token_ring_free(r);
}

/* Same rack name in two DCs must not collide: the ids are per (dc, rack),
 * which the caller guarantees; here rack id 0 is dc0's and 1 is dc1's. */
TEST(nts_racks_are_per_dc) {
  const int64_t tokens[] = {0, 10, 20, 30};
  const uint32_t owners[] = {0, 2, 1, 3};
  const uint32_t dc[] = {0, 0, 1, 1}, rack[] = {0, 0, 1, 1};
  cq_token_ring *r = cq_token_ring_new(tokens, owners, 4, dc, rack, 4, NULL);
  uint32_t rf[] = {2, 2};
  cq_replicas *m = cq_replicas_nts(r, rf, 2, NULL);
  /* one rack per DC, rf 2: one repeat each, so both hosts of each DC */
  EXPECT_REPLICAS(m, 0, 0, 2, 1, 3);
  cq_replicas_free(m);
  cq_token_ring_free(r);
}

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint64_t next_rand(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return rng;
}

/* Random rings: every range gets min(rf, hosts in DC) distinct replicas per
 * DC, and as many distinct racks as possible. */
TEST(nts_properties_on_random_rings) {
  enum { HOSTS = 12, VNODES = 8, DCS = 3 };
  for (int round = 0; round < 50; round++) {
    int64_t tokens[HOSTS * VNODES];
    uint32_t owners[HOSTS * VNODES], dc[HOSTS], rack[HOSTS];
    uint32_t dc_hosts[DCS] = {0}, dc_racks[DCS] = {0};
    for (uint32_t h = 0; h < HOSTS; h++) {
      dc[h] = (uint32_t)(next_rand() % DCS);
      rack[h] = dc[h] * 4 + (uint32_t)(next_rand() % 3); /* up to 3 racks per DC */
      dc_hosts[dc[h]]++;
    }
    for (uint32_t k = 0; k < DCS * 4; k++) {
      for (uint32_t h = 0; h < HOSTS; h++)
        if (rack[h] == k) {
          dc_racks[k / 4]++;
          break;
        }
    }
    for (int i = 0; i < HOSTS * VNODES; i++) {
      tokens[i] = (int64_t)next_rand();
      owners[i] = (uint32_t)(i % HOSTS);
    }
    cq_token_ring *r = cq_token_ring_new(tokens, owners, HOSTS * VNODES, dc, rack, HOSTS, NULL);
    uint32_t rf[DCS] = {(uint32_t)(next_rand() % 5), (uint32_t)(next_rand() % 5), 3};
    cq_replicas *m = cq_replicas_nts(r, rf, DCS, NULL);
    CHECK(m != NULL);
    for (size_t pos = 0; m && pos < cq_token_ring_size(r); pos++) {
      size_t n;
      const uint32_t *p = cq_replicas_at(m, pos, &n);
      uint32_t per_dc[DCS] = {0}, racks_used[DCS] = {0};
      uint8_t seen_host[HOSTS] = {0}, seen_rack[DCS * 4] = {0};
      for (size_t i = 0; i < n; i++) {
        CHECK(!seen_host[p[i]]);
        seen_host[p[i]] = 1;
        per_dc[dc[p[i]]]++;
        if (!seen_rack[rack[p[i]]]) {
          seen_rack[rack[p[i]]] = 1;
          racks_used[dc[p[i]]]++;
        }
      }
      /* the first replica is the owner of the range's token when its DC
       * has an rf */
      if (rf[dc[cq_token_ring_owner(r, pos)]] > 0) CHECK_EQ(p[0], cq_token_ring_owner(r, pos));
      for (int d = 0; d < DCS; d++) {
        uint32_t want = rf[d] < dc_hosts[d] ? rf[d] : dc_hosts[d];
        if (per_dc[d] != want)
          UNIT_FAIL("round %d pos %zu dc %d: %u replicas, want %u", round, pos, d, per_dc[d], want);
        uint32_t want_racks = want < dc_racks[d] ? want : dc_racks[d];
        if (racks_used[d] != want_racks)
          UNIT_FAIL("round %d pos %zu dc %d: %u racks, want %u", round, pos, d, racks_used[d],
                    want_racks);
      }
    }
    /* lookups agree with the positions */
    for (int i = 0; m && i < 200; i++) {
      int64_t t = (int64_t)next_rand();
      size_t n1, n2;
      const uint32_t *a = cq_replicas_get(m, t, &n1);
      const uint32_t *b = cq_replicas_at(m, cq_token_ring_find(r, t), &n2);
      CHECK(a == b && n1 == n2);
    }
    cq_replicas_free(m);
    cq_token_ring_free(r);
  }
}

UNIT_MAIN()
