/**
 * Engines, the arena and the bounds checks at the TS boundary: growth re-creates views without
 * losing data, a bad offset is an ArenaError (never a write elsewhere), backends share one arena.
 */
import { AttentionInputError } from '@attnkit/core';
import { describe, expect, it } from 'vitest';
import { ArenaError } from '../engine/arena.js';
import {
  type Backend,
  createEngine,
  defaultBackend,
  engineMemory,
  getEngine,
  wasmUnavailableReason,
} from '../engine/engine.js';
import { nativeUnavailableReason } from '../engine/native-ops.js';
import { wasmFeatures } from '../engine/wasm-module.js';

describe('engines', () => {
  it("default ('auto') to native where the addon loaded, else wasm where SIMD validates; all share one arena", () => {
    // Node 20's V8 ships SIMD (the kernels binary validates); Relaxed SIMD is off there, so not checked
    expect(wasmFeatures().simd).toBe(true);
    const native = nativeUnavailableReason() === undefined;
    expect(defaultBackend()).toBe(native ? 'native' : wasmFeatures().simd ? 'wasm' : 'js');
    expect(wasmUnavailableReason()).toBeUndefined();
    expect(getEngine().backend).toBe(defaultBackend());
    expect(getEngine('auto')).toBe(getEngine());
    expect(getEngine('js').arena).toBe(getEngine('wasm').arena);
    if (native) expect(getEngine('native').arena).toBe(getEngine('wasm').arena);
    expect(getEngine('js')).toBe(getEngine('js'));
    expect(() => getEngine('gpu' as never)).toThrow(
      /^backend: expected 'auto', 'native', 'wasm' or 'js', received "gpu"/,
    );
    expect(() => createEngine('gpu' as never)).toThrow(AttentionInputError);
  });

  it('use a shared memory (worker threads can see it) with the arena above static data and scratch', () => {
    const memory = engineMemory();
    expect(memory.shared).toBe(typeof SharedArrayBuffer !== 'undefined');
    expect(memory.memory.buffer instanceof SharedArrayBuffer).toBe(memory.shared);
    expect(memory.controlBytes).toBeGreaterThanOrEqual(1024);
    expect(memory.scratchBytes).toBeGreaterThan(memory.controlBytes);
    expect(memory.arena.base * 4).toBeGreaterThan(memory.scratchBytes);
  });

  it('createEngine makes private engines whose results match the shared one', () => {
    const backends: Backend[] = [
      'wasm',
      'js',
      ...(nativeUnavailableReason() === undefined ? ['native' as const] : []),
    ];
    for (const backend of backends) {
      const own = createEngine(backend, { initialBytes: 4096 });
      expect(own.backend).toBe(backend);
      expect(own.arena.memory).not.toBe(getEngine().arena.memory);
      const a = own.arena.put(new Float32Array([1, 2, 3, 4, 5, 6]));
      const c = own.arena.alloc(4);
      own.ops.gemmNT(2, 2, 3, a, 3, a, 3, c, 2, 1, 0);
      const out = new Float32Array(4);
      own.arena.read(c, 4, out);
      expect(Array.from(out)).toEqual([14, 32, 32, 77]);
    }
    expect(() => createEngine('js', { initialBytes: -1 })).toThrow(
      /^options.initialBytes: expected an integer/,
    );
  });
});

