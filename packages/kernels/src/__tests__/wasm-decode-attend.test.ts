/**
 * The wasm decodeAttend (assembly/decode.ts) on hand-built pages: against a float64 oracle computed
 * from the decoded stored values, with shapes that reach every code path (1 to 18 rows: groups of 4,
 * lone rows, a second sweep past 16; dk and dv with vector tails; ranges that start and end inside
 * blocks of 64; a window; pages in scattered order behind a table that starts past position 0);
 * a row's bits do not depend on the rows it is computed with; a NaN key reaches exactly the rows
 * that see it.
 */
import { describe, expect, it } from 'vitest';
import { type Engine, getEngine } from '../engine/engine.js';
import { DEQUANT_FLOAT16, DEQUANT_INT8, type DecodeAttendArgs } from '../engine/kernel-ops.js';
import { floatToHalf } from '../runtime/compact-kv.js';
import { seeded, uniform } from './helpers.js';

/** IEEE binary16 from its definition, in float64. */
function decodeHalf(h: number): number {
  const sign = h >= 0x8000 ? -1 : 1;
  const e = (h >> 10) & 31;
  const m = h & 1023;
  if (e === 31) return m === 0 ? sign * Infinity : Number.NaN;
  return e === 0 ? sign * (m / 1024) * 2 ** -14 : sign * (1 + m / 1024) * 2 ** (e - 15);
}

interface Problem {
  rows: number;
  qLength: number;
  dk: number;
  dv: number;
  format: number;
  pageSize: number;
  /** Positions stored: [tableStart, tableStart + pages · pageSize). */
  tableStart: number;
  pages: number;
  from: number;
  to: number;
  firstQueryPos: number;
  left: number;
  seed: number;
}

interface Placed {
  args: DecodeAttendArgs;
  /** The decoded (float32) key and value of each stored position (index position − tableStart). */
  keys: Float64Array[];
  values: Float64Array[];
  q: Float32Array;
}

/**
 * Writes the problem's pages (one kv head: keys [P, dk], key scales, values [P, dv], value scales,
 * in the stored format) in reverse order in the arena, its table, q, out and lse.
 */
function place(engine: Engine, p: Problem): Placed {
  const { arena } = engine;
  const rand = seeded(p.seed);
  const eb = p.format === 0 ? 4 : p.format === DEQUANT_FLOAT16 ? 2 : 1;
  const keyFloats = Math.ceil((p.pageSize * p.dk * eb) / 4);
  const valueFloats = Math.ceil((p.pageSize * p.dv * eb) / 4);
  const pageFloats = keyFloats + p.pageSize + valueFloats + p.pageSize;
  const keys: Float64Array[] = [];
  const values: Float64Array[] = [];
  const offsets: number[] = [];
  for (let i = 0; i < p.pages; i++) offsets.push(arena.alloc(pageFloats));
  offsets.reverse();
  const bytes = new Uint8Array(arena.heap.buffer);
  const view = new DataView(arena.heap.buffer);
  const heap = arena.heap;
  const store = (
    page: number,
    at: number,
    scalesAt: number,
    slot: number,
    depth: number,
    out: Float64Array[],
  ) => {
    const x = uniform(rand, depth, 1.5);
    const decoded = new Float64Array(depth);
    const rowByte = 4 * page + 4 * at + slot * depth * eb;
    let scale = 1;
    if (p.format === DEQUANT_INT8) {
      scale = Math.fround(0.004 + rand() * 0.02);
      heap[page + scalesAt + slot] = scale;
    }
    for (let c = 0; c < depth; c++) {
      if (p.format === 0) {
        view.setFloat32(rowByte + 4 * c, x[c]!, true);
        decoded[c] = Math.fround(x[c]!);
      } else if (p.format === DEQUANT_FLOAT16) {
        const h = floatToHalf(x[c]!);
        view.setUint16(rowByte + 2 * c, h, true);
        decoded[c] = decodeHalf(h);
      } else {
        const b = Math.floor(rand() * 255) - 127;
        bytes[rowByte + c] = b & 0xff;
        decoded[c] = Math.fround(scale * b);
      }
    }
    out.push(decoded);
  };
  for (let i = 0; i < p.pages; i++) {
    for (let slot = 0; slot < p.pageSize; slot++) {
      store(offsets[i]!, 0, keyFloats, slot, p.dk, keys);
    }
    for (let slot = 0; slot < p.pageSize; slot++) {
      store(offsets[i]!, keyFloats + p.pageSize, keyFloats + p.pageSize + valueFloats, slot, p.dv, values);
    }
  }
  const table = arena.alloc(p.pages);
  const words = new Int32Array(arena.heap.buffer);
  for (let i = 0; i < p.pages; i++) words[table + i] = offsets[i]!;
  const q = uniform(rand, p.rows * p.dk, 0.7);
  const args: DecodeAttendArgs = {
    q: arena.put(q),
    rows: p.rows,
    qLength: p.qLength,
    dk: p.dk,
    dv: p.dv,
    scale: 1 / Math.sqrt(p.dk),
    table,
    tableStart: p.tableStart,
    pageSize: p.pageSize,
    keyByte: 0,
    valueByte: 4 * (keyFloats + p.pageSize),
    keyScales: p.format === DEQUANT_INT8 ? keyFloats : -1,
    valueScales: p.format === DEQUANT_INT8 ? keyFloats + p.pageSize + valueFloats : -1,
    format: p.format,
    from: p.from,
    to: p.to,
    firstQueryPos: p.firstQueryPos,
    left: p.left,
    out: arena.alloc(p.rows * p.dv),
    lse: arena.alloc(p.rows),
  };
  return { args, keys, values, q };
}

