/**
 * Child process for one peak-memory measurement (forked by cases/memory-case.ts with --expose-gc).
 * Takes the variant from the registry and builds the inputs, collects garbage, reads the baseline RSS, runs one
 * call, then reads the process's peak RSS (getrusage maxrss). Peak − baseline is what the call
 * itself needed: the arena copies of q, k, v, its workspace, out/lse and the returned tensor.
 * `floorBytes` (peak before the call − baseline) says how much of the reading could predate the call.
 */

import { problemForShape } from '@attnkit/core';
import { serveOnce } from './child.js';
import { makeInputs } from './inputs.js';
import { maskOptions } from './mask-spec.js';
import { VARIANTS, type VariantId } from './registry.js';
import { callPeak, type PeakMethod, readRss } from './rss.js';
import type { CaseShape, MaskSpec } from './suite.js';
import type { AnyVariant } from './variants.js';

export interface MemoryRequest {
  readonly variant: VariantId;
  readonly options: Record<string, unknown>;
  readonly shape: CaseShape;
  readonly mask: MaskSpec;
  readonly seed: number;
}

export interface MemoryReply {
  readonly baselineBytes: number;
  readonly peakBytes: number;
  readonly floorBytes: number;
  readonly method: PeakMethod;
}

/** Small warm-up calls before the baseline: enough for the optimising JIT to have compiled the loops. */
const WARM_UP_CALLS = 3;

function collectGarbage(): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc) {
    gc();
    gc();
  }
}

/**
 * One call on a small shape first, so the code the call runs is compiled before the baseline:
 * otherwise the JIT's own memory (a few MiB) would be read as the call's peak.
 */
function warmUp(variant: AnyVariant, request: MemoryRequest): void {
  const { shape, seed } = request;
  const small: CaseShape = {
    ...shape,
    batch: 1,
    qLength: Math.min(shape.qLength, 32),
    kvLength: Math.min(shape.kvLength, 32),
  };
  const { q, k, v } = makeInputs(small, seed);
  try {
    // The mask's values for the small shape (explicit document offsets may not fit it: then no warm-up).
    const options = { ...request.options, ...maskOptions(request.mask, small) };
    if (variant.notSupportedReasons(q, k, v, options).length === 0) variant.forward(q, k, v, options);
  } catch {
    // Warm-up is best effort: the measured call reports its own errors.
  }
}

export async function measureInThisProcess(request: MemoryRequest): Promise<MemoryReply> {
  const variant = VARIANTS[request.variant].variant;
  const masks = maskOptions(request.mask, request.shape);
  const options = { ...request.options, ...masks };
  for (let i = 0; i < WARM_UP_CALLS; i++) warmUp(variant, request);
  const { q, k, v } = makeInputs(request.shape, request.seed);
  // The mask's general part compiled before the baseline, as for the timed calls (its cached blocks
  // belong to the mask value, not to one call).
  problemForShape(request.shape, masks);
  // Let concurrent JIT and GC threads settle before the baseline is read.
  await new Promise((resolve) => setTimeout(resolve, 50));
  collectGarbage();
  const before = readRss();
  const out = variant.forward(q, k, v, options);
  const after = readRss();
  // Keep the output alive until the reading is taken (it is part of the call's footprint).
  if (out.data.length === 0) throw new Error('variant returned an empty output');
  return callPeak(before, after);
}

serveOnce<MemoryRequest, MemoryReply>(measureInThisProcess);
