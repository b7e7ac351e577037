/**
 * The primitive set every variant computes with (docs/design.md, Engine and threads).
 *
 * Every argument named `a`, `b`, `c`, `s`, `x`, `acc`, `out`, `rowMax`, ... is an OFFSET in float32
 * elements into the engine's memory (`engine.heap`), and every `ld*` is a row stride in elements.
 * Matrices are row-major. Offsets of -1 mean "not given" where the doc says so.
 * Primitives never allocate and never validate: callers (variants) own bounds, which the
 * arena checks once when they place their buffers.
 *
 * `beta == 0` means "overwrite C": the previous contents of C are never read (so garbage or NaN
 * in a fresh buffer cannot leak).
 *
 * Non-finite values (docs/design.md, "Limits and non-finite values"): in a score buffer −Infinity
 * means "hidden" and nothing else (gemmNT saturates, so overflow never produces it); NaN propagates
 * through every visible score of a row into its probabilities, output and lse.
 */
export interface KernelOps {
  /**
   * C[m×n] = alpha · A[m×k] · B[n×k]ᵀ + beta · C   (scores = scale · Q·Kᵀ).
   * `saturate` (default true: score semantics): a result beyond float32's range is stored as
   * ±FLT_MAX instead of ±Infinity (also for infinite inputs), and a float32 sum whose terms overflow
   * with opposite signs (+∞ − ∞) is recomputed in float64 instead of becoming NaN, so every result
   * is finite or NaN, and NaN only when an input is NaN or infinite (∞·0, ∞ − ∞). alpha above
   * FLT_MAX is honoured there too. Finite, in-range results are unchanged. The price is a finiteness
   * check per stored row of 8 (the slow path runs only on rows holding a non-finite result).
   * `saturate = false`: plain IEEE float32 (±Infinity, NaN from +∞ − ∞) for products that are not
   * scores (FAVOR+ projections).
   */
  gemmNT(
    m: number,
    n: number,
    k: number,
    a: number,
    lda: number,
    b: number,
    ldb: number,
    c: number,
    ldc: number,
    alpha: number,
    beta: number,
    saturate?: boolean,
  ): void;
  /** C[m×n] = alpha · A[m×k] · B[k×n] + beta · C   (acc += P·V). Plain IEEE float32. */
  gemmNN(
    m: number,
    n: number,
    k: number,
    a: number,
    lda: number,
    b: number,
    ldb: number,
    c: number,
    ldc: number,
    alpha: number,
    beta: number,
  ): void;
  /** C[m×n] = alpha · A[k×m]ᵀ · B[k×n] + beta · C   (state += φ(K)ᵀ·V). Plain IEEE float32. */
  gemmTN(
    m: number,
    n: number,
    k: number,
    a: number,
    lda: number,
    b: number,
    ldb: number,
    c: number,
    ldc: number,
    alpha: number,
    beta: number,
  ): void;

  /**
   * Sets s[r][c] = -Infinity where key `firstKey + c` is hidden from the query whose key position
   * is `firstQueryPos + r` (docs/design.md, Masks: visible iff key < validKeys and pos - left <= key <= pos + right).
   * left/right may be Infinity.
   */
  maskBand(
    s: number,
    lds: number,
    rows: number,
    cols: number,
    firstQueryPos: number,
    firstKey: number,
    left: number,
    right: number,
    validKeys: number,
  ): void;

  /**
   * Sets s[r][c] = -Infinity where key `firstKey + c` lies outside row r's range [ranges[2r],
   * ranges[2r + 1]) (absolute key indices stored as floats; end <= first: the row sees nothing).
   * The range part of any mask (docs/design.md, Masks: documents, prefix-LM, band, kvLengths).
   */
  maskRanges(s: number, lds: number, rows: number, cols: number, firstKey: number, ranges: number): void;

  /**
   * s[r][c] += x[r][c] (an additive score bias tile), saturating: a sum beyond float32's range is
   * ±FLT_MAX unless a term is −Infinity (which stays: the key then weighs 0), and +Infinity never
   * stays a score (it becomes FLT_MAX). NaN propagates.
   */
  addTile(s: number, lds: number, rows: number, cols: number, x: number, ldx: number): void;

  /**
   * ALiBi: s[r][c] += slope · ((firstKey + c) − (firstQueryPos + r)), the product rounded to float32,
   * the sum saturating as addTile's.
   */
  addAlibi(
    s: number,
    lds: number,
    rows: number,
    cols: number,
    slope: number,
    firstQueryPos: number,
    firstKey: number,
  ): void;