/** The float64 oracle of row r: softmax over the keys it sees of scale · q · k, times v; and lse. */
function oracle(p: Problem, placed: Placed, r: number): { out: Float64Array; lse: number } {
  const pos = p.firstQueryPos + (r % p.qLength);
  const lo = Math.max(p.from, Math.ceil(pos - p.left));
  const hi = Math.min(p.to - 1, pos);
  const scores: number[] = [];
  for (let key = lo; key <= hi; key++) {
    const k = placed.keys[key - p.tableStart]!;
    let dot = 0;
    for (let c = 0; c < p.dk; c++) dot += placed.q[r * p.dk + c]! * k[c]!;
    scores.push(dot / Math.sqrt(p.dk));
  }
  const out = new Float64Array(p.dv);
  if (scores.length === 0) return { out, lse: Number.NEGATIVE_INFINITY };
  const max = Math.max(...scores);
  let sum = 0;
  for (let i = 0; i < scores.length; i++) {
    const w = Math.exp(scores[i]! - max);
    sum += w;
    const v = placed.values[lo + i - p.tableStart]!;
    for (let c = 0; c < p.dv; c++) out[c] = out[c]! + w * v[c]!;
  }
  for (let c = 0; c < p.dv; c++) out[c] = out[c]! / sum;
  return { out, lse: max + Math.log(sum) };
}

const FORMATS = [
  { name: 'float32', format: 0 },
  { name: 'float16', format: DEQUANT_FLOAT16 },
  { name: 'int8', format: DEQUANT_INT8 },
];

/** Shapes: [rows, qLength, dk, dv]. */
const SHAPES: readonly [number, number, number, number][] = [
  [1, 1, 128, 128],
  [4, 1, 13, 21],
  [3, 3, 6, 3],
  [7, 1, 40, 24],
  [18, 3, 1, 12],
  [17, 17, 16, 8],
];

function problem(
  rows: number,
  qLength: number,
  dk: number,
  dv: number,
  format: number,
  seed: number,
): Problem {
  // positions [70, 300) stored in pages of 23 from tableStart 46; the call reads [75, 291): its first
  // and last blocks of 64 are partial, and the queries sit at its end
  return {
    rows,
    qLength,
    dk,
    dv,
    format,
    pageSize: 23,
    tableStart: 46,
    pages: 11,
    from: 75,
    to: 291,
    firstQueryPos: 291 - qLength,
    left: seed % 2 === 0 ? Number.POSITIVE_INFINITY : 100,
    seed,
  };
}

