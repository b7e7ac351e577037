/**
 * The native backend: KernelOps over @attnkit/native's C++ kernels (AVX-512 / AVX2 / baseline
 * x86-64, chosen at load; packages/native/README.md), computing on the engine's arena memory in
 * place, with the arena checks of CheckedKernelOps (the same as wasm's).
 *
 * Loading: lazily, on first use, in Node only (`process.getBuiltinModule('module').createRequire`),
 * so browsers and bundlers never see the addon; @attnkit/native is an optional dependency. Where it
 * is missing, was not built, or fails to load, `nativeUnavailableReason()` says why and the default
 * backend ('auto') is wasm.
 *
 * Calling convention (packages/native/src/addon.cc): each thread has one argument block, a
 * Float64Array bound once to the addon; a call writes the heap's address, this engine's scratch
 * offset and the primitive's arguments there and passes only the opcode, since converting Node-API
 * values costs more than the rest of a small call. The heap address is re-read whenever the
 * arena's view changes (memory growth); a shared memory never moves.
 */
import { type Arena, ArenaError } from './arena.js';
import { CheckedKernelOps } from './checked-ops.js';
import type { DecodeAttendArgs, KernelOps } from './kernel-ops.js';

/** The CPU paths compiled into the addon, fastest first. */
export type NativePath = 'avx512' | 'avx2' | 'baseline';

/** Which path native calls run on, and which this CPU could run. */
export interface NativePathInfo {
  /** The path every native call runs now (on every thread). */
  readonly path: NativePath;
  /** 'cpu' (the best this CPU runs), 'ATTNKIT_NATIVE_PATH' (the environment) or 'setPath'. */
  readonly selectedBy: string;
  /** The paths this CPU can run, fastest first. */
  readonly paths: readonly NativePath[];
  /** Every path compiled into the addon. */
  readonly compiled: readonly NativePath[];
}

/** The addon's functions (packages/native/src/addon.cc). */
export interface NativeAddon {
  bindArgs(args: Float64Array): void;
  heapAddress(heap: Float32Array): number;
  /** memcpy between heap floats [offset, offset + array.length) and `array` (checked against the heap). */
  copyFloats(heap: Float32Array, offset: number, array: Float32Array, toHeap: boolean): void;
  run(op: number): number;
  runMany(op: number, blocks: Float64Array, count: number, threads: number): void;
  adviseHugePages(heap: Float32Array, bytes: number): void;
  pathInfo(): NativePathInfo;
  setPath(path?: string): NativePathInfo;
  /** The FMA-throughput ceiling of one core on a path, GFLOP/s (native-ceiling.ts). */
  peakGflops(path?: string, iterations?: number, repeats?: number): number;
}

/** Opcodes, in the order of attnkit::Op in packages/native/src/kernels.h. */
const OP = {
  gemmNT: 0,
  gemmNN: 1,
  gemmTN: 2,
  maskBand: 3,
  softmaxRows: 4,
  onlineSoftmaxStep: 5,
  finishRows: 6,
  eluPlusOne: 7,
  relu: 8,
  notFinite: 9,
  rowSquaredNorms: 10,
  rowMax: 11,
  expShiftRows: 12,
  columnSums: 13,
  divideRows: 14,
  expArray: 15,
  expNonPositiveArray: 16,
  maskRanges: 17,
  addTile: 18,
  addAlibi: 19,
  softcapScores: 20,
  dequantRows: 21,
  flashBlock: 22,
  decodeAttend: 23,
} as const;

/** Doubles of one argument block (attnkit::ARGS_LENGTH). */
const ARGS_LENGTH = 32;

/** This thread's argument block: [heap address, scratch offset, arguments...] (attnkit::ARGS_LENGTH). */
const args = new Float64Array(ARGS_LENGTH);

