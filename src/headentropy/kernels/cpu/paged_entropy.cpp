// Per-token attention statistics read straight from vLLM's paged CPU KV cache (headentropy.vllm).
//
// One call per attention layer and engine step covers every request of the step: for request r
// (query rows query_start_loc[r] .. query_start_loc[r+1], keys 0 .. seq_lens[r], bottom-right
// causal) and each KV head, the kernel walks the request's block-table row and reads K where it
// lies in the cache (no gathered copy of the keys), computes the scores of a tile of query rows
// (token × query head of the GQA group) in fp32 and turns each row into the statistics of
// docs/design.md §2: Shannon H, Rényi-2 H2 (via Σp²) and the sink mass of the first `sinks` keys.
// No P·V: the engine's own kernel computed the output already.
//
// Per (block, KV head) vLLM stores `block_size * head_size` K elements first, in one of:
//   kTransposed ("vec", "vec16"): [head_size, block_size], element (d, j) at d·bs + j
//   kAmx        ("amx", bf16):    [bs/16, head_size/2, 16, 2], VNNI pairs of dimensions:
//                                 element (d, j) at ((j/16)·(D/2) + d/2)·32 + (j%16)·2 + d%2
// Both keep 16 consecutive tokens of one dimension (transposed) or of a dimension pair (AMX)
// together, so a tile's scores are vector FMAs over key chunks: acc[row] += q[row, d] · K[d, chunk].
//
// A row's scores are kept whole (one [rows, keys] fp32 scratch per thread), then max, exp and the
// sums run in one pass: no online rescaling is needed. Decode rows (one query per request) are the
// hot case: one task per (request, KV head) with the G query heads as the tile's rows. Small calls
// run on the calling thread; large ones are spread over ATen's threads by (request, KV head, tile).
//
// The ISA selection and the row passes (max, exp and sums, soft-cap) are attention_entropy.cpp's,
// from vec_math.h, which must come before any other include.
#include "vec_math.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

