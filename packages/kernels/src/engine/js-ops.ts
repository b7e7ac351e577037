/**
 * Plain-TS twins of every primitive in KernelOps: the readable specification and the fallback
 * backend. Straight loops, float32 storage, float64 accumulation in registers where it costs
 * nothing (JS numbers are doubles), Math.exp for exponentials.
 * Complexity is the obvious one per primitive (GEMMs O(m·n·k), row ops O(rows·cols)); memory O(1).
 */
import type { Arena } from './arena.js';
import { DECODE_BLOCK_KEYS, DEQUANT_FLOAT16, type DecodeAttendArgs, type KernelOps } from './kernel-ops.js';

/** The largest finite float32. */
const FLT_MAX = 3.4028234663852886e38;

/** x rounded to float32, with ±Infinity saturated to ±FLT_MAX (NaN stays NaN). */
function saturatedFloat32(x: number): number {
  const r = Math.fround(x);
  return r === Number.POSITIVE_INFINITY ? FLT_MAX : r === Number.NEGATIVE_INFINITY ? -FLT_MAX : r;
}

/** True when one of h[row .. row + cols) is NaN. */
function rowHasNaN(h: Float32Array, row: number, cols: number): boolean {
  for (let c = 0; c < cols; c++) if (Number.isNaN(h[row + c]!)) return true;
  return false;
}

/** The float32 value of IEEE half-precision bits `h` (exact: every half is a float32). */
export function halfToFloat(h: number): number {
  const exponent = (h >> 10) & 0x1f;
  const mantissa = h & 0x3ff;
  const sign = h & 0x8000 ? -1 : 1;
  if (exponent === 0x1f) return mantissa === 0 ? sign * Number.POSITIVE_INFINITY : Number.NaN;
  // subnormal: m · 2^−24; normal: (1024 + m) · 2^(e − 25)
  return exponent === 0 ? sign * mantissa * 2 ** -24 : sign * (1024 + mantissa) * 2 ** (exponent - 25);
}

export class JsKernelOps implements KernelOps {
  private bytes: Uint8Array | undefined;
  private signedBytes: Int8Array | undefined;
  private words: Int32Array | undefined;
  /** One row's scores of one decodeAttend block. */
  private readonly decodeScores = new Float64Array(DECODE_BLOCK_KEYS);