/** decodeAttend's arguments into the block at `at` (after its heap address and scratch offset). */
function writeDecodeArgs(x: Float64Array, at: number, a: DecodeAttendArgs): void {
  x[at + 2] = a.q;
  x[at + 3] = a.rows;
  x[at + 4] = a.qLength;
  x[at + 5] = a.dk;
  x[at + 6] = a.dv;
  x[at + 7] = a.scale;
  x[at + 8] = a.table;
  x[at + 9] = a.tableStart;
  x[at + 10] = a.pageSize;
  x[at + 11] = a.keyByte;
  x[at + 12] = a.valueByte;
  x[at + 13] = a.keyScales;
  x[at + 14] = a.valueScales;
  x[at + 15] = a.format;
  x[at + 16] = a.from;
  x[at + 17] = a.to;
  x[at + 18] = a.firstQueryPos;
  x[at + 19] = a.left;
  x[at + 20] = a.out;
  x[at + 21] = a.lse;
}

/**
 * Floats of the work buffer flashBlock takes for up to `rows` query rows and tiles of `blockK` keys
 * (packages/native/src/kernels.cc, "fused flash block"): Qᵀ, the Sᵀ tile, the accumulator, eight
 * row statistics and a packed value tile, rows and Dv padded to 16 (every CPU path fits).
 */
export function flashBlockScratchFloats(
  rows: number,
  headDim: number,
  valueDim: number,
  blockK: number,
): number {
  const rp = Math.ceil(rows / 16) * 16;
  const dp = Math.ceil(valueDim / 16) * 16;
  return rp * (headDim + blockK + dp + 8) + blockK * dp;
}

/** One fused flash call (NativeKernelOps.flashBlock): one query block (or row segment) of one head. */
export interface FlashBlockArgs {
  /** Arena offsets: the block's first q row, the head's k and v (key 0), its first out row and lse entry. */
  q: number;
  k: number;
  v: number;
  out: number;
  lse: number;
  rows: number;
  headDim: number;
  valueDim: number;
  /** Keys [keyStart, keyEnd) in tiles of blockK (the rows' visible union, clipped to a split). */
  keyStart: number;
  keyEnd: number;
  blockK: number;
  scale: number;
  /** maskBand's band: the first row's position, window reach, this batch entry's valid keys. */
  firstQueryPos: number;
  left: number;
  right: number;
  validKeys: number;
  /** Keys every row sees (rowSpan's intersection): tiles inside run unmasked. */
  fullFirst: number;
  fullEnd: number;
  /** Arena offset of flashBlockScratchFloats(rows, headDim, valueDim, blockK) floats. */
  work: number;
  /**
   * Up to two score modifiers, in order, applied before the mask exactly as addAlibi and
   * softcapScores do: 0 none, 1 ALiBi (value: the head's slope), 2 softcap (value: the cap).
   */
  mod0: number;
  mod0Value: number;
  mod1: number;
  mod1Value: number;
  /** Every row's lowest visible key besides the band's (a packed document's first key; 0 otherwise). */
  keyLow: number;
  /**
   * Arena offset of `runCount` key runs [start, end) as float pairs, tiled instead of [keyStart,
   * keyEnd) (a block-sparse layout's non-empty columns, each visible to every row); −1: no runs.
   */
  runs: number;
  runCount: number;
}

type Loaded = { addon: NativeAddon; reason?: undefined } | { addon?: undefined; reason: string };
let loaded: Loaded | undefined;

interface NodeProcess {
  getBuiltinModule?: (id: string) => unknown;
}

function load(): Loaded {
  const process = (globalThis as { process?: NodeProcess }).process;
  const moduleApi = process?.getBuiltinModule?.('node:module') as
    | { createRequire(from: string): (id: string) => unknown }
    | undefined;
  if (!moduleApi) return { reason: 'not running in Node (the native backend is a Node addon)' };
  let entry: { addon?: NativeAddon; reason?: string };
  try {
    entry = moduleApi.createRequire(import.meta.url)('@attnkit/native') as typeof entry;
  } catch (error) {
    return {
      reason: `@attnkit/native is not installed (${error instanceof Error ? error.message.split('\n')[0] : String(error)})`,
    };
  }
  if (!entry.addon) return { reason: entry.reason ?? '@attnkit/native loaded no addon' };
  entry.addon.bindArgs(args);
  return { addon: entry.addon };
}

