/** Mask semantics against hand-drawn pictures (docs/design.md, Masks: bottom-right aligned, p = i + Lk − Lq). */
import {
  andMasks,
  causalMask,
  firstVisibleKey,
  isVisible,
  keyPosition,
  kvLengthMask,
  maskForProblem,
  maskToString,
  materializeMask,
  randn,
  validateAttentionInputs,
  visibleKeyEnd,
  visiblePairs,
  windowMask,
} from '@attnkit/core';
import { describe, expect, it } from 'vitest';

const picture = (...lines: string[]) => lines.join('\n');
const INF = Number.POSITIVE_INFINITY;

describe('pictures', () => {
  it('causal, square', () => {
    expect(maskToString(causalMask(), 4, 4)).toBe(
      picture(
        '#...', //
        '##..',
        '###.',
        '####',
      ),
    );
  });

  it('causal, Lq < Lk: bottom-right aligned (the last query sees every key)', () => {
    expect(maskToString(causalMask(), 3, 5)).toBe(
      picture(
        '###..', //
        '####.',
        '#####',
      ),
    );
  });

  it('causal, Lq > Lk: the first Lq − Lk queries see nothing', () => {
    expect(maskToString(causalMask(), 5, 3)).toBe(
      picture(
        '...', //
        '...',
        '#..',
        '##.',
        '###',
      ),
    );
  });

  it('window [1, 1], square: a band of width 3', () => {
    expect(maskToString(windowMask(1, 1), 5, 5)).toBe(
      picture(
        '##...', //
        '###..',
        '.###.',
        '..###',
        '...##',
      ),
    );
  });

  it('window [2, 0]: sliding window looking back two keys', () => {
    expect(maskToString(windowMask(2, 0), 5, 5)).toBe(
      picture(
        '#....', //
        '##...',
        '###..',
        '.###.',
        '..###',
      ),
    );
  });

  it('window [0, 0] with Lq < Lk: each query sees exactly its own key position', () => {
    expect(maskToString(windowMask(0, 0), 2, 4)).toBe(
      picture(
        '..#.', //
        '...#',
      ),
    );
  });

  it('window [Infinity, 1]: everything up to one key ahead', () => {
    expect(maskToString(windowMask(INF, 1), 4, 4)).toBe(
      picture(
        '##..', //
        '###.',
        '####',
        '####',
      ),
    );
  });

  it('window wider than the sequence sees everything', () => {
    expect(maskToString(windowMask(100, 100), 3, 4)).toBe(picture('####', '####', '####'));
  });

  it('kvLengths per batch entry, composed with causal', () => {
    const mask = andMasks(causalMask(), kvLengthMask([4, 2, 0]));
    expect(maskToString(mask, 4, 4, 0)).toBe(picture('#...', '##..', '###.', '####'));
    expect(maskToString(mask, 4, 4, 1)).toBe(picture('#...', '##..', '##..', '##..'));
    expect(maskToString(mask, 4, 4, 2)).toBe(picture('....', '....', '....', '....'));
  });

  it('andMasks of nothing hides nothing', () => {
    expect(maskToString(andMasks(), 2, 3)).toBe(picture('###', '###'));
  });
});

describe('problem masks', () => {
  it('causal folds into the window: causal + window [2, 5] is window [2, 0]', () => {
    const q = randn([2, 1, 5, 2], 1);
    const k = randn([2, 1, 5, 2], 2);
    const problem = validateAttentionInputs(q, k, k, { causal: true, window: [2, 5], kvLengths: [5, 3] });
    expect(problem.windowLeft).toBe(2);
    expect(problem.windowRight).toBe(0);
    const mask = maskForProblem(problem);
    expect(maskToString(mask, 5, 5, 0)).toBe(picture('#....', '##...', '###..', '.###.', '..###'));
    expect(maskToString(mask, 5, 5, 1)).toBe(picture('#....', '##...', '###..', '.##..', '..#..'));
  });

  it('materializeMask, the row helpers and visiblePairs agree with isVisible', () => {
    const cases = [
      { lq: 7, lk: 11, options: { causal: true } },
      { lq: 11, lk: 7, options: { causal: true, kvLengths: [7, 4] } },
      { lq: 9, lk: 9, options: { window: [2, 3] as const, kvLengths: [0, 6] } },
      { lq: 5, lk: 13, options: { window: [INF, 0] as const } },
    ];
    for (const c of cases) {
      const q = randn([2, 3, c.lq, 2], 1);
      const k = randn([2, 1, c.lk, 2], 2);
      const problem = validateAttentionInputs(q, k, k, c.options);
      const mask = maskForProblem(problem);
      let pairs = 0;
      for (let b = 0; b < 2; b++) {
        const bytes = materializeMask(mask, c.lq, c.lk, b);
        for (let i = 0; i < c.lq; i++) {
          const first = firstVisibleKey(i, c.lq, c.lk, problem.windowLeft);
          const end = visibleKeyEnd(i, c.lq, c.lk, problem.windowRight, problem.validKeys[b]!);
          for (let j = 0; j < c.lk; j++) {
            const visible = isVisible(
              i,
              j,
              c.lq,
              c.lk,
              problem.windowLeft,
              problem.windowRight,
              problem.validKeys[b]!,
            );
            expect(bytes[i * c.lk + j]).toBe(visible ? 1 : 0);
            expect(visible).toBe(j >= first && j < end); // visible keys are one contiguous range
            if (visible) pairs += 3; // Hq = 3 heads share the mask
          }
        }
      }
      expect(visiblePairs(problem)).toBe(pairs);
    }
  });

  it('keyPosition is i + Lk − Lq', () => {
    expect(keyPosition(0, 3, 5)).toBe(2);
    expect(keyPosition(0, 5, 3)).toBe(-2);
    expect(keyPosition(4, 5, 5)).toBe(4);
  });
});
