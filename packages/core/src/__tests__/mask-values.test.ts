/**
 * Mask values (mask-values.ts) against hand-drawn pictures, and every constructor's and every
 * call-dependent argument error with its exact message (docs/design.md, Masks and Errors).
 */
import {
  andMasks,
  blockSparseMask,
  causalMask,
  documentMask,
  globalTokensMask,
  kvLengthMask,
  maskForProblem,
  maskToString,
  notMask,
  orMasks,
  predicateMask,
  prefixLMMask,
  randn,
  referenceAttention,
  validateAttentionInputs,
  windowMask,
} from '@attnkit/core';
import { thrownInputError as thrown } from '@attnkit/core/testing';
import { describe, expect, it } from 'vitest';

const picture = (...lines: string[]) => lines.join('\n');

describe('pictures of each mask kind', () => {
  it('documents [2, 0, 1, 3]: an empty document and one of length 1', () => {
    expect(maskToString(documentMask([0, 2, 2, 3, 6]), 6, 6)).toBe(
      picture(
        '##....', //
        '##....',
        '..#...',
        '...###',
        '...###',
        '...###',
      ),
    );
  });

  it('documents with causal inside each document', () => {
    expect(maskToString(andMasks(documentMask([0, 2, 2, 3, 6]), causalMask()), 6, 6)).toBe(
      picture(
        '#.....', //
        '##....',
        '..#...',
        '...#..',
        '...##.',
        '...###',
      ),
    );
  });

  it('queries and keys packed differently (1 and 2 queries against 3 and 4 keys), causal: bottom-right per document', () => {
    expect(maskToString(andMasks(documentMask([0, 1, 3], [0, 3, 7]), causalMask()), 3, 7)).toBe(
      picture(
        '###....', //
        '...###.',
        '...####',
      ),
    );
  });

  it('differently packed documents with an empty query document (its keys are seen by nobody)', () => {
    expect(maskToString(documentMask([0, 0, 2, 3], [0, 2, 3, 5]), 3, 5)).toBe(
      picture(
        '..#..', //
        '..#..',
        '...##',
      ),
    );
  });

  it('differently packed documents with window [1, 0] inside each document', () => {
    expect(maskToString(andMasks(documentMask([0, 2, 4], [0, 4, 7]), windowMask(1, 0)), 4, 7)).toBe(
      picture(
        '.##....', //
        '..##...',
        '....##.',
        '.....##',
      ),
    );
  });

  it('prefix-LM with a prefix of 3: bidirectional over the prefix, causal after', () => {
    expect(maskToString(prefixLMMask(3), 6, 6)).toBe(
      picture(
        '###...', //
        '###...',
        '###...',
        '####..',
        '#####.',
        '######',
      ),
    );
  });

  it('prefix-LM with Lq < Lk reads the bottom-right key position', () => {
    expect(maskToString(prefixLMMask(2), 2, 5)).toBe(
      picture(
        '####.', //
        '#####',
      ),
    );
  });

  it('global tokens 0 and 4: their rows and columns are full', () => {
    expect(maskToString(globalTokensMask([4, 0]), 6, 6)).toBe(
      picture(
        '######', //
        '#...#.',
        '#...#.',
        '#...#.',
        '######',
        '#...#.',
      ),
    );
  });

  it('block-sparse, blocks of 3 queries × 2 keys, ragged last blocks', () => {
    expect(
      maskToString(
        blockSparseMask(
          [
            [1, 0, 0],
            [false, true, true],
          ],
          3,
          2,
        ),
        5,
        6,
      ),
    ).toBe(
      picture(
        '##....', //
        '##....',
        '##....',
        '..####',
        '..####',
      ),
    );
  });

  it('block-sparse with one block size for both sides (blockK defaults to blockQ)', () => {
    expect(
      maskToString(
        blockSparseMask(
          [
            [1, 1],
            [0, 1],
          ],
          2,
        ),
        3,
        4,
      ),
    ).toBe(picture('####', '####', '..##'));
  });

  it('predicate, per head: head 1 sees the other parity', () => {
    const mask = predicateMask((_b, h, i, j) => (i + j + h) % 2 === 0);
    expect(maskToString(mask, 3, 4, 0, 0)).toBe(picture('#.#.', '.#.#', '#.#.'));
    expect(maskToString(mask, 3, 4, 0, 1)).toBe(picture('.#.#', '#.#.', '.#.#'));
  });

  it('or: global token 0 ORed with a window [1, 0]', () => {
    expect(maskToString(orMasks(globalTokensMask([0]), windowMask(1, 0)), 6, 6)).toBe(
      picture(
        '######', //
        '##....',
        '###...',
        '#.##..',
        '#..##.',
        '#...##',
      ),
    );
  });

  it('not: the strict upper triangle', () => {
    expect(maskToString(notMask(causalMask()), 4, 4)).toBe(picture('.###', '..##', '...#', '....'));
  });

  it('and of a predicate (a function) with prefix-LM', () => {
    const mask = andMasks(prefixLMMask(2), (_b, _h, _i, j) => j !== 1);
    expect(maskToString(mask, 4, 4)).toBe(picture('#...', '#...', '#.#.', '#.##'));
  });

  it('or of nothing hides everything; not of it shows everything', () => {
    expect(maskToString(orMasks(), 2, 3)).toBe(picture('...', '...'));
    expect(maskToString(notMask(orMasks()), 2, 3)).toBe(picture('###', '###'));
  });

  it('a call: documents with causal and kvLengths options', () => {
    const q = randn([1, 1, 6, 2], 1);
    const problem = validateAttentionInputs(q, q, q, {
      mask: documentMask([0, 2, 2, 3, 6]),
      causal: true,
      kvLengths: [5],
    });
    expect(maskToString(maskForProblem(problem), 6, 6)).toBe(
      picture(
        '#.....', //
        '##....',
        '..#...',
        '...#..',
        '...##.',
        '...##.',
      ),
    );
  });
});