/** The addon, loaded on first call (undefined where it is unavailable: see nativeUnavailableReason). */
export function nativeAddon(): NativeAddon | undefined {
  loaded ??= load();
  return loaded.addon;
}

/** Why the native backend is unavailable here (undefined when it is available). */
export function nativeUnavailableReason(): string | undefined {
  loaded ??= load();
  return loaded.reason;
}

/** The native path in use and the paths this CPU runs; undefined where native is unavailable. */
export function nativePathInfo(): NativePathInfo | undefined {
  return nativeAddon()?.pathInfo();
}

/**
 * Runs every later native call, on every thread, on `path` ('avx512', 'avx2' or 'baseline');
 * undefined returns to the best path this CPU runs. For tests and measurements: a path the CPU
 * lacks is refused (never run). The environment variable ATTNKIT_NATIVE_PATH does the same at load
 * (and `none` disables the native backend).
 */
export function setNativePath(path?: NativePath): NativePathInfo {
  const addon = nativeAddon();
  if (!addon)
    throw new Error(`setNativePath: the native backend is unavailable (${nativeUnavailableReason()})`);
  return addon.setPath(path);
}

/** The unchecked primitives: one argument block write and one addon call each. */
class NativeKernels implements KernelOps {
  private heap: Float32Array | undefined;
  private address = 0;
  /** decodeAttendMany's argument blocks (grown as needed, kept). */
  private blocks = new Float64Array(0);

  constructor(
    private readonly addon: NativeAddon,
    private readonly arena: Arena,
    private readonly scratch: number,
  ) {}

  maskRanges(s: number, lds: number, rows: number, cols: number, firstKey: number, ranges: number): void {
    this.run(OP.maskRanges, s, lds, rows, cols, firstKey, ranges);
  }

  addTile(s: number, lds: number, rows: number, cols: number, x: number, ldx: number): void {
    this.run(OP.addTile, s, lds, rows, cols, x, ldx);
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
    this.run(OP.addAlibi, s, lds, rows, cols, slope, firstQueryPos, firstKey);
  }

  softcapScores(s: number, lds: number, rows: number, cols: number, cap: number): void {
    this.run(OP.softcapScores, s, lds, rows, cols, cap);
  }

  /** Fills the block's head (heap address, scratch) and returns it. */
  private begin(): Float64Array {
    const heap = this.arena.heap;
    if (heap !== this.heap) {
      this.heap = heap;
      this.address = this.addon.heapAddress(heap);
    }
    args[0] = this.address;
    args[1] = this.scratch;
    return args;
  }

  private gemm(
    op: number,
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
    saturate: boolean,
  ): void {
    const x = this.begin();
    x[2] = m;
    x[3] = n;
    x[4] = k;
    x[5] = a;
    x[6] = lda;
    x[7] = b;
    x[8] = ldb;
    x[9] = c;
    x[10] = ldc;
    x[11] = alpha;
    x[12] = beta;
    x[13] = saturate ? 1 : 0;
    this.addon.run(op);
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
    this.gemm(OP.gemmNT, m, n, k, a, lda, b, ldb, c, ldc, alpha, beta, saturate);
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
    this.gemm(OP.gemmNN, m, n, k, a, lda, b, ldb, c, ldc, alpha, beta, false);
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
    this.gemm(OP.gemmTN, m, n, k, a, lda, b, ldb, c, ldc, alpha, beta, false);
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
    const x = this.begin();
    x[2] = s;
    x[3] = lds;
    x[4] = rows;
    x[5] = cols;
    x[6] = firstQueryPos;
    x[7] = firstKey;
    x[8] = left;
    x[9] = right;
    x[10] = validKeys;
    this.addon.run(OP.maskBand);
  }

  softmaxRows(s: number, lds: number, rows: number, cols: number, lse: number): void {
    const x = this.begin();
    x[2] = s;
    x[3] = lds;
    x[4] = rows;
    x[5] = cols;
    x[6] = lse;
    this.addon.run(OP.softmaxRows);
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
    this.nine(OP.onlineSoftmaxStep, s, lds, rows, cols, rowMax, rowSum, acc, ldacc, dv);
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
    this.nine(OP.finishRows, acc, ldacc, rows, dv, rowMax, rowSum, out, ldout, lse);
  }

