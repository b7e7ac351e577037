/**
 * decodeAttend's operand checks (CheckedKernelOps), on wasm and native: a page table entry, q, out
 * or a scale run outside the arena is an ArenaError naming the primitive, before the kernel reads
 * anything; so are scales given with float32 or float16 rows (no engine reads them). decodeAttendMany (native threads) checks every job and that no two write the same
 * floats; wasm (no decodeAttendMany) refuses it by name.
 */
import { describe, expect, it } from 'vitest';
import { ArenaError } from '../engine/arena.js';
import { type Backend, getEngine } from '../engine/engine.js';
import { DEQUANT_FLOAT16, DEQUANT_INT8, type DecodeAttendArgs } from '../engine/kernel-ops.js';
import { nativeUnavailableReason } from '../engine/native-ops.js';

const NATIVE = nativeUnavailableReason() === undefined;
const CHECKED: Backend[] = ['wasm', ...(NATIVE ? (['native'] as const) : [])];

describe('decodeAttend operand checks', () => {
  for (const backend of CHECKED) {
    it(`${backend}: good operands run (one key: out = v, lse = score); each bad one throws`, () => {
      const { arena, ops } = getEngine(backend);
      const mark = arena.mark();
      try {
        // one page of 4 float32 positions, dk = dv = 2: keys at 0, values at 8 floats
        const page = arena.alloc(16);
        arena.heap.set([1, 2, 0, 0, 0, 0, 0, 0, 5, 6, 0, 0, 0, 0, 0, 0], page);
        const q = arena.put(new Float32Array([3, 4]));
        const out = arena.alloc(2);
        const lse = arena.alloc(1);
        const table = arena.alloc(1);
        new Int32Array(arena.heap.buffer)[table] = page;
        const args: DecodeAttendArgs = {
          q,
          rows: 1,
          qLength: 1,
          dk: 2,
          dv: 2,
          scale: 0.5,
          table,
          tableStart: 0,
          pageSize: 4,
          keyByte: 0,
          valueByte: 32,
          keyScales: -1,
          valueScales: -1,
          format: 0,
          from: 0,
          to: 1,
          firstQueryPos: 0,
          left: Number.POSITIVE_INFINITY,
          out,
          lse,
        };
        ops.decodeAttend!(args);
        expect(Array.from(arena.heap.subarray(out, out + 2))).toEqual([5, 6]);
        expect(arena.heap[lse]).toBe(0.5 * (3 * 1 + 4 * 2));
        new Int32Array(arena.heap.buffer)[table] = arena.mark();
        expect(() => ops.decodeAttend!(args)).toThrow(
          /^decodeAttend: page table entry 0 \(\d+\) puts rows outside/,
        );
        new Int32Array(arena.heap.buffer)[table] = page;
        expect(() => ops.decodeAttend!({ ...args, to: 100 })).toThrow(/^decodeAttend: table = /);
        expect(() => ops.decodeAttend!({ ...args, out: arena.mark() })).toThrow(/^decodeAttend: out = /);
        expect(() => ops.decodeAttend!({ ...args, format: 3 })).toThrow(
          'decodeAttend: format must be 0, DEQUANT_FLOAT16 or DEQUANT_INT8, received 3',
        );
        expect(() =>
          ops.decodeAttend!({
            ...args,
            format: DEQUANT_INT8,
            keyScales: arena.mark() - page - 2,
            valueScales: 0,
          }),
        ).toThrow(/^decodeAttend: keyScales = /);
        expect(() => ops.decodeAttend!({ ...args, pageSize: 0 })).toThrow(ArenaError);
        // scales belong to int8 rows only: given with float32 or float16 rows they are refused by name
        expect(() => ops.decodeAttend!({ ...args, keyScales: 0 })).toThrow(
          'decodeAttend: keyScales must be -1 unless format is DEQUANT_INT8 (float32 and float16 rows have no scales), received 0 with format 0',
        );
        expect(() => ops.decodeAttend!({ ...args, format: DEQUANT_FLOAT16, valueScales: 4 })).toThrow(
          /^decodeAttend: valueScales must be -1 unless format is DEQUANT_INT8 .* received 4 with format 1$/,
        );
        // int8 rows without scales read scale 1: the bytes 1, 2 and 5, 6 are the float32 case's values
        const bytes = new Int8Array(arena.heap.buffer, 4 * page, 64);
        bytes.fill(0);
        bytes.set([1, 2], 0);
        bytes.set([5, 6], 32);
        arena.heap.fill(0, out, out + 2);
        ops.decodeAttend!({ ...args, format: DEQUANT_INT8 });
        expect(Array.from(arena.heap.subarray(out, out + 2))).toEqual([5, 6]);
        expect(arena.heap[lse]).toBe(0.5 * (3 * 1 + 4 * 2));
      } finally {
        arena.release(mark);
      }
    });
  }

  it.skipIf(!NATIVE)(
    'native decodeAttendMany: jobs on 1 to 3 threads give each job its lone result; overlapping outputs, a bad thread count or a bad job are refused before anything runs',
    () => {
      const { arena, ops } = getEngine('native');
      const mark = arena.mark();
      try {
        // one page of 4 float32 positions, dk = dv = 2 (keys at 0, values at 8 floats); job i attends
        // position i alone, so its out is value row i and its lse the score of key i
        const page = arena.alloc(16);
        arena.heap.set([1, 2, 3, 4, 5, 6, 7, 8, 10, 20, 30, 40, 50, 60, 70, 80], page);
        const q = arena.put(new Float32Array([1, 1]));
        const table = arena.alloc(1);
        new Int32Array(arena.heap.buffer)[table] = page;
        const out = arena.alloc(8);
        const lse = arena.alloc(4);
        const job = (i: number): DecodeAttendArgs => ({
          q,
          rows: 1,
          qLength: 1,
          dk: 2,
          dv: 2,
          scale: 1,
          table,
          tableStart: 0,
          pageSize: 4,
          keyByte: 0,
          valueByte: 32,
          keyScales: -1,
          valueScales: -1,
          format: 0,
          from: i,
          to: i + 1,
          firstQueryPos: 3,
          left: Number.POSITIVE_INFINITY,
          out: out + 2 * i,
          lse: lse + i,
        });
        const jobs = [0, 1, 2, 3].map(job);
        for (const threads of [1, 2, 3]) {
          arena.heap.fill(0, out, out + 8);
          ops.decodeAttendMany!(jobs, 4, threads);
          expect(Array.from(arena.heap.subarray(out, out + 8))).toEqual([10, 20, 30, 40, 50, 60, 70, 80]);
          expect(Array.from(arena.heap.subarray(lse, lse + 4))).toEqual([3, 7, 11, 15]);
        }
        arena.heap.fill(-1, out, out + 8);
        expect(() => ops.decodeAttendMany!([job(0), { ...job(1), out: out + 1 }], 2, 2)).toThrow(
          /^decodeAttendMany: two jobs write the floats \[\d+, \d+\); jobs run at once/,
        );
        expect(() => ops.decodeAttendMany!([job(0), { ...job(1), lse: lse }], 2, 2)).toThrow(
          /^decodeAttendMany: two jobs write the floats/,
        );
        expect(() => ops.decodeAttendMany!(jobs, 4, 0)).toThrow(
          'decodeAttendMany: threads must be an integer in [1, 64], received 0',
        );
        expect(() => ops.decodeAttendMany!(jobs, 5, 2)).toThrow(
          'decodeAttendMany: count 5 exceeds the 4 jobs given',
        );
        expect(() => ops.decodeAttendMany!([job(0), { ...job(1), out: arena.mark() }], 2, 2)).toThrow(
          /^decodeAttendMany \(job 1\): out = /,
        );
        // every refusal came before any job ran
        expect(Array.from(arena.heap.subarray(out, out + 8))).toEqual(new Array(8).fill(-1));
      } finally {
        arena.release(mark);
      }
    },
  );

  it('wasm has no decodeAttendMany: the checked call refuses by name', () => {
    const { ops } = getEngine('wasm');
    expect(() => ops.decodeAttendMany!([], 0, 1)).toThrow(
      'decodeAttendMany: this backend has no decodeAttendMany',
    );
  });
});