namespace {

using namespace headentropy_cpu;  // Vec, kNegInf, kNaN, row_max, exp_and_sums, softcap_row
constexpr int64_t W = Vec::size();
constexpr int kMaxRows = 6;  // query rows per tile (registers: rows × 2 chunks × 2 parities ≤ 24)

enum Layout : int64_t { kTransposed = 0, kAmx = 1 };

// W consecutive elements as fp32.
template <typename T>
inline Vec load_w(const T* p) {
  if constexpr (std::is_same_v<T, float>) {
    return Vec::loadu(p);
  } else {
#if defined(CPU_CAPABILITY_AVX512)
    const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
    if constexpr (std::is_same_v<T, at::BFloat16>) {
      return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
    } else {
      return _mm512_cvtph_ps(h);
    }
#elif defined(CPU_CAPABILITY_AVX2)
    const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    if constexpr (std::is_same_v<T, at::BFloat16>) {
      return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
    } else {
      return _mm256_cvtph_ps(h);
    }
#else
    float buf[W];
    for (int64_t i = 0; i < W; ++i) buf[i] = static_cast<float>(p[i]);
    return Vec::loadu(buf);
#endif
  }
}

struct Problem {
  int64_t R, H, Hkv, G, D, bs;
  Layout layout;
  const void* q;
  int64_t q_st, q_sh;     // element strides of query [T, H, D] (D contiguous)
  const void* kc;
  int64_t k_sb, k_sh;     // element strides of the cache's block and KV-head dimensions
  const int32_t* table;
  int64_t t_sr;           // block-table row stride
  const int32_t* qsl;     // [R + 1]
  const int32_t* seq_lens;  // [R]
  float scale, softcap;   // softcap 0 = none
  int64_t window, sinks;  // window 0 = none
  float* out;
  int64_t o_st, o_sh, o_sc;  // strides of out [T, H, 3]
};

// Keys [lo, hi) visible to the query at absolute position pos.
inline void visible(const Problem& p, int64_t pos, int64_t& lo, int64_t& hi) {
  hi = pos + 1;
  lo = p.window > 0 ? std::max<int64_t>(0, pos - p.window + 1) : 0;
}

// Pointer to the K element (d, j) of a block's K region (j: token within the block).
template <typename T>
inline const T* k_at(const Problem& p, const T* blk, int64_t d, int64_t j) {
  if (p.layout == kTransposed) return blk + d * p.bs + j;
  return blk + ((j / 16) * (p.D / 2) + d / 2) * 32 + (j % 16) * 2 + d % 2;
}

// The AMX layout: scores of `RB` rows (fp32 queries Q, row stride D) against the NC·W keys
// starting at token j (a multiple of 16) of block `blk`; written to S (row stride ldS) at column c.
template <typename T, int RB, int NC>
inline void score_chunk_amx(const Problem& p, const float* Q, const T* blk, int64_t j, float* S,
                            int64_t ldS, int64_t c) {
  const int64_t D = p.D;
#if defined(CPU_CAPABILITY_AVX512)
  if constexpr (std::is_same_v<T, at::BFloat16>) {
    // One 64-byte load = dimensions (d, d+1) of 16 tokens: bf16 pairs in each 32-bit lane.
    Vec acc0[RB][NC], acc1[RB][NC];
    for (int r = 0; r < RB; ++r)
      for (int n = 0; n < NC; ++n) acc0[r][n] = acc1[r][n] = Vec(0.f);
    const __m512i hi_mask = _mm512_set1_epi32(static_cast<int>(0xFFFF0000u));
    for (int64_t d = 0; d < D; d += 2) {
      Vec k0[NC], k1[NC];
      for (int n = 0; n < NC; ++n) {
        const __m512i v = _mm512_loadu_si512(k_at(p, blk, d, j + n * W));
        k0[n] = _mm512_castsi512_ps(_mm512_slli_epi32(v, 16));
        k1[n] = _mm512_castsi512_ps(_mm512_and_si512(v, hi_mask));
      }
      for (int r = 0; r < RB; ++r) {
        const Vec q0(Q[r * D + d]), q1(Q[r * D + d + 1]);
        for (int n = 0; n < NC; ++n) {
          acc0[r][n] = at::vec::fmadd(q0, k0[n], acc0[r][n]);
          acc1[r][n] = at::vec::fmadd(q1, k1[n], acc1[r][n]);
        }
      }
    }
    const Vec vs(p.scale);
    for (int r = 0; r < RB; ++r)
      for (int n = 0; n < NC; ++n) ((acc0[r][n] + acc1[r][n]) * vs).store(S + r * ldS + c + n * W);
    return;
  }
#endif
  // Without AVX-512 (vLLM writes this layout only on AMX CPUs): scalar.
  for (int n = 0; n < NC; ++n) {
    for (int64_t i = 0; i < W; ++i) {
      for (int r = 0; r < RB; ++r) {
        float s = 0.f;
        for (int64_t d = 0; d < D; ++d) s += Q[r * D + d] * static_cast<float>(*k_at(p, blk, d, j + n * W + i));
        S[r * ldS + c + n * W + i] = s * p.scale;
      }
    }
  }
}

// The transposed layout: dimension d of NC·W consecutive keys is contiguous, and with NC·W = bs
// a block's K region is read front to back. RB·NC accumulators stay in registers.
template <typename T, int RB, int NC>
inline void score_chunk_t(const Problem& p, const float* Q, const T* base, float* S, int64_t ldS,
                          int64_t c) {
  Vec acc[RB][NC];
  for (int r = 0; r < RB; ++r)
    for (int n = 0; n < NC; ++n) acc[r][n] = Vec(0.f);
  const int64_t D = p.D, bs = p.bs;
  for (int64_t d = 0; d < D; ++d) {
    Vec q[RB];
    for (int r = 0; r < RB; ++r) q[r] = Vec(Q[r * D + d]);
    const T* kd = base + d * bs;
    for (int n = 0; n < NC; ++n) {
      const Vec k = load_w(kd + n * W);
      for (int r = 0; r < RB; ++r) acc[r][n] = at::vec::fmadd(q[r], k, acc[r][n]);
    }
  }
  const Vec vs(p.scale);
  for (int r = 0; r < RB; ++r)
    for (int n = 0; n < NC; ++n) (acc[r][n] * vs).store(S + r * ldS + c + n * W);
}

// Widest key chunk (in vectors) for RB rows: RB·NC accumulators within the register file.
constexpr int wide_chunks(int RB) {
  const int budget = W == 16 ? 24 : 12;
  const int n = budget / RB;
  return n >= 8 ? 8 : n >= 4 ? 4 : n >= 2 ? 2 : 1;
}

// Prefetch (into L2) the cache lines holding keys [j0, j1) of a block's K region.
template <typename T>
inline void prefetch_keys(const Problem& p, const T* blk, int64_t j0, int64_t j1) {
  constexpr int64_t line = 64 / static_cast<int64_t>(sizeof(T));  // elements per cache line
  if (j1 <= j0) return;
  if (p.layout == kTransposed) {  // row d: elements d·bs + [j0, j1)
    for (int64_t d = 0; d < p.D; ++d) {
      const T* r = blk + d * p.bs;
      for (int64_t j = j0; j < j1; j += line) __builtin_prefetch(r + j, 0, 2);
      __builtin_prefetch(r + j1 - 1, 0, 2);
    }
  } else {  // 16-token groups, each D·16 contiguous elements
    for (int64_t g = j0 / 16; g < (j1 + 15) / 16; ++g) {
      const T* r = blk + g * 16 * p.D;
      for (int64_t e = 0; e < 16 * p.D; e += line) __builtin_prefetch(r + e, 0, 2);
    }
  }
}

// Scores of rows [0, RB) against keys [kbase, kend) of request `req`, KV head `kvh`; kbase is a
// multiple of W, kend is rounded up to one. Columns are key - kbase.
template <typename T, int RB>
void score_rows(const Problem& p, const float* Q, int64_t req, int64_t kvh, int64_t kbase,
                int64_t kend, float* S, int64_t ldS) {
  const T* kc = static_cast<const T*>(p.kc);
  const int32_t* row = p.table + req * p.t_sr;
  int64_t key = kbase;
  while (key < kend) {
    const int64_t b = key / p.bs;
    const T* blk = kc + static_cast<int64_t>(row[b]) * p.k_sb + kvh * p.k_sh;
    const int64_t bend = std::min(kend, (b + 1) * p.bs);
    // The blocks of a request are scattered over the cache: the hardware prefetchers cannot
    // follow. Ask for the lines of the next K region that will be read (this head's next block,
    // else the next head's first block) while this one is computed.
    if (bend < kend) {
      prefetch_keys(p, kc + static_cast<int64_t>(row[b + 1]) * p.k_sb + kvh * p.k_sh, 0,
                    std::min(kend, (b + 2) * p.bs) - (b + 1) * p.bs);
    } else if (kvh + 1 < p.Hkv) {
      const int64_t b0 = kbase / p.bs;
      prefetch_keys(p, kc + static_cast<int64_t>(row[b0]) * p.k_sb + (kvh + 1) * p.k_sh, kbase - b0 * p.bs,
                    std::min(kend, (b0 + 1) * p.bs) - b0 * p.bs);
    }
    int64_t j = key - b * p.bs;
    if (p.layout == kTransposed) {
      constexpr int NC = wide_chunks(RB);
      for (; key + NC * W <= bend; key += NC * W, j += NC * W)
        score_chunk_t<T, RB, NC>(p, Q, blk + j, S, ldS, key - kbase);
      if constexpr (NC > 4) {
        for (; key + 4 * W <= bend; key += 4 * W, j += 4 * W)
          score_chunk_t<T, RB, 4>(p, Q, blk + j, S, ldS, key - kbase);
      }
      if constexpr (NC > 2) {
        for (; key + 2 * W <= bend; key += 2 * W, j += 2 * W)
          score_chunk_t<T, RB, 2>(p, Q, blk + j, S, ldS, key - kbase);
      }
      for (; key < bend; key += W, j += W) score_chunk_t<T, RB, 1>(p, Q, blk + j, S, ldS, key - kbase);
      continue;
    }
    // AMX tiles pair chunks only within a 16-token tile group, which W = 16 chunks respect.
    for (; key + 2 * W <= bend; key += 2 * W, j += 2 * W)
      score_chunk_amx<T, RB, 2>(p, Q, blk, j, S, ldS, key - kbase);
    for (; key < bend; key += W, j += W) score_chunk_amx<T, RB, 1>(p, Q, blk, j, S, ldS, key - kbase);
  }
}

struct Workspace {
  std::vector<float> q;  // [kMaxRows, D] fp32 queries of the tile
  std::vector<float> s;  // [kMaxRows, ldS] scores
};

// Statistics of one row's visible scores x[0, n) (n ≥ 1); keys x[i] = key k0 + i.
inline void row_stats(const Problem& p, float* x, int64_t n, int64_t k0, float* o) {
  if (p.softcap > 0.f) softcap_row(x, n, p.softcap);
  const float m = row_max(x, n);  // NaN if any score is NaN
  float l = 0.f, t = 0.f, l2 = 0.f, ls = 0.f;
  if (m != kNegInf) {
    // The probabilities themselves are only read back for the sink keys among the visible.
    const int64_t ns = std::clamp<int64_t>(p.sinks - k0, 0, n);
    const BlockSums s = ns > 0 ? exp_and_sums<true>(x, n, m) : exp_and_sums<false>(x, n, m);
    l = s.l, t = s.t, l2 = s.l2;
    for (int64_t i = 0; i < ns; ++i) ls += x[i];
  }
  if (std::isnan(m)) l = t = l2 = kNaN;
  const bool empty = l == 0.f;
  const float log_l = empty ? 0.f : std::log(l);
  float H = empty ? 0.f : log_l - t / l;
  H = H < 0.f ? 0.f : H;  // NaN stays NaN
  float H2 = empty ? 0.f : 2.f * log_l - std::log(l2);
  H2 = H2 < 0.f ? 0.f : H2;
  H2 = H2 > H ? H : H2;
  o[0] = H;
  o[p.o_sc] = H2;
  o[2 * p.o_sc] = empty ? 0.f : ls / l;
}

// One task: request `req`, KV head `kvh`, rows [r0, r1) of its (token, head-of-group) rows.
template <typename T>
void run_tile(const Problem& p, int64_t req, int64_t kvh, int64_t r0, int64_t r1, Workspace& ws) {
  const int64_t qs = p.qsl[req], Lq = p.qsl[req + 1] - qs, Lk = p.seq_lens[req];
  const int64_t D = p.D, G = p.G, rows = r1 - r0;
  // visible key span of the tile
  int64_t lo_min, hi_max, lo, hi;
  visible(p, Lk - Lq + r0 / G, lo_min, hi);
  visible(p, Lk - Lq + (r1 - 1) / G, lo, hi_max);
  const int64_t kbase = lo_min / W * W;
  const int64_t kend = (hi_max + W - 1) / W * W;  // stays inside the last block: bs % W == 0
  const int64_t ldS = kend - kbase;
  if (static_cast<int64_t>(ws.q.size()) < kMaxRows * D) ws.q.resize(kMaxRows * D);
  if (static_cast<int64_t>(ws.s.size()) < kMaxRows * ldS) ws.s.resize(kMaxRows * ldS);
  const T* qp = static_cast<const T*>(p.q);
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t t = qs + (r0 + r) / G, h = kvh * G + (r0 + r) % G;
    const T* src = qp + t * p.q_st + h * p.q_sh;
    float* dst = ws.q.data() + r * D;
    for (int64_t d = 0; d < D; ++d) dst[d] = static_cast<float>(src[d]);
  }
  float* S = ws.s.data();
  switch (rows) {
    case 1: score_rows<T, 1>(p, ws.q.data(), req, kvh, kbase, kend, S, ldS); break;
    case 2: score_rows<T, 2>(p, ws.q.data(), req, kvh, kbase, kend, S, ldS); break;
    case 3: score_rows<T, 3>(p, ws.q.data(), req, kvh, kbase, kend, S, ldS); break;
    case 4: score_rows<T, 4>(p, ws.q.data(), req, kvh, kbase, kend, S, ldS); break;
    case 5: score_rows<T, 5>(p, ws.q.data(), req, kvh, kbase, kend, S, ldS); break;
    default: score_rows<T, 6>(p, ws.q.data(), req, kvh, kbase, kend, S, ldS); break;
  }
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t i = (r0 + r) / G, h = kvh * G + (r0 + r) % G;
    visible(p, Lk - Lq + i, lo, hi);
    row_stats(p, S + r * ldS + (lo - kbase), hi - lo, lo, p.out + (qs + i) * p.o_st + h * p.o_sh);
  }
}