describe('constructor argument errors', () => {
  const cases: [string, () => unknown, string][] = [
    [
      'offsets not starting at 0',
      () => documentMask([1, 3]),
      'offsets: expected offsets starting at 0, received [1, 3]. The first document starts at row 0.',
    ],
    [
      'one offset',
      () => documentMask([0]),
      'offsets: expected an array of offsets [0, l1, l1 + l2, …, T] (at least 2 entries), received [0].',
    ],
    [
      'decreasing offsets',
      () => documentMask([0, 3, 2]),
      'offsets: expected non-decreasing integer offsets (a document may be empty), received [0, 3, 2]. offsets[2] = 2 is below offsets[1] = 3 or not an integer.',
    ],
    [
      'kvOffsets of another document count',
      () => documentMask([0, 2], [0, 1, 3]),
      'kvOffsets: expected 2 offsets (as qOffsets: one document each), received [0, 1, 3]. Query and key offsets describe the same documents.',
    ],
    [
      'qOffsets named as such when kvOffsets are given',
      () => documentMask([0, -1], [0, 1]),
      'qOffsets: expected non-decreasing integer offsets (a document may be empty), received [0, -1]. offsets[1] = -1 is below offsets[0] = 0 or not an integer.',
    ],
    [
      'negative prefix',
      () => prefixLMMask(-1),
      'prefixLength: expected a non-negative integer, received -1.',
    ],
    [
      'negative global index',
      () => globalTokensMask([0, -1]),
      'indices: expected non-negative integer key indices, received [0, -1].',
    ],
    [
      'global indices not an array',
      () => globalTokensMask(3 as unknown as number[]),
      'indices: expected an array of key indices, received 3.',
    ],
    ['blockQ 0', () => blockSparseMask([[1]], 0), 'blockQ: expected a positive integer, received 0.'],
    [
      'blockK 2.5',
      () => blockSparseMask([[1]], 4, 2.5),
      'blockK: expected a positive integer, received 2.5.',
    ],
    [
      'empty layout',
      () => blockSparseMask([], 4),
      'layout: expected a non-empty array of rows of booleans (query blocks × key blocks), received [].',
    ],
    [
      'ragged layout',
      () => blockSparseMask([[1, 0], [1]], 4),
      'layout: expected rows of equal, non-zero length (2 as the first row), received [[1, 0], [1]].',
    ],
    [
      'layout cell 2',
      () => blockSparseMask([[1, 2]], 4),
      'layout: expected booleans or 0/1, received 2. layout[0][1] is neither.',
    ],
    [
      'predicate not a function',
      () => predicateMask(3 as never),
      'predicate: expected a function (b, h, i, j) => boolean, received 3.',
    ],
    [
      'unknown predicate option',
      () => predicateMask(() => true, { perHead: true } as never),
      'options.perHead: expected only sameForEveryHead or sameForEveryBatch, received "perHead".',
    ],
    [
      'window left −1',
      () => windowMask(-1, 0),
      'left: expected a non-negative integer or Infinity, received -1.',
    ],
    [
      'window right 1.5',
      () => windowMask(0, 1.5),
      'right: expected a non-negative integer or Infinity, received 1.5.',
    ],
    [
      'no kv lengths',
      () => kvLengthMask([]),
      'lengths: expected a non-empty array of non-negative integers (one per batch entry), received [].',
    ],
    [
      'a hand-made object in andMasks',
      () => andMasks(causalMask(), { kind: 'window', left: 1, right: 1 } as never),
      'masks[1]: expected a mask value (documentMask, prefixLMMask, …) or a predicate function, received an object with keys {kind, left, right}.',
    ],
    [
      'a number in orMasks',
      () => orMasks(3 as never),
      'masks[0]: expected a mask value (documentMask, prefixLMMask, …) or a predicate function, received 3.',
    ],
    [
      'a string in notMask',
      () => notMask('x' as never),
      'mask: expected a mask value (documentMask, prefixLMMask, …) or a predicate function, received "x".',
    ],
  ];
  for (const [name, call, message] of cases) {
    it(name, () => {
      const error = thrown(call);
      expect(error.message).toBe(message);
      expect(error.argument).toBe(message.slice(0, message.indexOf(':')));
    });
  }

  it('mask values are frozen', () => {
    expect(Object.isFrozen(documentMask([0, 1]))).toBe(true);
    expect(Object.isFrozen(documentMask([0, 1]).qOffsets)).toBe(true);
  });
});