  /**
   * Logit softcapping: s[r][c] = cap · tanh(s[r][c] / cap) (cap > 0), within a few float32 ulp of
   * the exact value; ±Infinity gives ±cap, NaN stays NaN.
   */
  softcapScores(s: number, lds: number, rows: number, cols: number, cap: number): void;

  /**
   * Row softmax in place, max-subtracted. A row whose entries are all -Infinity becomes zeros.
   * If lse >= 0, lse[r] = max + log(sum) (-Infinity for an empty row).
   * A row holding a NaN (not -Infinity, i.e. visible) becomes all NaN, lse NaN. Entries tied at the
   * maximum share its weight equally (also at ±FLT_MAX). +Infinity is not a score (gemmNT never
   * makes one): a row holding it becomes NaN.
   */
  softmaxRows(s: number, lds: number, rows: number, cols: number, lse: number): void;

  /**
   * The online-softmax inner step (tiled attention), per row r (s holds scaled, masked scores; -Infinity = hidden):
   *   mNew = max(rowMax[r], max_c s[r][c]);  if mNew == -Infinity the row is untouched (s set to 0);
   *   a NaN among the tile row's scores, or in rowMax[r], makes rowMax[r], rowSum[r], acc row r and
   *   s row r NaN (finishRows then gives NaN, never the empty row's zeros);
   *   s[r][c] = exp(s[r][c] - mNew);  corr = exp(rowMax[r] - mNew);
   *   rowSum[r] = rowSum[r]·corr + Σ_c s[r][c];  acc[r][0..dv) *= corr;  rowMax[r] = mNew.
   * The caller then does acc += s·V with gemmNN(beta = 1).
   */
  onlineSoftmaxStep(
    s: number,
    lds: number,
    rows: number,
    cols: number,
    rowMax: number,
    rowSum: number,
    acc: number,
    ldacc: number,
    dv: number,
  ): void;

  /**
   * out[r][c] = acc[r][c] / rowSum[r]   (0 when rowSum[r] == 0: a row that saw no key);
   * if lse >= 0: lse[r] = rowMax[r] + log(rowSum[r])  (-Infinity when rowSum[r] == 0).
   * A NaN rowSum (a row that met a NaN score) gives NaN out and lse.
   * out may equal acc.
   */
  finishRows(
    acc: number,
    ldacc: number,
    rows: number,
    dv: number,
    rowMax: number,
    rowSum: number,
    out: number,
    ldout: number,
    lse: number,
  ): void;

  /** x[i] = elu(x[i]) + 1 = (x > 0 ? x + 1 : exp(x)) over a contiguous run of n. */
  eluPlusOne(x: number, n: number): void;
  /** x[i] = max(x[i], 0) over a contiguous run of n (−0 → +0; NaN stays NaN). */
  relu(x: number, n: number): void;
  /** 1 when x[0, n) holds a NaN or an infinity, else 0 (what decides whether hidden keys must be left out of P·V). */
  notFinite(x: number, n: number): number;
  /** out[r] = scale · Σ_c x[r][c]²  (FAVOR+'s |x'|²/2 with scale = 1/(2√d)). */
  rowSquaredNorms(x: number, ldx: number, rows: number, cols: number, out: number, scale: number): void;
  /** out[r] = max_c x[r][c]  (-Infinity for cols == 0). */
  rowMax(x: number, ldx: number, rows: number, cols: number, out: number): void;
  /**
   * x[r][c] = factor · exp(x[r][c] - rowShift[r] - shift); rowShift = -1 means no per-row shift.
   * (FAVOR+ features: exp(w·x' - |x'|²/2 - stabiliser) / √m.)
   */
  expShiftRows(
    x: number,
    ldx: number,
    rows: number,
    cols: number,
    rowShift: number,
    shift: number,
    factor: number,
  ): void;
  /** out[c] = beta · out[c] + Σ_r x[r][c]   (e.g. a running Σ φ(k), a kernel-attention normaliser). */
  columnSums(x: number, ldx: number, rows: number, cols: number, out: number, beta: number): void;
  /** x[r][c] = x[r][c] / (den[r] + eps)   (a kernel-attention normaliser; eps guards a zero den). */
  divideRows(x: number, ldx: number, rows: number, cols: number, den: number, eps: number): void;