  private nine(
    op: number,
    p0: number,
    p1: number,
    p2: number,
    p3: number,
    p4: number,
    p5: number,
    p6: number,
    p7: number,
    p8: number,
  ): void {
    const x = this.begin();
    x[2] = p0;
    x[3] = p1;
    x[4] = p2;
    x[5] = p3;
    x[6] = p4;
    x[7] = p5;
    x[8] = p6;
    x[9] = p7;
    x[10] = p8;
    this.addon.run(op);
  }

  private run(op: number, p0: number, p1: number, p2 = 0, p3 = 0, p4 = 0, p5 = 0, p6 = 0): number {
    const x = this.begin();
    x[2] = p0;
    x[3] = p1;
    x[4] = p2;
    x[5] = p3;
    x[6] = p4;
    x[7] = p5;
    x[8] = p6;
    return this.addon.run(op);
  }

  eluPlusOne(x: number, n: number): void {
    this.run(OP.eluPlusOne, x, n);
  }

  relu(x: number, n: number): void {
    this.run(OP.relu, x, n);
  }

  notFinite(x: number, n: number): number {
    return this.run(OP.notFinite, x, n);
  }

  rowSquaredNorms(x: number, ldx: number, rows: number, cols: number, out: number, scale: number): void {
    this.run(OP.rowSquaredNorms, x, ldx, rows, cols, out, scale);
  }

  rowMax(x: number, ldx: number, rows: number, cols: number, out: number): void {
    this.run(OP.rowMax, x, ldx, rows, cols, out);
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
    this.run(OP.expShiftRows, x, ldx, rows, cols, rowShift, shift, factor);
  }

  columnSums(x: number, ldx: number, rows: number, cols: number, out: number, beta: number): void {
    this.run(OP.columnSums, x, ldx, rows, cols, out, beta);
  }

  divideRows(x: number, ldx: number, rows: number, cols: number, den: number, eps: number): void {
    this.run(OP.divideRows, x, ldx, rows, cols, den, eps);
  }

  dequantRows(
    srcByte: number,
    format: number,
    rows: number,
    cols: number,
    scales: number,
    dst: number,
  ): void {
    this.run(OP.dequantRows, srcByte, format, rows, cols, scales, dst);
  }

  decodeAttend(a: DecodeAttendArgs): void {
    writeDecodeArgs(this.begin(), 0, a);
    this.addon.run(OP.decodeAttend);
  }

  decodeAttendMany(jobs: readonly DecodeAttendArgs[], count: number, threads: number): void {
    const head = this.begin();
    if (this.blocks.length < count * ARGS_LENGTH) this.blocks = new Float64Array(count * 2 * ARGS_LENGTH);
    const blocks = this.blocks;
    for (let i = 0; i < count; i++) {
      blocks[i * ARGS_LENGTH] = head[0]!;
      blocks[i * ARGS_LENGTH + 1] = head[1]!;
      writeDecodeArgs(blocks, i * ARGS_LENGTH, jobs[i]!);
    }
    this.addon.runMany(OP.decodeAttend, blocks, count, threads);
  }

  expArray(x: number, n: number, out: number, nonPositive: boolean): void {
    this.run(nonPositive ? OP.expNonPositiveArray : OP.expArray, x, n, out);
  }

  flashBlock(f: FlashBlockArgs): number {
    const x = this.begin();
    x[2] = f.q;
    x[3] = f.k;
    x[4] = f.v;
    x[5] = f.out;
    x[6] = f.lse;
    x[7] = f.rows;
    x[8] = f.headDim;
    x[9] = f.valueDim;
    x[10] = f.keyStart;
    x[11] = f.keyEnd;
    x[12] = f.blockK;
    x[13] = f.scale;
    x[14] = f.firstQueryPos;
    x[15] = f.left;
    x[16] = f.right;
    x[17] = f.validKeys;
    x[18] = f.fullFirst;
    x[19] = f.fullEnd;
    x[20] = f.work;
    x[21] = f.mod0;
    x[22] = f.mod0Value;
    x[23] = f.mod1;
    x[24] = f.mod1Value;
    x[25] = f.keyLow;
    x[26] = f.runs;
    x[27] = f.runCount;
    return this.addon.run(OP.flashBlock);
  }
}

