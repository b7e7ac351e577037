// The KernelOps primitives in C++ (docs/design.md, Engine and threads), with the semantics of
// packages/kernels/src/engine/kernel-ops.ts and of the wasm kernels in packages/kernels/assembly/.
//
// One source, three paths: scripts/build.mjs compiles this file three times, with
//   AK_NS=ak_avx512   -mavx512f -mfma   AK_W=16 (floats per vector), AK_MR=8
//   AK_NS=ak_avx2     -mavx2 -mfma -mf16c  AK_W=8,  AK_MR=6
//   AK_NS=ak_baseline (plain x86-64)   AK_W=4,  AK_MR=4
// and links the three objects into one addon; addon.cc picks one at load. Everything here lives in
// AK_NS and an anonymous namespace, and the file includes no header with out-of-line inline
// functions (immintrin.h's are always_inline), so no function compiled for AVX-512 can be chosen by
// the linker for another path (the classic one-definition-rule trap of multi-versioned code).
// Vector code uses GCC vector extensions, so each path gets its own register width from one text;
// `-ffp-contract=fast` lets the AVX paths fuse a·b + c (the paths therefore differ by roundings,
// never by semantics; tests hold each to float64 bounds).
//
// Non-finite values (docs/design.md, Non-finite values and limits): as the wasm kernels. −Infinity
// in a score row means hidden; a NaN among visible scores makes the row, its sum and lse NaN; gemmNT
// with `saturate` stores ±FLT_MAX for results beyond float32's range and recomputes in float64 a
// non-finite result of finite inputs.
#include <immintrin.h>
#include <type_traits>

#include "kernels.h"

extern "C" {
double exp(double);
double log(double);
}