  /**
   * Compact KV storage (docs/design.md, Caches and the layer): dst[r][c] = scale_r · decode(src[r][c])
   * for `rows` packed rows of `cols` elements, dst contiguous float32 (row stride cols).
   * `srcByte` is a BYTE offset into the engine's memory (compact rows need not start on a float):
   * row r starts at srcByte + r · cols · (2 for float16, 1 for int8). `format` is
   * DEQUANT_FLOAT16 (IEEE binary16, every value exact in float32: subnormals, ±Infinity and NaN
   * included) or DEQUANT_INT8 (a signed byte). scale_r = scales[r] (float offset of `rows` floats),
   * or 1 when scales = −1. The product is rounded once to float32 (NaN · anything is NaN).
   * Used to expand a tile of a compact cache into a small float32 scratch right before the gemms.
   */
  dequantRows(srcByte: number, format: number, rows: number, cols: number, scales: number, dst: number): void;

  /**
   * A paged cache's decode attend (docs/design.md, Caches and the layer): `rows` query rows attend
   * the positions [from, to) of one kv head, read in place from their pages, in one online-softmax
   * pass. Row r is query r % qLength, at absolute position firstQueryPos + r % qLength, and sees the
   * positions p − left ≤ key ≤ p (left may be Infinity). Scores are scale · q · k with gemmNT's
   * saturation; the running max and sum follow onlineSoftmaxStep over blocks of DECODE_BLOCK_KEYS
   * positions cut at absolute multiples of it (so the result does not depend on the page size), and
   * finishRows' rule ends it: out rows (row stride dv) and lse; a row that sees no key gets zeros and
   * −Infinity, a NaN among its visible scores NaN. A row adds only the values of keys it sees.
   * Every backend has it (js-ops.ts, assembly/decode.ts, native's decodeRows); optional for a
   * backend still to come, whose paged cache would then keep its tiled path.
   */
  decodeAttend?(args: DecodeAttendArgs): void;

  /**
   * jobs[0 .. count) as `count` decodeAttend calls on up to `threads` threads (native threads: the
   * paged cache's memory is its own engine's, out of the worker pool's reach). The jobs must write
   * disjoint out and lse rows; each job's result is the one decodeAttend gives it alone, whatever
   * thread runs it, so the results are the same bits at every thread count. Optional: only the
   * native backend has it (elsewhere the caller runs the jobs one by one).
   */
  decodeAttendMany?(jobs: readonly DecodeAttendArgs[], count: number, threads: number): void;
}

/** decodeAttend's block of keys (an absolute position grid). */
export const DECODE_BLOCK_KEYS = 64;

/**
 * decodeAttend's arguments (float offsets unless said otherwise). A caller keeps one object and
 * rewrites its fields per call: no allocation per call.
 */
export interface DecodeAttendArgs {
  /** [rows, dk] query rows. */
  q: number;
  rows: number;
  qLength: number;
  dk: number;
  dv: number;
  scale: number;
  /** Int32 page table (offset in 4-byte units): entry i is the float offset of the page holding positions from tableStart + i · pageSize. */
  table: number;
  /** Absolute position of the first entry's first slot (a multiple of pageSize). */
  tableStart: number;
  pageSize: number;
  /** BYTE offsets, within a page, of this kv head's key row 0 and value row 0 (row stride dk or dv elements). */
  keyByte: number;
  valueByte: number;
  /** Float offsets, within a page, of this kv head's per-row scales (int8 only: −1 for float32 and float16 rows; int8 with −1 has scale 1). */
  keyScales: number;
  valueScales: number;
  /** 0 (float32), DEQUANT_FLOAT16 or DEQUANT_INT8. */
  format: number;
  /** Absolute positions [from, to) to read. */
  from: number;
  to: number;
  firstQueryPos: number;
  left: number;
  /** [rows, dv] results and [rows] log-sum-exps (lse may be −1). */
  out: number;
  lse: number;
}

/** dequantRows' format code of IEEE half-precision rows. */
export const DEQUANT_FLOAT16 = 1;
/** dequantRows' format code of signed 8-bit rows (with a scale per row). */
export const DEQUANT_INT8 = 2;
/** Bytes of one element in a dequantRows format. */
export function dequantElementBytes(format: number): number {
  return format === DEQUANT_FLOAT16 ? 2 : 1;
}
