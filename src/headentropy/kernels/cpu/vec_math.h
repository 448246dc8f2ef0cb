// Vector helpers shared by the CPU kernels (attention_entropy.cpp, paged_entropy.cpp): the ISA
// selection, exp for x ≤ 0, and the row passes behind the entropy statistics (max; exp with the
// sums Σe, Σe·d, Σe²; soft-cap; scale). Both kernels include this file first, so that they agree
// to the last bit where they see the same scores. loader.py hashes it into every build key.
//
// The vector ISA is chosen by the compiler flags (-march=native in loader.py); the macros below
// must come before any ATen include so that at::vec picks the matching specialisation.
#pragma once

#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VL__) && \
    defined(__AVX512DQ__) && defined(__FMA__)
#define CPU_CAPABILITY AVX512
#define CPU_CAPABILITY_AVX512
#elif defined(__AVX2__) && defined(__FMA__)
#define CPU_CAPABILITY AVX2
#define CPU_CAPABILITY_AVX2
#else
#define CPU_CAPABILITY DEFAULT
#endif

#include <torch/extension.h>

#include <ATen/cpu/vec/functional.h>
#include <ATen/cpu/vec/vec.h>

#include <cstdint>
#include <limits>

namespace headentropy_cpu {

using Vec = at::vec::Vectorized<float>;
constexpr float kNegInf = -std::numeric_limits<float>::infinity();
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

// exp(x) for x ≤ 0 (and -inf/NaN; callers pass d = s − max, so at most an ulp above 0):
// Cody–Waite reduction x = n·ln2 + r (ln2 split in two, the high part exact in 9 bits), a
// degree-5 polynomial on |r| ≤ ln2/2, exact 2^n. The polynomial is the minimax fit of
// (e^r − 1)/r for the relative error of 1 + r·q(r) (Lawson's iteration in fp64, rounded to
// fp32; `lawson_fit` in tests/kernels/test_exp_polynomial.py): < 2 ulp over x ∈ [-87, 0] in
// fp32 arithmetic, against 2.7 ulp for the degree-6 Taylor polynomial it replaced, with one FMA
// less. n = round(x·log2 e) comes from the "magic number" addition (1.5·2^23 pins the binary
// point at the units; round to nearest even, as the rounding instruction), whose bit pattern
// also holds n + 127 for the exponent field on AVX2.
// Results below FLT_MIN flush to 0 (x < -87: avoids slow denormal arithmetic in the sums; e^{-87}
// is irrelevant next to l ≥ 1). NaN stays NaN: every step is arithmetic on it (the AVX2 exponent
// field of a NaN lane is garbage, but NaN·2^n is NaN; the flush compare is false for NaN).
// x > 88 is outside the domain (AVX-512 saturates to inf, AVX2 would give garbage): no caller
// passes it. AVX-512 and AVX2 compute the same values; without either, at::vec's exp.
#if defined(CPU_CAPABILITY_AVX512) || defined(CPU_CAPABILITY_AVX2)
namespace exp_coeff {
constexpr float kLog2e = 1.44269504088896341f;
constexpr float kMagic = 12582912.0f;  // 1.5·2^23
constexpr float kLn2Hi = 0.693359375f, kLn2Lo = -2.12194440e-4f;
constexpr float kC1 = 0.9999997019767761f, kC2 = 0.4999915063381195f, kC3 = 0.1666763573884964f,
                kC4 = 0.04189793020486832f, kC5 = 0.008290315046906471f;
constexpr float kFlushBelow = -87.0f;
}  // namespace exp_coeff
#endif

#if defined(CPU_CAPABILITY_AVX512)
// Lanes exp_vec keeps (not x < -87; true for NaN): the others are flushed to 0.
inline __mmask16 exp_kept(const __m512& x) {
  return _mm512_cmp_ps_mask(x, _mm512_set1_ps(exp_coeff::kFlushBelow), _CMP_NLT_UQ);
}
#endif

#if defined(CPU_CAPABILITY_AVX512) || defined(CPU_CAPABILITY_AVX2)
// The ISA-independent part of exp_vec: returns p = e^r for x = n·ln2 + r, with n = round(x·log2 e)
// and t = n + 1.5·2^23 + 127 (exactly: an integer in [2^23, 2^24)), whose low mantissa bits are
// n + 127 — AVX2 shifts them into the exponent field. (Out-parameters, not a returned struct:
// GCC then kept an unused member in a stack slot, one store per vector in the hot loop.)
inline Vec exp_parts(const Vec& x, Vec& t, Vec& n) {
  using namespace exp_coeff;
  const Vec magic(kMagic + 127.0f);
  t = at::vec::fmadd(x, Vec(kLog2e), magic);
  n = t - magic;
  Vec r = at::vec::fnmadd(n, Vec(kLn2Hi), x);
  r = at::vec::fnmadd(n, Vec(kLn2Lo), r);
  Vec p(kC5);
  for (const float c : {kC4, kC3, kC2, kC1, 1.0f}) p = at::vec::fmadd(p, r, Vec(c));
  return p;
}
#endif

inline Vec exp_vec(const Vec& x) {
#if defined(CPU_CAPABILITY_AVX512)
  Vec t, n;
  const Vec p = exp_parts(x, t, n);
  return _mm512_maskz_scalef_ps(exp_kept(x), p, n);
#elif defined(CPU_CAPABILITY_AVX2)
  Vec t, n;
  const Vec p = exp_parts(x, t, n);
  // 2^n for n ≥ -126 (lanes below are flushed: n + 127 ≤ 0 there wraps into garbage).
  const __m256 two_n = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_castps_si256(t), 23));
  const __m256 y = _mm256_mul_ps(p, two_n);
  return _mm256_andnot_ps(_mm256_cmp_ps(x, _mm256_set1_ps(exp_coeff::kFlushBelow), _CMP_LT_OQ), y);  // flush