namespace AK_NS {
namespace {

constexpr int W = AK_W;
constexpr int MR = AK_MR;
/** Columns of a packed B panel: two vectors per row of the micro-kernel's tile. */
constexpr int NR = 2 * W;
/** Depth of a k block: the packed panel is KC × NR floats (32 KiB on the AVX-512 path). */
constexpr int KC = 256;

typedef float vf __attribute__((vector_size(W * 4)));
typedef int vi __attribute__((vector_size(W * 4)));
typedef float vfu __attribute__((vector_size(W * 4), aligned(4), may_alias));

constexpr float FLT_MAX_F = 3.4028234663852886e38f;
constexpr float INF = __builtin_inff();

inline vf load(const float *p) { return *reinterpret_cast<const vfu *>(p); }
inline void store(float *p, vf v) { *reinterpret_cast<vfu *>(p) = v; }
inline vf splat(float x) {
  // the intrinsic, not vf{} + x (0 + x cannot be folded: −0) nor a lane loop (built lane by lane)
#if AK_W == 16
  return reinterpret_cast<vf>(_mm512_set1_ps(x));
#elif AK_W == 8
  return reinterpret_cast<vf>(_mm256_set1_ps(x));
#else
  return reinterpret_cast<vf>(_mm_set1_ps(x));
#endif
}
// One max/min instruction each, not a compare and a blend (GCC writes `a < b ? b : a` as two without
// -ffinite-math-only). x86's max(x, y) is x > y ? x : y and min(x, y) is x < y ? x : y, NaN or equal
// operands giving y, so with the operands swapped they are exactly wasm's pmax and pmin, NaN included.
#if AK_W == 16
#define AK_MAXPS(x, y) reinterpret_cast<vf>(_mm512_max_ps(reinterpret_cast<__m512>(x), reinterpret_cast<__m512>(y)))
#define AK_MINPS(x, y) reinterpret_cast<vf>(_mm512_min_ps(reinterpret_cast<__m512>(x), reinterpret_cast<__m512>(y)))
#elif AK_W == 8
#define AK_MAXPS(x, y) reinterpret_cast<vf>(_mm256_max_ps(reinterpret_cast<__m256>(x), reinterpret_cast<__m256>(y)))
#define AK_MINPS(x, y) reinterpret_cast<vf>(_mm256_min_ps(reinterpret_cast<__m256>(x), reinterpret_cast<__m256>(y)))
#else
#define AK_MAXPS(x, y) reinterpret_cast<vf>(_mm_max_ps(reinterpret_cast<__m128>(x), reinterpret_cast<__m128>(y)))
#define AK_MINPS(x, y) reinterpret_cast<vf>(_mm_min_ps(reinterpret_cast<__m128>(x), reinterpret_cast<__m128>(y)))
#endif
/** a < b ? b : a (wasm's pmax: a NaN in b keeps a). */
inline vf pmax(vf a, vf b) { return AK_MAXPS(b, a); }
/** b < a ? b : a (wasm's pmin). */
inline vf pmin(vf a, vf b) { return AK_MINPS(b, a); }
#undef AK_MAXPS
#undef AK_MINPS

/** True when some lane of the comparison mask is set. */
inline bool anyTrue(vi mask) {
#if AK_W == 16
  return _mm512_test_epi32_mask(reinterpret_cast<__m512i>(mask), reinterpret_cast<__m512i>(mask)) != 0;
#elif AK_W == 8
  return _mm256_movemask_ps(reinterpret_cast<__m256>(mask)) != 0;
#else
  return _mm_movemask_ps(reinterpret_cast<__m128>(mask)) != 0;
#endif
}

inline float hmax(vf v) {
  float m = v[0];
  for (int i = 1; i < W; i++) m = v[i] > m ? v[i] : m;
  return m;
}

inline double hsum(vf v) {
  double s = 0;
  for (int i = 0; i < W; i++) s += static_cast<double>(v[i]);
  return s;
}

// ---- exp (the Cephes expf reduction of assembly/exp.ts, W lanes, one multiply-add fewer) ----
//
// The range reduction is assembly/exp.ts's (x = n·ln2 + r, |r| <= ln2/2, n by magic-bias rounding,
// ln2 in two parts, 2^n built in the exponent bits); e^r ≈ 1 + r + r²·P(r) with P of degree 4, a
// minimax fit of (e^r − 1 − r)/r² for relative error on [−ln2/2, ln2/2] (error 2e-9 before rounding),
// where Cephes uses degree 5: the softmax loops spend most of their time here, and the fifth
// coefficient bought nothing a float32 result can show. Accuracy against float64 exp, measured over
// 16 M points of [-87, 0] (the x <= 0 variant) and of [-87, 88] (the general one): at most 0.991 ulp
// on the AVX paths (0.977 on baseline), against Cephes' 1.010 (0.982) on the same points;
// packages/kernels/src/__tests__/wasm-exp.test.ts asserts 1.5 ulp on every path this CPU runs.
// Edge cases are exp.ts's: exp(−∞) = 0, NaN stays NaN, the same under- and overflow thresholds.

constexpr float LOG2E = 1.44269504088896341f;
constexpr float LN2_HI = 0.693359375f;
constexpr float LN2_LO = -2.12194440e-4f;
constexpr float MAGIC = 12582912.0f;
constexpr int MAGIC_BITS = 0x4b400000;
constexpr float MAGIC_BIASED = 12583039.0f;
constexpr float NON_POSITIVE_CLAMP = -88.0f;
constexpr float UNDERFLOW_X = -87.3f;
constexpr float OVERFLOW_CLAMP = 89.0f;
constexpr float P0 = 1.3942900113761425e-3f;
constexpr float P1 = 8.374996483325958e-3f;
constexpr float P2 = 4.166693612933159e-2f;
constexpr float P3 = 1.6666452586650848e-1f;
constexpr float P4 = 4.999999403953552e-1f;

inline vf expReduced(vf r) {
  vf y = splat(P0) * r + P1;
  y = y * r + P2;
  y = y * r + P3;
  y = y * r + P4;
  return y * (r * r) + r + 1.0f;
}

/** exp for x <= 0 (see assembly/exp.ts): exp(−∞) = 0, NaN stays NaN. */
inline vf vexpNonPositive(vf x) {
  vf xc = pmax(x, splat(NON_POSITIVE_CLAMP));
  vf nf = xc * LOG2E + MAGIC_BIASED;
  vi biased = reinterpret_cast<vi>(nf) - MAGIC_BITS;
  nf = nf - MAGIC_BIASED;
  vf r = xc - nf * LN2_HI;
  r = r - nf * LN2_LO;
  return expReduced(r) * reinterpret_cast<vf>(biased << 23);
}

/** exp for any x: below −87.3 gives 0, above 88.72 +∞, NaN stays NaN. */
inline vf vexp(vf x) {
  vi underflow = x < UNDERFLOW_X;
  vf xc = pmax(x, splat(UNDERFLOW_X));
  xc = pmin(xc, splat(OVERFLOW_CLAMP));
  vf nf = xc * LOG2E + MAGIC;
  vi n = reinterpret_cast<vi>(nf) - MAGIC_BITS;
  nf = nf - MAGIC;
  vf r = xc - nf * LN2_HI;
  r = r - nf * LN2_LO;
  vi n1 = n >> 1;
  vi n2 = n - n1;
  vf scale1 = reinterpret_cast<vf>((n1 + 127) << 23);
  vf scale2 = reinterpret_cast<vf>((n2 + 127) << 23);
  vf e = expReduced(r) * scale1 * scale2;
  return reinterpret_cast<vf>(reinterpret_cast<vi>(e) & ~underflow);
}

/** Scalar exp through the vector code, so tails round like full vectors. */
inline float sexp(float x) { return vexp(splat(x))[0]; }
inline float sexpNonPositive(float x) { return vexpNonPositive(splat(x))[0]; }

// ---- row helpers ----

void fill(float *p, long count, float value) {
  vf v = splat(value);
  long c = 0;
  for (; c + W <= count; c += W) store(p + c, v);
  for (; c < count; c++) p[c] = value;
}

void scaleRun(float *p, long count, float factor) {
  long c = 0;
  for (; c + W <= count; c += W) store(p + c, load(p + c) * factor);
  for (; c < count; c++) p[c] = p[c] * factor;
}

/** Max over count floats (−∞ for none); NaN entries are skipped, like the twin's `>`. */
float maxOf(const float *p, long count) {
  vf m0 = splat(-INF);
  vf m1 = m0;
  long c = 0;
  for (; c + 2 * W <= count; c += 2 * W) {
    m0 = pmax(m0, load(p + c));
    m1 = pmax(m1, load(p + c + W));
  }
  if (c + W <= count) {
    m0 = pmax(m0, load(p + c));
    c += W;
  }
  float m = hmax(pmax(m0, m1));
  for (; c < count; c++)
    if (p[c] > m) m = p[c];
  return m;
}

bool hasNaN(const float *p, long count) {
  long c = 0;
  for (; c + W <= count; c += W) {
    vf v = load(p + c);
    if (anyTrue(v != v)) return true;
  }
  for (; c < count; c++)
    if (p[c] != p[c]) return true;
  return false;
}

/** p[c] = exp(p[c] − max) in place (arguments <= 0 after the subtraction); returns the sum. */
double expShiftedSum(float *p, long count, float max) {
  vf s0 = splat(0);
  vf s1 = s0;
  long c = 0;
  for (; c + 2 * W <= count; c += 2 * W) {
    vf e0 = vexpNonPositive(load(p + c) - max);
    vf e1 = vexpNonPositive(load(p + c + W) - max);
    store(p + c, e0);
    store(p + c + W, e1);
    s0 += e0;
    s1 += e1;
  }
  if (c + W <= count) {
    vf e0 = vexpNonPositive(load(p + c) - max);
    store(p + c, e0);
    s0 += e0;
    c += W;
  }
  double sum = hsum(s0 + s1);
  for (; c < count; c++) {
    float e = sexpNonPositive(p[c] - max);
    p[c] = e;
    sum += e;
  }
  return sum;
}

// ---- row primitives ----

void maskBand(float *h, long s, long lds, long rows, long cols, double firstQueryPos, double firstKey,
              double left, double right, double validKeys) {
  const double colsF = static_cast<double>(cols);
  for (long r = 0; r < rows; r++) {
    const double pos = firstQueryPos + static_cast<double>(r);
    // visible columns: [pos − left, min(pos + right + 1, validKeys)) − firstKey, clamped to [0, cols]
    double lo = __builtin_fmin(__builtin_fmax(pos - left - firstKey, 0), colsF);
    double hi = __builtin_fmin(__builtin_fmax(__builtin_fmin(pos + right + 1, validKeys) - firstKey, 0), colsF);
    if (hi < lo) hi = lo;
    float *row = h + s + r * lds;
    const long loI = static_cast<long>(lo);
    const long hiI = static_cast<long>(hi);
    fill(row, loI, -INF);
    fill(row + hiI, cols - hiI, -INF);
  }
}

void softmaxRows(float *h, long s, long lds, long rows, long cols, long lse) {
  for (long r = 0; r < rows; r++) {
    float *row = h + s + r * lds;
    float max = maxOf(row, cols);
    if (max == -INF) {
      if (hasNaN(row, cols)) {
        max = __builtin_nanf("");
      } else {
        // a row that sees no key: zeros and lse = −∞, never NaN
        fill(row, cols, 0);
        if (lse >= 0) h[lse + r] = -INF;
        continue;
      }
    }
    const double sum = expShiftedSum(row, cols, max);
    scaleRun(row, cols, static_cast<float>(1.0 / sum));
    if (lse >= 0) h[lse + r] = static_cast<float>(static_cast<double>(max) + log(sum));
  }
}

/**
 * One row's online-softmax step: row (cols scores) becomes exp(score − newMax), rowSum is rescaled
 * and added to, acc (dv floats) rescaled, rowMax updated. A row that sees nothing in the tile gets
 * zeros and keeps its statistics.
 */
inline void onlineSoftmaxRow(float *row, long cols, float &rowMax, float &rowSum, float *acc, long dv) {
  const float oldMax = rowMax;
  const float tileMax = maxOf(row, cols);
  // a NaN oldMax stays NaN (the comparison is false)
  float newMax = tileMax > oldMax ? tileMax : oldMax;
  if (newMax == -INF) {
    if (!hasNaN(row, cols)) {
      fill(row, cols, 0);
      return;
    }
    // the tile's only visible scores are NaN: rowMax, rowSum and acc all become NaN below
    newMax = __builtin_nanf("");
  }
  const double sum = expShiftedSum(row, cols, newMax);
  // oldMax == −∞: nothing accumulated yet, corr = 0
  const double corr = exp(static_cast<double>(oldMax) - static_cast<double>(newMax));
  rowSum = static_cast<float>(static_cast<double>(rowSum) * corr + sum);
  if (corr != 1) scaleRun(acc, dv, static_cast<float>(corr));
  rowMax = newMax;
}

void onlineSoftmaxStep(float *h, long s, long lds, long rows, long cols, long rowMax, long rowSum, long acc,
                       long ldacc, long dv) {
  for (long r = 0; r < rows; r++) {
    onlineSoftmaxRow(h + s + r * lds, cols, h[rowMax + r], h[rowSum + r], h + acc + r * ldacc, dv);
  }
}

void finishRows(float *h, long acc, long ldacc, long rows, long dv, long rowMax, long rowSum, long out, long ldout,
                long lse) {
  for (long r = 0; r < rows; r++) {
    const double sum = h[rowSum + r];
    const float *src = h + acc + r * ldacc;
    float *dst = h + out + r * ldout;
    if (sum == 0) {
      fill(dst, dv, 0);
      if (lse >= 0) h[lse + r] = -INF;
      continue;
    }
    const float inv = static_cast<float>(1.0 / sum);
    long c = 0;
    for (; c + W <= dv; c += W) store(dst + c, load(src + c) * inv);
    for (; c < dv; c++) dst[c] = src[c] * inv;
    if (lse >= 0) h[lse + r] = static_cast<float>(static_cast<double>(h[rowMax + r]) + log(sum));
  }
}

void eluPlusOne(float *h, long x, long n) {
  float *p = h + x;
  long i = 0;
  for (; i + W <= n; i += W) {
    vf v = load(p + i);
    // exp only sees the non-positive side (positive lanes become v + 1)
    vf e = vexpNonPositive(pmin(v, splat(0)));
    store(p + i, v > 0.0f ? v + 1.0f : e);
  }
  for (; i < n; i++) p[i] = p[i] > 0 ? p[i] + 1 : sexpNonPositive(p[i]);
}

/** 1 when x[0, n) holds a NaN or an infinity: x · 0 is NaN exactly for those, and survives the sum. */
int notFinite(const float *h, long x, long n) {
  const float *p = h + x;
  vf a0 = splat(0);
  vf a1 = a0;
  long i = 0;
  for (; i + 2 * W <= n; i += 2 * W) {
    a0 += load(p + i) * 0.0f;
    a1 += load(p + i + W) * 0.0f;
  }
  for (; i + W <= n; i += W) a0 += load(p + i) * 0.0f;
  float tail = 0;
  for (; i < n; i++) tail += p[i] * 0.0f;
  vf a = a0 + a1;
  return anyTrue(a != a) || tail != tail ? 1 : 0;
}

void relu(float *h, long x, long n) {
  float *p = h + x;
  long i = 0;
  // −0 and negatives become +0; NaN stays NaN (it propagates), like the twin
  for (; i + W <= n; i += W) {
    vf v = load(p + i);
    store(p + i, (v > 0.0f) | (v != v) ? v : splat(0));
  }
  for (; i < n; i++)
    if (!(p[i] > 0) && p[i] == p[i]) p[i] = 0;
}

void rowSquaredNorms(float *h, long x, long ldx, long rows, long cols, long out, float scaleBy) {
  for (long r = 0; r < rows; r++) {
    const float *p = h + x + r * ldx;
    vf s0 = splat(0);
    vf s1 = s0;
    long c = 0;
    for (; c + 2 * W <= cols; c += 2 * W) {
      vf v0 = load(p + c);
      vf v1 = load(p + c + W);
      s0 += v0 * v0;
      s1 += v1 * v1;
    }
    if (c + W <= cols) {
      vf v0 = load(p + c);
      s0 += v0 * v0;
      c += W;
    }
    double sum = hsum(s0 + s1);
    for (; c < cols; c++) sum += static_cast<double>(p[c]) * p[c];
    h[out + r] = static_cast<float>(static_cast<double>(scaleBy) * sum);
  }
}

void rowMaxRows(float *h, long x, long ldx, long rows, long cols, long out) {
  for (long r = 0; r < rows; r++) h[out + r] = maxOf(h + x + r * ldx, cols);
}

void expShiftRows(float *h, long x, long ldx, long rows, long cols, long rowShift, double shift, float factor) {
  for (long r = 0; r < rows; r++) {
    const float total = static_cast<float>(shift + (rowShift >= 0 ? static_cast<double>(h[rowShift + r]) : 0));
    float *p = h + x + r * ldx;
    long c = 0;
    for (; c + W <= cols; c += W) store(p + c, vexp(load(p + c) - total) * factor);
    for (; c < cols; c++) p[c] = factor * sexp(p[c] - total);
  }
}

void columnSums(float *h, long x, long ldx, long rows, long cols, long out, float beta) {
  float *o = h + out;
  long c = 0;
  // 2W columns at a time: two independent accumulators down the rows
  for (; c + 2 * W <= cols; c += 2 * W) {
    vf s0 = splat(0);
    vf s1 = s0;
    const float *p = h + x + c;
    for (long r = 0; r < rows; r++, p += ldx) {
      s0 += load(p);
      s1 += load(p + W);
    }
    if (beta == 0) {
      store(o + c, s0);
      store(o + c + W, s1);
    } else {
      store(o + c, load(o + c) * beta + s0);
      store(o + c + W, load(o + c + W) * beta + s1);
    }
  }
  for (; c + W <= cols; c += W) {
    vf s0 = splat(0);
    const float *p = h + x + c;
    for (long r = 0; r < rows; r++, p += ldx) s0 += load(p);
    store(o + c, beta == 0 ? s0 : load(o + c) * beta + s0);
  }
  for (; c < cols; c++) {
    float sum = 0;
    const float *p = h + x + c;
    for (long r = 0; r < rows; r++, p += ldx) sum += *p;
    o[c] = beta == 0 ? sum : beta * o[c] + sum;
  }
}

void divideRows(float *h, long x, long ldx, long rows, long cols, long den, double eps) {
  for (long r = 0; r < rows; r++) {
    const float inv = static_cast<float>(1.0 / (static_cast<double>(h[den + r]) + eps));
    scaleRun(h + x + r * ldx, cols, inv);
  }
}

// ---- score tiles: masks and score modifiers (docs/design.md, Masks) ----
//
// Exactly js-ops.ts's semantics, as assembly/scores.ts: maskRanges, addTile and addAlibi bit for
// bit on every path (no fused multiply-add may touch them: see addAlibi), softcapScores within
// vtanh's bound.

/**
 * Keeps its argument in a register as computed, so the product that made it cannot be fused into a
 * later addition: -ffp-contract=fast allows turning slope·d + s into one FMA, rounding once where
 * the twin rounds twice. (GCC 12 happens not to fuse it here; CC may name a compiler that does.)
 */
inline vf materialized(vf v) {
  __asm__("" : "+v"(v));
  return v;
}

/** a + b saturating (KernelOps.addTile): ±∞ becomes ±FLT_MAX (pmax/pmin keep NaN) unless a term is −∞. */
inline vf saturatingAdd(vf a, vf b) {
  const vf sum = a + b;
  const vf clamped = pmin(pmax(sum, splat(-FLT_MAX_F)), splat(FLT_MAX_F));
  const vi hidden = (a == -INF) | (b == -INF);
  return hidden ? sum : clamped;
}

inline float saturatingAddScalar(float a, float b) {
  const float sum = a + b;
  if (sum == INF) return FLT_MAX_F;
  if (sum == -INF && a != -INF && b != -INF) return -FLT_MAX_F;
  return sum;
}

void maskRanges(float *h, long s, long lds, long rows, long cols, double firstKey, long ranges) {
  const double colsF = static_cast<double>(cols);
  for (long r = 0; r < rows; r++) {
    const double start = static_cast<double>(h[ranges + 2 * r]) - firstKey;
    const double end = static_cast<double>(h[ranges + 2 * r + 1]) - firstKey;
    // the twin's Math.min/max propagate NaN: a NaN start masks nothing, a NaN end nothing after
    // the start; a fractional bound hides the columns c < bound, hence the ceilings
    long loI = 0;
    long hiI = cols;
    if (start == start) {
      const double lo = __builtin_fmin(__builtin_fmax(start, 0), colsF);
      loI = static_cast<long>(__builtin_ceil(lo));
      if (end == end) {
        const double hi = __builtin_fmax(lo, __builtin_fmin(__builtin_fmax(end, 0), colsF));
        hiI = static_cast<long>(__builtin_ceil(hi));
      }
    }
    float *row = h + s + r * lds;
    fill(row, loI, -INF);
    fill(row + hiI, cols - hiI, -INF);
  }
}

void addTile(float *h, long s, long lds, long rows, long cols, long x, long ldx) {
  for (long r = 0; r < rows; r++) {
    float *p = h + s + r * lds;
    const float *q = h + x + r * ldx;
    long c = 0;
    for (; c + 2 * W <= cols; c += 2 * W) {
      store(p + c, saturatingAdd(load(p + c), load(q + c)));
      store(p + c + W, saturatingAdd(load(p + c + W), load(q + c + W)));
    }
    if (c + W <= cols) {
      store(p + c, saturatingAdd(load(p + c), load(q + c)));
      c += W;
    }
    for (; c < cols; c++) p[c] = saturatingAddScalar(p[c], q[c]);
  }
}

void addAlibi(float *h, long s, long lds, long rows, long cols, float slope, double firstQueryPos,
              double firstKey) {
  if (rows <= 0 || cols <= 0) return;
  // With integer positions every distance is an integer, bounded by the tile's corners. Integer
  // distances up to 2²⁴ are exact in float32 and slope · d (exact in float64) rounds once either
  // way, so the vector path is the twin's float64 product bit for bit; anything else runs scalar.
  const double nearest = firstKey - (firstQueryPos + static_cast<double>(rows - 1));
  const double farthest = firstKey + static_cast<double>(cols - 1) - firstQueryPos;
  const double exact = 16777216.0;
  const bool vector = __builtin_floor(firstKey) == firstKey && __builtin_floor(firstQueryPos) == firstQueryPos &&
                      __builtin_fabs(nearest) <= exact && __builtin_fabs(farthest) <= exact;
  const vf vs = splat(slope);
  vf lanes = splat(0);
  for (int i = 0; i < W; i++) lanes[i] = static_cast<float>(i);
  for (long r = 0; r < rows; r++) {
    const double distance0 = firstKey - (firstQueryPos + static_cast<double>(r));
    float *p = h + s + r * lds;
    long c = 0;
    if (vector) {
      vf d = splat(static_cast<float>(distance0)) + lanes;
      for (; c + W <= cols; c += W) {
        store(p + c, saturatingAdd(load(p + c), materialized(vs * d)));
        d += static_cast<float>(W);
      }
    }
    for (; c < cols; c++) {
      const float term = static_cast<float>(static_cast<double>(slope) * (distance0 + static_cast<double>(c)));
      p[c] = saturatingAddScalar(p[c], term);
    }
  }
}

// tanh (assembly/tanh.ts, W lanes): a + a·s·P(s) below 0.625, 1 − 2/(1 + e^{2a}) above, on a = |x|
// with x's sign put back. The AVX paths may fuse the polynomial's steps and take 2/(1 + e) as a
// refined hardware reciprocal (reciprocal() below); measured over every float32 in [2⁻²⁰, 20]
// against float64: max 1.31 ulp on the baseline (as wasm's), 1.72 on avx512, 1.88 on avx2.
constexpr float TANH_SPLIT = 0.625f;
constexpr float TANH_CLAMP = 10.0f;
constexpr float T0 = -0.3333328068256378f;
constexpr float T1 = 0.13331441581249237f;
constexpr float T2 = -0.05373971164226532f;
constexpr float T3 = 0.020639078691601753f;
constexpr float T4 = -0.005704978480935097f;

/**
 * 1/x for x in [1, ∞): the hardware estimate refined by one Newton step on the AVX paths (rcp14:
 * 2^-14, rcp: 1.5·2^-12 relative error, then about 2^-23 after the step), a true division on the
 * baseline. A division is ~10 cycles per vector where this is ~4.
 */
inline vf reciprocal(vf x) {
#if AK_W == 16
  const vf r = reinterpret_cast<vf>(_mm512_rcp14_ps(reinterpret_cast<__m512>(x)));
  return r * (2.0f - x * r);
#elif AK_W == 8
  const vf r = reinterpret_cast<vf>(_mm256_rcp_ps(reinterpret_cast<__m256>(x)));
  return r * (2.0f - x * r);
#else
  return 1.0f / x;
#endif
}

inline vf vtanh(vf x) {
  const vi bits = reinterpret_cast<vi>(x);
  const vi sign = bits & static_cast<int>(0x80000000u);
  const vf a = reinterpret_cast<vf>(bits & 0x7fffffff);
  const vf s2 = a * a;
  vf p = splat(T4) * s2 + T3;
  p = p * s2 + T2;
  p = p * s2 + T1;
  p = p * s2 + T0;
  const vf small = a + a * s2 * p;
  // The exp branch only when a lane needs it: softcapped logits mostly lie well inside the cap
  // (|s / cap| < 0.625), where the polynomial alone is a third of the cost. Same bits either way.
  const vi useLarge = a >= TANH_SPLIT;
  vf t = small;
  if (anyTrue(useLarge)) {
    // pmin keeps NaN; a NaN lane takes the small branch anyway (NaN >= split is false)
    const vf ac = pmin(a, splat(TANH_CLAMP));
    const vf large = 1.0f - 2.0f * reciprocal(1.0f + vexp(ac + ac));
    t = useLarge ? large : small;
  }
  return reinterpret_cast<vf>(reinterpret_cast<vi>(t) | sign);
}

void softcapScores(float *h, long s, long lds, long rows, long cols, float cap) {
  const vf vc = splat(cap);
  // x · (1/cap), as the twin computes it (a product: the division was a third of the op's time)
  const float inverse = 1.0f / cap;
  const vf vinv = splat(inverse);
  for (long r = 0; r < rows; r++) {
    float *p = h + s + r * lds;
    long c = 0;
    for (; c + W <= cols; c += W) store(p + c, vc * vtanh(load(p + c) * vinv));
    for (; c < cols; c++) p[c] = cap * vtanh(splat(p[c] * inverse))[0];
  }
}

// ---- GEMM ----
//
// C[m×n] = alpha · op(A) · op(B) + beta · C with op(A)(i, p) = A[i·rowStep + p·kStep] (NT, NN:
// rowStep = lda, kStep = 1; TN: rowStep = 1, kStep = lda) and op(B)(p, j) = B[j·ldb + p] (NT) or
// B[p·ldb + j] (NN, TN). k is cut in blocks of KC; for each block and each NR-column panel, the
// KC × NR slice of op(B) is packed into this thread's scratch (zero-padded past n), then an
// MR × NR register-blocked micro-kernel walks down all rows: 2·MR vector accumulators, per k step
// two vector loads of the panel, MR broadcasts of A (read in place) and 2·MR fused multiply-adds.
// Row tails repeat the last row (results not stored); column tails store lane by lane.
// beta == 0 never reads C; later k blocks accumulate with beta = 1.
// gemmNT's saturating store (score semantics): a row of results holding ±∞ or NaN takes a scalar
// path recomputing those entries in float64 over the block (earlier blocks enter as the stored,
// saturated float32 value), then ±∞ becomes ±FLT_MAX; finite rows cost one check per row.

struct Gemm {
  float *h;
  const float *a;
  long rowStep;
  long kStep;
  float *c;
  long ldc;
  float alpha;
  double alpha64;
  bool saturate;
};

inline float saturated(float x) { return x > FLT_MAX_F ? FLT_MAX_F : x < -FLT_MAX_F ? -FLT_MAX_F : x; }

/** Column j of a tile recomputed in float64 (products of floats are exact, their sum cannot overflow). */
float recomputed(const float *aRow, long kStep, const float *panel, int kc, int j, double alpha, double beta,
                 float old) {
  double dot = 0;
  for (int p = 0; p < kc; p++) dot += static_cast<double>(aRow[p * kStep]) * static_cast<double>(panel[p * NR + j]);
  const double t = beta == 0 ? alpha * dot : alpha * dot + beta * static_cast<double>(old);
  return saturated(static_cast<float>(t));
}

inline void storeRow(const Gemm &g, float *c, vf v0, vf v1, int nv, float beta, double beta64, const float *aRow,
                     const float *panel, int kc) {
  vf r0 = v0 * g.alpha;
  vf r1 = v1 * g.alpha;
  if (nv == NR) {
    if (beta != 0) {
      r0 += load(c) * beta;
      r1 += load(c + W) * beta;
    }
    if (!g.saturate || !anyTrue(((r0 - r0) != 0.0f) | ((r1 - r1) != 0.0f))) {
      store(c, r0);
      store(c + W, r1);
      return;
    }
  }
  for (int j = 0; j < nv; j++) {
    float x = j < W ? r0[j] : r1[j - W];
    if (nv != NR && beta != 0) x += beta * c[j];
    // x − x is 0 for finite x, NaN for ±∞ and NaN
    if (g.saturate && x - x != 0) x = recomputed(aRow, g.kStep, panel, kc, j, g.alpha64, beta64, c[j]);
    c[j] = x;
  }
}

/** One MR × NR tile over kc steps: rows `rows` (<= MR) starting at aRows[0..MR) (tails repeat the last). */
__attribute__((always_inline)) inline void microKernel(const Gemm &g, const float *const *aRows, int rows,
                                                        const float *panel, int kc, float *c, int nv, float beta,
                                                        double beta64) {
  vf acc0[MR];
  vf acc1[MR];
#pragma GCC unroll 16
  for (int r = 0; r < MR; r++) acc0[r] = acc1[r] = splat(0);
  const float *ar[MR];
#pragma GCC unroll 16
  for (int r = 0; r < MR; r++) ar[r] = aRows[r];
  const long kStep = g.kStep;
  const float *pb = panel;
  long q = 0;
  for (int p = 0; p < kc; p++, q += kStep, pb += NR) {
    const vf b0 = load(pb);
    const vf b1 = load(pb + W);
#pragma GCC unroll 16
    for (int r = 0; r < MR; r++) {
      const vf av = splat(ar[r][q]);
      acc0[r] += av * b0;
      acc1[r] += av * b1;
    }
  }
#pragma GCC unroll 16
  for (int r = 0; r < MR; r++) {
    if (r < rows) storeRow(g, c + r * g.ldc, acc0[r], acc1[r], nv, beta, beta64, ar[r], panel, kc);
  }
}

/**
 * dst[p·ldd + r] = src[r·ld + p] for an 8 × 8 (AVX paths) or 4 × 4 (baseline) block: the in-register
 * transpose that lets gemmNT pack K's rows as panel columns at vector speed (scalar packing cost
 * about as much as the 64 × 64 × 64 product itself on the AVX-512 path).
 */
#if AK_W >= 8
constexpr int TB = 8;
inline void transposeBlock(const float *src, long ld, float *dst, long ldd) {
  const __m256 r0 = _mm256_loadu_ps(src);
  const __m256 r1 = _mm256_loadu_ps(src + ld);
  const __m256 r2 = _mm256_loadu_ps(src + 2 * ld);
  const __m256 r3 = _mm256_loadu_ps(src + 3 * ld);
  const __m256 r4 = _mm256_loadu_ps(src + 4 * ld);
  const __m256 r5 = _mm256_loadu_ps(src + 5 * ld);
  const __m256 r6 = _mm256_loadu_ps(src + 6 * ld);
  const __m256 r7 = _mm256_loadu_ps(src + 7 * ld);
  // pairs of rows interleaved, then quadruples, then the 128-bit halves exchanged
  const __m256 t0 = _mm256_unpacklo_ps(r0, r1);
  const __m256 t1 = _mm256_unpackhi_ps(r0, r1);
  const __m256 t2 = _mm256_unpacklo_ps(r2, r3);
  const __m256 t3 = _mm256_unpackhi_ps(r2, r3);
  const __m256 t4 = _mm256_unpacklo_ps(r4, r5);
  const __m256 t5 = _mm256_unpackhi_ps(r4, r5);
  const __m256 t6 = _mm256_unpacklo_ps(r6, r7);
  const __m256 t7 = _mm256_unpackhi_ps(r6, r7);
  const __m256 s0 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(1, 0, 1, 0));
  const __m256 s1 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(3, 2, 3, 2));
  const __m256 s2 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(1, 0, 1, 0));
  const __m256 s3 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(3, 2, 3, 2));
  const __m256 s4 = _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(1, 0, 1, 0));
  const __m256 s5 = _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(3, 2, 3, 2));
  const __m256 s6 = _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(1, 0, 1, 0));
  const __m256 s7 = _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(3, 2, 3, 2));
  _mm256_storeu_ps(dst, _mm256_permute2f128_ps(s0, s4, 0x20));
  _mm256_storeu_ps(dst + ldd, _mm256_permute2f128_ps(s1, s5, 0x20));
  _mm256_storeu_ps(dst + 2 * ldd, _mm256_permute2f128_ps(s2, s6, 0x20));
  _mm256_storeu_ps(dst + 3 * ldd, _mm256_permute2f128_ps(s3, s7, 0x20));
  _mm256_storeu_ps(dst + 4 * ldd, _mm256_permute2f128_ps(s0, s4, 0x31));
  _mm256_storeu_ps(dst + 5 * ldd, _mm256_permute2f128_ps(s1, s5, 0x31));
  _mm256_storeu_ps(dst + 6 * ldd, _mm256_permute2f128_ps(s2, s6, 0x31));
  _mm256_storeu_ps(dst + 7 * ldd, _mm256_permute2f128_ps(s3, s7, 0x31));
}
#else
constexpr int TB = 4;
inline void transposeBlock(const float *src, long ld, float *dst, long ldd) {
  __m128 r0 = _mm_loadu_ps(src);
  __m128 r1 = _mm_loadu_ps(src + ld);
  __m128 r2 = _mm_loadu_ps(src + 2 * ld);
  __m128 r3 = _mm_loadu_ps(src + 3 * ld);
  _MM_TRANSPOSE4_PS(r0, r1, r2, r3);
  _mm_storeu_ps(dst, r0);
  _mm_storeu_ps(dst + ldd, r1);
  _mm_storeu_ps(dst + 2 * ldd, r2);
  _mm_storeu_ps(dst + 3 * ldd, r3);
}
#endif