describe('arena', () => {
  it('survives growth: the heap view is re-created and data is kept', () => {
    const { arena } = createEngine('wasm', { initialBytes: 0 });
    const first = arena.put(Float32Array.from({ length: 100 }, (_, i) => i));
    const before = arena.heap;
    const bytesBefore = arena.memory.buffer.byteLength;
    const big = arena.alloc(4 * 2 ** 20); // 16 MiB: forces memory.grow
    expect(arena.memory.buffer.byteLength).toBeGreaterThan(bytesBefore);
    const after = arena.heap;
    expect(after === before).toBe(false);
    expect(after.length).toBeGreaterThanOrEqual(big + 4 * 2 ** 20);
    expect(before.length).toBe(0); // a private (unshared) memory detaches old views
    expect(Array.from(after.subarray(first, first + 5))).toEqual([0, 1, 2, 3, 4]);
  });

  it('the shared engine memory grows too, and its buffer object changes', () => {
    const { arena } = getEngine('wasm');
    const mark = arena.mark();
    try {
      const first = arena.put(new Float32Array([7, 8, 9]));
      const before = arena.heap;
      const need = (arena.memory.buffer.byteLength - arena.mark() * 4) / 4 + 65536;
      arena.alloc(need);
      expect(arena.heap).not.toBe(before);
      expect(arena.heap.length).toBeGreaterThan(before.length);
      expect(Array.from(arena.heap.subarray(first, first + 3))).toEqual([7, 8, 9]);
    } finally {
      arena.release(mark);
    }
  });

  it('refuses bad allocations, releases and ranges', () => {
    const { arena } = createEngine('js', { initialBytes: 0 });
    expect(() => arena.alloc(-1)).toThrow(ArenaError);
    expect(() => arena.alloc(1.5)).toThrow(ArenaError);
    expect(() => arena.alloc(2 ** 31)).toThrow(ArenaError);
    const mark = arena.mark();
    const x = arena.alloc(10);
    expect(() => arena.release(x + 999)).toThrow(ArenaError);
    expect(() => arena.checkRange(x, 17)).toThrow(ArenaError);
    expect(() => arena.read(x - 1000, 2, new Float32Array(2))).toThrow(ArenaError);
    arena.release(mark);
    expect(() => arena.checkRange(x, 1)).toThrow(ArenaError);
  });
});

describe('wasm bounds checks', () => {
  const engine = getEngine('wasm');
  const { arena, ops } = engine;

  function withBuffers(body: (x: number, top: number) => void): void {
    const mark = arena.mark();
    try {
      const x = arena.put(new Float32Array(64).fill(1));
      body(x, arena.mark());
    } finally {
      arena.release(mark);
    }
  }

  it('throws ArenaError naming the primitive and argument for offsets outside live allocations', () => {
    withBuffers((x, top) => {
      expect(() => ops.gemmNT(4, 4, 4, x, 4, x, 4, top, 4, 1, 0)).toThrow(/gemmNT: c = /);
      expect(() => ops.gemmNN(4, 4, 4, x, 4, x, 4, x, 21, 1, 0)).toThrow(/gemmNN: c = .*stride 21/);
      expect(() => ops.gemmTN(4, 4, 4, 0, 4, x, 4, x, 4, 1, 0)).toThrow(/gemmTN: a = 0/);
      expect(() => ops.softmaxRows(x, 8, 8, 8, top)).toThrow(/softmaxRows: lse/);
      expect(() => ops.onlineSoftmaxStep(x, 8, 2, 8, x, x, top - 1, 8, 8)).toThrow(/onlineSoftmaxStep: acc/);
      expect(() => ops.finishRows(x, 8, 2, 8, -5, x, x, 8, x)).toThrow(/finishRows: rowMax/);
      expect(() => ops.eluPlusOne(x, 65)).toThrow(/eluPlusOne: x/);
      expect(() => ops.relu(x - 1, 4)).toThrow(ArenaError);
      expect(() => ops.columnSums(x, 8, 8, 8, top - 4, 0)).toThrow(/columnSums: out/);
      expect(() => ops.maskBand(x, 8, 9, 8, 0, 0, 1, 1, 4)).toThrow(/maskBand: s/);
    });
  });

  it('throws for non-integer offsets, negative strides and sizes', () => {
    withBuffers((x) => {
      expect(() => ops.relu(x + 0.5, 4)).toThrow(ArenaError);
      expect(() => ops.rowMax(x, -8, 2, 4, x)).toThrow(ArenaError);
      expect(() => ops.gemmNT(-1, 4, 4, x, 4, x, 4, x, 4, 1, 0)).toThrow(/m must be a non-negative integer/);
      expect(() => ops.gemmNT(2, Number.NaN, 4, x, 4, x, 4, x, 4, 1, 0)).toThrow(/n must be/);
      expect(() => ops.divideRows(x, 4, 2, 4.5, x, 0)).toThrow(/cols must be/);
    });
  });

  it('accepts empty work anywhere it is harmless (rows or cols of 0)', () => {
    withBuffers((x, top) => {
      expect(() => ops.softmaxRows(top + 100, 0, 0, 5, -1)).not.toThrow();
      expect(() => ops.relu(top + 100, 0)).not.toThrow();
      expect(() => ops.gemmNT(3, 3, 0, top + 100, 0, top + 100, 0, x, 3, 1, 0)).not.toThrow();
    });
  });
});
