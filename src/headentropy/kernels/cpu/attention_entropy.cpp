// Fused CPU attention forward with per-row entropy statistics (docs/design.md §1).
//
// One task = one (batch, query head, query block). A task streams the key blocks its rows can
// see; per key block:
//   S = scale · Q·Kᵀ           BLAS (sgemm_), [bq, bk] fp32
//   soft-cap, user mask, causal/window (a row's visible keys are one interval [lo_i, hi_i))
//   m, l, t, l2, ls updated from S in one vectorised pass that also writes P = e^{s-m}
//   acc = α·acc + P·V          BLAS, skipped entirely when v is None
// bf16/fp16 inputs: both products take the input precision with fp32 accumulation, as in SDPA's
// path: on AMX CPUs oneDNN's brgemm (torch's cpublas::brgemm, what SDPA itself calls) on K and V
// packed once per call (amx_pack: extra memory the size of k and v), else MKL's mixed-precision
// gemms on the input blocks in place; without either, blocks are converted to fp32. The exp pass
// writes P rounded to the input precision for P·V directly (no second pass); the statistics
// always come from the fp32 S and P.
// The N×N matrix is never stored: per thread the largest buffer is [bq, bk].
//
// Attention dropout (kernels/dropout.py): after the statistics have used P, P ← P⊙Z/(1 − p) on
// the visible keys before P·V, with Z hashed from (seed, b, h, row, key) by `dropout_row`; the
// backward regenerates the same Z: dP̃ = Z⊙dP/(1 − p) replaces dP, and dV uses P⊙Z/(1 − p).
//
// Backward (`backward` below, docs/design.md §1 "Gradients", formula in kernels/autograd.py): one task =
// one (batch, query head); it walks its query blocks and, per visible key block, recomputes
//   S = scale · Q·Kᵀ, soft-cap/mask as in the forward, P = e^{s - lse}     (sgemm_)
//   dP = dO·Vᵀ                                                            (sgemm_)
//   dS = P ⊙ (dP + const − g_H·(s − lse) − k2·P + g_sink·1[j<S]) ⊙ cap'   (one vector pass)
//   dV_h += Pᵀ·dO,  dK_h += scale·dSᵀ·Q,  dQ += scale·dS·K                (sgemm_)
// dK_h/dV_h are per *query* head (fp32 [B, Hq, Lk, D]; the GQA group sum happens in Python), so
// every task writes only its own rows: no atomics, no reduction between threads. Extra memory
// is O(B·Hq·Lk·D), the same order as the gradients themselves. When B·Hq is smaller than the
// thread count, each head is split into `stripes` tasks (query blocks s, s + stripes, ...), each
// with a private dK_h/dV_h slice that is summed afterwards.
//
// The vector ISA (AVX-512 / AVX2 / scalar) follows the compiler flags (-march=native in loader.py);
// vec_math.h selects it and must come before any other include.
#include "vec_math.h"

#include <ATen/Parallel.h>
#include <ATen/native/CPUBlas.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <vector>

// Fortran BLAS bundled with (and exported by) libtorch_cpu; column-major.
extern "C" void sgemm_(const char* transa, const char* transb, const int* m, const int* n,
                       const int* k, const float* alpha, const float* a, const int* lda,
                       const float* b, const int* ldb, const float* beta, float* c,
                       const int* ldc);

// bf16/fp16 inputs: MKL's mixed-precision gemms (fp32 accumulation and output; AMX or
// AVX512-BF16 where the CPU has them) read the blocks in place, as SDPA's reduced-precision path
// does. Weak: with another BLAS they are absent and the blocks are converted to fp32 instead.
extern "C" void gemm_bf16bf16f32(const char* transa, const char* transb, const int* m,
                                 const int* n, const int* k, const float* alpha, const uint16_t* a,
                                 const int* lda, const uint16_t* b, const int* ldb,
                                 const float* beta, float* c, const int* ldc) __attribute__((weak));
extern "C" void gemm_f16f16f32(const char* transa, const char* transb, const int* m, const int* n,
                               const int* k, const float* alpha, const uint16_t* a, const int* lda,
                               const uint16_t* b, const int* ldb, const float* beta, float* c,
                               const int* ldc) __attribute__((weak));

// oneDNN's batch-reduce gemm as torch exports it (SDPA's own bf16 path on AMX CPUs): JIT kernels
// for AMX tiles, B in the "VNNI" layout (pairs along the reduction dimension in one 32-bit word).
#if defined(CPUBLAS_BRGEMM_BF16BF16F32) && defined(CPUBLAS_BRGEMM_F16F16F32)
#define HEADENTROPY_BRGEMM 1
#endif

// MKL (torch's usual BLAS) may start its own threads inside a gemm; our tasks already fill every
// core, so each worker asks for a sequential BLAS. Weak: absent with other BLAS builds.
extern "C" int MKL_Set_Num_Threads_Local(int) __attribute__((weak));