/** panel[p][c] = B[j0 + c][p0 + p] for B row-major [n × k] (b points at B[j0][p0]), zero-padded to NR. */
void packTransposed(const float *b, long ldb, int nv, int kc, float *panel) {
  int c = 0;
  // TB source rows at a time: TB × TB blocks transposed in registers, the k tail element by element
  for (; c + TB <= nv; c += TB) {
    const float *src = b + c * ldb;
    int p = 0;
    for (; p + TB <= kc; p += TB) transposeBlock(src + p, ldb, panel + p * NR + c, NR);
    for (; p < kc; p++)
      for (int r = 0; r < TB; r++) panel[p * NR + c + r] = src[r * ldb + p];
  }
  for (; c < nv; c++) {
    const float *s = b + c * ldb;
    for (int p = 0; p < kc; p++) panel[p * NR + c] = s[p];
  }
  if (nv < NR) {
    for (int p = 0; p < kc; p++)
      for (int z = nv; z < NR; z++) panel[p * NR + z] = 0;
  }
}

/** panel[p][c] = B[p0 + p][j0 + c] for B row-major [k × n] (b points at B[p0][j0]), zero-padded to NR. */
void packRows(const float *b, long ldb, int nv, int kc, float *panel) {
  if (nv == NR) {
    for (int p = 0; p < kc; p++, b += ldb, panel += NR) {
      store(panel, load(b));
      store(panel + W, load(b + W));
    }
    return;
  }
  for (int p = 0; p < kc; p++, b += ldb, panel += NR) {
    int c = 0;
    for (; c < nv; c++) panel[c] = b[c];
    for (; c < NR; c++) panel[c] = 0;
  }
}

