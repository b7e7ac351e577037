/**
 * What linear attention honours and what it refuses: every refusal is an AttentionInputError naming
 * the option (never a silent ignore), windows equivalent to no mask or to causal are honoured exactly,
 * malformed linear-specific options name their path. Also GQA = repeated kv heads, determinism per
 * seed, and workspaceBytes being independent of the sequence length beyond the arena copies.
 */
import type { Tensor } from '@attnkit/core';
import { thrownInputError as inputError } from '@attnkit/core/testing';
import { describe, expect, it } from 'vitest';
import { type FeatureMap, linear, linearAttention, referenceLinearAttention } from '../index.js';
import { expectClose, inputs, LINEAR_TOLERANCE } from './helpers.js';

const small = inputs({ q: [1, 2, 9, 4], k: [1, 2, 9, 4], v: [1, 2, 9, 3] }, 10);

describe('refused options', () => {
  const refusals: [string, Record<string, unknown>, string][] = [
    ['a finite window', { window: [2, 2] }, 'options.window'],
    ['a causal window with a finite left reach', { window: [3, 0], causal: true }, 'options.window'],
    ['lse', { lse: new Float32Array(18) }, 'options.lse'],
    ['scale with elu', { scale: 0.5 }, 'options.scale'],
    ['scale with relu', { featureMap: 'relu', scale: 0.5 }, 'options.scale'],
    ['features with elu', { features: 16 }, 'options.features'],
    ['seed with relu', { featureMap: 'relu', seed: 3 }, 'options.seed'],
  ];
  for (const [what, options, name] of refusals) {
    it(`${what}: listed by notSupportedReasons and refused by forward`, () => {
      const { q, k, v } = small;
      const reasons = linear.notSupportedReasons(q, k, v, options);
      expect(reasons.length).toBe(1);
      expect(reasons[0]!.startsWith(name)).toBe(true);
      const error = inputError(() => linearAttention(q, k, v, options));
      expect(error.argument).toBe('options');
      expect(error.message).toContain(name);
    });
  }

  it('FAVOR+ honours scale (it estimates exp(scale·q·k)), seed and features', () => {
    const { q, k, v } = small;
    expect(
      linear.notSupportedReasons(q, k, v, { featureMap: 'favor', scale: 0.3, seed: 1, features: 8 }),
    ).toEqual([]);
  });
});

describe('malformed linear options name their path', () => {
  const cases: [Record<string, unknown>, string][] = [
    [{ featureMap: 'softmax' }, 'options.featureMap'],
    [{ featureMap: 'favor', features: 0 }, 'options.features'],
    [{ featureMap: 'favor', features: 2.5 }, 'options.features'],
    [{ featureMap: 'favor', seed: 0.5 }, 'options.seed'],
    [{ chunkSize: 0 }, 'options.chunkSize'],
    [{ eps: 0 }, 'options.eps'],
    [{ eps: Number.NaN }, 'options.eps'],
    [{ backend: 'gpu' }, 'options.backend'],
    [{ blockQ: 64 }, 'options.blockQ'],
  ];
  for (const [options, name] of cases) {
    it(`${JSON.stringify(options)} → ${name}`, () => {
      const { q, k, v } = small;
      expect(inputError(() => linearAttention(q, k, v, options)).argument).toBe(name);
      expect(() => linear.notSupportedReasons(q, k, v, options)).not.toThrow();
    });
  }
});

describe('windows that are no mask or exactly causal are honoured', () => {
  const maps: FeatureMap[] = ['elu', 'relu', 'favor'];
  for (const featureMap of maps) {
    it(`${featureMap}: [∞, 0] = causal, [Lk, Lq] = no mask, causal + [∞, 5] = causal`, () => {
      const { q, k, v } = inputs({ q: [1, 2, 12, 5], k: [1, 2, 20, 5], v: [1, 2, 20, 5] }, 11);
      const causal = linearAttention(q, k, v, { featureMap, causal: true });
      const full = linearAttention(q, k, v, { featureMap });
      expect(Array.from(linearAttention(q, k, v, { featureMap, window: [Infinity, 0] }).data)).toEqual(
        Array.from(causal.data),
      );
      expect(Array.from(linearAttention(q, k, v, { featureMap, window: [19, 11] }).data)).toEqual(
        Array.from(full.data),
      );
      expect(
        Array.from(linearAttention(q, k, v, { featureMap, causal: true, window: [Infinity, 5] }).data),
      ).toEqual(Array.from(causal.data));
      // and the causal result really is the causal quadratic form, not the full one
      expectClose(
        causal.data,
        referenceLinearAttention(q, k, v, { featureMap, causal: true }).out,
        LINEAR_TOLERANCE,
        'causal',
      );
    });
  }
});

