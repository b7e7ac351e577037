/**
 * Layer rows: the multi-head layer (@attnkit/mha) timed per variant: x [B, L, dModel] through
 * W_Q, W_K, W_V, attention per head on the variant, heads concatenated through W_O. Each
 * variant's layer output is compared with the same layer on dense (report only: the layer has no
 * float64 oracle here). A row that cannot be measured is recorded as skipped with its reason.
 */
import { randn, type Tensor, zeros } from '@attnkit/core';
import { initMultiHeadWeights, type MultiHeadWeights, multiHeadAttention } from '@attnkit/mha';
import { compareOutputs } from '../accuracy.js';
import { mhaFlops } from '../flops.js';
import { maskOptions } from '../mask-spec.js';
import { VARIANTS } from '../registry.js';
import type { Accuracy, ResultRow } from '../results.js';
import { baseRow, describeError, lazy, SkipRow, safely } from '../rows.js';
import {
  backendSkipReason,
  type RunContext,
  recordSkipped,
  specsForGroup,
  variantRow,
} from '../run-context.js';
import type { BenchCase, GroupSpec, VariantSpec } from '../suite-schema.js';
import { timeSync } from '../timing.js';

interface LayerInputs {
  readonly x: Tensor;
  readonly weights: MultiHeadWeights;
}

/**
 * x [B, L, dModel] ~ N(0, 1) and Xavier weights with biases, seeded from the case: the layer's
 * own initialisation (the same tensors mha's bench inputs build for a shape and seed).
 */
export function makeMhaInputs(benchCase: BenchCase): LayerInputs {
  const { shape } = benchCase;
  const dModel = benchCase.dModel ?? shape.qHeads * shape.headDim;
  const seed = benchCase.seed % 2 ** 31;
  return {
    x: randn([shape.batch, shape.qLength, dModel], seed),
    weights: initMultiHeadWeights({
      dModel,
      heads: shape.qHeads,
      kvHeads: shape.kvHeads,
      headDim: shape.headDim,
      valueDim: shape.valueDim,
      bias: true,
      seed: seed + 1,
    }),
  };
}

/** What the rows of one layer case share. */
interface LayerCase {
  readonly benchCase: BenchCase;
  readonly flops: number;
  readonly dModel: number;
  readonly inputs: () => LayerInputs;
  /** Zero tensors of the per-head shapes the layer hands the variant: what notSupportedReasons is asked about. */
  readonly probe: () => { q: Tensor; k: Tensor; v: Tensor };
  /** The layer's output on dense, 1 thread: what the other layers are compared with. */
  denseOutput: Float32Array | null;
}

export async function runMhaCase(context: RunContext, group: GroupSpec, benchCase: BenchCase): Promise<void> {
  const dModel = benchCase.dModel ?? benchCase.shape.qHeads * benchCase.shape.headDim;
  const { batch, qHeads, kvHeads, qLength, kvLength, headDim, valueDim } = benchCase.shape;
  const layer: LayerCase = {
    benchCase,
    flops: mhaFlops(benchCase.shape, benchCase.mask, dModel),
    dModel,
    inputs: lazy(() => makeMhaInputs(benchCase)),
    probe: lazy(() => ({
      q: zeros([batch, qHeads, qLength, headDim]),
      k: zeros([batch, kvHeads, kvLength, headDim]),
      v: zeros([batch, kvHeads, kvLength, valueDim]),
    })),
    denseOutput: null,
  };
  // Dense first: the other layers are compared with it.
  const specs = specsForGroup(context, group);
  const ordered = [...specs].sort((a, b) => Number(b.variant === 'dense') - Number(a.variant === 'dense'));
  for (const spec of ordered) {
    for (const threads of context.threads) {
      context.progress.start(`${benchCase.id} mha(${spec.label}) t=${threads}`);
      const state = { stage: 'setup' };
      try {
        const row = measureLayerRow(context, layer, spec, threads, state);
        context.writer.upsert(row);
        context.progress.finish(
          `${row.time?.medianMs.toFixed(2)} ms, ${row.time?.gflops.toFixed(2)} GFLOP/s`,
        );
      } catch (error) {
        const reason =
          error instanceof SkipRow ? error.reason : `${state.stage} failed: ${describeError(error)}`;
        // Layer rows are 'attnkit' rows for every variant (naive included): the layer is attnkit's.
        const planned = { ...variantRow(spec, threads), implementation: 'attnkit' as const };
        recordSkipped(context, benchCase, planned, { flops: layer.flops, pairs: 0 }, reason);
      }
    }
  }
}

function measureLayerRow(
  context: RunContext,
  layer: LayerCase,
  spec: VariantSpec,
  threads: number,
  state: { stage: string },
): ResultRow {
  const { benchCase, flops, dModel } = layer;
  const variant = VARIANTS[spec.variant].variant;
  const unavailable = backendSkipReason(spec);
  if (unavailable) throw new SkipRow(unavailable);
  const causal = benchCase.mask.causal;
  const { window } = maskOptions(benchCase.mask, benchCase.shape);
  // The layer passes causal itself; a window (and the spec's own options) go through variantOptions.
  const variantOptions: Record<string, unknown> = { ...spec.options };
  if (window) variantOptions.window = window;
  if (threads > 1) variantOptions.threads = threads;
  state.stage = 'allocating inputs';
  const probe = layer.probe();
  const reasons = safely(() =>
    variant.notSupportedReasons(probe.q, probe.k, probe.v, { ...variantOptions, causal }),
  );
  if ('error' in reasons || reasons.value.length > 0) {
    throw new SkipRow(`not supported: ${'error' in reasons ? reasons.error : reasons.value.join('; ')}`);
  }
  const options = {
    heads: benchCase.shape.qHeads,
    kvHeads: benchCase.shape.kvHeads,
    variant,
    causal,
    ...(Object.keys(variantOptions).length > 0 ? { variantOptions } : {}),
  };
  const { x, weights } = layer.inputs();
  state.stage = 'setup';
  const started = performance.now();
  const first = safely(() => multiHeadAttention(x, weights, options));
  const firstMs = performance.now() - started;
  if ('error' in first) throw new SkipRow(`multiHeadAttention threw: ${first.error}`);
  state.stage = 'accuracy';
  let accuracy: Accuracy | undefined;
  if (spec.variant === 'dense' && threads === 1) layer.denseOutput = first.value.data;
  if (layer.denseOutput) {
    accuracy = {
      reference: 'dense-layer',
      rowsPerHead: benchCase.shape.qLength,
      elements: layer.denseOutput.length,
      vsOracle: compareOutputs(first.value.data, layer.denseOutput),
      rule:
        spec.variant === 'dense'
          ? { name: 'reference' }
          : variant.exact
            ? { name: 'report-only' }
            : { name: 'approximate' },
    };
  }
  state.stage = 'timing';
  const timed = safely(() =>
    timeSync(() => multiHeadAttention(x, weights, options), context.suite.timing, firstMs, flops),
  );
  if ('error' in timed) throw new SkipRow(`timing failed: ${timed.error}`);
  return {
    ...baseRow(benchCase, spec.label, threads),
    flops,
    pairs: 0,
    implementation: 'attnkit',
    variant: spec.variant,
    exact: variant.exact,
    ...(spec.backend ? { backend: spec.backend } : {}),
    status: 'ok',
    time: timed.value,
    ...(accuracy ? { accuracy } : {}),
    notes: [`layer FLOPs include the four projections (dModel ${dModel})`],
  };
}