/** C = beta · C for k == 0, never reading C when beta == 0. */
void scaleOnly(float *c, long m, long n, long ldc, float beta, bool saturate) {
  for (long i = 0; i < m; i++) {
    float *row = c + i * ldc;
    for (long j = 0; j < n; j++) {
      const float x = beta == 0 ? 0.0f : beta * row[j];
      row[j] = saturate ? saturated(x) : x;
    }
  }
}

enum Layout { NT, NN, TN };

void gemm(Layout layout, float *h, float *scratch, long m, long n, long k, long a, long lda, long b, long ldb, long c,
          long ldc, double alpha64, double beta64, bool saturate) {
  if (m <= 0 || n <= 0) return;
  if (k <= 0) return scaleOnly(h + c, m, n, ldc, static_cast<float>(beta64), saturate);
  Gemm g;
  g.h = h;
  g.a = h + a;
  g.rowStep = layout == TN ? 1 : lda;
  g.kStep = layout == TN ? lda : 1;
  g.c = h + c;
  g.ldc = ldc;
  g.alpha = static_cast<float>(alpha64);
  g.alpha64 = alpha64;
  g.saturate = saturate;
  const float *aRows[MR];
  for (long p0 = 0; p0 < k; p0 += KC) {
    const int kc = static_cast<int>(k - p0 < KC ? k - p0 : KC);
    const double blockBeta64 = p0 == 0 ? beta64 : 1;
    const float blockBeta = static_cast<float>(blockBeta64);
    const float *aBlock = g.a + p0 * g.kStep;
    for (long j0 = 0; j0 < n; j0 += NR) {
      const int nv = static_cast<int>(n - j0 < NR ? n - j0 : NR);
      if (layout == NT) {
        packTransposed(h + b + j0 * ldb + p0, ldb, nv, kc, scratch);
      } else {
        packRows(h + b + p0 * ldb + j0, ldb, nv, kc, scratch);
      }
      float *cPanel = g.c + j0;
      for (long i = 0; i < m; i += MR) {
        const int rows = static_cast<int>(m - i < MR ? m - i : MR);
#pragma GCC unroll 16
        for (int r = 0; r < MR; r++) aRows[r] = aBlock + (i + (r < rows ? r : rows - 1)) * g.rowStep;
        microKernel(g, aRows, rows, scratch, kc, cPanel + i * ldc, nv, blockBeta, blockBeta64);
      }
    }
  }
}

// ---- exp arrays (accuracy tests) ----

void expArray(float *h, long x, long n, long out, bool nonPositive) {
  const float *px = h + x;
  float *po = h + out;
  long i = 0;
  for (; i + W <= n; i += W) store(po + i, nonPositive ? vexpNonPositive(load(px + i)) : vexp(load(px + i)));
  for (; i < n; i++) po[i] = nonPositive ? sexpNonPositive(px[i]) : sexp(px[i]);
}

// ---- compact KV storage ----

typedef unsigned int vu __attribute__((vector_size(W * 4)));

/**
 * dequantRows (kernel-ops.ts): dst[r][c] = scale_r · decode(src[r][c]) for float16 (format 1) or
 * int8 (format 2) rows at BYTE offset srcByte. A cache's attend expands one tile of compact rows into
 * a small float32 scratch right before the gemms, so memory traffic stays at the compact size and the
 * gemm kernels stay as they are. float16: the half's exponent and mantissa shifted into a float32
 * and multiplied by 2^112 re-bias it exactly (subnormal halves become normal floats); exponent 31
 * (±Infinity, NaN) is set to 255 instead. W lanes per step, a scalar tail of the same arithmetic.
 * Time O(rows · cols); no extra memory.
 */
inline float halfToFloat(unsigned h) {
  unsigned bits = (h & 0x7fffu) << 13;
  float magnitude;
  if ((h & 0x7c00u) == 0x7c00u) {
    bits |= 0x7f800000u;
    __builtin_memcpy(&magnitude, &bits, 4);
  } else {
    __builtin_memcpy(&magnitude, &bits, 4);
    magnitude *= 0x1p112f;
  }
  unsigned out;
  __builtin_memcpy(&out, &magnitude, 4);
  out |= (h & 0x8000u) << 16;
  float result;
  __builtin_memcpy(&result, &out, 4);
  return result;
}

void dequantRows(float *h, long srcByte, int format, long rows, long cols, long scales, long dst) {
  const unsigned char *base = reinterpret_cast<const unsigned char *>(h) + srcByte;
  for (long r = 0; r < rows; r++) {
    const float scale = scales < 0 ? 1.0f : h[scales + r];
    const vf scaleV = splat(scale);
    float *out = h + dst + r * cols;
    long c = 0;
    if (format == 1) {
      const unsigned char *row = base + 2 * r * cols;
      for (; c + W <= cols; c += W) {
        unsigned short halves[W];
        __builtin_memcpy(halves, row + 2 * c, sizeof(halves));
        vu x;
        for (int i = 0; i < W; i++) x[i] = halves[i];
        const vu shifted = (x & 0x7fffu) << 13;
        const vi special = reinterpret_cast<vi>((x & 0x7c00u) == 0x7c00u);
        const vf scaled = reinterpret_cast<vf>(shifted) * 0x1p112f;
        const vu magnitude = special ? (shifted | 0x7f800000u) : reinterpret_cast<vu>(scaled);
        const vf value = reinterpret_cast<vf>(magnitude | ((x & 0x8000u) << 16));
        store(out + c, value * scaleV);
      }
      for (; c < cols; c++) {
        const unsigned half = row[2 * c] | (static_cast<unsigned>(row[2 * c + 1]) << 8);
        out[c] = halfToFloat(half) * scale;
      }
    } else {
      const signed char *row = reinterpret_cast<const signed char *>(base) + r * cols;
      for (; c + W <= cols; c += W) {
        vf x;
        for (int i = 0; i < W; i++) x[i] = static_cast<float>(row[c + i]);
        store(out + c, x * scaleV);
      }
      for (; c < cols; c++) out[c] = static_cast<float>(row[c]) * scale;
    }
  }
}

inline long L(double x) { return static_cast<long>(x); }
inline float F(double x) { return static_cast<float>(x); }

// ---- fused flash block (OP_FLASH_BLOCK) ----
//
// One call runs rows [0, rows) of one head's query block against keys [keyStart, keyEnd): the whole
// per-item loop of packages/flash/src/work.ts (gemmNT → maskBand → onlineSoftmaxStep → gemmNN per
// key tile, then finishRows) without returning to JavaScript between tiles, and with the same
// semantics: scores saturate like gemmNT's (±FLT_MAX, float64 recompute of non-finite results), a
// tile inside the rows' common range [fullFirst, fullEnd) runs unmasked, others get maskBand's band,
// the online softmax keeps onlineSoftmaxStep's NaN and empty-row rules, and the finish is
// finishRows' (zeros and lse −∞ for a row that saw nothing).
//
// Layout: the scores are computed transposed, Sᵀ[key][row], so query rows sit in vector lanes. Q is
// packed once per call as scale · Qᵀ [d × rp] (rp = rows padded to 16, zero lanes past rows) and
// stays in L1 across tiles; K is read in place, one broadcast per element. A key row of Sᵀ is then one vector
// per W query rows: the tile's row maxima, the NaN flags and the row sums are vertical (lane-wise)
// operations with no horizontal reduction, and the band mask is one integer compare per vector
// against per-lane [lo, hi). P·V broadcasts Pᵀ[key][row] against value rows read in place (packed
// when Dv is not a multiple of W) and accumulates in a [rp × dp] buffer (dp = Dv padded to 16),
// rescaled by the tile's correction as it is loaded into registers.
//
// The caller guarantees the kv head's values are finite (a hidden key's weight is 0, and 0 · NaN
// would poison the row; the row-by-row generic path handles those). Returns 1 when a row with a
// finite, positive sum came out non-finite (the unnormalised accumulator overflowed: values near
// FLT_MAX): the caller reruns the rows on the generic path, whose second pass handles it.
//
// Work buffer (floats, each part a multiple of 16): Qᵀ d·rp, Sᵀ blockK·rp, acc rp·dp, 8 vectors of
// rp row statistics, a packed value tile blockK·dp (flashBlockScratchFloats in native-ops.ts).

#if AK_W == 16
constexpr int FQ = 4;   // query vectors per score micro-kernel (64 rows)
constexpr int FMK = 6;  // key rows per score micro-kernel: 24 accumulators
constexpr int FV = 4;   // value vectors per P·V micro-kernel (Dv 64)
constexpr int FMO = 6;  // query rows per P·V micro-kernel: 24 accumulators
#elif AK_W == 8
constexpr int FQ = 2;
constexpr int FMK = 6;
constexpr int FV = 2;
constexpr int FMO = 6;
#else
constexpr int FQ = 2;
constexpr int FMK = 4;
constexpr int FV = 2;
constexpr int FMO = 4;
#endif

inline long pad16(long x) { return (x + 15) & ~15L; }

inline vi splati(int x) {
  vi v;
#pragma GCC unroll 16
  for (int i = 0; i < W; i++) v[i] = x;
  return v;
}
inline vi loadi(const int *p) { return *reinterpret_cast<const vi *>(p); }
inline void storei(int *p, vi v) { *reinterpret_cast<vi *>(p) = v; }

struct FlashBlock {
  const float *q;
  const float *k;
  const float *v;
  float *out;
  float *lse;
  long rows, d, dv, rp, dp;
  float scale;
  double scale64;
  float *qt, *s, *acc, *rowMax, *rowSum, *tmax, *corr, *vpack;
  int *nanf, *lo, *hi;
  /** Score modifiers in order (0 none, 1 ALiBi with its slope, 2 softcap with its cap), as addAlibi / softcapScores. */
  int mod[2];
  float modValue[2];
  /** The first row's key position (ALiBi's distances: key − (firstQueryPos + row)). */
  double firstQueryPos;
};

/**
 * The score modifiers on lanes x (query vectors [v0, v0 + nq) against key `key`), with addAlibi's and
 * softcapScores' arithmetic, so the bits equal the generic path's: ALiBi's distances are integers the
 * caller keeps below 2²⁴ (exact in float32), the product is not fused into the saturating add.
 */
__attribute__((always_inline)) inline void applyScoreMods(const FlashBlock &f, vf *x, int nq, long key, long v0) {
  vf lanes = splat(0);
#pragma GCC unroll 16
  for (int i = 0; i < W; i++) lanes[i] = static_cast<float>(i);
  for (int m = 0; m < 2; m++) {
    if (f.mod[m] == 1) {
      const vf vs = splat(f.modValue[m]);
      for (int u = 0; u < nq; u++) {
        const double distance0 = static_cast<double>(key) - (f.firstQueryPos + static_cast<double>((v0 + u) * W));
        const vf d = splat(static_cast<float>(distance0)) - lanes;
        x[u] = saturatingAdd(x[u], materialized(vs * d));
      }
    } else if (f.mod[m] == 2) {
      const vf vc = splat(f.modValue[m]);
      const vf vinv = splat(1.0f / f.modValue[m]);
      for (int u = 0; u < nq; u++) x[u] = vc * vtanh(x[u] * vinv);
    }
  }
}

/**
 * Scores of one Sᵀ row (`nq` query vectors at `row`, stored as accumulated) that are not finite:
 * recomputed in float64 from Q (in place, unscaled) and the key row, scaled in float64 and saturated
 * (gemmNT's rule). Padding lanes are left as they are. Works on memory, so the caller's accumulators
 * never need an address (they would be spilled around every micro-tile).
 */
__attribute__((noinline)) void fixScores(const FlashBlock &f, float *row, int nq, const float *keyRow, long v0) {
  for (int u = 0; u < nq; u++) {
    for (int l = 0; l < W; l++) {
      const float y = row[u * W + l];
      const long i = (v0 + u) * W + l;
      if (y - y == 0 || i >= f.rows) continue;
      double dot = 0;
      for (long p = 0; p < f.d; p++) dot += static_cast<double>(f.q[i * f.d + p]) * static_cast<double>(keyRow[p]);
      row[u * W + l] = saturated(static_cast<float>(f.scale64 * dot));
    }
  }
}