describe('wasm decodeAttend', () => {
  const engine = getEngine('wasm');
  const { arena } = engine;

  for (const { name, format } of FORMATS) {
    it(`${name}: every row within 3e-6 · (1 + |x|) of the float64 oracle (out and lse), causal and windowed`, () => {
      for (const [i, [rows, qLength, dk, dv]] of SHAPES.entries()) {
        for (const seed of [10 * i + 1, 10 * i + 2]) {
          const mark = arena.mark();
          try {
            const p = problem(rows, qLength, dk, dv, format, seed);
            const placed = place(engine, p);
            engine.ops.decodeAttend!(placed.args);
            for (let r = 0; r < rows; r++) {
              const expected = oracle(p, placed, r);
              const what = `${name} rows ${rows} qLength ${qLength} dk ${dk} dv ${dv} left ${p.left}, row ${r}`;
              const lse = arena.heap[placed.args.lse + r]!;
              expect(Math.abs(lse - expected.lse), `${what} lse`).toBeLessThanOrEqual(
                3e-6 * (1 + Math.abs(expected.lse)),
              );
              for (let c = 0; c < dv; c++) {
                const got = arena.heap[placed.args.out + r * dv + c]!;
                expect(Math.abs(got - expected.out[c]!), `${what} column ${c}`).toBeLessThanOrEqual(
                  3e-6 * (1 + Math.abs(expected.out[c]!)),
                );
              }
            }
          } finally {
            arena.release(mark);
          }
        }
      }
    });

    it(`${name}: a row's bits are the same computed alone as among 18 rows (groups of 4, a lone row, a second sweep)`, () => {
      const mark = arena.mark();
      try {
        const p = problem(18, 3, 13, 21, format, 7);
        const placed = place(engine, p);
        engine.ops.decodeAttend!(placed.args);
        const together = arena.heap.slice(placed.args.out, placed.args.out + 18 * p.dv);
        const lses = arena.heap.slice(placed.args.lse, placed.args.lse + 18);
        for (let r = 0; r < 18; r++) {
          engine.ops.decodeAttend!({
            ...placed.args,
            q: placed.args.q + r * p.dk,
            rows: 1,
            qLength: 1,
            firstQueryPos: p.firstQueryPos + (r % p.qLength),
            out: placed.args.out,
            lse: placed.args.lse,
          });
          const alone = arena.heap.subarray(placed.args.out, placed.args.out + p.dv);
          expect(Array.from(alone), `row ${r}`).toEqual(
            Array.from(together.subarray(r * p.dv, (r + 1) * p.dv)),
          );
          expect(arena.heap[placed.args.lse], `row ${r} lse`).toBe(lses[r]);
        }
      } finally {
        arena.release(mark);
      }
    });
  }

  for (const { name, format } of FORMATS.slice(0, 2)) {
    it(`${name}: a NaN in a key row makes exactly the rows that see it NaN; the others keep their bits`, () => {
      const mark = arena.mark();
      try {
        // 6 queries at 285 .. 290 with a window of 100: a key at 186 is seen by the queries at 285
        // and 286 only (pos − 100 <= 186). float16: its block then takes the full decode (the
        // others the short one), which must give the same bits on its other halves
        const p = { ...problem(6, 6, 13, 21, format, 3), left: 100 };
        const placed = place(engine, p);
        engine.ops.decodeAttend!(placed.args);
        const clean = arena.heap.slice(placed.args.out, placed.args.out + 6 * p.dv);
        const cleanLse = arena.heap.slice(placed.args.lse, placed.args.lse + 6);
        const words = new Int32Array(arena.heap.buffer);
        const key = 186 - p.tableStart;
        const page = words[placed.args.table + Math.floor(key / p.pageSize)]!;
        if (format === 0) arena.heap[page + (key % p.pageSize) * p.dk + 5] = Number.NaN;
        else
          new DataView(arena.heap.buffer).setUint16(
            4 * page + 2 * ((key % p.pageSize) * p.dk + 5),
            0x7e00,
            true,
          );
        engine.ops.decodeAttend!(placed.args);
        for (let r = 0; r < 6; r++) {
          const got = arena.heap.subarray(placed.args.out + r * p.dv, placed.args.out + (r + 1) * p.dv);
          if (r < 2) {
            expect(Array.from(got).every(Number.isNaN), `row ${r}`).toBe(true);
            expect(arena.heap[placed.args.lse + r]).toBeNaN();
          } else {
            expect(Array.from(got), `row ${r}`).toEqual(Array.from(clean.subarray(r * p.dv, (r + 1) * p.dv)));
            expect(arena.heap[placed.args.lse + r]).toBe(cleanLse[r]);
          }
        }
      } finally {
        arena.release(mark);
      }
    });
  }

  it('a row that sees no key gets zeros and lse −Infinity; an empty range touches no page', () => {
    const mark = arena.mark();
    try {
      const p = problem(2, 2, 6, 3, 0, 5);
      const placed = place(engine, p);
      // queries at 60 and 61 precede the range [75, 291): they see nothing
      arena.heap.fill(7, placed.args.out, placed.args.out + 6);
      engine.ops.decodeAttend!({ ...placed.args, firstQueryPos: 60 });
      expect(Array.from(arena.heap.subarray(placed.args.out, placed.args.out + 6))).toEqual([
        0, 0, 0, 0, 0, 0,
      ]);
      expect(Array.from(arena.heap.subarray(placed.args.lse, placed.args.lse + 2))).toEqual([
        Number.NEGATIVE_INFINITY,
        Number.NEGATIVE_INFINITY,
      ]);
      arena.heap.fill(7, placed.args.out, placed.args.out + 6);
      engine.ops.decodeAttend!({ ...placed.args, from: 100, to: 100 });
      expect(Array.from(arena.heap.subarray(placed.args.out, placed.args.out + 6))).toEqual([
        0, 0, 0, 0, 0, 0,
      ]);
    } finally {
      arena.release(mark);
    }
  });
});