#else
  return x.exp();
#endif
}

// Row maximum over n floats; NaN if any element is NaN (a NaN score must poison its row).
inline float row_max(const float* x, int64_t n) {
  constexpr int64_t W = Vec::size();
  Vec m0(kNegInf), m1(kNegInf);
  int64_t j = 0;
  for (; j + 2 * W <= n; j += 2 * W) {
    m0 = at::vec::maximum(m0, Vec::loadu(x + j));
    m1 = at::vec::maximum(m1, Vec::loadu(x + j + W));
  }
  for (; j + W <= n; j += W) m0 = at::vec::maximum(m0, Vec::loadu(x + j));
  if (j < n) m1 = at::vec::maximum(m1, Vec::set(Vec(kNegInf), Vec::loadu(x + j, n - j), n - j));
  return at::vec::vec_reduce_all<float>(
      [](Vec& a, Vec& b) { return at::vec::maximum(a, b); }, at::vec::maximum(m0, m1));
}

// The largest non-NaN element of x[0, n), -inf when there is none: one max instruction per
// vector (row_max spends two more on NaN). For a row whose scores then go through
// exp_and_sums: a NaN score still poisons the row there (its e is NaN, and so every sum), so
// only a row with no number at all (all NaN or -inf: -inf here) needs row_max's answer.
inline float row_max_skip_nan(const float* x, int64_t n) {
#if defined(CPU_CAPABILITY_AVX512) || defined(CPU_CAPABILITY_AVX2)
  constexpr int64_t W = Vec::size();
  // max(a, b) with a NaN returns b: the accumulator, never NaN.
#if defined(CPU_CAPABILITY_AVX512)
  auto vmax = [](const Vec& a, const Vec& b) { return Vec(_mm512_max_ps(a, b)); };
#else
  auto vmax = [](const Vec& a, const Vec& b) { return Vec(_mm256_max_ps(a, b)); };
#endif
  Vec m0(kNegInf), m1(kNegInf);
  int64_t j = 0;
  for (; j + 2 * W <= n; j += 2 * W) {
    m0 = vmax(Vec::loadu(x + j), m0);
    m1 = vmax(Vec::loadu(x + j + W), m1);
  }
  for (; j + W <= n; j += W) m0 = vmax(Vec::loadu(x + j), m0);
  if (j < n) m1 = vmax(Vec::set(Vec(kNegInf), Vec::loadu(x + j, n - j), n - j), m1);
  return at::vec::vec_reduce_all<float>(
      [](Vec& a, Vec& b) { return at::vec::maximum(a, b); }, vmax(m0, m1));
#else
  float m = kNegInf;
  for (int64_t j = 0; j < n; ++j) m = x[j] > m ? x[j] : m;
  return m;
#endif
}

// a, b → 2·W values of lowp_t at dst, rounded to nearest even, as at::vec::convert_from_float.
// With AVX512-BF16, bf16 takes one instruction (vcvtne2ps2bf16, the same rounding) instead of
// at::vec's integer sequence; it reads denormal inputs as 0 (exp_vec flushes them anyway: its
// results are 0 or ≥ e^-87 > FLT_MIN) and gives a quiet NaN where at::vec gives 0xffff.
template <typename lowp_t>
inline void store_lowp2(const Vec& a, const Vec& b, lowp_t* dst) {
#if defined(CPU_CAPABILITY_AVX512) && defined(__AVX512BF16__)
  if constexpr (std::is_same_v<lowp_t, c10::BFloat16>) {
    _mm512_storeu_si512(dst, reinterpret_cast<__m512i>(_mm512_cvtne2ps_pbh(b, a)));
    return;
  }
#endif
  at::vec::convert_from_float<lowp_t>(a, b).store(dst);
}