/**
 * Sᵀ rows [j0, j0 + nk) of the tile (keys key0 + j) × query vectors [v0, v0 + NQ): scaled dot
 * products, saturated, band-masked when `masked`; folds them into the lane maxima tm and NaN flags nn.
 */
template <int NQ>
__attribute__((always_inline)) inline void scoreRows(const FlashBlock &f, const float *kTile, long key0, long j0,
                                                      int nk, long v0, bool masked, vf *tm, vi *nn) {
  vf acc[FMK][NQ];
#pragma GCC unroll 16
  for (int r = 0; r < FMK; r++)
#pragma GCC unroll 4
    for (int u = 0; u < NQ; u++) acc[r][u] = splat(0);
  const float *kr[FMK];
#pragma GCC unroll 16
  for (int r = 0; r < FMK; r++) kr[r] = kTile + (j0 + (r < nk ? r : nk - 1)) * f.d;
  const float *qp = f.qt + v0 * W;
  const long rp = f.rp;
  for (long p = 0; p < f.d; p++, qp += rp) {
    vf qv[NQ];
#pragma GCC unroll 4
    for (int u = 0; u < NQ; u++) qv[u] = load(qp + u * W);
#pragma GCC unroll 16
    for (int r = 0; r < FMK; r++) {
      const vf kb = splat(kr[r][p]);
#pragma GCC unroll 4
      for (int u = 0; u < NQ; u++) acc[r][u] += kb * qv[u];
    }
  }
  // Qᵀ holds scale · q, so the accumulators are the scores. Their sum proves them all finite (a NaN
  // or an infinity makes it NaN or infinite; so may, very rarely, finite scores summing past
  // FLT_MAX, and fixScores then finds nothing to fix). Additions in a tree of short chains: they
  // run beside the FMA units (a multiply-add by 0 per accumulator, as before, took their slots).
  vf part[FMK];
#pragma GCC unroll 16
  for (int r = 0; r < FMK; r++) {
    vf even = acc[r][0];
    vf odd = NQ > 1 ? acc[r][NQ > 1 ? 1 : 0] : splat(0);
#pragma GCC unroll 4
    for (int u = 2; u < NQ; u++) {
      if (u & 1)
        odd += acc[r][u];
      else
        even += acc[r][u];
    }
    part[r] = even + odd;
  }
  vf total = part[0];
#pragma GCC unroll 16
  for (int r = 1; r < FMK; r++) total += part[r];
  const bool finite = !anyTrue((total - total) != 0.0f);
  float *rows = f.s + j0 * rp + v0 * W;
  if (__builtin_expect(!finite, 0)) {
    // the rare path through memory: store, fix the non-finite lanes, reload
#pragma GCC unroll 16
    for (int r = 0; r < FMK; r++) {
      if (r >= nk) break;
#pragma GCC unroll 4
      for (int u = 0; u < NQ; u++) store(rows + r * rp + u * W, acc[r][u]);
      fixScores(f, rows + r * rp, NQ, kr[r], v0);
#pragma GCC unroll 4
      for (int u = 0; u < NQ; u++) acc[r][u] = load(rows + r * rp + u * W);
    }
  }
#pragma GCC unroll 16
  for (int r = 0; r < FMK; r++) {
    if (r >= nk) break;
    vf *x = acc[r];
    if (f.mod[0] != 0) applyScoreMods(f, x, NQ, key0 + j0 + r, v0);
    if (masked) {
      const vi key = splati(static_cast<int>(key0 + j0 + r));
#pragma GCC unroll 4
      for (int u = 0; u < NQ; u++) {
        const vi visible = (key >= loadi(f.lo + (v0 + u) * W)) & (key < loadi(f.hi + (v0 + u) * W));
        x[u] = visible ? x[u] : splat(-INF);
      }
    }
#pragma GCC unroll 4
    for (int u = 0; u < NQ; u++) {
      store(rows + r * rp + u * W, x[u]);
      tm[u] = pmax(tm[u], x[u]);
    }
    if (__builtin_expect(!finite, 0)) {
#pragma GCC unroll 4
      for (int u = 0; u < NQ; u++) nn[u] |= x[u] != x[u];
    }
  }
}

/** The tile's Sᵀ [cols × rp] for query vectors [v0, v0 + NQ), with their maxima and NaN flags. */
template <int NQ>
void scoreGroup(const FlashBlock &f, const float *kTile, long key0, int cols, long v0, bool masked) {
  vf tm[NQ];
  vi nn[NQ];
  for (int u = 0; u < NQ; u++) {
    tm[u] = splat(-INF);
    nn[u] = splati(0);
  }
  for (long j0 = 0; j0 < cols; j0 += FMK) {
    const int nk = static_cast<int>(cols - j0 < FMK ? cols - j0 : FMK);
    scoreRows<NQ>(f, kTile, key0, j0, nk, v0, masked, tm, nn);
  }
  for (int u = 0; u < NQ; u++) {
    store(f.tmax + (v0 + u) * W, tm[u]);
    storei(f.nanf + (v0 + u) * W, nn[u]);
  }
}

/**
 * acc rows [i0, i0 + NR) = acc · corr + Pᵀ-rows · V over the tile, value vectors [u0, u0 + NV). The
 * row count is a template argument, so a block's last rows (64 = 10 · 6 + 4) take a narrower kernel
 * instead of computing duplicate rows.
 */
template <int NV, int ROWS>
void pvRows(const FlashBlock &f, const float *vTile, long ldv, int cols, long i0, long u0) {
  vf acc[ROWS][NV];
#pragma GCC unroll 16
  for (int r = 0; r < ROWS; r++) {
    const long i = i0 + r;
    const float c = f.corr[i];
#pragma GCC unroll 4
    for (int u = 0; u < NV; u++) acc[r][u] = load(f.acc + i * f.dp + (u0 + u) * W) * c;
  }
  const float *pr = f.s + i0;
  const float *vp = vTile + u0 * W;
  const long rp = f.rp;
  for (int j = 0; j < cols; j++, pr += rp, vp += ldv) {
    vf vv[NV];
#pragma GCC unroll 4
    for (int u = 0; u < NV; u++) vv[u] = load(vp + u * W);
#pragma GCC unroll 16
    for (int r = 0; r < ROWS; r++) {
      const vf pb = splat(pr[r]);
#pragma GCC unroll 4
      for (int u = 0; u < NV; u++) acc[r][u] += pb * vv[u];
    }
  }
#pragma GCC unroll 16
  for (int r = 0; r < ROWS; r++) {
#pragma GCC unroll 4
    for (int u = 0; u < NV; u++) store(f.acc + (i0 + r) * f.dp + (u0 + u) * W, acc[r][u]);
  }
}

template <int NV, int ROWS>
inline void dispatchPvRows(int nr, const FlashBlock &f, const float *vTile, long ldv, int cols, long i0, long u0) {
  if constexpr (ROWS >= 1) {
    if (nr == ROWS) return pvRows<NV, ROWS>(f, vTile, ldv, cols, i0, u0);
    dispatchPvRows<NV, ROWS - 1>(nr, f, vTile, ldv, cols, i0, u0);
  }
}

template <int N>
inline void dispatchScore(int nq, const FlashBlock &f, const float *kTile, long key0, int cols, long v0,
                          bool masked) {
  if constexpr (N >= 1) {
    if (nq == N) return scoreGroup<N>(f, kTile, key0, cols, v0, masked);
    dispatchScore<N - 1>(nq, f, kTile, key0, cols, v0, masked);
  }
}

template <int N>
inline void dispatchPv(int nv, const FlashBlock &f, const float *vTile, long ldv, int cols, long i0, int nr,
                       long u0) {
  if constexpr (N >= 1) {
    if (nv == N) return dispatchPvRows<N, FMO>(nr, f, vTile, ldv, cols, i0, u0);
    dispatchPv<N - 1>(nv, f, vTile, ldv, cols, i0, nr, u0);
  }
}

/**
 * The online softmax step over the tile for query vectors [v0, v0 + N) (onlineSoftmaxStep's rules,
 * per lane): Sᵀ becomes P in place, rowMax/rowSum are updated and corr holds each row's rescale
 * factor. Key rows are walked in order, N vectors (contiguous) at a time, so each cache line of the
 * tile is read once.
 */
template <int N>
void softmaxGroup(const FlashBlock &f, int cols, long v0) {
  vf oldMax[N];
  vf newMax[N];
  vf shift[N];
  vf s0[N];
  vf s1[N];
  for (int u = 0; u < N; u++) {
    const long v = v0 + u;
    oldMax[u] = load(f.rowMax + v * W);
    const vf tileMax = load(f.tmax + v * W);
    // a NaN oldMax stays NaN (the comparison is false)
    vf next = tileMax > oldMax[u] ? tileMax : oldMax[u];
    const vi none = next == -INF;
    // a row whose only visible scores are NaN: NaN max, so its sum and accumulator become NaN
    next = (none & loadi(f.nanf + v * W)) != 0 ? splat(__builtin_nanf("")) : next;
    newMax[u] = next;
    // a row that sees nothing here keeps everything: weights exp(−∞ − 0) = 0
    shift[u] = next == -INF ? splat(0) : next;
    s0[u] = splat(0);
    s1[u] = splat(0);
  }
  float *p = f.s + v0 * W;
  const long rp = f.rp;
  int j = 0;
  for (; j + 2 <= cols; j += 2, p += 2 * rp) {
#pragma GCC unroll 4
    for (int u = 0; u < N; u++) {
      const vf e0 = vexpNonPositive(load(p + u * W) - shift[u]);
      const vf e1 = vexpNonPositive(load(p + rp + u * W) - shift[u]);
      store(p + u * W, e0);
      store(p + rp + u * W, e1);
      s0[u] += e0;
      s1[u] += e1;
    }
  }
  if (j < cols) {
#pragma GCC unroll 4
    for (int u = 0; u < N; u++) {
      const vf e0 = vexpNonPositive(load(p + u * W) - shift[u]);
      store(p + u * W, e0);
      s0[u] += e0;
    }
  }
  for (int u = 0; u < N; u++) {
    for (int l = 0; l < W; l++) {
      const long i = (v0 + u) * W + l;
      const float next = newMax[u][l];
      if (next == -INF) {
        f.corr[i] = 1;
        continue;
      }
      const float old = oldMax[u][l];
      // old == −∞: nothing accumulated yet, corr = exp(−∞) = 0, without the call (every row's
      // first tile: about half the calls of a short row block)
      const double corr = old == next ? 1.0
                          : old == -INF ? 0.0
                                        : exp(static_cast<double>(old) - static_cast<double>(next));
      const double sum = static_cast<double>(s0[u][l]) + static_cast<double>(s1[u][l]);
      f.rowSum[i] = static_cast<float>(static_cast<double>(f.rowSum[i]) * corr + sum);
      f.corr[i] = static_cast<float>(corr);
      f.rowMax[i] = next;
    }
  }
}

template <int N>
inline void dispatchSoftmax(int n, const FlashBlock &f, int cols, long v0) {
  if constexpr (N >= 1) {
    if (n == N) return softmaxGroup<N>(f, cols, v0);
    dispatchSoftmax<N - 1>(n, f, cols, v0);
  }
}

/** The online softmax step over the tile for every query vector (softmaxGroup, FQ vectors at a time). */
void softmaxTile(const FlashBlock &f, int cols) {
  const long vectors = f.rp / W;
  for (long v0 = 0; v0 < vectors; v0 += FQ) {
    const int n = static_cast<int>(vectors - v0 < FQ ? vectors - v0 : FQ);
    dispatchSoftmax<FQ>(n, f, cols, v0);
  }
}

/**
 * Qᵀ · scale into f.qt [d × rp], zero lanes past the rows: TB × TB blocks transposed in registers
 * (element by element, this gather cost more than the rest of the call's bookkeeping), then scaled
 * row by row of Qᵀ. Its own function: inlined into flashBlock, the blocks were spilled to the stack.
 */
__attribute__((noinline)) void packScaledQ(const FlashBlock &f) {
  const long rows = f.rows;
  const long rp = f.rp;
  long i = 0;
  for (; i + TB <= rows; i += TB) {
    long p = 0;
    for (; p + TB <= f.d; p += TB) transposeBlock(f.q + i * f.d + p, f.d, f.qt + p * rp + i, rp);
    for (; p < f.d; p++)
      for (long r = 0; r < TB; r++) f.qt[p * rp + i + r] = f.q[(i + r) * f.d + p];
  }
  for (; i < rows; i++)
    for (long p = 0; p < f.d; p++) f.qt[p * rp + i] = f.q[i * f.d + p];
  for (long p = 0; p < f.d; p++) {
    float *dst = f.qt + p * rp;
    scaleRun(dst, rows, f.scale);
    for (long r = rows; r < rp; r++) dst[r] = 0;
  }
}