struct Task {
  int32_t req, kvh, r0, r1;
};

// Prefetch the first block a task reads.
template <typename T>
void prefetch_task(const Problem& p, const Task& t) {
  const int64_t Lq = p.qsl[t.req + 1] - p.qsl[t.req], Lk = p.seq_lens[t.req];
  int64_t lo, hi;
  visible(p, Lk - Lq + t.r0 / p.G, lo, hi);
  const int64_t b = lo / p.bs;
  const T* blk = static_cast<const T*>(p.kc) + static_cast<int64_t>(p.table[t.req * p.t_sr + b]) * p.k_sb +
                 t.kvh * p.k_sh;
  prefetch_keys(p, blk, lo - b * p.bs, std::min(Lk, (b + 1) * p.bs) - b * p.bs);
}

template <typename T>
void run_all(const Problem& p) {
  std::vector<Task> tasks;
  int64_t work = 0;  // scores to compute, roughly
  const int64_t G = p.G;
  for (int64_t r = 0; r < p.R; ++r) {
    const int64_t Lq = p.qsl[r + 1] - p.qsl[r];
    if (Lq <= 0) continue;
    // Rows of a tile share K reads; keep a decode row's G heads together (G ≤ kMaxRows).
    const int64_t tile = G <= kMaxRows ? (kMaxRows / G) * G : kMaxRows;
    for (int64_t kvh = 0; kvh < p.Hkv; ++kvh)
      for (int64_t r0 = 0; r0 < Lq * G; r0 += tile)
        tasks.push_back({static_cast<int32_t>(r), static_cast<int32_t>(kvh), static_cast<int32_t>(r0),
                         static_cast<int32_t>(std::min(r0 + tile, Lq * G))});
    work += p.Hkv * Lq * G * static_cast<int64_t>(p.seq_lens[r]);
  }
  const int64_t n = static_cast<int64_t>(tasks.size());
  if (n == 0) return;
  // Under ~1e5 scores a call takes tens of µs: threads would cost more than they save.
  if (at::get_num_threads() == 1 || work * p.D < (int64_t{1} << 22)) {
    static thread_local Workspace ws;
    for (int64_t i = 0; i < n; ++i) {
      const Task& t = tasks[i];
      // A request's last head: its successor is another request, whose first block no
      // prefetch inside run_tile announces.
      if (t.kvh == p.Hkv - 1 && i + 1 < n && tasks[i + 1].req != t.req) prefetch_task<T>(p, tasks[i + 1]);
      run_tile<T>(p, t.req, t.kvh, t.r0, t.r1, ws);
    }
    return;
  }
  at::parallel_for(0, n, 1, [&](int64_t b, int64_t e) {
    static thread_local Workspace ws;
    for (int64_t i = b; i < e; ++i) run_tile<T>(p, tasks[i].req, tasks[i].kvh, tasks[i].r0, tasks[i].r1, ws);
  });
}

