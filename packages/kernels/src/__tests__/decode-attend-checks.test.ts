/**
 * decodeAttend's operand checks (CheckedKernelOps): a page table entry, q, out or a scale run outside
 * the arena is an ArenaError naming the primitive, before the kernel reads anything; wasm (no
 * decodeAttend) refuses the call by name.
 */
import { describe, expect, it } from 'vitest';
import { ArenaError } from '../engine/arena.js';
import { getEngine } from '../engine/engine.js';
import { DEQUANT_INT8, type DecodeAttendArgs } from '../engine/kernel-ops.js';
import { nativeUnavailableReason } from '../engine/native-ops.js';

const NATIVE = nativeUnavailableReason() === undefined;

describe('decodeAttend operand checks', () => {
  it.skipIf(!NATIVE)('native: good operands run (one key: out = v, lse = score); each bad one throws', () => {
    const { arena, ops } = getEngine('native');
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
    } finally {
      arena.release(mark);
    }
  });

  it('wasm has no decodeAttend: the checked call refuses by name', () => {
    const { ops } = getEngine('wasm');
    expect(() => ops.decodeAttend!({} as DecodeAttendArgs)).toThrow(
      'decodeAttend: this backend has no decodeAttend',
    );
  });
});