int flashBlock(float *h, const double *a) {
  FlashBlock f;
  f.q = h + L(a[0]);
  f.k = h + L(a[1]);
  f.v = h + L(a[2]);
  f.out = h + L(a[3]);
  f.lse = h + L(a[4]);
  f.rows = L(a[5]);
  f.d = L(a[6]);
  f.dv = L(a[7]);
  const long keyStart = L(a[8]);
  const long keyEnd = L(a[9]);
  const long blockK = L(a[10]);
  f.scale64 = a[11];
  f.scale = F(a[11]);
  const double firstQueryPos = a[12];
  const double left = a[13];
  const double right = a[14];
  const double validKeys = a[15];
  const long fullFirst = L(a[16]);
  const long fullEnd = L(a[17]);
  float *work = h + L(a[18]);
  f.mod[0] = static_cast<int>(a[19]);
  f.modValue[0] = F(a[20]);
  f.mod[1] = static_cast<int>(a[21]);
  f.modValue[1] = F(a[22]);
  f.firstQueryPos = firstQueryPos;
  // packed documents: the segment's first key (every row's lower bound besides the band's)
  const double keyLow = a[23];
  // key runs [runs[2r], runs[2r + 1]) to tile instead of [keyStart, keyEnd) (a block-sparse layout's
  // non-empty columns): runCount 0 = the one run [keyStart, keyEnd)
  const float *runs = a[24] >= 0 ? h + L(a[24]) : nullptr;
  const long runCount = runs ? L(a[25]) : 1;
  const long rows = f.rows;
  const long rp = pad16(rows);
  const long dp = pad16(f.dv);
  f.rp = rp;
  f.dp = dp;
  f.qt = work;
  f.s = f.qt + f.d * rp;
  f.acc = f.s + blockK * rp;
  f.rowMax = f.acc + rp * dp;
  f.rowSum = f.rowMax + rp;
  f.tmax = f.rowSum + rp;
  f.corr = f.tmax + rp;
  f.nanf = reinterpret_cast<int *>(f.corr + rp);
  f.lo = f.nanf + rp;
  f.hi = f.lo + rp;
  f.vpack = f.corr + 5 * rp;

  // Qᵀ · scale, zero lanes past the rows (their scores are never read back). Scaling q instead of
  // q·k rounds once more where the scale is not a power of two (it is for D = 64, 16, 256, …);
  // non-finite scores are still recomputed from the unscaled q in float64, as gemmNT does.
  packScaledQ(f);
  // each row's visible keys [lo, hi) under the band (maskBand), clamped to int; padding lanes see none
  constexpr double INT_TOP = 2147483647.0;
  for (long i = 0; i < rp; i++) {
    if (i < rows) {
      const double pos = firstQueryPos + static_cast<double>(i);
      const double lo = __builtin_fmin(__builtin_fmax(__builtin_fmax(pos - left, keyLow), -1.0), INT_TOP);
      const double hi = __builtin_fmin(__builtin_fmax(__builtin_fmin(pos + right + 1, validKeys), -1.0), INT_TOP);
      f.lo[i] = static_cast<int>(lo);
      f.hi[i] = static_cast<int>(hi);
    } else {
      f.lo[i] = 0;
      f.hi[i] = 0;
    }
    f.rowMax[i] = -INF;
    f.rowSum[i] = 0;
  }
  fill(f.acc, rp * dp, 0);

  const long queryVectors = rp / W;
  const long valueVectors = (f.dv + W - 1) / W;
  const bool packValues = f.dv % W != 0;
  for (long run = 0; run < runCount; run++) {
  const long runStart = runs ? static_cast<long>(runs[2 * run]) : keyStart;
  const long runEnd = runs ? static_cast<long>(runs[2 * run + 1]) : keyEnd;
  for (long t0 = runStart; t0 < runEnd; t0 += blockK) {
    const int cols = static_cast<int>(runEnd - t0 < blockK ? runEnd - t0 : blockK);
    const bool masked = !(t0 >= fullFirst && t0 + cols <= fullEnd);
    const float *kTile = f.k + t0 * f.d;
    // 1. Sᵀ = scale · K_tile · Qᵀ (saturated), masked, with lane maxima and NaN flags
    for (long v0 = 0; v0 < queryVectors; v0 += FQ) {
      const int nq = static_cast<int>(queryVectors - v0 < FQ ? queryVectors - v0 : FQ);
      dispatchScore<FQ>(nq, f, kTile, t0, cols, v0, masked);
    }
    // 2. online softmax: P in place, statistics, per-row correction
    softmaxTile(f, cols);
    // 3. acc = acc · corr + P · V_tile
    const float *vTile = f.v + t0 * f.dv;
    long ldv = f.dv;
    if (packValues) {
      for (int j = 0; j < cols; j++) {
        float *dst = f.vpack + j * dp;
        const float *src = vTile + j * f.dv;
        long c = 0;
        for (; c < f.dv; c++) dst[c] = src[c];
        for (; c < dp; c++) dst[c] = 0;
      }
      vTile = f.vpack;
      ldv = dp;
    }
    for (long i0 = 0; i0 < rows; i0 += FMO) {
      const int nr = static_cast<int>(rows - i0 < FMO ? rows - i0 : FMO);
      for (long u0 = 0; u0 < valueVectors; u0 += FV) {
        const int nv = static_cast<int>(valueVectors - u0 < FV ? valueVectors - u0 : FV);
        dispatchPv<FV>(nv, f, vTile, ldv, cols, i0, nr, u0);
      }
    }
  }
  }

  // 4. finishRows: out = acc / rowSum, lse = rowMax + log(rowSum); rows that saw nothing → 0, −∞
  int overflowed = 0;
  for (long i = 0; i < rows; i++) {
    const double sum = f.rowSum[i];
    float *dst = f.out + i * f.dv;
    if (sum == 0) {
      fill(dst, f.dv, 0);
      f.lse[i] = -INF;
      continue;
    }
    const float inv = static_cast<float>(1.0 / sum);
    const float *src = f.acc + i * dp;
    vi bad = splati(0);
    long c = 0;
    for (; c + W <= f.dv; c += W) {
      const vf y = load(src + c) * inv;
      store(dst + c, y);
      bad |= (y - y) != 0.0f;
    }
    bool tailBad = false;
    for (; c < f.dv; c++) {
      dst[c] = src[c] * inv;
      tailBad |= dst[c] - dst[c] != 0;
    }
    f.lse[i] = static_cast<float>(static_cast<double>(f.rowMax[i]) + log(sum));
    // a finite, positive sum with a non-finite row: the accumulator overflowed (NaN rows are what they are)
    if ((anyTrue(bad) || tailBad) && sum > 0 && sum < INF) overflowed = 1;
  }
  return overflowed;
}


// ---- decodeAttend: a few query rows against a paged run of stored positions ----

/** Query rows per sweep over the keys (more rows sweep again): their accumulators stay in registers. */
constexpr int DA_ROWS = 16;
/** Keys per online-softmax block, cut at absolute positions that are multiples of DA_KEYS. */
constexpr int DA_KEYS = 64;

/**
 * A decoded value kept in a register as computed: what follows (q · k, p · v, fused or not) then
 * compiles to the same code for every format, so equal decoded values give equal bits.
 */
inline float opaque(float x) {
  __asm__("" : "+x"(x));
  return x;
}

/** Element c of a stored row as float32, as dequantRows decodes it (decode · scale, rounded once). */
inline float storedAt(const unsigned char *row, int format, long c, float scale) {
  if (format == 0) {
    float x;
    __builtin_memcpy(&x, row + 4 * c, 4);
    return opaque(x);
  }
  // float16 rows have no scales (scale 1: the product is the half's value)
  if (format == 1) return opaque(halfToFloat(row[2 * c] | (static_cast<unsigned>(row[2 * c + 1]) << 8)));
  return opaque(static_cast<float>(reinterpret_cast<const signed char *>(row)[c]) * scale);
}

/** W elements of a stored row from element c (storedAt's values). */
inline vf loadStored(const unsigned char *row, int format, long c, vf scaleV) {
  if (format == 0) return materialized(load(reinterpret_cast<const float *>(row) + c));
  if (format == 1) {
    // The AVX paths convert in one instruction (vcvtph2ps: exact, as the bit rule below; the AVX2
    // path needs F16C, which addon.cc requires of it). The baseline widens lane by lane.
#if AK_W == 16
    return materialized(reinterpret_cast<vf>(_mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i *>(row + 2 * c)))));
#elif AK_W == 8
    return materialized(reinterpret_cast<vf>(_mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i *>(row + 2 * c)))));
#else
    unsigned short halves[W];
    __builtin_memcpy(halves, row + 2 * c, sizeof(halves));
    vu x;
    for (int i = 0; i < W; i++) x[i] = halves[i];
    const vu shifted = (x & 0x7fffu) << 13;
    const vi special = reinterpret_cast<vi>((x & 0x7c00u) == 0x7c00u);
    const vf scaled = reinterpret_cast<vf>(shifted) * 0x1p112f;
    const vu magnitude = special ? (shifted | 0x7f800000u) : reinterpret_cast<vu>(scaled);
    return materialized(reinterpret_cast<vf>(magnitude | ((x & 0x8000u) << 16)));
#endif
  }
#if AK_W == 16
  const vf x = reinterpret_cast<vf>(
      _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i *>(row + c)))));
#elif AK_W == 8
  const vf x = reinterpret_cast<vf>(
      _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i *>(row + c)))));
#else
  vf x;
  const signed char *p = reinterpret_cast<const signed char *>(row) + c;
  for (int i = 0; i < W; i++) x[i] = static_cast<float>(p[i]);
#endif
  return materialized(x * scaleV);
}

/** Sum of the lanes: halves added in a fixed order (the same on every call). */
inline float hsumf(vf v) {
#if AK_W == 16
  const __m512 x = reinterpret_cast<__m512>(v);
  __m256 h = _mm256_add_ps(_mm512_castps512_ps256(x),
                           _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(x), 1)));
#elif AK_W == 8
  __m256 h = reinterpret_cast<__m256>(v);
#endif
#if AK_W >= 8
  __m128 f = _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
#else
  __m128 f = reinterpret_cast<__m128>(v);
#endif
  f = _mm_add_ps(f, _mm_movehl_ps(f, f));
  f = _mm_add_ss(f, _mm_shuffle_ps(f, f, 1));
  return _mm_cvtss_f32(f);
}

/**
 * Lane t of the result = the sum of the lanes of v[t], t < W: a transposing tree (W − 1 pairwise
 * steps of two two-source shuffles and an add, instead of W horizontal sums). At the step of
 * half-width H, a vector holds W / (2H) keys of 2H lanes each; each key keeps the sum of its two
 * halves, and the keys of the pair's two vectors are laid out in order, so the last step leaves key
 * t in lane t. A fixed order of additions: the same bits on every call.
 */
