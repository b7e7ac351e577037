/**
 * KernelOps with argument checks around an unchecked implementation (the wasm exports, the native
 * addon). Each method checks, once per call, that every operand it will touch lies inside the
 * arena's live allocations (integer offsets and sizes, non-negative strides), then makes one call
 * into the implementation. A bad offset is an ArenaError naming the primitive and the argument,
 * never a silent write into someone else's memory. Checking costs O(number of operands) per call,
 * nothing per element; no memory. Every backend that computes on the arena from outside JavaScript
 * goes through these same checks.
 */
import { type Arena, ArenaError } from './arena.js';
import {
  DEQUANT_FLOAT16,
  DEQUANT_INT8,
  type DecodeAttendArgs,
  dequantElementBytes,
  type KernelOps,
} from './kernel-ops.js';

function isCount(x: number): boolean {
  return (x | 0) === x && x >= 0;
}

export class CheckedKernelOps implements KernelOps {
  /** An Int32 view of the heap for decodeAttend's page tables (renewed when the memory grows). */
  private words: Int32Array | undefined;

  constructor(
    /** The unchecked primitives: they must receive only operands the checks below accepted. */
    private readonly kernels: KernelOps,
    protected readonly arena: Arena,
  ) {}

  /** Throws unless `count` is a non-negative integer. */
  private count(primitive: string, argument: string, count: number): void {
    if (!isCount(count)) {
      throw new ArenaError(`${primitive}: ${argument} must be a non-negative integer, received ${count}`);
    }
  }