function repeatHeads(t: Tensor, times: number): Tensor {
  const [b, h, l, d] = t.shape as [number, number, number, number];
  const data = new Float32Array(b * h * times * l * d);
  for (let bi = 0; bi < b; bi++) {
    for (let hi = 0; hi < h; hi++) {
      const head = t.data.subarray((bi * h + hi) * l * d, (bi * h + hi + 1) * l * d);
      for (let r = 0; r < times; r++) data.set(head, ((bi * h + hi) * times + r) * l * d);
    }
  }
  return { data, shape: [b, h * times, l, d] };
}

describe('GQA / MQA and determinism', () => {
  for (const featureMap of ['elu', 'favor'] as const) {
    for (const causal of [false, true]) {
      it(`${featureMap}${causal ? ', causal' : ''}: GQA = the same kv heads repeated (bitwise)`, () => {
        const { q, k, v } = inputs({ q: [2, 6, 21, 8], k: [2, 2, 21, 8], v: [2, 2, 21, 5] }, 12);
        const options = { featureMap, causal, kvLengths: [21, 13] };
        const grouped = linearAttention(q, k, v, options);
        const repeated = linearAttention(q, repeatHeads(k, 3), repeatHeads(v, 3), options);
        expect(Array.from(grouped.data)).toEqual(Array.from(repeated.data));
      });
    }
  }

  it('FAVOR+: the same seed gives bitwise the same output, another seed a different one', () => {
    const { q, k, v } = inputs({ q: [1, 2, 30, 8], k: [1, 2, 30, 8], v: [1, 2, 30, 8] }, 13);
    const a = linearAttention(q, k, v, { featureMap: 'favor', features: 16, seed: 5 });
    const b = linearAttention(q, k, v, { featureMap: 'favor', features: 16, seed: 5 });
    const c = linearAttention(q, k, v, { featureMap: 'favor', features: 16, seed: 6 });
    expect(Array.from(a.data)).toEqual(Array.from(b.data));
    let differing = 0;
    for (let i = 0; i < a.data.length; i++) if (a.data[i] !== c.data[i]) differing++;
    expect(differing).toBeGreaterThan(a.data.length / 2);
  });

  it('the default seed is fixed: no seed = seed 0', () => {
    const { q, k, v } = small;
    expect(Array.from(linearAttention(q, k, v, { featureMap: 'favor' }).data)).toEqual(
      Array.from(linearAttention(q, k, v, { featureMap: 'favor', seed: 0 }).data),
    );
  });
});

describe('eps', () => {
  it('is the documented guard: out = num / (den + eps)', () => {
    // relu with q = k = [1]: every weight is 1, den = Lk, num = Σ v. eps = 1 makes it Σ v / (Lk + 1).
    const q = { data: new Float32Array([1]), shape: [1, 1, 1, 1] };
    const k = { data: new Float32Array([1, 1, 1]), shape: [1, 1, 3, 1] };
    const v = { data: new Float32Array([2, 4, 9]), shape: [1, 1, 3, 1] };
    expect(linearAttention(q, k, v, { featureMap: 'relu', eps: 1 }).data[0]).toBeCloseTo(15 / 4, 6);
    expect(referenceLinearAttention(q, k, v, { featureMap: 'relu', eps: 1 }).out[0]).toBeCloseTo(15 / 4, 12);
  });
});

describe('workspaceBytes', () => {
  it('beyond the arena copies of q, k, v, out it does not grow with N', () => {
    const scratch = (n: number, causal: boolean) => {
      const { q, k, v } = inputs({ q: [1, 2, n, 8], k: [1, 2, n, 8], v: [1, 2, n, 8] }, 14);
      const copies = 4 * (q.data.length + k.data.length + v.data.length + q.data.length + 2 * n);
      return linear.workspaceBytes(q, k, v, { featureMap: 'favor', causal }) - copies;
    };
    for (const causal of [false, true]) expect(scratch(4096, causal)).toBe(scratch(1024, causal));
  });
});