inline vf sumLanes(vf *v) {
#if AK_W == 16
  {
    const vi lo = {0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23};
    const vi hi = {8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31};
    for (int t = 0; t < 8; t++) v[t] = __builtin_shuffle(v[2 * t], v[2 * t + 1], lo) + __builtin_shuffle(v[2 * t], v[2 * t + 1], hi);
  }
  {
    const vi lo = {0, 1, 2, 3, 8, 9, 10, 11, 16, 17, 18, 19, 24, 25, 26, 27};
    const vi hi = {4, 5, 6, 7, 12, 13, 14, 15, 20, 21, 22, 23, 28, 29, 30, 31};
    for (int t = 0; t < 4; t++) v[t] = __builtin_shuffle(v[2 * t], v[2 * t + 1], lo) + __builtin_shuffle(v[2 * t], v[2 * t + 1], hi);
  }
  {
    const vi lo = {0, 1, 4, 5, 8, 9, 12, 13, 16, 17, 20, 21, 24, 25, 28, 29};
    const vi hi = {2, 3, 6, 7, 10, 11, 14, 15, 18, 19, 22, 23, 26, 27, 30, 31};
    for (int t = 0; t < 2; t++) v[t] = __builtin_shuffle(v[2 * t], v[2 * t + 1], lo) + __builtin_shuffle(v[2 * t], v[2 * t + 1], hi);
  }
  {
    const vi lo = {0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30};
    const vi hi = {1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31};
    for (int t = 0; t < 1; t++) v[t] = __builtin_shuffle(v[2 * t], v[2 * t + 1], lo) + __builtin_shuffle(v[2 * t], v[2 * t + 1], hi);
  }
#elif AK_W == 8
  {
    const vi lo = {0, 1, 2, 3, 8, 9, 10, 11};
    const vi hi = {4, 5, 6, 7, 12, 13, 14, 15};
    for (int t = 0; t < 4; t++) v[t] = __builtin_shuffle(v[2 * t], v[2 * t + 1], lo) + __builtin_shuffle(v[2 * t], v[2 * t + 1], hi);
  }
  {
    const vi lo = {0, 1, 4, 5, 8, 9, 12, 13};
    const vi hi = {2, 3, 6, 7, 10, 11, 14, 15};
    for (int t = 0; t < 2; t++) v[t] = __builtin_shuffle(v[2 * t], v[2 * t + 1], lo) + __builtin_shuffle(v[2 * t], v[2 * t + 1], hi);
  }
  {
    const vi lo = {0, 2, 4, 6, 8, 10, 12, 14};
    const vi hi = {1, 3, 5, 7, 9, 11, 13, 15};
    for (int t = 0; t < 1; t++) v[t] = __builtin_shuffle(v[2 * t], v[2 * t + 1], lo) + __builtin_shuffle(v[2 * t], v[2 * t + 1], hi);
  }
#else
  {
    const vi lo = {0, 1, 4, 5};
    const vi hi = {2, 3, 6, 7};
    for (int t = 0; t < 2; t++) v[t] = __builtin_shuffle(v[2 * t], v[2 * t + 1], lo) + __builtin_shuffle(v[2 * t], v[2 * t + 1], hi);
  }
  {
    const vi lo = {0, 2, 4, 6};
    const vi hi = {1, 3, 5, 7};
    for (int t = 0; t < 1; t++) v[t] = __builtin_shuffle(v[2 * t], v[2 * t + 1], lo) + __builtin_shuffle(v[2 * t], v[2 * t + 1], hi);
  }
#endif
  return v[0];
}

struct DecodeArgs {
  long q, rows, qLength, dk, dv;
  double scale;
  long table, tableStart, pageSize, keyByte, valueByte, keyScales, valueScales;
  int format;
  long from, to;
  double firstQueryPos, left;
  long out, lse;
};

/** Row addresses and scales of positions [b0, b1) (b1 − b0 <= DA_KEYS): one division, then slot by slot. */
void resolveRows(float *h, const DecodeArgs &a, const int *table, long eb, long b0, long b1, const unsigned char **kRow,
                 const unsigned char **vRow, float *kScale, float *vScale) {
  const unsigned char *bytes = reinterpret_cast<const unsigned char *>(h);
  long entry = (b0 - a.tableStart) / a.pageSize;
  long slot = b0 - a.tableStart - entry * a.pageSize;
  long page = table[entry];
  const long n = b1 - b0;
  if (slot + n <= a.pageSize) {
    // the block lies in one page (always, when the page size is a multiple of DA_KEYS): its rows are
    // one run, so the addresses step by a row and the scales are copied as they lie
    const unsigned char *k0 = bytes + 4 * page + a.keyByte + slot * a.dk * eb;
    const unsigned char *v0 = bytes + 4 * page + a.valueByte + slot * a.dv * eb;
    const long kStep = a.dk * eb;
    const long vStep = a.dv * eb;
    for (long j = 0; j < n; j++) {
      kRow[j] = k0 + j * kStep;
      vRow[j] = v0 + j * vStep;
    }
    if (a.keyScales < 0) {
      for (long j = 0; j < n; j++) kScale[j] = 1.0f;
    } else {
      const float *from = h + page + a.keyScales + slot;
      for (long j = 0; j < n; j++) kScale[j] = from[j];
    }
    if (a.valueScales < 0) {
      for (long j = 0; j < n; j++) vScale[j] = 1.0f;
    } else {
      const float *from = h + page + a.valueScales + slot;
      for (long j = 0; j < n; j++) vScale[j] = from[j];
    }
    return;
  }
  for (long j = 0; j < n; j++, slot++) {
    if (slot == a.pageSize) {
      slot = 0;
      page = table[++entry];
    }
    kRow[j] = bytes + 4 * page + a.keyByte + slot * a.dk * eb;
    vRow[j] = bytes + 4 * page + a.valueByte + slot * a.dv * eb;
    kScale[j] = a.keyScales < 0 ? 1.0f : h[page + a.keyScales + slot];
    vScale[j] = a.valueScales < 0 ? 1.0f : h[page + a.valueScales + slot];
  }
}

/**
 * decodeAttend (kernel-ops.ts): rows [r0, r0 + R) (R <= DA_ROWS) against positions [from, to) read
 * from their pages, one online-softmax pass: per block of DA_KEYS positions, scores (gemmNT's
 * saturation), the causal/window rule per row, the running max/sum update of onlineSoftmaxStep, then
 * acc += p · v with the rows' accumulators in registers (a row only ever adds the keys it sees, so a
 * non-finite value behind the mask cannot leak); finishRows' rule at the end. The out rows hold acc.
 */
template <int RB, int FMT>
void decodeRows(float *h, const DecodeArgs &a, long r0, int R) {
  const int *table = reinterpret_cast<const int *>(h + a.table);
  constexpr long eb = FMT == 0 ? 4 : FMT == 1 ? 2 : 1;
  const float alpha = static_cast<float>(a.scale);
  // RB rows in registers: rows R .. RB − 1 repeat row R − 1 (computed, never stored)
  float rowMax[RB], rowSum[RB];
  long lo[RB], hi[RB];
  const float *q[RB];
  float *acc[RB];
  long loAll = a.to, hiAll = a.from - 1, loMax = a.from, hiMin = a.to - 1;
  for (int r = 0; r < R; r++) {
    rowMax[r] = -INF;
    rowSum[r] = 0;
    q[r] = h + a.q + (r0 + r) * a.dk;
    acc[r] = h + a.out + (r0 + r) * a.dv;
    fill(acc[r], a.dv, 0);
    // visible: pos − left <= key <= pos (left may be +∞), within [from, to)
    const double pos = a.firstQueryPos + static_cast<double>((r0 + r) % a.qLength);
    const double low = __builtin_fmax(pos - a.left, static_cast<double>(a.from));
    lo[r] = low > static_cast<double>(a.to) ? a.to : static_cast<long>(__builtin_ceil(low));
    hi[r] = static_cast<long>(__builtin_fmin(pos, static_cast<double>(a.to - 1)));
    if (lo[r] < loAll) loAll = lo[r];
    if (hi[r] > hiAll) hiAll = hi[r];
    if (lo[r] > loMax) loMax = lo[r];
    if (hi[r] < hiMin) hiMin = hi[r];
  }
  for (int r = R; r < RB; r++) {
    q[r] = q[R - 1];
    lo[r] = lo[R - 1];
    hi[r] = hi[R - 1];
  }
  // DA_KEYS is a multiple of every path's W: a block's last group of W keys fits the rows
  static_assert(DA_KEYS % W == 0, "decode blocks hold whole groups of W keys");
  float scores[RB][DA_KEYS];
  vf dots[RB][W];
  // int8 rows (compute-bound: their bytes arrive faster than they are decoded) take KU keys per
  // pass over the q rows: each q vector loaded once feeds KU keys and RB · KU sums are in flight
  // (AVX-512: up to 16 of the 32 registers; narrower paths 8 of 16); every sum adds the same terms
  // in the same order as one key alone, so the bits are unchanged. float32 and float16 rows (bound
  // by memory at long contexts) keep one key per pass: grouping their prefetches by KU keys made
  // 32K positions slower (one token, Hq 32 / Hkv 8 / d 128, 1 thread: float16 5.8 → 6.5 ms).
  constexpr int KU_BUDGET = W == 16 ? 16 : 8;
  constexpr int KU = FMT != 2 || RB >= KU_BUDGET ? 1 : KU_BUDGET / RB > 4 ? 4 : KU_BUDGET / RB;
  const long dk = a.dk;
  // the rows of this block and of the next (double-buffered: the next block's key rows are fetched
  // during this block's work, its pages being anywhere in the pool)
  const unsigned char *kRows[2][DA_KEYS];
  const unsigned char *vRows[2][DA_KEYS];
  float kScales[2][DA_KEYS], vScales[2][DA_KEYS];
  const long dkVec = a.dk - a.dk % W;
  const long dvVec = a.dv - a.dv % W;
  const long start = loAll > a.from ? loAll : a.from;
  const long end = hiAll + 1 < a.to ? hiAll + 1 : a.to;
  const long kBytes = a.dk * eb;
  int buffer = 0;
  if (start < end) {
    const long b1 = (start / DA_KEYS + 1) * DA_KEYS < end ? (start / DA_KEYS + 1) * DA_KEYS : end;
    resolveRows(h, a, table, eb, start, b1, kRows[0], vRows[0], kScales[0], vScales[0]);
  }
  for (long b0 = start; b0 < end; buffer ^= 1) {
    const long b1 = (b0 / DA_KEYS + 1) * DA_KEYS < end ? (b0 / DA_KEYS + 1) * DA_KEYS : end;
    const int n = static_cast<int>(b1 - b0);
    const unsigned char *const *kRow = kRows[buffer];
    const unsigned char *const *vRow = vRows[buffer];
    const float *kScale = kScales[buffer];
    const float *vScale = vScales[buffer];
    const long next = b1 + DA_KEYS < end ? b1 + DA_KEYS : end;
    const int nextN = b1 < end ? static_cast<int>(next - b1) : 0;
    if (nextN > 0) resolveRows(h, a, table, eb, b1, next, kRows[buffer ^ 1], vRows[buffer ^ 1], kScales[buffer ^ 1], vScales[buffer ^ 1]);
    // scores = scale · q · k, saturated as gemmNT's, W keys at a time: each row's W dot vectors are
    // summed across lanes by one transposing tree (not W horizontal sums). Rows are fetched ahead in
    // software: pages are anywhere in the pool, and the p · v loop walks the value rows column chunk
    // by column chunk, a pattern no hardware prefetcher follows.
    const long vBytes = a.dv * eb;
    // The next block's key and value rows are asked for a block ahead, and this block's value rows
    // again right before p · v reads them (a software prefetch the memory system is too busy for
    // is dropped). Measured on 32K positions, float32, 1 thread: without the early value fetch
    // the attend took 1.3× as long, without the late one 1.3× too.
    const auto prefetchRows = [&](int j) __attribute__((always_inline)) {
      if (j < nextN) {
        for (long line = 0; line < kBytes; line += 64) __builtin_prefetch(kRows[buffer ^ 1][j] + line);
        for (long line = 0; line < vBytes; line += 64) __builtin_prefetch(vRows[buffer ^ 1][j] + line);
      }
      for (long line = 0; line < vBytes; line += 64) __builtin_prefetch(vRow[j] + line);
    };
    // dots[r][slot .. slot + U) = the q · k vectors of row r and keys j .. j + U (U a compile-time
    // count: KU for the whole groups, 1 for the rest), each key's sum in the order of a key alone
    const auto scoreKeys = [&](auto keys, int j, int slot) __attribute__((always_inline)) {
      constexpr int U = decltype(keys)::value;
#pragma GCC unroll 16
      for (int u = 0; u < U; u++) prefetchRows(j + u);
      vf dot[RB][U];
#pragma GCC unroll 16
      for (int r = 0; r < RB; r++)
#pragma GCC unroll 16
        for (int u = 0; u < U; u++) dot[r][u] = splat(0);
      vf sv[U];
#pragma GCC unroll 16
      for (int u = 0; u < U; u++) sv[u] = splat(kScale[j + u]);
      for (long c = 0; c < dkVec; c += W) {
        vf kv[U];
#pragma GCC unroll 16
        for (int u = 0; u < U; u++) kv[u] = loadStored(kRow[j + u], FMT, c, sv[u]);
#pragma GCC unroll 16
        for (int r = 0; r < RB; r++) {
          const vf qv = load(q[r] + c);
#pragma GCC unroll 16
          for (int u = 0; u < U; u++) dot[r][u] += qv * kv[u];
        }
      }
#pragma GCC unroll 16
      for (int r = 0; r < RB; r++)
#pragma GCC unroll 16
        for (int u = 0; u < U; u++) dots[r][slot + u] = dot[r][u];
    };
    for (int j0 = 0; j0 < n; j0 += W) {
      const int m = n - j0 < W ? n - j0 : W;
      int jj = 0;
      for (; jj + KU <= m; jj += KU) scoreKeys(std::integral_constant<int, KU>{}, j0 + jj, jj);
      for (; jj < m; jj++) scoreKeys(std::integral_constant<int, 1>{}, j0 + jj, jj);
      for (int r = 0; r < R; r++) {
        // keys past the block's end sum zeros: finite, never read
        for (int jj = m; jj < W; jj++) dots[r][jj] = splat(0);
        vf sum = sumLanes(dots[r]);
        if (dk != dkVec) {
          for (int jj = 0; jj < m; jj++) {
            float tail = 0;
            for (long c = dkVec; c < a.dk; c++) tail += q[r][c] * storedAt(kRow[j0 + jj], FMT, c, kScale[j0 + jj]);
            sum[jj] += tail;
          }
        }
        store(scores[r] + j0, sum * splat(alpha));
      }
    }
    // per row: a non-finite score of finite operands recomputed in float64 and saturated (rare: one
    // vector test per W keys finds none), then the causal/window rule where the block is not all seen
    for (int r = 0; r < R; r++) {
      float *row = scores[r];
      vf nonFinite = splat(0);
      for (int j = 0; j < n; j += W) {
        const vf x = load(row + j);
        nonFinite += x - x;
      }
      if (hsumf(nonFinite) != 0) {
        for (int j = 0; j < n; j++) {
          const float x = row[j];
          if (x - x == 0) continue;
          double exact = 0;
          for (long c = 0; c < a.dk; c++)
            exact += static_cast<double>(q[r][c]) * static_cast<double>(storedAt(kRow[j], FMT, c, kScale[j]));
          row[j] = saturated(static_cast<float>(a.scale * exact));
        }
      }
      if (lo[r] > b0 || hi[r] < b1 - 1) {
        for (int j = 0; j < n; j++) {
          const long position = b0 + j;
          if (position < lo[r] || position > hi[r]) row[j] = -INF;
        }
      }
    }
    // the online-softmax step of onlineSoftmaxStep, per row
    for (int r = 0; r < R; r++) onlineSoftmaxRow(scores[r], n, rowMax[r], rowSum[r], acc[r], a.dv);
    // acc += p · v: every row sees the whole block (decoding), or each row its own part of it
    const bool whole = loMax <= b0 && hiMin >= b1 - 1;
    // Every row sees the whole block (decoding): CG column chunks at a time, so a block's value rows
    // are walked dvVec / (CG · W) times instead of dvVec / W, each probability broadcast once per CG
    // chunks (RB · CG accumulators: 16 of the 32 AVX-512 registers, 8 of the narrower paths' 16).
    constexpr int CG_BUDGET = W == 16 ? 16 : 8;
    constexpr int CG = RB >= CG_BUDGET ? 1 : CG_BUDGET / RB;
    long grouped = 0;
    if (whole && CG > 1) {
      for (; grouped + CG * W <= dvVec; grouped += CG * W) {
        vf o[RB][CG];
#pragma GCC unroll 16
        for (int r = 0; r < RB; r++)
#pragma GCC unroll 16
          for (int g = 0; g < CG; g++) o[r][g] = r < R ? load(acc[r] + grouped + g * W) : splat(0);
        for (int j = 0; j < n; j++) {
          const vf sv = splat(vScale[j]);
          vf vv[CG];
#pragma GCC unroll 16
          for (int g = 0; g < CG; g++) vv[g] = loadStored(vRow[j], FMT, grouped + g * W, sv);
#pragma GCC unroll 16
          for (int r = 0; r < RB; r++) {
            const vf p = splat(scores[r][j]);
#pragma GCC unroll 16
            for (int g = 0; g < CG; g++) o[r][g] += p * vv[g];
          }
        }
#pragma GCC unroll 16
        for (int r = 0; r < RB; r++)
          if (r < R)
#pragma GCC unroll 16
            for (int g = 0; g < CG; g++) store(acc[r] + grouped + g * W, o[r][g]);
      }
    }
    for (long c = grouped; c < dvVec; c += W) {
      vf o[RB];
#pragma GCC unroll 16
      for (int r = 0; r < RB; r++) o[r] = r < R ? load(acc[r] + c) : splat(0);
      if (whole) {
        for (int j = 0; j < n; j++) {
          const vf vv = loadStored(vRow[j], FMT, c, splat(vScale[j]));
#pragma GCC unroll 16
          for (int r = 0; r < RB; r++) o[r] += splat(scores[r][j]) * vv;
        }
      } else {
        for (int j = 0; j < n; j++) {
          const vf vv = loadStored(vRow[j], FMT, c, splat(vScale[j]));
          const long position = b0 + j;
#pragma GCC unroll 16
          for (int r = 0; r < RB; r++)
            if (position >= lo[r] && position <= hi[r]) o[r] += splat(scores[r][j]) * vv;
        }
      }
#pragma GCC unroll 16
      for (int r = 0; r < RB; r++)
        if (r < R) store(acc[r] + c, o[r]);
    }
    for (long c = dvVec; c < a.dv; c++) {
      for (int j = 0; j < n; j++) {
        const float v = storedAt(vRow[j], FMT, c, vScale[j]);
        const long position = b0 + j;
        for (int r = 0; r < R; r++)
          if (position >= lo[r] && position <= hi[r]) acc[r][c] += scores[r][j] * v;
      }
    }
    b0 = b1;
  }
  // finishRows
  for (int r = 0; r < R; r++) {
    const double sum = rowSum[r];
    if (sum == 0) {
      fill(acc[r], a.dv, 0);
      if (a.lse >= 0) h[a.lse + r0 + r] = -INF;
      continue;
    }
    scaleRun(acc[r], a.dv, static_cast<float>(1.0 / sum));
    if (a.lse >= 0) h[a.lse + r0 + r] = static_cast<float>(static_cast<double>(rowMax[r]) + log(sum));
  }
}

