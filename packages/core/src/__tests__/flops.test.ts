import { describe, expect, it } from 'vitest';
import { attentionFlops, attentionGflops } from '../flops.js';
import { randn } from '../tensor.js';
import { validateAttentionInputs } from '../validate.js';

describe('attentionFlops (docs/design.md, FLOP model model)', () => {
  it('counts 2·(Dk + Dv) per pair over all pairs when unmasked', () => {
    const problem = validateAttentionInputs(
      randn([2, 3, 5, 4], 1),
      randn([2, 3, 7, 4], 2),
      randn([2, 3, 7, 6], 3),
    );
    expect(attentionFlops(problem)).toBe(2 * (4 + 6) * 2 * 3 * 5 * 7);
  });

  it('counts only the visible pairs under a causal mask (N(N+1)/2 per head for Lq = Lk)', () => {
    const n = 9;
    const problem = validateAttentionInputs(
      randn([1, 2, n, 8], 1),
      randn([1, 2, n, 8], 2),
      randn([1, 2, n, 8], 3),
      {
        causal: true,
      },
    );
    expect(attentionFlops(problem)).toBe(2 * 16 * 2 * ((n * (n + 1)) / 2));
    expect(attentionGflops(problem, 1)).toBeCloseTo(attentionFlops(problem) / 1e6, 12);
  });
});