namespace {

// Scoped: this thread's BLAS calls run sequentially, restored on exit (also on exceptions).
struct SequentialBlas {
  int previous = 0;
  SequentialBlas() {
    if (MKL_Set_Num_Threads_Local) previous = MKL_Set_Num_Threads_Local(1);
  }
  ~SequentialBlas() {
    if (MKL_Set_Num_Threads_Local) MKL_Set_Num_Threads_Local(previous);
  }
};

using namespace headentropy_cpu;  // Vec, kNegInf, kNaN, exp_vec, row_max, exp_and_sums, ...

// ---------------------------------------------------------------------------------------------
// BLAS wrappers in row-major terms. A row-major [m, n] matrix is a column-major [n, m] one, so
// each call swaps the operands.

// C[m, n] = alpha · A[m, k] · B[n, k]ᵀ + beta · C   (row strides lda, ldb, ldc)
inline void gemm_abt(int m, int n, int k, float alpha, const float* A, int lda, const float* B,
                     int ldb, float beta, float* C, int ldc) {
  sgemm_("T", "N", &n, &m, &k, &alpha, B, &ldb, A, &lda, &beta, C, &ldc);
}

// C[m, n] = alpha · A[m, k] · B[k, n] + beta · C
inline void gemm_ab(int m, int n, int k, float alpha, const float* A, int lda, const float* B,
                    int ldb, float beta, float* C, int ldc) {
  sgemm_("N", "N", &n, &m, &k, &alpha, B, &ldb, A, &lda, &beta, C, &ldc);
}

// The same two products with bf16/fp16 operands and fp32 C; lowp_gemm() is null when this BLAS
// lacks them (or for fp32/fp64 inputs).
using LowpGemm = decltype(&gemm_bf16bf16f32);  // both have this signature

template <typename scalar_t>
inline LowpGemm lowp_gemm() {
  if constexpr (std::is_same_v<scalar_t, at::BFloat16>) return gemm_bf16bf16f32;
  else if constexpr (std::is_same_v<scalar_t, at::Half>) return gemm_f16f16f32;
  else return nullptr;
}

template <typename scalar_t>
inline void lowp_gemm_abt(int m, int n, int k, float alpha, const scalar_t* A, int lda,
                          const scalar_t* B, int ldb, float beta, float* C, int ldc) {
  lowp_gemm<scalar_t>()("T", "N", &n, &m, &k, &alpha, reinterpret_cast<const uint16_t*>(B), &ldb,
                        reinterpret_cast<const uint16_t*>(A), &lda, &beta, C, &ldc);
}

template <typename scalar_t>
inline void lowp_gemm_ab(int m, int n, int k, float alpha, const scalar_t* A, int lda,
                         const scalar_t* B, int ldb, float beta, float* C, int ldc) {
  lowp_gemm<scalar_t>()("N", "N", &n, &m, &k, &alpha, reinterpret_cast<const uint16_t*>(B), &ldb,
                        reinterpret_cast<const uint16_t*>(A), &lda, &beta, C, &ldc);
}

// dst[0, n) = src rounded to scalar_t (round to nearest even), vectorised.
template <typename scalar_t>
inline void round_row(const float* src, scalar_t* dst, int64_t n) {
  constexpr int64_t w = Vec::size();
  int64_t j = 0;
  if constexpr (at::is_reduced_floating_point_v<scalar_t>) {
    for (; j + 2 * w <= n; j += 2 * w) {
      at::vec::convert_from_float<scalar_t>(Vec::loadu(src + j), Vec::loadu(src + j + w)).store(dst + j);
    }
  }
  for (; j < n; ++j) dst[j] = static_cast<scalar_t>(src[j]);
}

// ---------------------------------------------------------------------------------------------
// The dropout keep-mask: the same hash, word for word, as kernels/dropout.py.

// murmur3's 32-bit finaliser: a bijection with full avalanche.
inline uint32_t fmix32(uint32_t x) {
  x ^= x >> 16;
  x *= 0x85ebca6bu;
  x ^= x >> 13;
  x *= 0xc2b2ae35u;
  x ^= x >> 16;
  return x;
}

// The key of head (b, h), once per head.
inline uint32_t dropout_head_key(uint64_t seed, int64_t b, int64_t h) {
  uint32_t x = fmix32(static_cast<uint32_t>(seed) ^ 0x9e3779b9u);
  x = fmix32(x ^ static_cast<uint32_t>(seed >> 32));
  x = fmix32(x ^ static_cast<uint32_t>(b));
  return fmix32(x ^ static_cast<uint32_t>(h));
}

// x[jj] (keys j0 + jj of query row i) ← x·scale where kept, 0 where dropped (u < thresh).
// Also zeroes a dropped NaN, as the Python backends do. Plain uint32 ops: the compiler vectorises.
inline void dropout_row(float* x, int64_t n, uint32_t head_key, int64_t i, int64_t j0,
                        uint32_t thresh, float scale) {
  const uint32_t row_key = fmix32(head_key ^ static_cast<uint32_t>(i));
  const uint32_t j0u = static_cast<uint32_t>(j0);
  for (int64_t jj = 0; jj < n; ++jj) {
    const uint32_t u = fmix32(row_key ^ (j0u + static_cast<uint32_t>(jj)));
    x[jj] = u >= thresh ? x[jj] * scale : 0.f;
  }
}

// ---------------------------------------------------------------------------------------------
// Problem description shared by all tasks.

enum class MaskKind { kNone, kBool, kAdditive };

struct Problem {
  int64_t B, Hq, G, Lq, Lk, D, Dv;
  // element strides: [b, h, row] (the last dim is contiguous)
  int64_t q_sb, q_sh, q_sl, k_sb, k_sh, k_sl, v_sb, v_sh, v_sl;
  float scale;
  bool causal;
  int64_t window;  // 0 = none
  float softcap;   // 0 = none
  int64_t sinks;
  int64_t bq, bk;
  bool has_v;
  MaskKind mask_kind;
  const void* mask;       // expanded [B, Hq, Lq, Lk] view, strides below
  int64_t m_sb, m_sh, m_sq, m_sk;
  const float* bad;       // [B, Hkv, Lk] contiguous, 1.0 where the value row is non-finite; or null
  int64_t Hkv;
  bool dropout;           // attention dropout on P·V (only with v)
  uint64_t seed;          // keep-mask seed
  uint32_t drop_thresh;   // drop where the hash word < thresh = floor(p·2^32)
  float drop_scale;       // 1 / (1 − p)
};

// Keys [lo, hi) visible to query row i under causal/window (bottom-right aligned).
inline void visible_range(const Problem& p, int64_t i, int64_t& lo, int64_t& hi) {
  lo = 0;
  hi = p.Lk;
  if (p.causal || p.window > 0) {
    const int64_t pos = i + p.Lk - p.Lq;
    hi = std::max<int64_t>(0, std::min(p.Lk, pos + 1));
    if (p.window > 0) lo = std::max<int64_t>(0, pos - p.window + 1);
  }
  lo = std::min(lo, hi);
}

// Keys [k_lo, k_hi) any query of the block [qs, qe) can see: the forward and the backward
// stream exactly these key blocks.
inline void key_span(const Problem& p, int64_t qs, int64_t qe, int64_t& k_lo, int64_t& k_hi) {
  int64_t lo_last, hi_last;
  visible_range(p, qs, k_lo, k_hi);  // the first row's range: its lower bound is the block's
  visible_range(p, qe - 1, lo_last, hi_last);
  k_hi = std::max(k_lo, hi_last);
}

// Apply the user mask to scores x[0, n) of row i, keys [k0, k0 + n).
inline void apply_mask(const Problem& p, float* x, int64_t n, int64_t b, int64_t h, int64_t i,
                       int64_t k0) {
  const int64_t off = b * p.m_sb + h * p.m_sh + i * p.m_sq + k0 * p.m_sk;
  const int64_t sk = p.m_sk;
  if (p.mask_kind == MaskKind::kBool) {
    const bool* m = static_cast<const bool*>(p.mask) + off;
    if (sk == 1) {
      for (int64_t j = 0; j < n; ++j) x[j] = m[j] ? x[j] : kNegInf;
    } else {
      for (int64_t j = 0; j < n; ++j) x[j] = m[j * sk] ? x[j] : kNegInf;
    }
  } else {
    // Additive: a -inf bias masks (stays -inf even where the score is +inf or NaN).
    const float* m = static_cast<const float*>(p.mask) + off;
    for (int64_t j = 0; j < n; ++j) {
      const float bias = m[j * sk];
      x[j] = bias == kNegInf ? kNegInf : x[j] + bias;
    }
  }
}

// Row stride of the score tile: padded by one cache line so that rows 2^k floats apart do not
// map to the same L1 sets (the P·V gemm walks down the columns of P).
inline int64_t score_stride(const Problem& p) { return p.bk + 16; }

// Row stride of the output accumulator: Dv, or Dv rounded up to 16 columns for the AMX gemm
// (its column chunks are 16 to 64 wide).
inline int64_t acc_stride(const Problem& p, bool amx) { return amx ? (p.Dv + 15) / 16 * 16 : p.Dv; }

// Row stride (elements) of the bf16/fp16 P tile: an even number of columns (the AMX gemm reads
// key pairs) plus one cache line.
inline int64_t lowp_stride(const Problem& p) { return (p.bk + 1) / 2 * 2 + 32; }

// Per-thread scratch. Kept thread-local across calls (it only grows, to well under a MiB for
// the default blocks): fresh buffers on every call cost page faults and zeroing.
struct Workspace {
  std::vector<float> q, k, v;      // fp32 copies of the blocks (non-fp32 inputs without lowp gemm)
  std::vector<float> s;            // [bq, ldS] scores, then P in place
  std::vector<uint16_t> p_lowp;    // [bq, ldP] P rounded to bf16/fp16 for the lowp P·V gemm
  std::vector<float> acc;          // [bq, ldA] un-normalised output (acc_stride)
  std::vector<float> m, l, t, l2, ls, bad;  // [bq] row accumulators (docs/design.md §1)
  void prepare(const Problem& p, bool convert, bool lowp) {
    auto grow = [](auto& x, int64_t n) {
      if (static_cast<int64_t>(x.size()) < n) x.resize(n);
    };
    if (convert) {
      grow(q, p.bq * p.D);
      grow(k, p.bk * p.D);
      if (p.has_v) grow(v, p.bk * p.Dv);
    }
    if (lowp && p.has_v) grow(p_lowp, p.bq * lowp_stride(p));
    grow(s, p.bq * score_stride(p));
    if (p.has_v) grow(acc, p.bq * acc_stride(p, true));
    for (auto* x : {&m, &l, &t, &l2, &ls, &bad}) grow(*x, p.bq);
  }
};

// Rows [0, rows) of a strided matrix as an fp32 pointer with its row stride; converts into
// `buf` (row stride = cols) unless the input already is fp32.
template <typename scalar_t>
inline const float* as_fp32(const scalar_t* src, int64_t row_stride, int64_t rows, int64_t cols,
                            std::vector<float>& buf, int& ld) {
  if constexpr (std::is_same_v<scalar_t, float>) {
    ld = static_cast<int>(std::max<int64_t>(row_stride, std::max<int64_t>(cols, 1)));
    return src;
  } else {
    for (int64_t r = 0; r < rows; ++r) {
      const scalar_t* in = src + r * row_stride;
      float* out = buf.data() + r * cols;
      for (int64_t c = 0; c < cols; ++c) out[c] = static_cast<float>(in[c]);
    }
    ld = static_cast<int>(std::max<int64_t>(cols, 1));
    return buf.data();
  }
}

// K and V of every (batch, KV head) in the B layout of the AMX brgemm, built once per call in a
// parallel pass (extra memory: the size of k and v; SDPA's bf16 path packs the same way).
//   Kᵀ: per chunk of 64 keys, [D/2, w, 2] with w = the chunk's keys rounded up to 16 (zeros);
//       keys j, j+1 of dimension pair i are the 32-bit word K[j, 2i..2i+1] at (i·w + j).
//   V:  per chunk of 64 value columns (the last rounded up to 16, zeros), [Lk2/2, w, 2]: rows
//       2k and 2k+1 interleaved, Lk2 = Lk rounded up to even (a zero row).
// A key block starting at a multiple of 64 is then a slice of both, in place.
struct AmxPack {
  std::unique_ptr<uint16_t[]> k, v;
  int64_t k_head = 0, v_head = 0;  // elements per (batch, KV head)
  int64_t Lk2 = 0, ldA = 0;        // Lk rounded to even; Dv rounded to 16
};

inline int64_t round_up(int64_t x, int64_t m) { return (x + m - 1) / m * m; }

#if defined(CPU_CAPABILITY_AVX512)
// A 16×16 block of 32-bit words transposed: dst[s·ld_dst + t] = word s of row t, where row t
// starts at src + t·ld_src (uint16 elements, any alignment). Interleave 32-bit then 64-bit pairs
// inside the 128-bit lanes (word c of lane L is column 4L + c, for 4 rows), then gather the
// lanes of the four row groups with two rounds of 128-bit shuffles.
inline void transpose_16x16_words(const uint16_t* src, int64_t ld_src, uint32_t* dst,
                                  int64_t ld_dst) {
  __m512i r[16], t[16];
  for (int i = 0; i < 16; ++i) r[i] = _mm512_loadu_si512(src + i * ld_src);
  for (int i = 0; i < 8; ++i) {
    t[2 * i] = _mm512_unpacklo_epi32(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm512_unpackhi_epi32(r[2 * i], r[2 * i + 1]);
  }
  for (int g = 0; g < 4; ++g) {  // r[4g + c]: columns 4L + c of rows 4g..4g+3, lane L
    r[4 * g + 0] = _mm512_unpacklo_epi64(t[4 * g + 0], t[4 * g + 2]);
    r[4 * g + 1] = _mm512_unpackhi_epi64(t[4 * g + 0], t[4 * g + 2]);
    r[4 * g + 2] = _mm512_unpacklo_epi64(t[4 * g + 1], t[4 * g + 3]);
    r[4 * g + 3] = _mm512_unpackhi_epi64(t[4 * g + 1], t[4 * g + 3]);
  }
  for (int c = 0; c < 4; ++c) {
    const __m512i a01 = _mm512_shuffle_i32x4(r[c], r[4 + c], 0x44);  // lanes 0,1 | 0,1
    const __m512i a23 = _mm512_shuffle_i32x4(r[c], r[4 + c], 0xEE);  // lanes 2,3 | 2,3
    const __m512i b01 = _mm512_shuffle_i32x4(r[8 + c], r[12 + c], 0x44);
    const __m512i b23 = _mm512_shuffle_i32x4(r[8 + c], r[12 + c], 0xEE);
    _mm512_storeu_si512(dst + (0 + c) * ld_dst, _mm512_shuffle_i32x4(a01, b01, 0x88));
    _mm512_storeu_si512(dst + (4 + c) * ld_dst, _mm512_shuffle_i32x4(a01, b01, 0xDD));
    _mm512_storeu_si512(dst + (8 + c) * ld_dst, _mm512_shuffle_i32x4(a23, b23, 0x88));
    _mm512_storeu_si512(dst + (12 + c) * ld_dst, _mm512_shuffle_i32x4(a23, b23, 0xDD));
  }
}
#endif

template <typename scalar_t>
AmxPack amx_pack(const Problem& p, const scalar_t* kp, const scalar_t* vp) {
  AmxPack pk;
  const int64_t D = p.D, Lk = p.Lk, n_chunks = (Lk + 63) / 64;
  pk.k_head = n_chunks * 64 * D;
  pk.Lk2 = round_up(Lk, 2);
  pk.ldA = acc_stride(p, true);
  pk.v_head = p.has_v ? pk.ldA * pk.Lk2 : 0;
  pk.k.reset(new uint16_t[std::max<int64_t>(1, p.B * p.Hkv * pk.k_head)]);
  if (p.has_v) pk.v.reset(new uint16_t[std::max<int64_t>(1, p.B * p.Hkv * pk.v_head)]);
  at::parallel_for(0, p.B * p.Hkv, 1, [&](int64_t h0, int64_t h1) {
    for (int64_t bh = h0; bh < h1; ++bh) {
      const int64_t b = bh / p.Hkv, kvh = bh % p.Hkv;
      const uint16_t* K = reinterpret_cast<const uint16_t*>(kp + b * p.k_sb + kvh * p.k_sh);
      uint16_t* outk = pk.k.get() + bh * pk.k_head;
      for (int64_t c = 0; c < n_chunks; ++c) {
        const int64_t w = std::min<int64_t>(64, round_up(Lk - 64 * c, 16));
        uint32_t* o = reinterpret_cast<uint32_t*>(outk + c * 64 * D);
        // Keys [0, kv) × words [0, iv) in 16×16 blocks where the ISA allows; the rest word by word.
        int64_t kv = 0, iv = 0;
#if defined(CPU_CAPABILITY_AVX512)
        const int64_t real = std::min(w, Lk - 64 * c);
        iv = D / 2 / 16 * 16;
        for (; iv > 0 && kv + 16 <= real; kv += 16) {
          for (int64_t i0 = 0; i0 < iv; i0 += 16) {
            transpose_16x16_words(K + (64 * c + kv) * p.k_sl + 2 * i0, p.k_sl, o + i0 * w + kv, w);
          }
        }
#endif
        for (int64_t jj = 0; jj < w; ++jj) {
          const int64_t j = 64 * c + jj;
          const uint16_t* row = j < Lk ? K + j * p.k_sl : nullptr;
          for (int64_t i = jj < kv ? iv : 0; i < D / 2; ++i) {
            uint32_t word = 0;
            if (row) std::memcpy(&word, row + 2 * i, 4);
            o[i * w + jj] = word;
          }
        }
      }
      if (!p.has_v) continue;
      const uint16_t* V = reinterpret_cast<const uint16_t*>(vp + b * p.v_sb + kvh * p.v_sh);
      uint16_t* outv = pk.v.get() + bh * pk.v_head;
      for (int64_t c0 = 0; c0 < pk.ldA; c0 += 64) {
        const int64_t w = std::min<int64_t>(64, pk.ldA - c0), real = std::min(w, p.Dv - c0);
        uint16_t* o = outv + c0 * pk.Lk2;
        for (int64_t k2 = 0; k2 < pk.Lk2 / 2; ++k2) {
          const uint16_t* r0 = V + 2 * k2 * p.v_sl + c0;
          const uint16_t* r1 = 2 * k2 + 1 < Lk ? r0 + p.v_sl : nullptr;
          uint16_t* dst = o + k2 * w * 2;
          for (int64_t n = 0; n < real; ++n) {
            dst[2 * n] = r0[n];
            dst[2 * n + 1] = r1 ? r1[n] : uint16_t{0};
          }
          for (int64_t n = real; n < w; ++n) dst[2 * n] = dst[2 * n + 1] = 0;
        }
      }
    }
  });
  return pk;
}

struct Outputs {
  void* out;  // [B, Hq, Lq, Dv] contiguous, scalar_t
  float *shannon, *renyi2, *lse, *sink;  // [B, Hq, Lq] contiguous
};

// S[bq, ke - ks] = Q·Kᵀ (unscaled) for keys [ks, ke), ks a multiple of 64: one brgemm per
// packed 64-key chunk. Columns up to the next multiple of 16 are written (S has the room).
template <typename scalar_t>
void amx_scores(const Problem& p, const AmxPack& pk, const scalar_t* Q, int64_t b, int64_t kvh,
                int64_t bq, int64_t ks, int64_t ke, float* S, int64_t ldS) {
#if defined(HEADENTROPY_BRGEMM)
  if constexpr (at::is_reduced_floating_point_v<scalar_t>) {
    const scalar_t* K = reinterpret_cast<const scalar_t*>(pk.k.get() + (b * p.Hkv + kvh) * pk.k_head);
    for (int64_t c = ks / 64; c * 64 < ke; ++c) {
      const int64_t w = std::min<int64_t>(64, round_up(p.Lk - 64 * c, 16));  // packed width
      const int64_t nn = std::min<int64_t>(w, round_up(ke - 64 * c, 16));    // columns needed
      at::native::cpublas::brgemm(bq, nn, p.D, p.q_sl, w, ldS, false, Q, K + c * 64 * p.D,
                                  S + (64 * c - ks));
    }
    return;
  }
#endif
  TORCH_CHECK(false, "attention_entropy: AMX brgemm unavailable");
}

// acc[bq, ldA] += P[bq, keys ks..ke)·V[ks..ke), P bf16/fp16 with row stride ldP and zero columns
// up to the even count; one brgemm per packed 64-column chunk of V.
template <typename scalar_t>
void amx_pv(const Problem& p, const AmxPack& pk, const scalar_t* P, int64_t ldP, int64_t b,
            int64_t kvh, int64_t bq, int64_t ks, int64_t ke, float* acc) {
#if defined(HEADENTROPY_BRGEMM)
  if constexpr (at::is_reduced_floating_point_v<scalar_t>) {
    const scalar_t* V = reinterpret_cast<const scalar_t*>(pk.v.get() + (b * p.Hkv + kvh) * pk.v_head);
    const int64_t k2 = round_up(ke - ks, 2);
    for (int64_t c0 = 0; c0 < pk.ldA; c0 += 64) {
      const int64_t w = std::min<int64_t>(64, pk.ldA - c0);
      at::native::cpublas::brgemm(bq, w, k2, ldP, w, pk.ldA, true, P, V + c0 * pk.Lk2 + ks * w,
                                  acc + c0);
    }
    return;
  }
#endif
  TORCH_CHECK(false, "attention_entropy: AMX brgemm unavailable");
}

// Whether this call runs its bf16/fp16 products in the AMX brgemm (torch built with oneDNN's
// ukernel API and an AMX CPU, as cpublas::could_pack tells), and the layout allows it.
template <typename scalar_t>
bool use_amx(const Problem& p, bool lowp) {
#if defined(HEADENTROPY_BRGEMM)
  if constexpr (at::is_reduced_floating_point_v<scalar_t>) {
    return lowp && p.D > 0 && p.D % 2 == 0 && (p.bk % 64 == 0 || p.bk == p.Lk) &&
           at::native::cpublas::could_pack(c10::CppTypeToScalarType<scalar_t>::value);
  }
#endif
  return false;
}

// One (batch, query head, query block) task.
// `lowp`: bf16/fp16 inputs whose products run in reduced-precision gemms with fp32 results:
// oneDNN's AMX brgemm on the packed K/V when `amx` is given, else MKL's gemm_*16*16f32.
template <typename scalar_t>
void run_block(const Problem& p, const scalar_t* qp, const scalar_t* kp, const scalar_t* vp,
               const Outputs& o, int64_t b, int64_t h, int64_t qs, Workspace& ws, bool lowp,
               const AmxPack* amx) {
  const int64_t qe = std::min(qs + p.bq, p.Lq);
  const int64_t bq = qe - qs;
  const int64_t kvh = h / p.G;
  const int64_t D = p.D, Dv = p.Dv, ldS = score_stride(p), ldA = acc_stride(p, amx != nullptr);

  const scalar_t* Qraw = qp + b * p.q_sb + h * p.q_sh + qs * p.q_sl;
  int ldq = 0;
  const float* Q = lowp ? nullptr : as_fp32(Qraw, p.q_sl, bq, D, ws.q, ldq);
  const scalar_t* Kh = kp + b * p.k_sb + kvh * p.k_sh;
  const scalar_t* Vh = p.has_v ? vp + b * p.v_sb + kvh * p.v_sh : nullptr;
  const float* bad = p.bad ? p.bad + (b * p.Hkv + kvh) * p.Lk : nullptr;
  const uint32_t hkey = p.dropout ? dropout_head_key(p.seed, b, h) : 0u;

  std::fill_n(ws.m.begin(), bq, kNegInf);
  for (auto* x : {&ws.l, &ws.t, &ws.l2, &ws.ls, &ws.bad}) std::fill_n(x->begin(), bq, 0.f);
  if (p.has_v) std::fill_n(ws.acc.begin(), bq * ldA, 0.f);

  int64_t k_lo, k_hi;
  key_span(p, qs, qe, k_lo, k_hi);
  if (amx) k_lo = k_lo / 64 * 64;  // key blocks start on a packed chunk (the rows mask the rest)
  // The AMX products are unscaled: `scale` then enters the exp pass (d = s·scale − m), except
  // where soft-cap or a mask must see the scaled score first (then the row is scaled in place).
  const bool scale_in_exp = amx && p.softcap == 0.f && p.mask_kind == MaskKind::kNone && p.scale > 0.f;
  const bool scale_rows = amx && !scale_in_exp;
  const float sc = scale_in_exp ? p.scale : 1.f;

  // bf16/fp16 P for the reduced-precision P·V gemm, [bq, ldP]: written by the exp pass.
  const bool lowp_pv = lowp && p.has_v && Dv > 0;
  const int64_t ldP = lowp_stride(p);
  scalar_t* Plp = lowp_pv ? reinterpret_cast<scalar_t*>(ws.p_lowp.data()) : nullptr;

  for (int64_t ks = k_lo; ks < k_hi; ks += p.bk) {
    const int64_t ke = std::min(ks + p.bk, k_hi);
    const int64_t bk = ke - ks;
    const int64_t bk2 = (bk + 1) / 2 * 2;  // P columns the lowp gemm may read
    float* S = ws.s.data();  // [bq, bk] with row stride ldS
    // The fp32 P is kept (in S) where something besides the statistics reads it: the sink mass,
    // the non-finite-value mass, dropout (applied before rounding) and the fp32 P·V.
    const bool keep_f32 = !lowp_pv || p.dropout || bad || p.sinks > ks;
    if (D > 0 && amx) {
      amx_scores(p, *amx, Qraw, b, kvh, bq, ks, ke, S, ldS);
    } else if (D > 0 && lowp) {
      lowp_gemm_abt<scalar_t>(bq, bk, D, p.scale, Qraw, p.q_sl, Kh + ks * p.k_sl, p.k_sl, 0.f, S, ldS);
    } else if (D > 0) {
      int ldk = 0;
      const float* K = as_fp32(Kh + ks * p.k_sl, p.k_sl, bk, D, ws.k, ldk);
      gemm_abt(bq, bk, D, p.scale, Q, ldq, K, ldk, 0.f, S, ldS);
    } else {
      for (int64_t r = 0; r < bq; ++r) std::fill_n(S + r * ldS, bk, 0.f);
    }

    for (int64_t r = 0; r < bq; ++r) {
      const int64_t i = qs + r;
      float* srow = S + r * ldS;
      int64_t lo, hi;
      visible_range(p, i, lo, hi);
      const int64_t c0 = std::clamp(lo - ks, int64_t{0}, bk);
      const int64_t c1 = std::clamp(hi - ks, c0, bk);
      // P must be 0 outside the visible interval (the P·V product covers the whole block).
      scalar_t* prow = lowp_pv ? Plp + r * ldP : nullptr;
      if (lowp_pv) {
        std::fill(prow, prow + c0, scalar_t(0));
        std::fill(prow + c1, prow + bk2, scalar_t(0));
      } else if (p.has_v) {
        std::fill(srow, srow + c0, 0.f);
        std::fill(srow + c1, srow + bk, 0.f);
      }
      if (c1 <= c0) continue;
      float* x = srow + c0;
      const int64_t n = c1 - c0;
      if (scale_rows) scale_row(x, n, p.scale);
      if (p.softcap > 0.f) softcap_row(x, n, p.softcap);
      if (p.mask_kind != MaskKind::kNone) apply_mask(p, x, n, b, h, i, ks + c0);

      const float m_old = ws.m[r];
      // A NaN among numbers poisons the row in exp_and_sums; a row without numbers takes row_max.
      float m_raw = row_max_skip_nan(x, n);
      if (m_raw == kNegInf) m_raw = row_max(x, n);
      const float m_blk = m_raw * sc;  // sc > 0 keeps the maximum (and NaN, -inf)
      const float m_new = (std::isnan(m_blk) || std::isnan(m_old)) ? kNaN : std::max(m_old, m_blk);
      if (m_new == kNegInf) {  // nothing visible in this row so far
        if (lowp_pv) std::fill(prow + c0, prow + c1, scalar_t(0));
        else if (p.has_v) std::fill(x, x + n, 0.f);
        continue;
      }
      // The statistics always come from the fp32 P; the lowp P is rounded from it in the same
      // pass (after dropout when there is dropout).
      BlockSums bs;
      if (!lowp_pv || p.dropout) bs = exp_and_sums(x, n, m_new, sc);  // x now holds P
      else if (keep_f32) bs = exp_and_sums<true>(x, n, m_new, sc, prow + c0);
      else bs = exp_and_sums<false>(x, n, m_new, sc, prow + c0);
      float ls_blk = 0.f;
      for (int64_t j = c0; j < std::min(c1, p.sinks - ks); ++j) ls_blk += srow[j];
      // The statistics have seen P; P·V (and the bad-value mass) sees P⊙Z/(1 − p).
      if (p.dropout) dropout_row(x, n, hkey, i, ks + c0, p.drop_thresh, p.drop_scale);
      if (lowp_pv && p.dropout) round_row(x, prow + c0, n);

      // Rescale the old state to the new max (α = 0 while the row was empty).
      const bool was_empty = m_old == kNegInf;
      const float alpha = was_empty ? 0.f : std::exp(m_old - m_new);
      const float shift = was_empty ? 0.f : m_old - m_new;
      ws.t[r] = alpha * (ws.t[r] + shift * ws.l[r]) + bs.t;
      ws.l[r] = alpha * ws.l[r] + bs.l;
      ws.l2[r] = alpha * alpha * ws.l2[r] + bs.l2;
      ws.ls[r] = alpha * ws.ls[r] + ls_blk;
      ws.m[r] = m_new;
      if (p.has_v && alpha != 1.f) {
        float* a = ws.acc.data() + r * ldA;
        for (int64_t c = 0; c < Dv; ++c) a[c] *= alpha;
      }
      if (bad) {
        float mass = 0.f;
        for (int64_t j = c0; j < c1; ++j) mass += srow[j] * bad[ks + j];
        ws.bad[r] = alpha * ws.bad[r] + mass;
      }
    }

    if (lowp_pv && amx) {
      amx_pv(p, *amx, Plp, ldP, b, kvh, bq, ks, ke, ws.acc.data());
    } else if (lowp_pv) {
      // P rounded to the input precision, as SDPA's bf16/fp16 path multiplies it with V; the
      // statistics above used the fp32 P.
      lowp_gemm_ab<scalar_t>(bq, Dv, bk, 1.f, Plp, ldP, Vh + ks * p.v_sl, p.v_sl, 1.f, ws.acc.data(), Dv);
    } else if (p.has_v && Dv > 0) {
      int ldv = 0;
      const float* V = as_fp32(Vh + ks * p.v_sl, p.v_sl, bk, Dv, ws.v, ldv);
      gemm_ab(bq, Dv, bk, 1.f, S, ldS, V, ldv, 1.f, ws.acc.data(), Dv);
    }
  }

  // Final values (docs/design.md §1); a fully masked row (l = 0) is exact zeros with lse = -inf.
  const int64_t row0 = (b * p.Hq + h) * p.Lq + qs;
  for (int64_t r = 0; r < bq; ++r) {
    const float l = ws.l[r];
    const bool empty = l == 0.f;
    const float log_l = empty ? 0.f : std::log(l);
    float H = empty ? 0.f : log_l - ws.t[r] / l;
    H = H < 0.f ? 0.f : H;  // written so that NaN stays NaN
    float H2 = empty ? 0.f : 2.f * log_l - std::log(ws.l2[r]);
    H2 = H2 < 0.f ? 0.f : H2;
    H2 = H2 > H ? H : H2;  // H2 ≤ H exactly; rounding may cross it by an ulp
    o.shannon[row0 + r] = H;
    o.renyi2[row0 + r] = H2;
    o.lse[row0 + r] = empty ? kNegInf : ws.m[r] + log_l;
    o.sink[row0 + r] = empty ? 0.f : ws.ls[r] / l;
    if (p.has_v) {
      scalar_t* out = static_cast<scalar_t*>(o.out) + (row0 + r) * Dv;
      const float* a = ws.acc.data() + r * ldA;
      const bool poisoned = bad && ws.bad[r] > 0.f;
      const float inv = empty ? 0.f : 1.f / l;
      for (int64_t c = 0; c < Dv; ++c) {
        const float val = poisoned ? kNaN : (empty ? 0.f : a[c] * inv);
        out[c] = static_cast<scalar_t>(val);
      }
    }
  }
}

template <typename scalar_t>
void run_all(const Problem& p, const at::Tensor& q, const at::Tensor& k,
             const c10::optional<at::Tensor>& v, const Outputs& o) {
  const scalar_t* qp = q.data_ptr<scalar_t>();
  const scalar_t* kp = k.data_ptr<scalar_t>();
  const scalar_t* vp = p.has_v ? v->data_ptr<scalar_t>() : nullptr;
  const int64_t n_qblocks = (p.Lq + p.bq - 1) / p.bq;
  const int64_t n_heads = p.B * p.Hq;
  const int64_t n_tasks = n_qblocks * n_heads;
  if (n_tasks == 0) return;
  // Dynamic scheduling, head by head and, within a head, most expensive first: under causal
  // masking the last query blocks see the most keys, so they go first and the cheap ones fill
  // the gaps at the end; consecutive tasks share their head's K and V (still in L2/L3 for the
  // next query block, which matters once a head's K/V outgrow L2, e.g. N = 16384).
  std::atomic<int64_t> next{0};
  const int64_t n_threads = std::min<int64_t>(at::get_num_threads(), n_tasks);
  // A row stride below the row length (a broadcast, stride-0 input) is not a BLAS layout.
  const bool lowp = lowp_gemm<scalar_t>() != nullptr && p.q_sl >= p.D && p.k_sl >= p.D &&
                    (!p.has_v || p.v_sl >= p.Dv);
  const bool convert = !std::is_same_v<scalar_t, float> && !lowp;
  AmxPack pack;
  const bool amx = use_amx<scalar_t>(p, lowp);
  if (amx) pack = amx_pack(p, kp, vp);
  at::parallel_for(0, n_threads, 1, [&](int64_t, int64_t) {
    SequentialBlas inner;
    thread_local Workspace ws;
    ws.prepare(p, convert, lowp);
    for (int64_t task = next++; task < n_tasks; task = next++) {
      const int64_t qblock = n_qblocks - 1 - task % n_qblocks;
      const int64_t bh = task / n_qblocks;
      run_block<scalar_t>(p, qp, kp, vp, o, bh / p.Hq, bh % p.Hq, qblock * p.bq, ws, lowp,
                          amx ? &pack : nullptr);
    }
#if defined(HEADENTROPY_BRGEMM)
    if (amx) at::native::cpublas::brgemm_release();  // this thread's AMX tile state
#endif
  });
}


// ---------------------------------------------------------------------------------------------
// Backward.

// C[m, n] = alpha · A[k, m]ᵀ · B[k, n] + beta · C   (row strides lda, ldb, ldc)
inline void gemm_atb(int m, int n, int k, float alpha, const float* A, int lda, const float* B,
                     int ldb, float beta, float* C, int ldc) {
  sgemm_("N", "T", &n, &m, &k, &alpha, B, &ldb, A, &lda, &beta, C, &ldc);
}

struct RowTermsPtr {
  const float *lse, *cst, *gh, *k2, *gsink;  // [B, Hq, Lq] contiguous (see autograd.RowTerms)
  const float* dout;                          // [B, Hq, Lq, Dv] contiguous fp32, or null
};

struct Grads {
  float* dq;   // [B, Hq, Lq, D]
  float* dkh;  // [B, Hq, Lk, D]  per query head
  float* dvh;  // [B, Hq, Lk, Dv] per query head, or null
};

struct BwdWorkspace {
  std::vector<float> q, k, v;  // fp32 copies of the blocks (only for non-fp32 inputs)
  std::vector<float> s;        // [bq, ldS] scores, then P in place
  std::vector<float> ds;       // [bq, ldS] dP, then dS in place
  std::vector<float> cd;       // [bq, ldS] soft-cap derivative 1 − tanh²
  std::vector<float> dq;       // [bq, D] accumulator of the query block
  void prepare(const Problem& p, bool convert) {
    auto grow = [](std::vector<float>& x, int64_t n) {
      if (static_cast<int64_t>(x.size()) < n) x.resize(n);
    };
    if (convert) {
      grow(q, p.bq * p.D);
      grow(k, p.bk * p.D);
      grow(v, p.bk * std::max<int64_t>(p.Dv, 1));
    }
    grow(s, p.bq * score_stride(p));
    grow(ds, p.bq * score_stride(p));
    if (p.softcap > 0.f) grow(cd, p.bq * score_stride(p));
    grow(dq, p.bq * std::max<int64_t>(p.D, 1));
  }
};

// x ← cap·tanh(x/cap) and cd ← 1 − tanh², the derivative of the cap w.r.t. the raw score.
inline void softcap_row_grad(float* x, float* cd, int64_t n, float cap) {
  constexpr int64_t W = Vec::size();
  const Vec vcap(cap), vinv(1.0f / cap), one(1.f);
  int64_t j = 0;
  for (; j + W <= n; j += W) {
    const Vec t = (Vec::loadu(x + j) * vinv).tanh();
    (t * vcap).store(x + j);
    (one - t * t).store(cd + j);
  }
  if (j < n) {
    const Vec t = (Vec::loadu(x + j, n - j) * vinv).tanh();
    (t * vcap).store(x + j, n - j);
    (one - t * t).store(cd + j, n - j);
  }
}

// One row of visible scores: x (masked scores in, P out), ds (dP in when has_dp, dS out),
// cd (soft-cap derivative or null). d = s − lse = log P is clamped at −1e4: e^d stays exactly 0 at
// masked keys while g_H·d stays finite (never 0·inf).
inline void grad_row(float* x, float* ds, const float* cd, int64_t n, bool has_dp, float lse,
                     float cst, float gh, float k2) {
  constexpr int64_t W = Vec::size();
  const Vec vlse(lse), vcst(cst), vgh(gh), vk2(k2), floor(-1e4f);
  auto step = [&](const Vec& s, const Vec& dp, const Vec& capd, Vec& p_out) {
    const Vec d = at::vec::clamp_min(s - vlse, floor);
    const Vec p = exp_vec(d);
    Vec inner = dp + vcst;
    inner = at::vec::fnmadd(vgh, d, inner);  // − g_H·d
    inner = at::vec::fnmadd(vk2, p, inner);  // − k2·P
    p_out = p;
    return p * inner * capd;
  };
  const Vec zero(0.f), one(1.f);
  int64_t j = 0;
  Vec p;
  for (; j + W <= n; j += W) {
    const Vec dp = has_dp ? Vec::loadu(ds + j) : zero;
    const Vec capd = cd ? Vec::loadu(cd + j) : one;
    step(Vec::loadu(x + j), dp, capd, p).store(ds + j);
    p.store(x + j);
  }
  if (j < n) {
    const int64_t r = n - j;
    const Vec dp = has_dp ? Vec::loadu(ds + j, r) : zero;
    const Vec capd = cd ? Vec::loadu(cd + j, r) : one;
    step(Vec::loadu(x + j, r), dp, capd, p).store(ds + j, r);
    p.store(x + j, r);
  }
}

// One (batch, query head, stripe) task: query blocks stripe, stripe + n_stripes, ... of the head
// against their visible key blocks; dK/dV go to the stripe's own slice of g.dkh/g.dvh.
template <typename scalar_t>
void backward_head(const Problem& p, const scalar_t* qp, const scalar_t* kp, const scalar_t* vp,
                   const RowTermsPtr& rt, const Grads& g, int64_t b, int64_t h, int64_t stripe,
                   int64_t n_stripes, BwdWorkspace& ws) {
  const int64_t kvh = h / p.G;
  const int64_t D = p.D, Dv = p.Dv, ldS = score_stride(p);
  const bool has_dp = rt.dout != nullptr && p.has_v && Dv > 0;
  const int64_t head_row0 = (b * p.Hq + h) * p.Lq;  // first row of this head in [B, Hq, Lq]
  const scalar_t* Kh = kp + b * p.k_sb + kvh * p.k_sh;
  const scalar_t* Vh = p.has_v ? vp + b * p.v_sb + kvh * p.v_sh : nullptr;
  const int64_t slice = (stripe * p.B + b) * p.Hq + h;  // in [n_stripes, B, Hq]
  float* dKh = g.dkh + slice * p.Lk * D;                             // [Lk, D]
  float* dVh = g.dvh ? g.dvh + slice * p.Lk * Dv : nullptr;          // [Lk, Dv]
  const bool dropout = p.dropout && has_dp;  // without dO dropout touches no gradient term
  const uint32_t hkey = dropout ? dropout_head_key(p.seed, b, h) : 0u;

  for (int64_t qs = stripe * p.bq; qs < p.Lq; qs += n_stripes * p.bq) {
    const int64_t qe = std::min(qs + p.bq, p.Lq);
    const int64_t bq = qe - qs;
    const int64_t row0 = head_row0 + qs;
    int ldq = 0;
    const float* Q = as_fp32(qp + b * p.q_sb + h * p.q_sh + qs * p.q_sl, p.q_sl, bq, D, ws.q, ldq);
    const float* dO = has_dp ? rt.dout + row0 * Dv : nullptr;  // [bq, Dv]
    std::fill_n(ws.dq.begin(), bq * D, 0.f);

    int64_t k_lo, k_hi;
    key_span(p, qs, qe, k_lo, k_hi);

    for (int64_t ks = k_lo; ks < k_hi; ks += p.bk) {
      const int64_t ke = std::min(ks + p.bk, k_hi);
      const int64_t bk = ke - ks;
      int ldk = 0, ldv = 0;
      const float* K = as_fp32(Kh + ks * p.k_sl, p.k_sl, bk, D, ws.k, ldk);
      const float* V = has_dp ? as_fp32(Vh + ks * p.v_sl, p.v_sl, bk, Dv, ws.v, ldv) : nullptr;
      float* S = ws.s.data();    // [bq, ldS]
      float* dS = ws.ds.data();  // [bq, ldS]
      if (D > 0) {
        gemm_abt(bq, bk, D, p.scale, Q, ldq, K, ldk, 0.f, S, ldS);
      } else {
        for (int64_t r = 0; r < bq; ++r) std::fill_n(S + r * ldS, bk, 0.f);
      }
      if (has_dp) gemm_abt(bq, bk, Dv, 1.f, dO, Dv, V, ldv, 0.f, dS, ldS);

      bool any_visible = false;
      for (int64_t r = 0; r < bq; ++r) {
        const int64_t i = qs + r;
        float* srow = S + r * ldS;
        float* dsrow = dS + r * ldS;
        int64_t lo, hi;
        visible_range(p, i, lo, hi);
        const int64_t c0 = std::clamp(lo - ks, int64_t{0}, bk);
        const int64_t c1 = std::clamp(hi - ks, c0, bk);
        const float lse = rt.lse[row0 + r];
        // P and dS are 0 outside the visible interval and on fully masked rows (lse = +inf):
        // the gemms below cover the whole block.
        if (c1 <= c0 || lse == std::numeric_limits<float>::infinity()) {
          std::fill_n(srow, bk, 0.f);
          std::fill_n(dsrow, bk, 0.f);
          continue;
        }
        any_visible = true;
        std::fill(srow, srow + c0, 0.f);
        std::fill(srow + c1, srow + bk, 0.f);
        std::fill(dsrow, dsrow + c0, 0.f);
        std::fill(dsrow + c1, dsrow + bk, 0.f);
        float* x = srow + c0;
        const int64_t n = c1 - c0;
        float* cd = nullptr;
        if (p.softcap > 0.f) {
          cd = ws.cd.data() + r * ldS + c0;
          softcap_row_grad(x, cd, n, p.softcap);
        }
        if (p.mask_kind != MaskKind::kNone) apply_mask(p, x, n, b, h, i, ks + c0);
        // dP̃ = Z⊙dP/(1 − p): a dropped score gets no gradient through out.
        if (dropout) dropout_row(dsrow + c0, n, hkey, i, ks + c0, p.drop_thresh, p.drop_scale);
        grad_row(x, dsrow + c0, cd, n, has_dp, lse, rt.cst[row0 + r], rt.gh[row0 + r],
                 rt.k2[row0 + r]);
        const float gsink = rt.gsink[row0 + r];
        if (gsink != 0.f) {  // + g_sink·P on the sink keys
          for (int64_t j = c0; j < std::min(c1, p.sinks - ks); ++j) {
            dsrow[j] += srow[j] * gsink * (cd ? cd[j - c0] : 1.f);
          }
        }
        // dV = (P⊙Z/(1 − p))ᵀ·dO: the same Z again (P is not needed after this row's dS).
        if (dropout) dropout_row(x, n, hkey, i, ks + c0, p.drop_thresh, p.drop_scale);
      }
      if (!any_visible) continue;

      if (has_dp && dVh) gemm_atb(bk, Dv, bq, 1.f, S, ldS, dO, Dv, 1.f, dVh + ks * Dv, Dv);
      if (D > 0) {
        gemm_atb(bk, D, bq, p.scale, dS, ldS, Q, ldq, 1.f, dKh + ks * D, D);
        gemm_ab(bq, D, bk, p.scale, dS, ldS, K, ldk, 1.f, ws.dq.data(), D);
      }
    }
    std::copy_n(ws.dq.begin(), bq * D, g.dq + row0 * D);
  }
}

template <typename scalar_t>
void backward_all(const Problem& p, const at::Tensor& q, const at::Tensor& k,
                  const c10::optional<at::Tensor>& v, const RowTermsPtr& rt, const Grads& g,
                  int64_t n_stripes) {
  const scalar_t* qp = q.data_ptr<scalar_t>();
  const scalar_t* kp = k.data_ptr<scalar_t>();
  const scalar_t* vp = p.has_v ? v->data_ptr<scalar_t>() : nullptr;
  const int64_t n_tasks = p.B * p.Hq * n_stripes;
  if (n_tasks == 0 || p.Lq == 0 || p.Lk == 0) return;
  std::atomic<int64_t> next{0};
  const int64_t n_threads = std::min<int64_t>(at::get_num_threads(), n_tasks);
  constexpr bool convert = !std::is_same_v<scalar_t, float>;
  at::parallel_for(0, n_threads, 1, [&](int64_t, int64_t) {
    SequentialBlas inner;
    thread_local BwdWorkspace ws;
    ws.prepare(p, convert);
    for (int64_t task = next++; task < n_tasks; task = next++) {
      const int64_t bh = task / n_stripes;
      backward_head<scalar_t>(p, qp, kp, vp, rt, g, bh / p.Hq, bh % p.Hq, task % n_stripes,
                              n_stripes, ws);
    }
  });
}

// Shared by forward and backward: the Problem from tensors and options.
Problem make_problem(const at::Tensor& q, const at::Tensor& k, const c10::optional<at::Tensor>& v,
                     const c10::optional<at::Tensor>& mask,
                     const c10::optional<at::Tensor>& bad, double scale, bool causal,
                     int64_t window, double softcap, int64_t sink_tokens, int64_t block_q,
                     int64_t block_k, double dropout_p, int64_t dropout_seed,
                     int64_t dropout_threshold) {
  TORCH_CHECK(q.dim() == 4 && k.dim() == 4, "q, k must be [B, H, L, D]");
  TORCH_CHECK(q.scalar_type() == k.scalar_type(), "q and k dtypes differ");
  TORCH_CHECK(q.stride(3) == 1 && k.stride(3) == 1, "q, k need a contiguous last dim");
  TORCH_CHECK(block_q > 0 && block_k > 0, "block sizes must be positive");
  const bool has_v = v.has_value() && v->defined();
  Problem p{};
  p.B = q.size(0);
  p.Hq = q.size(1);
  p.Lq = q.size(2);
  p.D = q.size(3);
  p.Hkv = k.size(1);
  p.Lk = k.size(2);
  p.G = p.Hq / p.Hkv;
  p.Dv = has_v ? v->size(3) : 0;
  p.q_sb = q.stride(0), p.q_sh = q.stride(1), p.q_sl = q.stride(2);
  p.k_sb = k.stride(0), p.k_sh = k.stride(1), p.k_sl = k.stride(2);
  if (has_v) {
    TORCH_CHECK(v->scalar_type() == q.scalar_type() && v->stride(3) == 1, "bad v layout");
    p.v_sb = v->stride(0), p.v_sh = v->stride(1), p.v_sl = v->stride(2);
  }
  p.scale = static_cast<float>(scale);
  p.causal = causal;
  p.window = window;
  p.softcap = static_cast<float>(softcap);
  p.sinks = sink_tokens;
  p.bq = std::min<int64_t>(block_q, std::max<int64_t>(p.Lq, 1));
  p.bk = std::min<int64_t>(block_k, std::max<int64_t>(p.Lk, 1));
  p.has_v = has_v;
  p.mask_kind = MaskKind::kNone;
  if (mask.has_value() && mask->defined()) {
    TORCH_CHECK(mask->dim() == 4 && mask->size(0) == p.B && mask->size(1) == p.Hq &&
                    mask->size(2) == p.Lq && mask->size(3) == p.Lk,
                "mask must be expanded to [B, Hq, Lq, Lk]");
    TORCH_CHECK(mask->scalar_type() == at::kBool || mask->scalar_type() == at::kFloat,
                "mask must be bool or float32");
    p.mask_kind = mask->scalar_type() == at::kBool ? MaskKind::kBool : MaskKind::kAdditive;
    p.mask = mask->data_ptr();
    p.m_sb = mask->stride(0), p.m_sh = mask->stride(1), p.m_sq = mask->stride(2);
    p.m_sk = mask->stride(3);
  }
  p.bad = nullptr;
  if (bad.has_value() && bad->defined()) {
    TORCH_CHECK(bad->is_contiguous() && bad->scalar_type() == at::kFloat, "bad: fp32 contiguous");
    p.bad = bad->data_ptr<float>();
  }
  TORCH_CHECK(dropout_p >= 0.0 && dropout_p < 1.0, "dropout_p must be in [0, 1)");
  TORCH_CHECK(dropout_threshold >= 0 && dropout_threshold <= 0xffffffffLL, "bad dropout threshold");
  p.dropout = has_v && dropout_p > 0.0;
  p.seed = static_cast<uint64_t>(dropout_seed);
  p.drop_thresh = static_cast<uint32_t>(dropout_threshold);
  p.drop_scale = static_cast<float>(1.0 / (1.0 - dropout_p));
  return p;
}

}  // namespace

// Returns (out or empty, shannon, renyi2, lse, sink_mass). Inputs are validated in Python
// (dispatch.build_problem); here only the layout contract is checked.
std::vector<at::Tensor> forward(const at::Tensor& q, const at::Tensor& k,
                                const c10::optional<at::Tensor>& v,
                                const c10::optional<at::Tensor>& mask,
                                const c10::optional<at::Tensor>& bad, double scale, bool causal,
                                int64_t window, double softcap, int64_t sink_tokens,
                                int64_t block_q, int64_t block_k, double dropout_p,
                                int64_t dropout_seed, int64_t dropout_threshold) {
  const bool has_v = v.has_value() && v->defined();
  const Problem p = make_problem(q, k, v, mask, bad, scale, causal, window, softcap, sink_tokens,
                                 block_q, block_k, dropout_p, dropout_seed, dropout_threshold);

  auto f32 = q.options().dtype(at::kFloat);
  at::Tensor shannon = at::empty({p.B, p.Hq, p.Lq}, f32);
  at::Tensor renyi2 = at::empty_like(shannon), lse = at::empty_like(shannon);
  at::Tensor sink = at::empty_like(shannon);
  at::Tensor out = has_v ? at::empty({p.B, p.Hq, p.Lq, p.Dv}, v->options()) : at::Tensor();
  Outputs o{has_v ? out.data_ptr() : nullptr, shannon.data_ptr<float>(),
            renyi2.data_ptr<float>(), lse.data_ptr<float>(), sink.data_ptr<float>()};

  AT_DISPATCH_FLOATING_TYPES_AND2(at::kBFloat16, at::kHalf, q.scalar_type(), "attention_entropy",
                                  [&] { run_all<scalar_t>(p, q, k, v, o); });
  return {out, shannon, renyi2, lse, sink};
}

// Returns (dq [B, Hq, Lq, D], dk_h [B, Hq, Lk, D], dv_h [B, Hq, Lk, Dv] or empty), all fp32;
// dk_h/dv_h per query head (the caller sums GQA groups). Row terms: see autograd.RowTerms, all
// fp32 contiguous [B, Hq, Lq]; `dout` fp32 contiguous [B, Hq, Lq, Dv] or None (then no dP, no dV).
// `v` must have non-finite rows zeroed (as the forward's v_clean).
std::vector<at::Tensor> backward(const at::Tensor& q, const at::Tensor& k,
                                 const c10::optional<at::Tensor>& v,
                                 const c10::optional<at::Tensor>& dout,
                                 const c10::optional<at::Tensor>& mask, const at::Tensor& lse,
                                 const at::Tensor& cst, const at::Tensor& gh, const at::Tensor& k2,
                                 const at::Tensor& gsink, double scale, bool causal,
                                 int64_t window, double softcap, int64_t sink_tokens,
                                 int64_t block_q, int64_t block_k, int64_t stripes,
                                 double dropout_p, int64_t dropout_seed,
                                 int64_t dropout_threshold) {
  const Problem p = make_problem(q, k, v, mask, c10::nullopt, scale, causal, window, softcap,
                                 sink_tokens, block_q, block_k, dropout_p, dropout_seed,
                                 dropout_threshold);
  for (const at::Tensor* t : {&lse, &cst, &gh, &k2, &gsink}) {
    TORCH_CHECK(t->scalar_type() == at::kFloat && t->is_contiguous() && t->dim() == 3 &&
                    t->size(0) == p.B && t->size(1) == p.Hq && t->size(2) == p.Lq,
                "row terms must be fp32 contiguous [B, Hq, Lq]");
  }
  const bool has_dout = dout.has_value() && dout->defined();
  if (has_dout) {
    TORCH_CHECK(p.has_v, "dout needs v");
    TORCH_CHECK(dout->scalar_type() == at::kFloat && dout->is_contiguous() &&
                    dout->size(0) == p.B && dout->size(1) == p.Hq && dout->size(2) == p.Lq &&
                    dout->size(3) == p.Dv,
                "dout must be fp32 contiguous [B, Hq, Lq, Dv]");
  }
  // Stripes per head (0 = auto): enough tasks for every thread, at most one per query block and
  // at most 4 (each stripe costs a private [B, Hq, Lk, D + Dv] fp32 buffer).
  const int64_t n_qblocks = std::max<int64_t>(1, (p.Lq + p.bq - 1) / p.bq);
  int64_t n_stripes = stripes;
  if (n_stripes <= 0) {
    const int64_t heads = std::max<int64_t>(1, p.B * p.Hq);
    n_stripes = std::min<int64_t>(4, (at::get_num_threads() + heads - 1) / heads);
  }
  n_stripes = std::clamp<int64_t>(n_stripes, 1, n_qblocks);
  auto f32 = q.options().dtype(at::kFloat);
  at::Tensor dq = at::zeros({p.B, p.Hq, p.Lq, p.D}, f32);
  at::Tensor dkh = at::zeros({n_stripes, p.B, p.Hq, p.Lk, p.D}, f32);
  at::Tensor dvh = has_dout ? at::zeros({n_stripes, p.B, p.Hq, p.Lk, p.Dv}, f32) : at::Tensor();
  RowTermsPtr rt{lse.data_ptr<float>(), cst.data_ptr<float>(), gh.data_ptr<float>(),
                 k2.data_ptr<float>(), gsink.data_ptr<float>(),
                 has_dout ? dout->data_ptr<float>() : nullptr};
  Grads g{dq.data_ptr<float>(), dkh.data_ptr<float>(), has_dout ? dvh.data_ptr<float>() : nullptr};
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kBFloat16, at::kHalf, q.scalar_type(), "attention_entropy_bwd",
                                  [&] { backward_all<scalar_t>(p, q, k, v, rt, g, n_stripes); });
  dkh = n_stripes > 1 ? dkh.sum(0) : dkh.squeeze(0);
  if (has_dout) dvh = n_stripes > 1 ? dvh.sum(0) : dvh.squeeze(0);
  return {dq, dkh, dvh};
}