void check(bool ok, const char* what) { TORCH_CHECK(ok, "paged_stats: ", what); }

// query [T, H, D]; kv_cache [num_blocks, Hkv, bs, 2·D] (K in the first bs·D elements of each
// (block, head), `layout`); block_table [R, max_blocks] int32; query_start_loc [R+1] int32;
// seq_lens [≥R] int32; out [T, H, 3] fp32 (any strides); n_keys [T] int32. R = len(qsl) - 1.
void paged_stats(const at::Tensor& query, const at::Tensor& kv_cache, const at::Tensor& block_table,
                 const at::Tensor& query_start_loc, const at::Tensor& seq_lens, int64_t layout,
                 double scale, double softcap, int64_t window, int64_t sink_tokens, at::Tensor out,
                 at::Tensor n_keys) {
  check(query.dim() == 3 && query.stride(2) == 1, "query must be [T, H, D] with contiguous rows");
  check(kv_cache.dim() == 4 && kv_cache.stride(3) == 1 && kv_cache.stride(2) == kv_cache.size(3),
        "kv_cache must be [blocks, Hkv, bs, 2D] with each (block, head) contiguous");
  check(kv_cache.scalar_type() == query.scalar_type(), "query and kv_cache dtypes differ");
  check(block_table.dim() == 2 && block_table.scalar_type() == at::kInt && block_table.stride(1) == 1,
        "block_table must be int32 [R, n] with contiguous rows");
  check(query_start_loc.scalar_type() == at::kInt && query_start_loc.is_contiguous(), "query_start_loc must be contiguous int32");
  check(seq_lens.scalar_type() == at::kInt && seq_lens.is_contiguous(), "seq_lens must be contiguous int32");
  check(out.scalar_type() == at::kFloat && out.dim() == 3, "out must be fp32 [T, H, 3]");
  check(n_keys.scalar_type() == at::kInt && n_keys.is_contiguous(), "n_keys must be contiguous int32");
  Problem p{};
  p.R = query_start_loc.numel() - 1;
  p.H = query.size(1);
  p.D = query.size(2);
  p.Hkv = kv_cache.size(1);
  p.bs = kv_cache.size(2);
  check(kv_cache.size(3) == 2 * p.D, "kv_cache's last dimension must be 2 * head_size");
  check(p.Hkv > 0 && p.H % p.Hkv == 0, "query heads must be a multiple of KV heads");
  check(p.D % 2 == 0 && p.bs % W == 0 && p.bs % 16 == 0, "head_size must be even and block_size a multiple of 16");
  check(block_table.size(0) >= p.R && seq_lens.numel() >= p.R, "fewer block-table rows / seq_lens than requests");
  check(layout == kTransposed || layout == kAmx, "unknown layout");
  check(layout != kAmx || query.scalar_type() == at::kBFloat16, "the AMX layout holds bf16 only");
  const int64_t T = query.size(0);
  check(out.size(0) >= T && out.size(1) == p.H && out.size(2) == 3, "out must be [T, H, 3]");
  check(n_keys.numel() >= T, "n_keys must have T elements");
  p.G = p.H / p.Hkv;
  p.layout = static_cast<Layout>(layout);
  p.q = query.data_ptr();
  p.q_st = query.stride(0);
  p.q_sh = query.stride(1);
  p.kc = kv_cache.data_ptr();
  p.k_sb = kv_cache.stride(0);
  p.k_sh = kv_cache.stride(1);
  p.table = block_table.data_ptr<int32_t>();
  p.t_sr = block_table.stride(0);
  p.qsl = query_start_loc.data_ptr<int32_t>();
  p.seq_lens = seq_lens.data_ptr<int32_t>();
  p.scale = static_cast<float>(scale);
  p.softcap = static_cast<float>(softcap);
  p.window = window;
  p.sinks = sink_tokens;
  p.out = out.data_ptr<float>();
  p.o_st = out.stride(0);
  p.o_sh = out.stride(1);
  p.o_sc = out.stride(2);
  // Validate the request rows and the block-table entries they will read (cheap next to the work).
  const int64_t num_blocks = kv_cache.size(0), max_blocks = block_table.size(1);
  int32_t* nk = n_keys.data_ptr<int32_t>();
  for (int64_t r = 0; r < p.R; ++r) {
    const int64_t qs = p.qsl[r], qe = p.qsl[r + 1], Lk = p.seq_lens[r];
    check(0 <= qs && qs <= qe && qe <= T, "query_start_loc out of range");
    if (qe == qs) continue;
    check(Lk >= qe - qs, "a request has more queries than keys");
    check((Lk + p.bs - 1) / p.bs <= max_blocks, "seq_len beyond the block table");
    const int64_t first = p.window > 0 ? std::max<int64_t>(0, Lk - (qe - qs) - p.window + 1) / p.bs : 0;
    for (int64_t b = first; b < (Lk + p.bs - 1) / p.bs; ++b) {
      const int32_t id = p.table[r * p.t_sr + b];
      check(0 <= id && id < num_blocks, "block-table entry out of range");
    }
    for (int64_t i = qs; i < qe; ++i) {
      const int64_t n = Lk - (qe - i) + 1;
      nk[i] = static_cast<int32_t>(p.window > 0 ? std::min(n, p.window) : n);
    }
  }
  switch (query.scalar_type()) {
    case at::kFloat: run_all<float>(p); break;
    case at::kBFloat16: run_all<at::BFloat16>(p); break;
    case at::kHalf: run_all<at::Half>(p); break;
    default: TORCH_CHECK(false, "paged_stats: query dtype must be fp32, bf16 or fp16");
  }
}

}  // namespace

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.def("paged_stats", &paged_stats,
        "per-token Shannon / Rényi-2 / sink mass of every request of a step, from the paged KV cache",
        py::arg("query"), py::arg("kv_cache"), py::arg("block_table"), py::arg("query_start_loc"),
        py::arg("seq_lens"), py::arg("layout"), py::arg("scale"), py::arg("softcap"),
        py::arg("window"), py::arg("sink_tokens"), py::arg("out"), py::arg("n_keys"),
        py::call_guard<py::gil_scoped_release>());
}