  /** Throws unless the rows × cols block at `offset` (row stride `ld`) lies inside live allocations. */
  private block(
    primitive: string,
    argument: string,
    offset: number,
    rows: number,
    ld: number,
    cols: number,
  ): void {
    if (rows === 0 || cols === 0) return;
    const { floor } = this.arena;
    const top = this.arena.mark();
    const end = offset + (rows - 1) * ld + cols;
    if ((offset | 0) !== offset || !isCount(ld) || offset < floor || end > top) {
      throw new ArenaError(
        `${primitive}: ${argument} = ${offset} (${rows} × ${cols}, stride ${ld}) spans [${offset}, ${end}), ` +
          `outside the arena's live allocations [${floor}, ${top}); allocate it from engine.arena first`,
      );
    }
  }

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
    this.dims('gemmNT', m, n, k);
    this.block('gemmNT', 'a', a, m, lda, k);
    this.block('gemmNT', 'b', b, n, ldb, k);
    this.block('gemmNT', 'c', c, m, ldc, n);
    // explicit: the wasm export reads an absent argument as 0 (false)
    this.kernels.gemmNT(m, n, k, a, lda, b, ldb, c, ldc, alpha, beta, saturate);
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
    this.dims('gemmNN', m, n, k);
    this.block('gemmNN', 'a', a, m, lda, k);
    this.block('gemmNN', 'b', b, k, ldb, n);
    this.block('gemmNN', 'c', c, m, ldc, n);
    this.kernels.gemmNN(m, n, k, a, lda, b, ldb, c, ldc, alpha, beta);
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
    this.dims('gemmTN', m, n, k);
    this.block('gemmTN', 'a', a, k, lda, m);
    this.block('gemmTN', 'b', b, k, ldb, n);
    this.block('gemmTN', 'c', c, m, ldc, n);
    this.kernels.gemmTN(m, n, k, a, lda, b, ldb, c, ldc, alpha, beta);
  }

  /** Checks a contiguous run of `n` floats at `offset` (for methods a subclass adds). */
  protected checkVector(primitive: string, argument: string, offset: number, n: number): void {
    this.count(primitive, 'n', n);
    this.block(primitive, argument, offset, 1, 0, n);
  }

  private dims(primitive: string, m: number, n: number, k: number): void {
    this.count(primitive, 'm', m);
    this.count(primitive, 'n', n);
    this.count(primitive, 'k', k);
  }

  private rowsCols(primitive: string, rows: number, cols: number): void {
    this.count(primitive, 'rows', rows);
    this.count(primitive, 'cols', cols);
  }

  /** An optional per-row vector (offset -1 = not given). */
  private optionalVector(primitive: string, argument: string, offset: number, rows: number): void {
    if (offset !== -1) this.block(primitive, argument, offset, 1, 0, rows);
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
    this.rowsCols('maskBand', rows, cols);
    this.block('maskBand', 's', s, rows, lds, cols);
    this.kernels.maskBand(s, lds, rows, cols, firstQueryPos, firstKey, left, right, validKeys);
  }

  maskRanges(s: number, lds: number, rows: number, cols: number, firstKey: number, ranges: number): void {
    this.rowsCols('maskRanges', rows, cols);
    this.block('maskRanges', 's', s, rows, lds, cols);
    this.block('maskRanges', 'ranges', ranges, 1, 0, 2 * rows);
    this.kernels.maskRanges(s, lds, rows, cols, firstKey, ranges);
  }

  addTile(s: number, lds: number, rows: number, cols: number, x: number, ldx: number): void {
    this.rowsCols('addTile', rows, cols);
    this.block('addTile', 's', s, rows, lds, cols);
    this.block('addTile', 'x', x, rows, ldx, cols);
    this.kernels.addTile(s, lds, rows, cols, x, ldx);
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
    this.rowsCols('addAlibi', rows, cols);
    this.block('addAlibi', 's', s, rows, lds, cols);
    this.kernels.addAlibi(s, lds, rows, cols, slope, firstQueryPos, firstKey);
  }

  softcapScores(s: number, lds: number, rows: number, cols: number, cap: number): void {
    this.rowsCols('softcapScores', rows, cols);
    this.block('softcapScores', 's', s, rows, lds, cols);
    this.kernels.softcapScores(s, lds, rows, cols, cap);
  }

  softmaxRows(s: number, lds: number, rows: number, cols: number, lse: number): void {
    this.rowsCols('softmaxRows', rows, cols);
    this.block('softmaxRows', 's', s, rows, lds, cols);
    this.optionalVector('softmaxRows', 'lse', lse, rows);
    this.kernels.softmaxRows(s, lds, rows, cols, lse);
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
    this.rowsCols('onlineSoftmaxStep', rows, cols);
    this.count('onlineSoftmaxStep', 'dv', dv);
    this.block('onlineSoftmaxStep', 's', s, rows, lds, cols);
    this.block('onlineSoftmaxStep', 'rowMax', rowMax, 1, 0, rows);
    this.block('onlineSoftmaxStep', 'rowSum', rowSum, 1, 0, rows);
    this.block('onlineSoftmaxStep', 'acc', acc, rows, ldacc, dv);
    this.kernels.onlineSoftmaxStep(s, lds, rows, cols, rowMax, rowSum, acc, ldacc, dv);
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
    this.count('finishRows', 'rows', rows);
    this.count('finishRows', 'dv', dv);
    this.block('finishRows', 'acc', acc, rows, ldacc, dv);
    this.block('finishRows', 'rowSum', rowSum, 1, 0, rows);
    this.block('finishRows', 'out', out, rows, ldout, dv);
    if (lse !== -1) this.block('finishRows', 'rowMax', rowMax, 1, 0, rows);
    this.optionalVector('finishRows', 'lse', lse, rows);
    this.kernels.finishRows(acc, ldacc, rows, dv, rowMax, rowSum, out, ldout, lse);
  }

  eluPlusOne(x: number, n: number): void {
    this.count('eluPlusOne', 'n', n);
    this.block('eluPlusOne', 'x', x, 1, 0, n);
    this.kernels.eluPlusOne(x, n);
  }

  notFinite(x: number, n: number): number {
    this.count('notFinite', 'n', n);
    this.block('notFinite', 'x', x, 1, 0, n);
    return this.kernels.notFinite(x, n);
  }

  relu(x: number, n: number): void {
    this.count('relu', 'n', n);
    this.block('relu', 'x', x, 1, 0, n);
    this.kernels.relu(x, n);
  }

  rowSquaredNorms(x: number, ldx: number, rows: number, cols: number, out: number, scale: number): void {
    this.rowsCols('rowSquaredNorms', rows, cols);
    this.block('rowSquaredNorms', 'x', x, rows, ldx, cols);
    this.block('rowSquaredNorms', 'out', out, 1, 0, rows);
    this.kernels.rowSquaredNorms(x, ldx, rows, cols, out, scale);
  }

  rowMax(x: number, ldx: number, rows: number, cols: number, out: number): void {
    this.rowsCols('rowMax', rows, cols);
    this.block('rowMax', 'x', x, rows, ldx, cols);
    this.block('rowMax', 'out', out, 1, 0, rows);
    this.kernels.rowMax(x, ldx, rows, cols, out);
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
    this.rowsCols('expShiftRows', rows, cols);
    this.block('expShiftRows', 'x', x, rows, ldx, cols);
    this.optionalVector('expShiftRows', 'rowShift', rowShift, rows);
    this.kernels.expShiftRows(x, ldx, rows, cols, rowShift, shift, factor);
  }

  columnSums(x: number, ldx: number, rows: number, cols: number, out: number, beta: number): void {
    this.rowsCols('columnSums', rows, cols);
    this.block('columnSums', 'x', x, rows, ldx, cols);
    this.block('columnSums', 'out', out, 1, 0, cols);
    this.kernels.columnSums(x, ldx, rows, cols, out, beta);
  }

  divideRows(x: number, ldx: number, rows: number, cols: number, den: number, eps: number): void {
    this.rowsCols('divideRows', rows, cols);
    this.block('divideRows', 'x', x, rows, ldx, cols);
    this.block('divideRows', 'den', den, 1, 0, rows);
    this.kernels.divideRows(x, ldx, rows, cols, den, eps);
  }

  dequantRows(
    srcByte: number,
    format: number,
    rows: number,
    cols: number,
    scales: number,
    dst: number,
  ): void {
    this.rowsCols('dequantRows', rows, cols);
    if (format !== DEQUANT_FLOAT16 && format !== DEQUANT_INT8) {
      throw new ArenaError(
        `dequantRows: format must be DEQUANT_FLOAT16 (${DEQUANT_FLOAT16}) or DEQUANT_INT8 (${DEQUANT_INT8}), received ${format}`,
      );
    }
    const bytes = rows * cols * dequantElementBytes(format);
    const floor = 4 * this.arena.floor;
    const top = 4 * this.arena.mark();
    if (bytes > 0 && (!Number.isInteger(srcByte) || srcByte < floor || srcByte + bytes > top)) {
      throw new ArenaError(
        `dequantRows: srcByte = ${srcByte} (${rows} × ${cols} elements of ${dequantElementBytes(format)} bytes) spans bytes ` +
          `[${srcByte}, ${srcByte + bytes}), outside the arena's live allocations [${floor}, ${top}); allocate it from engine.arena first`,
      );
    }
    this.optionalVector('dequantRows', 'scales', scales, rows);
    this.block('dequantRows', 'dst', dst, rows, cols, cols);
    this.kernels.dequantRows(srcByte, format, rows, cols, scales, dst);
  }

  /**
   * Checks q, out, lse, the page table and every page the positions [from, to) read (O(pages) per
   * call, nothing per position), then runs the kernels' decodeAttend.
   */
  decodeAttend(a: DecodeAttendArgs): void {
    const run = this.kernels.decodeAttend;
    if (run === undefined) throw new ArenaError('decodeAttend: this backend has no decodeAttend');
    this.checkDecodeAttend('decodeAttend', a);
    run.call(this.kernels, a);
  }

  /**
   * Checks every job as decodeAttend does, that no two jobs write the same out or lse floats (they
   * run at once) and that threads is an integer in [1, 64], then runs the kernels' decodeAttendMany.
   */
  decodeAttendMany(jobs: readonly DecodeAttendArgs[], count: number, threads: number): void {
    const name = 'decodeAttendMany';
    const run = this.kernels.decodeAttendMany;
    if (run === undefined) throw new ArenaError(`${name}: this backend has no decodeAttendMany`);
    this.count(name, 'count', count);
    if (count > jobs.length) {
      throw new ArenaError(`${name}: count ${count} exceeds the ${jobs.length} jobs given`);
    }
    if (!Number.isInteger(threads) || threads < 1 || threads > 64) {
      throw new ArenaError(`${name}: threads must be an integer in [1, 64], received ${threads}`);
    }
    const written: [number, number][] = [];
    for (let i = 0; i < count; i++) {
      const a = jobs[i]!;
      this.checkDecodeAttend(`${name} (job ${i})`, a);
      written.push([a.out, a.out + a.rows * a.dv]);
      if (a.lse !== -1) written.push([a.lse, a.lse + a.rows]);
    }
    written.sort((x, y) => x[0] - y[0]);
    let reach = Number.NEGATIVE_INFINITY; // the furthest end of the ranges before this one
    for (const [start, end] of written) {
      if (end > start && start < reach) {
        throw new ArenaError(
          `${name}: two jobs write the floats [${start}, ${Math.min(end, reach)}); jobs run at once and must write disjoint out and lse rows`,
        );
      }
      reach = Math.max(reach, end);
    }
    run.call(this.kernels, jobs, count, threads);
  }

  /** decodeAttend's operand checks (O(pages) per job, nothing per position). */
  private checkDecodeAttend(name: string, a: DecodeAttendArgs): void {
    for (const key of ['rows', 'qLength', 'dk', 'dv', 'pageSize', 'from', 'to'] as const) {
      this.count(name, key, a[key]);
    }
    if (a.qLength === 0 || a.pageSize === 0 || a.tableStart % a.pageSize !== 0 || a.from < a.tableStart) {
      throw new ArenaError(
        `${name}: qLength and pageSize must be positive, tableStart a multiple of pageSize at most from (received qLength ${a.qLength}, pageSize ${a.pageSize}, tableStart ${a.tableStart}, from ${a.from})`,
      );
    }
    if (a.format !== 0 && a.format !== DEQUANT_FLOAT16 && a.format !== DEQUANT_INT8) {
      throw new ArenaError(
        `${name}: format must be 0, DEQUANT_FLOAT16 or DEQUANT_INT8, received ${a.format}`,
      );
    }
    // Only int8 rows carry scales: the float32 and float16 paths of every engine read none, so a
    // scale offset given with them would be silently ignored.
    if (a.format !== DEQUANT_INT8) {
      for (const key of ['keyScales', 'valueScales'] as const) {
        if (a[key] !== -1) {
          throw new ArenaError(
            `${name}: ${key} must be -1 unless format is DEQUANT_INT8 (float32 and float16 rows have no scales), received ${a[key]} with format ${a.format}`,
          );
        }
      }
    }
    this.block(name, 'q', a.q, a.rows, a.dk, a.dk);
    this.block(name, 'out', a.out, a.rows, a.dv, a.dv);
    this.optionalVector(name, 'lse', a.lse, a.rows);
    if (a.to > a.from) {
      const firstPage = (a.from - a.tableStart) / a.pageSize;
      const first = Math.floor(firstPage);
      const last = Math.floor((a.to - 1 - a.tableStart) / a.pageSize);
      this.block(name, 'table', a.table, 1, 0, last + 1);
      const buffer = this.arena.heap.buffer;
      if (this.words?.buffer !== buffer) this.words = new Int32Array(buffer);
      const table = this.words;
      const eb = a.format === 0 ? 4 : dequantElementBytes(a.format);
      for (let i = first; i <= last; i++) {
        const page = table[a.table + i]!;
        // the page's rows this call can read: slots [0, pageSize) of this kv head
        const keyEnd = 4 * page + a.keyByte + a.pageSize * a.dk * eb;
        const valueEnd = 4 * page + a.valueByte + a.pageSize * a.dv * eb;
        if (
          page < this.arena.floor ||
          Math.max(keyEnd, valueEnd) > 4 * this.arena.mark() ||
          a.keyByte < 0 ||
          a.valueByte < 0
        ) {
          throw new ArenaError(
            `${name}: page table entry ${i} (${page}) puts rows outside the arena's live allocations [${this.arena.floor}, ${this.arena.mark()})`,
          );
        }
        if (a.keyScales !== -1) this.block(name, 'keyScales', page + a.keyScales, 1, 0, a.pageSize);
        if (a.valueScales !== -1) this.block(name, 'valueScales', page + a.valueScales, 1, 0, a.pageSize);
      }
    }
  }
}