// ---------------------------------------------------------------------------------------------
// The model's logits: log-sum-exp and Shannon entropy (nats) of softmax over each row of
// logits [R, V] fp32 -> (lse [R], entropy [R]). Two passes over one row (max, then Σe and Σe·d)
// while it sits in L1/L2, where torch's logsumexp/exp/mul/sum stream the whole [R, V] block
// through memory about five times (a vocabulary of 49,152 makes that ~15% of a forward).
// A row with a NaN gives NaN; a row that is all -inf gives lse = -inf and entropy NaN.
std::vector<at::Tensor> logit_entropy(const at::Tensor& logits) {
  TORCH_CHECK(logits.device().is_cpu() && logits.dim() == 2 && logits.scalar_type() == at::kFloat &&
                  logits.is_contiguous(),
              "logits must be a contiguous fp32 CPU tensor [R, V]");
  const int64_t R = logits.size(0), V = logits.size(1);
  at::Tensor lse = at::empty({R}, logits.options()), entropy = at::empty({R}, logits.options());
  const float* x = logits.data_ptr<float>();
  float* lse_out = lse.data_ptr<float>();
  float* h_out = entropy.data_ptr<float>();
  at::parallel_for(0, R, 1, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      float* row = const_cast<float*>(x + r * V);  // read only: exp_and_sums<false> never stores
      const float m = row_max(row, V);
      if (!(m > kNegInf)) {  // NaN row, or every logit -inf
        lse_out[r] = std::isnan(m) ? m : kNegInf;
        h_out[r] = std::numeric_limits<float>::quiet_NaN();
        continue;
      }
      const BlockSums s = exp_and_sums<false>(row, V, m);
      const float log_l = std::log(s.l);
      lse_out[r] = m + log_l;
      h_out[r] = log_l - s.t / s.l;  // H = log Σe - Σe·d / Σe, d = x - max
    }
  });
  return {lse, entropy};
}

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.doc() = "headentropy fused CPU attention with entropy statistics: forward and recomputing backward";
  m.def("forward", &forward, "attention + per-row Shannon/Rényi-2/lse/sink statistics",
        py::arg("q"), py::arg("k"), py::arg("v"), py::arg("mask"), py::arg("bad"),
        py::arg("scale"), py::arg("causal"), py::arg("window"), py::arg("softcap"),
        py::arg("sink_tokens"), py::arg("block_q"), py::arg("block_k"),
        py::arg("dropout_p") = 0.0, py::arg("dropout_seed") = 0, py::arg("dropout_threshold") = 0,
        // Long pure-C++ work: let other Python threads (e.g. a second monitor) run meanwhile.
        py::call_guard<py::gil_scoped_release>());
  m.def("backward", &backward, "recomputing backward: dq, dk and dv per query head",
        py::arg("q"), py::arg("k"), py::arg("v"), py::arg("dout"), py::arg("mask"),
        py::arg("lse"), py::arg("cst"), py::arg("gh"), py::arg("k2"), py::arg("gsink"),
        py::arg("scale"), py::arg("causal"), py::arg("window"), py::arg("softcap"),
        py::arg("sink_tokens"), py::arg("block_q"), py::arg("block_k"), py::arg("stripes") = 0,
        py::arg("dropout_p") = 0.0, py::arg("dropout_seed") = 0, py::arg("dropout_threshold") = 0,
        py::call_guard<py::gil_scoped_release>());
  m.def("logit_entropy", &logit_entropy, "per-row log-sum-exp and Shannon entropy of softmax(logits)",
        py::arg("logits"), py::call_guard<py::gil_scoped_release>());
}