/** KernelOps on the native addon, over `arena`, with its packing scratch at float offset `scratch`. */
export class NativeKernelOps extends CheckedKernelOps {
  private readonly raw: NativeKernels;
  private readonly addon: NativeAddon;

  /**
   * Asks for transparent huge pages over the arena's memory up to `bytes` from its start, memory it
   * will grow into included (a hint: nothing changes where the OS declines). For an engine whose
   * memory is scanned end to end, like a paged KV cache's: no TLB miss every 4 KiB.
   */
  adviseHugePages(bytes: number): void {
    this.addon.adviseHugePages(this.arena.heap, bytes);
  }

  constructor(addon: NativeAddon, arena: Arena, scratch: number) {
    const raw = new NativeKernels(addon, arena, scratch);
    super(raw, arena);
    this.raw = raw;
    this.addon = addon;
  }

  /**
   * arena.put(data) with memcpy: V8 copies into the engine's shared memory element by element
   * (relaxed atomics), 2.7× the time of memcpy for q, k and v here. Returns the offset.
   */
  put(data: Float32Array): number {
    const offset = this.arena.alloc(data.length);
    this.addon.copyFloats(this.arena.heap, offset, data, true);
    return offset;
  }

  /** arena.read(offset, target.length, target) with memcpy (see put). */
  read(offset: number, target: Float32Array): void {
    this.arena.checkRange(offset, target.length);
    this.addon.copyFloats(this.arena.heap, offset, target, false);
  }

  /**
   * out[i] = exp(x[i]) with the kernels' vector exp (the general one, or with `nonPositive` the one
   * softmax uses for x <= 0): for accuracy tests. Checked like the primitives.
   */
  expArray(x: number, n: number, out: number, nonPositive = false): void {
    this.checkVector('expArray', 'x', x, n);
    this.checkVector('expArray', 'out', out, n);
    this.raw.expArray(x, n, out, nonPositive);
  }

  /**
   * The fused flash kernel: rows [0, f.rows) from f.q against keys [f.keyStart, f.keyEnd) of one
   * head, in one native call — the per-item loop of flash (gemmNT, maskBand, onlineSoftmaxStep,
   * gemmNN per tile of f.blockK keys, then finishRows) with their semantics, writing the rows' out
   * and lse. The head's values must be finite (hidden keys are weighted by 0). Returns 1 when the
   * unnormalised accumulator overflowed (values near FLT_MAX; the rows' results are then not
   * usable: rerun them on the primitives, whose second pass handles it), else 0. Checked like the
   * primitives.
   */
  flashBlock(f: FlashBlockArgs): number {
    const name = 'flashBlock';
    const keys = f.keyEnd - f.keyStart;
    if (!Number.isInteger(f.blockK) || f.blockK < 1) {
      throw new ArenaError(`${name}: blockK must be a positive integer, received ${f.blockK}`);
    }
    if (!Number.isInteger(f.keyStart) || f.keyStart < 0 || !(keys >= 0)) {
      throw new ArenaError(`${name}: keys [${f.keyStart}, ${f.keyEnd}) are not a range of key indices`);
    }
    this.checkVector(name, 'q', f.q, f.rows * f.headDim);
    this.checkVector(name, 'k', f.k + f.keyStart * f.headDim, keys * f.headDim);
    this.checkVector(name, 'v', f.v + f.keyStart * f.valueDim, keys * f.valueDim);
    this.checkVector(name, 'out', f.out, f.rows * f.valueDim);
    this.checkVector(name, 'lse', f.lse, f.rows);
    this.checkVector(name, 'work', f.work, flashBlockScratchFloats(f.rows, f.headDim, f.valueDim, f.blockK));
    if (f.runs !== -1) this.checkVector(name, 'runs', f.runs, 2 * f.runCount);
    return this.raw.flashBlock(f);
  }
}
