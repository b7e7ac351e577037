import { describeVariant } from '@attnkit/core/testing';
import { flash } from '../flash.js';

/**
 * Tolerance vs the float64 oracle, per element |out − ref| <= atol + rtol·|ref|.
 * Why this size: inputs are float32 and flash stores its scores, probabilities, running sums and the
 * accumulator in float32, so each output element carries a few float32 roundings (2^-24 ≈ 6e-8
 * relative) of the scores feeding it. In the ±1e4-logit cases a score of magnitude 1e4 is itself only
 * known to 1e4 · 2^-24 ≈ 6e-4 once rounded to float32, and exp turns that into a ~6e-4 relative error
 * in a weight; any float32 method (the naive float32 path included) pays the same, which the kit's
 * 2×-float32-dense rule checks separately and more tightly. atol covers outputs near 0 (a convex
 * combination of N(0,1) values, |out| <= ~4), rtol the large-logit worst case.
 */
const TOLERANCE = { atol: 2e-3, rtol: 2e-3 };

// The plain-TS twins (the specification), the default backend (WebAssembly SIMD where available),
// and awkward tile sizes that leave ragged edges on both axes of nearly every tile.
describeVariant(flash, { tolerance: TOLERANCE, options: { backend: 'js' } });
describeVariant(flash, { tolerance: TOLERANCE });
describeVariant(flash, { tolerance: TOLERANCE, options: { backend: 'js', blockQ: 3, blockK: 5 } });
describeVariant(flash, { tolerance: TOLERANCE, options: { blockQ: 1, blockK: 7 } });