describe('call-dependent errors name options.mask', () => {
  // q [2, 2, 5, 2] against k, v [2, 1, 6, 2]: Lq = 5, Lk = 6, B = 2.
  const q = randn([2, 2, 5, 2], 1);
  const k = randn([2, 1, 6, 2], 2);
  const cases: [string, Parameters<typeof referenceAttention>[3], string][] = [
    [
      'offsets not ending at Lq',
      { mask: documentMask([0, 2, 6]) },
      'options.mask: expected document offsets ending at Lq = 5, received offsets ending at 6. The last offset is the packed length: documentMask(offsets) needs Lq = Lk = offsets.at(-1); pass documentMask(qOffsets, kvOffsets) when they differ.',
    ],
    [
      'key offsets not ending at Lk',
      { mask: documentMask([0, 2, 5], [0, 2, 5]) },
      'options.mask: expected key offsets ending at Lk = 6, received offsets ending at 5. Pass documentMask(qOffsets, kvOffsets) when queries and keys are packed differently.',
    ],
    [
      'a layout not covering the blocks',
      { mask: blockSparseMask([[1, 1]], 4) },
      'options.mask: expected a layout of 2 × 2 blocks (ceil(Lq / 4) × ceil(Lk / 4)), received 1 × 2. One layout row per query block, one column per key block.',
    ],
    [
      'a global index >= Lk',
      { mask: globalTokensMask([6]) },
      'options.mask: expected global token indices < Lk = 6, received index 6. Global tokens are named by key index.',
    ],
    [
      'a prefix longer than Lk',
      { mask: prefixLMMask(7) },
      'options.mask: expected a prefix length <= Lk = 6, received 7. The prefix is counted in keys.',
    ],
    [
      'kv lengths for another batch',
      { mask: kvLengthMask([6]) },
      'options.mask: expected 2 lengths (one per batch entry) in [0, 6], received [6]. kvLengthMask counts the valid keys of each batch entry.',
    ],
    [
      'a hand-made mask object',
      { mask: { kind: 'window', left: 1, right: 1 } as never },
      'options.mask: expected a mask value (documentMask, prefixLMMask, globalTokensMask, blockSparseMask, predicateMask, windowMask, kvLengthMask, andMasks, orMasks or notMask), received an object with keys {kind, left, right}.',
    ],
    [
      'a predicate returning a number',
      { mask: predicateMask(() => 1 as never) },
      'options.mask: expected a predicate returning true or false, received 1 for (b, h, i, j) = (0, 0, 0, 0). Return a boolean: true = visible.',
    ],
  ];
  for (const [name, options, message] of cases) {
    it(name, () => {
      const error = thrown(() => referenceAttention(q, k, k, options));
      expect(error.argument).toBe('options.mask');
      expect(error.message).toBe(message);
    });
  }

  it('a layout with too many key blocks, nested in an or', () => {
    const error = thrown(() =>
      referenceAttention(q, k, k, { mask: orMasks(causalMask(), blockSparseMask([[1, 1, 1, 1]], 5, 2)) }),
    );
    expect(error.message).toBe(
      'options.mask: expected a layout of 1 × 3 blocks (ceil(Lq / 5) × ceil(Lk / 2)), received 1 × 4. One layout row per query block, one column per key block.',
    );
  });
});
