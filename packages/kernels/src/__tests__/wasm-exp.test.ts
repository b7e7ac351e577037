/**
 * Accuracy of the kernels' vector exp (assembly/exp.ts, and the C++ one in packages/native on every
 * CPU path this machine runs, where the addon loaded) against float64 Math.exp, measured in ulps
 * of the float32 result: |got - exp(x)| / ulp(exp(x)) with ulp(y) = 2^(floor(log2 y) - 23).
 * Measured maximum over 16 M points of [-87, 88]: wasm 0.99 ulp (relative 8.2e-8); native, whose
 * polynomial is one degree lower (kernels.cc, "exp"), 0.991 ulp on the AVX paths and 0.977 on
 * baseline. Asserted bound: 1.5 ulp (some margin for sampling, well inside the 2 ulp the kernels'
 * tolerances assume). Special values are exact.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { createEngine } from '../engine/engine.js';
import {
  type NativeKernelOps,
  type NativePath,
  nativePathInfo,
  setNativePath,
} from '../engine/native-ops.js';
import { instantiateKernels, kernelsModule } from '../engine/wasm-module.js';
import { compiledBackends, reportNativeSkip } from './helpers.js';

const COUNT = 1 << 20;

type ExpName = 'expArray' | 'expNonPositiveArray';

interface ExpSetup {
  heap: Float32Array;
  x: number;
  out: number;
  exp(name: ExpName, x: number, n: number, out: number): void;
}

function wasmSetup(): ExpSetup {
  const module = kernelsModule(false);
  if (!module) throw new Error('wasm kernels unavailable');
  const memory = new WebAssembly.Memory({
    initial: Math.ceil((8 * COUNT + 65536) / 65536) + 1,
    maximum: 65536,
  });
  const kernels = instantiateKernels(module, memory);
  // place the two arrays above the module's static data and scratch
  const x = Math.ceil((kernels.heapBase() + 32768) / 64) * 16;
  kernels.setScratch(Math.ceil(kernels.heapBase() / 64) * 16);
  return {
    heap: new Float32Array(memory.buffer),
    x,
    out: x + COUNT,
    exp: (name, at, n, out) => kernels[name](at, n, out),
  };
}

/** The native exp on CPU path `path` (set before every call: the tests of the paths interleave). */
function nativeSetup(path: NativePath): ExpSetup {
  const engine = createEngine('native', { initialBytes: 8 * COUNT + 4096 });
  const ops = engine.ops as NativeKernelOps;
  const x = engine.arena.alloc(COUNT);
  const out = engine.arena.alloc(COUNT);
  return {
    heap: engine.arena.heap,
    x,
    out,
    exp: (name, at, n, o) => {
      setNativePath(path);
      ops.expArray(at, n, o, name === 'expNonPositiveArray');
    },
  };
}

/** wasm, then native on each CPU path this machine runs (the paths share one source, not one polynomial evaluation). */
const SETUPS: string[] = compiledBackends().flatMap((backend) =>
  backend === 'wasm' ? ['wasm'] : (nativePathInfo()?.paths ?? []).map((path) => `native ${path}`),
);

afterAll(() => {
  if (nativePathInfo()) setNativePath(undefined);
});

function ulpError(got: number, x: number): number {
  const exact = Math.exp(x);
  const ulp = 2 ** (Math.floor(Math.log2(exact)) - 23);
  return Math.abs(got - exact) / ulp;
}

reportNativeSkip('exp accuracy');

describe.each(SETUPS)('%s exp accuracy', (setup) => {
  const { heap, x, out, exp } =
    setup === 'wasm' ? wasmSetup() : nativeSetup(setup.slice('native '.length) as NativePath);

  function measure(name: ExpName, lo: number, hi: number): number {
    for (let i = 0; i < COUNT; i++) heap[x + i] = lo + ((hi - lo) * i) / (COUNT - 1);
    exp(name, x, COUNT, out);
    let worst = 0;
    for (let i = 0; i < COUNT; i++) worst = Math.max(worst, ulpError(heap[out + i]!, heap[x + i]!));
    return worst;
  }

  it('is within 1.5 ulp of float64 over [-87, 88]', () => {
    expect(measure('expArray', -87, 88)).toBeLessThanOrEqual(1.5);
  });

  it('the x <= 0 variant (softmax) is within 1.5 ulp over [-87, 0]', () => {
    expect(measure('expNonPositiveArray', -87, 0)).toBeLessThanOrEqual(1.5);
  });

  function run(name: ExpName, inputs: number[]): Float32Array {
    // each value in both the vector body and the scalar tail (n + 3 is not a multiple of 4)
    heap.set(inputs, x);
    heap.set([1, 1, 1], x + inputs.length);
    exp(name, x, inputs.length + 3, out);
    return heap.slice(out, out + inputs.length);
  }

  it('gives exactly 0 at -Infinity and far below FLT_MIN, 1 at 0, and keeps NaN (both variants)', () => {
    const inputs = [Number.NEGATIVE_INFINITY, -1e30, -104, -88, 0, -0, Number.NaN];
    const expected = [0, 0, 0, 0, 1, 1, Number.NaN];
    for (const name of ['expArray', 'expNonPositiveArray'] as const) {
      expect(Array.from(run(name, inputs)), name).toEqual(expected);
    }
  });

  it('general variant: 0 below -87.3, +Infinity above ln(FLT_MAX)', () => {
    const got = run('expArray', [-87.31, 88.73, 89, 1e30, Number.POSITIVE_INFINITY]);
    expect(Array.from(got)).toEqual([0, ...new Array(4).fill(Number.POSITIVE_INFINITY)]);
  });

  it('x <= 0 variant: just below FLT_MIN it returns the denormal, rounded once', () => {
    const inputs = [-87.31, -87.5, -87.6];
    const got = run('expNonPositiveArray', inputs);
    // one rounding to the denormal grid (2^-149) plus the polynomial's 1e-7 relative error
    for (const [i, v] of inputs.entries()) {
      expect(Math.abs(got[i]! - Math.exp(Math.fround(v)))).toBeLessThan(2 ** -149 + 1e-45);
    }
  });

  it('stays normal down to -87.3 and overflows only above ln(FLT_MAX)', () => {
    heap.set([-87.29, 88.72], x);
    exp('expArray', x, 2, out);
    expect(ulpError(heap[out]!, heap[x]!)).toBeLessThanOrEqual(1.5);
    expect(ulpError(heap[out + 1]!, heap[x + 1]!)).toBeLessThanOrEqual(1.5);
  });
});
