/**
 * The examples run here, so what they print stays true: each main() is executed and its result held
 * to the claim the example makes (exact variants and the KV-cache decode equal dense / the full pass
 * to float32 rounding, as roundingBound defines it).
 */
import { describe, expect, it } from 'vitest';
import { main as decodeLoop, GENERATED_TOKENS, INITIAL_CAPACITY, PROMPT } from '../decode-loop.js';
import {
  PAGE_SIZE,
  GENERATED_TOKENS as PAGED_GENERATED,
  PROMPT as PAGED_PROMPT,
  main as pagedDecode,
  SAMPLES,
} from '../paged-decode.js';
import { FLOAT32_EPSILON, isMain, layerNorm, ROUNDING_ULPS, roundingBound } from '../toy-block.js';
import { main as transformerBlock } from '../transformer-block.js';

describe('examples/toy-block', () => {
  it('roundingBound is ROUNDING_ULPS float32 ulps of the largest magnitude', () => {
    expect(ROUNDING_ULPS * FLOAT32_EPSILON).toBe(16 / 8388608);
    expect(roundingBound([0.5, -3, 1])).toBe(3 * 16 * 2 ** -23);
  });

  it('layerNorm rows are (x − mean) / √(variance + 1e-5)', () => {
    const y = layerNorm({ data: new Float32Array([1, 2, 3, 4, 10, 10, 10, 10]), shape: [2, 4] });
    const inv = 1 / Math.sqrt(1.25 + 1e-5);
    const expected = [-1.5 * inv, -0.5 * inv, 0.5 * inv, 1.5 * inv, 0, 0, 0, 0];
    for (let i = 0; i < expected.length; i++) expect(y.data[i]).toBeCloseTo(expected[i]!, 6);
  });

  it('isMain is false for an imported module', () => {
    expect(isMain(new URL('../toy-block.js', import.meta.url).href)).toBe(false);
  });
});

describe('examples/decode-loop', () => {
  it('decodes token by token through the KV cache to the full causal pass, within float32 rounding', () => {
    const lines: string[] = [];
    const result = decodeLoop((line) => lines.push(line));
    expect(result.prompt).toBe(PROMPT);
    expect(result.positions).toBe(PROMPT.length + GENERATED_TOKENS);
    expect([...result.generated]).toHaveLength(GENERATED_TOKENS);
    // every position went through the cache, which outgrew its initial capacity
    expect(result.cacheLength).toBe(result.positions);
    expect(result.cacheLength).toBeGreaterThan(INITIAL_CAPACITY);
    // the bound is a few ulps of an O(1) output, not a scale so large any answer passes
    expect(result.outputBound).toBeLessThan(1e-4);
    expect(result.logitBound).toBeLessThan(1e-4);
    expect(result.outputDifference).toBeLessThanOrEqual(result.outputBound);
    expect(result.logitDifference).toBeLessThanOrEqual(result.logitBound);
    expect(lines).toContain(`prompt    "${PROMPT}"`);
    expect(lines.join('\n')).toContain(result.outputDifference.toExponential(2));
  });

  it('prints the same text on every run (everything is seeded)', () => {
    const first = decodeLoop(() => {});
    const second = decodeLoop(() => {});
    expect(second.generated).toBe(first.generated);
    expect(second.outputDifference).toBe(first.outputDifference);
  });
});

describe('examples/paged-decode', () => {
  const lines: string[] = [];
  const result = pagedDecode((line) => lines.push(line));

  it('forks one prefilled prompt into samples that share its pages and diverge', () => {
    expect(result.prompt).toBe(PAGED_PROMPT);
    expect(result.samples).toHaveLength(SAMPLES);
    for (const sample of result.samples) expect([...sample]).toHaveLength(PAGED_GENERATED);
    expect(new Set(result.samples).size).toBe(SAMPLES);
    // the prompt's pages are taken once and shared by every fork
    expect(result.pagesAfterPrompt).toBe(Math.ceil(PAGED_PROMPT.length / PAGE_SIZE));
    expect(result.pagesAfterFork).toBe(result.pagesAfterPrompt);
    // at the end: the prompt's full pages shared, everything else each sample's own
    const fullPromptPages = Math.floor(PAGED_PROMPT.length / PAGE_SIZE);
    expect(result.pagesAtEnd).toBe(
      fullPromptPages + SAMPLES * (Math.ceil(result.positions / PAGE_SIZE) - fullPromptPages),
    );
    expect(result.pagesAtEnd).toBeLessThan(result.pagesUnshared);
  });

  it('every position of every sample equals the full causal pass with RoPE, within float32 rounding', () => {
    expect(result.outputBound).toBeLessThan(1e-4);
    expect(result.logitBound).toBeLessThan(1e-4);
    expect(result.outputDifference).toBeLessThanOrEqual(result.outputBound);
    expect(result.logitDifference).toBeLessThanOrEqual(result.logitBound);
    expect(lines.join('\n')).toContain(result.outputDifference.toExponential(2));
  });
});

describe('examples/transformer-block', () => {
  const lines: string[] = [];
  const result = transformerBlock((line) => lines.push(line));

  it('runs the block with dense, flash, causal and sliding-window (full and narrow) and linear', () => {
    expect(result.rows.map((row) => row.label)).toEqual([
      'dense',
      'flash',
      'causal',
      `sliding-window [${result.tokens}, 0]`,
      'sliding-window [8, 0]',
      'linear (elu+1)',
    ]);
    expect(lines).toHaveLength(1 + 1 + result.rows.length + 1); // title, header, rows, bound
  });

  it('exact variants equal dense to float32 rounding', () => {
    expect(result.bound).toBeLessThan(1e-4);
    expect(result.rows[0]!.difference).toBe(0);
    for (const row of result.rows.filter((r) => r.exact)) {
      expect(row.difference, row.label).toBeLessThanOrEqual(result.bound);
    }
  });

  it('a narrow window and linear attention compute other functions: far beyond rounding', () => {
    const others = result.rows.filter((r) => !r.exact);
    expect(others).toHaveLength(2);
    for (const row of others) expect(row.difference, row.label).toBeGreaterThan(1000 * result.bound);
  });
});
