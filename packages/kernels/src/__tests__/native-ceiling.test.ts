/**
 * measureNativeCeiling (the native FMA-throughput ceiling, packages/native/src/ceiling.cc) through
 * the BUILT package: each CPU path this machine runs reports its own loop's rate, the wider paths
 * well above the baseline's (16- and 8-float FMAs against 4-float multiply + add: 4–8× in theory,
 * asserted at 1.5× so a shared machine cannot fail it, while a dispatch table pointing a path at
 * another path's loop would), and bad arguments and a disabled addon are refused by name.
 */
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { measureNativeCeiling, nativePathInfo, nativeUnavailableReason } from '../../dist/index.js';

const NATIVE_WHY = nativeUnavailableReason();
const describeNative = NATIVE_WHY === undefined ? describe : describe.skip;
const DIST = new URL('../../dist/index.js', import.meta.url).href;

describeNative('measureNativeCeiling', () => {
  it('gives each path the CPU runs its own rate, the AVX paths at least 1.5x the baseline', () => {
    const paths = nativePathInfo()!.paths;
    const rates = new Map(paths.map((path) => [path, measureNativeCeiling(path, 200_000, 20)]));
    for (const [path, rate] of rates) {
      expect(Number.isFinite(rate), path).toBe(true);
      expect(rate, path).toBeGreaterThan(0);
    }
    const baseline = rates.get('baseline')!;
    for (const path of ['avx2', 'avx512'] as const) {
      const rate = rates.get(path);
      if (rate !== undefined) expect(rate, path).toBeGreaterThan(1.5 * baseline);
    }
  });

  it('refuses an unknown path and counts that are not positive integers, by name', () => {
    expect(() => measureNativeCeiling('sse4' as never)).toThrow(
      "peakGflops: expected 'avx512', 'avx2', 'baseline' or undefined as the path",
    );
    for (const bad of [0, -1, 1.5, Number.NaN]) {
      expect(() => measureNativeCeiling('baseline', bad)).toThrow(
        'peakGflops: iterations and repeats must be integers from 1 to 1e9',
      );
      expect(() => measureNativeCeiling('baseline', 10, bad)).toThrow(
        'peakGflops: iterations and repeats must be integers from 1 to 1e9',
      );
    }
  });
});

describe('measureNativeCeiling without the addon', () => {
  it('throws with the reason native is unavailable (ATTNKIT_NATIVE_PATH=none)', () => {
    const script = `import * as kernels from ${JSON.stringify(DIST)};
      try { kernels.measureNativeCeiling(); console.log('no error'); } catch (error) { console.log(error.message); }`;
    const stdout = execFileSync(process.execPath, ['--input-type=module', '-e', script], {
      timeout: 20_000,
      encoding: 'utf8',
      env: { ...process.env, ATTNKIT_NATIVE_PATH: 'none' },
    });
    expect(stdout.trim()).toBe(
      'measureNativeCeiling: the native backend is unavailable (disabled by ATTNKIT_NATIVE_PATH=none)',
    );
  });
});