/** decodeRows for R rows: the accumulators of RB >= R rows stay in registers (AVX-512: 32 of them; narrower paths spill some). */
template <int FMT>
void decodeRowsOf(float *h, const DecodeArgs &a, long r0, int R) {
  if (R <= 1) {
    decodeRows<1, FMT>(h, a, r0, R);
  } else if (R <= 2) {
    decodeRows<2, FMT>(h, a, r0, R);
  } else if (R <= 4) {
    decodeRows<4, FMT>(h, a, r0, R);
  } else if (R <= 8) {
    decodeRows<8, FMT>(h, a, r0, R);
  } else {
    decodeRows<DA_ROWS, FMT>(h, a, r0, R);
  }
}

void decodeAttend(float *h, const double *x) {
  DecodeArgs a;
  a.q = L(x[0]);
  a.rows = L(x[1]);
  a.qLength = L(x[2]);
  a.dk = L(x[3]);
  a.dv = L(x[4]);
  a.scale = x[5];
  a.table = L(x[6]);
  a.tableStart = L(x[7]);
  a.pageSize = L(x[8]);
  a.keyByte = L(x[9]);
  a.valueByte = L(x[10]);
  a.keyScales = L(x[11]);
  a.valueScales = L(x[12]);
  a.format = static_cast<int>(x[13]);
  a.from = L(x[14]);
  a.to = L(x[15]);
  a.firstQueryPos = x[16];
  a.left = x[17];
  a.out = L(x[18]);
  a.lse = L(x[19]);
  for (long r0 = 0; r0 < a.rows; r0 += DA_ROWS) {
    const int R = static_cast<int>(a.rows - r0 < DA_ROWS ? a.rows - r0 : DA_ROWS);
    if (a.format == 0) {
      decodeRowsOf<0>(h, a, r0, R);
    } else if (a.format == 1) {
      decodeRowsOf<1>(h, a, r0, R);
    } else {
      decodeRowsOf<2>(h, a, r0, R);
    }
  }
}


int run(int op, float *h, float *scratch, const double *a) {
  switch (op) {
    case attnkit::OP_GEMM_NT:
    case attnkit::OP_GEMM_NN:
    case attnkit::OP_GEMM_TN: {
      const Layout layout = op == attnkit::OP_GEMM_NT ? NT : op == attnkit::OP_GEMM_NN ? NN : TN;
      // only gemmNT saturates (gemmNN and gemmTN are plain IEEE float32); alpha and beta are float32 there
      const bool saturate = layout == NT && a[11] != 0;
      const double alpha = layout == NT ? a[9] : static_cast<double>(F(a[9]));
      const double beta = layout == NT ? a[10] : static_cast<double>(F(a[10]));
      gemm(layout, h, scratch, L(a[0]), L(a[1]), L(a[2]), L(a[3]), L(a[4]), L(a[5]), L(a[6]), L(a[7]), L(a[8]),
           alpha, beta, saturate);
      return 0;
    }
    case attnkit::OP_MASK_BAND:
      maskBand(h, L(a[0]), L(a[1]), L(a[2]), L(a[3]), a[4], a[5], a[6], a[7], a[8]);
      return 0;
    case attnkit::OP_SOFTMAX_ROWS:
      softmaxRows(h, L(a[0]), L(a[1]), L(a[2]), L(a[3]), L(a[4]));
      return 0;
    case attnkit::OP_ONLINE_SOFTMAX_STEP:
      onlineSoftmaxStep(h, L(a[0]), L(a[1]), L(a[2]), L(a[3]), L(a[4]), L(a[5]), L(a[6]), L(a[7]), L(a[8]));
      return 0;
    case attnkit::OP_FINISH_ROWS:
      finishRows(h, L(a[0]), L(a[1]), L(a[2]), L(a[3]), L(a[4]), L(a[5]), L(a[6]), L(a[7]), L(a[8]));
      return 0;
    case attnkit::OP_ELU_PLUS_ONE:
      eluPlusOne(h, L(a[0]), L(a[1]));
      return 0;
    case attnkit::OP_RELU:
      relu(h, L(a[0]), L(a[1]));
      return 0;
    case attnkit::OP_NOT_FINITE:
      return notFinite(h, L(a[0]), L(a[1]));
    case attnkit::OP_ROW_SQUARED_NORMS:
      rowSquaredNorms(h, L(a[0]), L(a[1]), L(a[2]), L(a[3]), L(a[4]), F(a[5]));
      return 0;
    case attnkit::OP_ROW_MAX:
      rowMaxRows(h, L(a[0]), L(a[1]), L(a[2]), L(a[3]), L(a[4]));
      return 0;
    case attnkit::OP_EXP_SHIFT_ROWS:
      expShiftRows(h, L(a[0]), L(a[1]), L(a[2]), L(a[3]), L(a[4]), a[5], F(a[6]));
      return 0;
    case attnkit::OP_COLUMN_SUMS:
      columnSums(h, L(a[0]), L(a[1]), L(a[2]), L(a[3]), L(a[4]), F(a[5]));
      return 0;
    case attnkit::OP_DIVIDE_ROWS:
      divideRows(h, L(a[0]), L(a[1]), L(a[2]), L(a[3]), L(a[4]), a[5]);
      return 0;
    case attnkit::OP_EXP_ARRAY:
      expArray(h, L(a[0]), L(a[1]), L(a[2]), false);
      return 0;
    case attnkit::OP_EXP_NON_POSITIVE_ARRAY:
      expArray(h, L(a[0]), L(a[1]), L(a[2]), true);
      return 0;
    case attnkit::OP_MASK_RANGES:
      maskRanges(h, L(a[0]), L(a[1]), L(a[2]), L(a[3]), a[4], L(a[5]));
      return 0;
    case attnkit::OP_ADD_TILE:
      addTile(h, L(a[0]), L(a[1]), L(a[2]), L(a[3]), L(a[4]), L(a[5]));
      return 0;
    case attnkit::OP_ADD_ALIBI:
      addAlibi(h, L(a[0]), L(a[1]), L(a[2]), L(a[3]), F(a[4]), a[5], a[6]);
      return 0;
    case attnkit::OP_SOFTCAP_SCORES:
      softcapScores(h, L(a[0]), L(a[1]), L(a[2]), L(a[3]), F(a[4]));
      return 0;
    case attnkit::OP_DEQUANT_ROWS:
      dequantRows(h, L(a[0]), static_cast<int>(a[1]), L(a[2]), L(a[3]), L(a[4]), L(a[5]));
      return 0;
    case attnkit::OP_FLASH_BLOCK:
      return flashBlock(h, a);
    case attnkit::OP_DECODE_ATTEND:
      decodeAttend(h, a);
      return 0;
    default:
      return -1;
  }
}

long scratchFloats() { return static_cast<long>(KC) * NR; }

}  // namespace

extern const attnkit::Path path = {AK_PATH_NAME, run, scratchFloats};

}  // namespace AK_NS