struct BlockSums {
  float l = 0.f;   // Σ e
  float t = 0.f;   // Σ e·d, d = s - m
  float l2 = 0.f;  // Σ e²
};

// e_j = exp(d_j), d_j = x[j]·scale − m (scale = 1 when the scores are already scaled); returns
// the block sums, always from the fp32 e. kStore: x[j] ← e_j in place. lp (bf16/fp16 inputs): also
// writes e_j rounded to lowp_t (round to nearest even) to lp[j] in the same pass, the P that the
// reduced-precision P·V gemm reads; no second pass over the row. Masked keys (x = -inf) give
// e = 0 and contribute 0 to t, never 0·(-inf): AVX-512 skips the flushed lanes' t update by mask,
// elsewhere d is clamped to -1e30 first. kStore = false
// without lp only reads x (the logits' entropy needs the sums, not the probabilities).
template <bool kStore = true, typename lowp_t = float>
inline BlockSums exp_and_sums(float* x, int64_t n, float m, float scale = 1.f,
                              lowp_t* lp = nullptr) {
  constexpr int64_t W = Vec::size();
  constexpr bool kLowp = at::is_reduced_floating_point_v<lowp_t>;
  const Vec vm(m), vs(scale);
  Vec l(0.f), t(0.f), l2(0.f);
  auto step = [&](const Vec& s) {
#if defined(CPU_CAPABILITY_AVX512)
    // The flushed lanes (d < -87, e = 0) skip the t update by mask, for free: e·d adds nothing
    // there anyway, and a masked key (d = -inf) never computes 0·(-inf).
    const Vec d = at::vec::fmsub(s, vs, vm);
    const Vec e = exp_vec(d);
    t = _mm512_mask3_fmadd_ps(e, d, t, exp_kept(d));
#else
    const Vec d = at::vec::clamp_min(at::vec::fmsub(s, vs, vm), Vec(-1e30f));
    const Vec e = exp_vec(d);
    t = at::vec::fmadd(e, d, t);
#endif
    l = l + e;
    l2 = at::vec::fmadd(e, e, l2);
    return e;
  };
  int64_t j = 0;
  if constexpr (kLowp) {  // two vectors per step: one full vector of lowp_t
    for (; j + 2 * W <= n; j += 2 * W) {
      const Vec e0 = step(Vec::loadu(x + j));
      const Vec e1 = step(Vec::loadu(x + j + W));
      if constexpr (kStore) {
        e0.store(x + j);
        e1.store(x + j + W);
      }
      store_lowp2(e0, e1, lp + j);
    }
  }
  for (; j + W <= n; j += W) {
    const Vec e = step(Vec::loadu(x + j));
    if constexpr (kStore) e.store(x + j);
    if constexpr (kLowp) at::vec::convert_from_float<lowp_t>(e, Vec(0.f)).store(lp + j, W);
  }
  if (j < n) {
    const Vec e = step(Vec::set(Vec(kNegInf), Vec::loadu(x + j, n - j), n - j));
    if constexpr (kStore) e.store(x + j, n - j);
    if constexpr (kLowp) at::vec::convert_from_float<lowp_t>(e, Vec(0.f)).store(lp + j, n - j);
  }
  auto sum = [](Vec& a, Vec& b) { return a + b; };
  return {at::vec::vec_reduce_all<float>(sum, l), at::vec::vec_reduce_all<float>(sum, t),
          at::vec::vec_reduce_all<float>(sum, l2)};
}

// x ← x · scale
inline void scale_row(float* x, int64_t n, float scale) {
  constexpr int64_t W = Vec::size();
  const Vec vs(scale);
  int64_t j = 0;
  for (; j + W <= n; j += W) (Vec::loadu(x + j) * vs).store(x + j);
  if (j < n) (Vec::loadu(x + j, n - j) * vs).store(x + j, n - j);
}

// x ← cap · tanh(x / cap)
inline void softcap_row(float* x, int64_t n, float cap) {
  constexpr int64_t W = Vec::size();
  const Vec vcap(cap), vinv(1.0f / cap);
  int64_t j = 0;
  for (; j + W <= n; j += W) ((Vec::loadu(x + j) * vinv).tanh() * vcap).store(x + j);
  if (j < n) ((Vec::loadu(x + j, n - j) * vinv).tanh() * vcap).store(x + j, n - j);
}

}  // namespace headentropy_cpu