  constructor(private readonly arena: Arena) {}

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
    saturate = true,
  ): void {
    const h = this.arena.heap;
    for (let i = 0; i < m; i++) {
      const ai = a + i * lda;
      const ci = c + i * ldc;
      for (let j = 0; j < n; j++) {
        const bj = b + j * ldb;
        // float64 products of float32 values are exact and their sum cannot overflow: only the
        // final rounding to float32 can give ±Infinity, which saturate turns into ±FLT_MAX
        let dot = 0;
        for (let p = 0; p < k; p++) dot += h[ai + p]! * h[bj + p]!;
        const x = beta === 0 ? alpha * dot : alpha * dot + beta * h[ci + j]!;
        h[ci + j] = saturate ? saturatedFloat32(x) : x;
      }
    }
  }

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
  ): void {
    const h = this.arena.heap;
    for (let i = 0; i < m; i++) {
      const ai = a + i * lda;
      const ci = c + i * ldc;
      for (let j = 0; j < n; j++) {
        let dot = 0;
        for (let p = 0; p < k; p++) dot += h[ai + p]! * h[b + p * ldb + j]!;
        h[ci + j] = beta === 0 ? alpha * dot : alpha * dot + beta * h[ci + j]!;
      }
    }
  }

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
  ): void {
    const h = this.arena.heap;
    for (let i = 0; i < m; i++) {
      const ci = c + i * ldc;
      for (let j = 0; j < n; j++) {
        let dot = 0;
        for (let p = 0; p < k; p++) dot += h[a + p * lda + i]! * h[b + p * ldb + j]!;
        h[ci + j] = beta === 0 ? alpha * dot : alpha * dot + beta * h[ci + j]!;
      }
    }
  }

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
  ): void {
    const h = this.arena.heap;
    for (let r = 0; r < rows; r++) {
      const pos = firstQueryPos + r;
      const row = s + r * lds;
      for (let c = 0; c < cols; c++) {
        const key = firstKey + c;
        if (key >= validKeys || key < pos - left || key > pos + right) h[row + c] = Number.NEGATIVE_INFINITY;
      }
    }
  }

  maskRanges(s: number, lds: number, rows: number, cols: number, firstKey: number, ranges: number): void {
    const h = this.arena.heap;
    for (let r = 0; r < rows; r++) {
      const row = s + r * lds;
      // visible columns [lo, hi) clamped to the tile
      const lo = Math.min(Math.max(h[ranges + 2 * r]! - firstKey, 0), cols);
      const hi = Math.max(lo, Math.min(Math.max(h[ranges + 2 * r + 1]! - firstKey, 0), cols));
      for (let c = 0; c < lo; c++) h[row + c] = Number.NEGATIVE_INFINITY;
      // ceil: a fractional end still hides exactly the integer columns c >= end (an integer end is unchanged)
      for (let c = Math.ceil(hi); c < cols; c++) h[row + c] = Number.NEGATIVE_INFINITY;
    }
  }

  addTile(s: number, lds: number, rows: number, cols: number, x: number, ldx: number): void {
    const h = this.arena.heap;
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < cols; c++) {
        const a = h[s + r * lds + c]!;
        const b = h[x + r * ldx + c]!;
        h[s + r * lds + c] = saturatingSum(a, b);
      }
    }
  }

  addAlibi(
    s: number,
    lds: number,
    rows: number,
    cols: number,
    slope: number,
    firstQueryPos: number,
    firstKey: number,
  ): void {
    const h = this.arena.heap;
    const slope32 = Math.fround(slope);
    for (let r = 0; r < rows; r++) {
      const distance0 = firstKey - (firstQueryPos + r);
      for (let c = 0; c < cols; c++) {
        const term = Math.fround(slope32 * (distance0 + c));
        h[s + r * lds + c] = saturatingSum(h[s + r * lds + c]!, term);
      }
    }
  }

  softcapScores(s: number, lds: number, rows: number, cols: number, cap: number): void {
    const h = this.arena.heap;
    const cap32 = Math.fround(cap);
    // x · (1/cap), a product rather than a division (the compiled kernels' division was a third of
    // the op's time): the same float32 argument on every backend
    const inverse = Math.fround(1 / cap32);
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < cols; c++) {
        const x = h[s + r * lds + c]!;
        h[s + r * lds + c] = cap32 * Math.tanh(Math.fround(x * inverse));
      }
    }
  }

  softmaxRows(s: number, lds: number, rows: number, cols: number, lse: number): void {
    const h = this.arena.heap;
    for (let r = 0; r < rows; r++) {
      const row = s + r * lds;
      // 1. row max (`>` skips NaN: with a finite max, exp(NaN − max) makes the sum, every
      //    probability and lse NaN; a row whose only visible scores are NaN gets max = NaN)
      let max = Number.NEGATIVE_INFINITY;
      for (let c = 0; c < cols; c++) if (h[row + c]! > max) max = h[row + c]!;
      if (max === Number.NEGATIVE_INFINITY) {
        if (rowHasNaN(h, row, cols)) {
          max = Number.NaN;
        } else {
          // a row that sees no key: zeros, lse -inf (never NaN)
          for (let c = 0; c < cols; c++) h[row + c] = 0;
          if (lse >= 0) h[lse + r] = Number.NEGATIVE_INFINITY;
          continue;
        }
      }
      // 2. exponentials and their sum
      let sum = 0;
      for (let c = 0; c < cols; c++) {
        const e = Math.exp(h[row + c]! - max);
        h[row + c] = e;
        sum += e;
      }
      // 3. normalise
      const inv = 1 / sum;
      for (let c = 0; c < cols; c++) h[row + c] = h[row + c]! * inv;
      if (lse >= 0) h[lse + r] = max + Math.log(sum);
    }
  }

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
  ): void {
    const h = this.arena.heap;
    for (let r = 0; r < rows; r++) {
      const row = s + r * lds;
      const oldMax = h[rowMax + r]!;
      // a NaN oldMax stays NaN (every comparison with it is false)
      let newMax = oldMax;
      for (let c = 0; c < cols; c++) if (h[row + c]! > newMax) newMax = h[row + c]!;
      if (newMax === Number.NEGATIVE_INFINITY) {
        if (!rowHasNaN(h, row, cols)) {
          for (let c = 0; c < cols; c++) h[row + c] = 0;
          continue;
        }
        // the tile's only visible scores are NaN: rowMax, rowSum and acc all become NaN below
        newMax = Number.NaN;
      }
      let sum = 0;
      for (let c = 0; c < cols; c++) {
        const e = Math.exp(h[row + c]! - newMax);
        h[row + c] = e;
        sum += e;
      }
      // oldMax == -inf means nothing accumulated yet: corr = 0 (exp(-inf) = 0), acc is zero anyway.
      const corr = Math.exp(oldMax - newMax);
      h[rowSum + r] = h[rowSum + r]! * corr + sum;
      if (corr !== 1) {
        const ar = acc + r * ldacc;
        for (let c = 0; c < dv; c++) h[ar + c] = h[ar + c]! * corr;
      }
      h[rowMax + r] = newMax;
    }
  }

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
  ): void {
    const h = this.arena.heap;
    for (let r = 0; r < rows; r++) {
      const sum = h[rowSum + r]!;
      const ar = acc + r * ldacc;
      const or = out + r * ldout;
      if (sum === 0) {
        for (let c = 0; c < dv; c++) h[or + c] = 0;
        if (lse >= 0) h[lse + r] = Number.NEGATIVE_INFINITY;
        continue;
      }
      const inv = 1 / sum;
      for (let c = 0; c < dv; c++) h[or + c] = h[ar + c]! * inv;
      if (lse >= 0) h[lse + r] = h[rowMax + r]! + Math.log(sum);
    }
  }

  eluPlusOne(x: number, n: number): void {
    const h = this.arena.heap;
    for (let i = x; i < x + n; i++) {
      const v = h[i]!;
      h[i] = v > 0 ? v + 1 : Math.exp(v);
    }
  }

  notFinite(x: number, n: number): number {
    const h = this.arena.heap;
    for (let i = x; i < x + n; i++) {
      const v = h[i]!;
      if (v - v !== 0) return 1; // NaN − NaN and ∞ − ∞ are NaN
    }
    return 0;
  }

  relu(x: number, n: number): void {
    const h = this.arena.heap;
    for (let i = x; i < x + n; i++) if (!(h[i]! > 0) && !Number.isNaN(h[i]!)) h[i] = 0; // NaN propagates
  }

  rowSquaredNorms(x: number, ldx: number, rows: number, cols: number, out: number, scale: number): void {
    const h = this.arena.heap;
    for (let r = 0; r < rows; r++) {
      const row = x + r * ldx;
      let sum = 0;
      for (let c = 0; c < cols; c++) sum += h[row + c]! * h[row + c]!;
      h[out + r] = scale * sum;
    }
  }

  rowMax(x: number, ldx: number, rows: number, cols: number, out: number): void {
    const h = this.arena.heap;
    for (let r = 0; r < rows; r++) {
      const row = x + r * ldx;
      let max = Number.NEGATIVE_INFINITY;
      for (let c = 0; c < cols; c++) if (h[row + c]! > max) max = h[row + c]!;
      h[out + r] = max;
    }
  }

  expShiftRows(
    x: number,
    ldx: number,
    rows: number,
    cols: number,
    rowShift: number,
    shift: number,
    factor: number,
  ): void {
    const h = this.arena.heap;
    for (let r = 0; r < rows; r++) {
      const row = x + r * ldx;
      const total = shift + (rowShift >= 0 ? h[rowShift + r]! : 0);
      for (let c = 0; c < cols; c++) h[row + c] = factor * Math.exp(h[row + c]! - total);
    }
  }

  columnSums(x: number, ldx: number, rows: number, cols: number, out: number, beta: number): void {
    const h = this.arena.heap;
    for (let c = 0; c < cols; c++) {
      let sum = 0;
      for (let r = 0; r < rows; r++) sum += h[x + r * ldx + c]!;
      h[out + c] = beta === 0 ? sum : beta * h[out + c]! + sum;
    }
  }

  divideRows(x: number, ldx: number, rows: number, cols: number, den: number, eps: number): void {
    const h = this.arena.heap;
    for (let r = 0; r < rows; r++) {
      const inv = 1 / (h[den + r]! + eps);
      const row = x + r * ldx;
      for (let c = 0; c < cols; c++) h[row + c] = h[row + c]! * inv;
    }
  }

  dequantRows(
    srcByte: number,
    format: number,
    rows: number,
    cols: number,
    scales: number,
    dst: number,
  ): void {
    const h = this.arena.heap;
    if (this.bytes?.buffer !== h.buffer) {
      this.bytes = new Uint8Array(h.buffer);
      this.signedBytes = new Int8Array(h.buffer);
    }
    const u8 = this.bytes;
    const i8 = this.signedBytes!;
    for (let r = 0; r < rows; r++) {
      const scale = scales < 0 ? 1 : h[scales + r]!;
      const out = dst + r * cols;
      if (format === DEQUANT_FLOAT16) {
        // little-endian halves (WebAssembly memory is little-endian), read byte by byte: any alignment
        const row = srcByte + 2 * r * cols;
        for (let c = 0; c < cols; c++) {
          h[out + c] = scale * halfToFloat(u8[row + 2 * c]! | (u8[row + 2 * c + 1]! << 8));
        }
      } else {
        const row = srcByte + r * cols;
        for (let c = 0; c < cols; c++) h[out + c] = scale * i8[row + c]!;
      }
    }
  }

  /** Element c of the stored row at byte `row`, as dequantRows decodes it. */
  private storedAt(row: number, format: number, c: number, scale: number): number {
    const h = this.arena.heap;
    if (format === 0) return h[(row >> 2) + c]!;
    if (format === DEQUANT_FLOAT16) {
      const u8 = this.bytes!;
      return Math.fround(scale * halfToFloat(u8[row + 2 * c]! | (u8[row + 2 * c + 1]! << 8)));
    }
    return Math.fround(scale * this.signedBytes![row + c]!);
  }

  decodeAttend(a: DecodeAttendArgs): void {
    const h = this.arena.heap;
    if (this.bytes?.buffer !== h.buffer) {
      this.bytes = new Uint8Array(h.buffer);
      this.signedBytes = new Int8Array(h.buffer);
    }
    if (this.words?.buffer !== h.buffer) this.words = new Int32Array(h.buffer);
    const table = this.words;
    const { dk, dv, pageSize: P, format } = a;
    const eb = format === 0 ? 4 : format === DEQUANT_FLOAT16 ? 2 : 1;
    const scores = this.decodeScores;
    for (let r = 0; r < a.rows; r++) {
      const q = a.q + r * dk;
      const acc = a.out + r * dv;
      for (let c = 0; c < dv; c++) h[acc + c] = 0;
      const pos = a.firstQueryPos + (r % a.qLength);
      const lo = Math.max(a.from, Math.ceil(pos - a.left));
      const hi = Math.min(a.to - 1, pos);
      let rowMax = Number.NEGATIVE_INFINITY;
      let rowSum = 0;
      for (let b0 = lo; b0 <= hi; ) {
        const b1 = Math.min(hi + 1, (Math.floor(b0 / DECODE_BLOCK_KEYS) + 1) * DECODE_BLOCK_KEYS);
        const n = b1 - b0;
        let newMax = rowMax;
        let nan = false;
        for (let j = 0; j < n; j++) {
          const position = b0 + j;
          const page = table[a.table + Math.floor((position - a.tableStart) / P)]!;
          const slot = position % P;
          const kRow = 4 * page + a.keyByte + slot * dk * eb;
          const scale = a.keyScales < 0 ? 1 : h[page + a.keyScales + slot]!;
          // float64 products of float32 values are exact: gemmNT's twin
          let dot = 0;
          for (let c = 0; c < dk; c++) dot += h[q + c]! * this.storedAt(kRow, format, c, scale);
          const x = saturatedFloat32(a.scale * dot);
          scores[j] = x;
          if (x > newMax) newMax = x;
          else if (Number.isNaN(x)) nan = true;
        }
        // onlineSoftmaxStep's twin
        if (newMax === Number.NEGATIVE_INFINITY) {
          if (!nan) {
            b0 = b1;
            continue;
          }
          newMax = Number.NaN;
        }
        let sum = 0;
        for (let j = 0; j < n; j++) {
          const e = Math.fround(Math.exp(scores[j]! - newMax));
          scores[j] = e;
          sum += e;
        }
        const corr = Math.exp(rowMax - newMax);
        rowSum = Math.fround(rowSum * corr + sum);
        if (corr !== 1) for (let c = 0; c < dv; c++) h[acc + c] = h[acc + c]! * corr;
        rowMax = newMax;
        for (let j = 0; j < n; j++) {
          const position = b0 + j;
          const page = table[a.table + Math.floor((position - a.tableStart) / P)]!;
          const slot = position % P;
          const vRow = 4 * page + a.valueByte + slot * dv * eb;
          const scale = a.valueScales < 0 ? 1 : h[page + a.valueScales + slot]!;
          const p = scores[j]!;
          for (let c = 0; c < dv; c++) h[acc + c] = h[acc + c]! + p * this.storedAt(vRow, format, c, scale);
        }
        b0 = b1;
      }
      // finishRows' twin
      if (rowSum === 0) {
        for (let c = 0; c < dv; c++) h[acc + c] = 0;
        if (a.lse >= 0) h[a.lse + r] = Number.NEGATIVE_INFINITY;
        continue;
      }
      const inv = 1 / rowSum;
      for (let c = 0; c < dv; c++) h[acc + c] = h[acc + c]! * inv;
      if (a.lse >= 0) h[a.lse + r] = rowMax + Math.log(rowSum);
    }
  }
}

/** a + b in float32, saturating (KernelOps.addTile): ±∞ only from a −∞ term, never +∞. */
function saturatingSum(a: number, b: number): number {
  const sum = Math.fround(a + b);
  if (sum === Number.POSITIVE_INFINITY) return FLT_MAX;
  if (sum === Number.NEGATIVE_INFINITY && a !== Number.NEGATIVE_INFINITY && b !== Number.NEGATIVE_INFINITY) {
    return -FLT_MAX;
  }
  return sum;
}
