/**
 * The multi-head layer (@attnkit/mha) timed per variant: x [B, L, dModel] through W_Q, W_K, W_V,
 * attention per head on the variant, heads concatenated through W_O. Each variant's layer output
 * is compared with the same layer on dense (report only: the layer has no float64 oracle here).
 * When @attnkit/mha is missing or not implemented, every row says so.
 */
import { randn, type Tensor, zeros } from '@attnkit/core';
import { compareOutputs } from './accuracy.js';
import { mhaFlops } from './flops.js';
import type { Accuracy, ResultRow } from './results.js';
import { baseRow, safely } from './rows.js';
import type { RunContext } from './runner.js';
import { type BenchCase, maskOptions, type VariantSpec } from './suite.js';
import { timeSync } from './timing.js';
import { type AnyVariant, firstLine, importOptional } from './variants.js';

/** The layer's weights as @attnkit/mha takes them ({ wq, wk, wv, wo } plus optional biases). */
export type MhaWeights = Record<string, Tensor>;

type MultiHeadAttention = (x: Tensor, weights: MhaWeights, options: Record<string, unknown>) => Tensor;
type InitWeights = (options: Record<string, unknown>) => MhaWeights;

interface MhaModule {
  readonly fn: MultiHeadAttention;
  /** mha's own seeded Xavier initialisation of the layer's weights. */
  readonly initWeights: InitWeights;
}

let mhaModule: Promise<MhaModule | { reason: string }> | undefined;

export function loadMultiHeadAttention(): Promise<MhaModule | { reason: string }> {
  mhaModule ??= (async () => {
    const imported = await importOptional('@attnkit/mha');
    if ('reason' in imported) return { reason: imported.reason };
    const { multiHeadAttention, initMultiHeadWeights } = imported.module;
    if (typeof multiHeadAttention !== 'function' || typeof initMultiHeadWeights !== 'function') {
      return {
        reason:
          '@attnkit/mha does not export multiHeadAttention and initMultiHeadWeights yet (not implemented)',
      };
    }
    return {
      fn: multiHeadAttention as MultiHeadAttention,
      initWeights: initMultiHeadWeights as InitWeights,
    };
  })();
  return mhaModule;
}

/**
 * x [B, L, dModel] ~ N(0, 1) and the layer's Xavier weights with biases for a case, from mha's own
 * seeded initialisation. Seeds x with the case seed and the weights with the next one, as the
 * layer's bench-inputs.ts did when the harness borrowed it, so earlier mha rows stay reproducible.
 */
export function makeMhaInputs(mha: MhaModule, benchCase: BenchCase): { x: Tensor; weights: MhaWeights } {
  const { shape } = benchCase;
  const dModel = benchCase.dModel ?? shape.qHeads * shape.headDim;
  const seed = benchCase.seed % 2 ** 31;
  const x = randn([shape.batch, shape.qLength, dModel], seed);
  const weights = mha.initWeights({
    dModel,
    heads: shape.qHeads,
    kvHeads: shape.kvHeads,
    headDim: shape.headDim,
    valueDim: shape.valueDim,
    bias: true,
    seed: seed + 1,
  });
  return { x, weights };
}

export async function runMhaCase(
  context: RunContext,
  specs: readonly VariantSpec[],
  benchCase: BenchCase,
): Promise<void> {
  const { progress, writer, suite } = context;
  const dModel = benchCase.dModel ?? benchCase.shape.qHeads * benchCase.shape.headDim;
  const flops = mhaFlops(benchCase.shape, benchCase.mask, dModel);
  const pairs = 0;
  const mha = await loadMultiHeadAttention();
  const inputs = 'reason' in mha ? null : makeMhaInputs(mha, benchCase);
  const causal = benchCase.mask.causal;
  const { window } = maskOptions(benchCase.mask);
  // Zero tensors of the per-head shapes the layer hands the variant: what notSupportedReasons is asked about.
  const { batch, qHeads, kvHeads, qLength, kvLength, headDim, valueDim } = benchCase.shape;
  const probe = {
    q: zeros([batch, qHeads, qLength, headDim]),
    k: zeros([batch, kvHeads, kvLength, headDim]),
    v: zeros([batch, kvHeads, kvLength, valueDim]),
  };
  let denseOutput: Float32Array | null = null;

  // Dense first: the other layers are compared with it.
  const ordered = [...specs].sort((a, b) => Number(b.variant === 'dense') - Number(a.variant === 'dense'));
  for (const spec of ordered) {
    for (const threads of context.threads) {
      const base = {
        ...baseRow(benchCase, spec.label, threads),
        flops,
        pairs,
        implementation: 'attnkit' as const,
        variant: spec.variant,
      };
      progress.start(`${benchCase.id} mha(${spec.label}) t=${threads}`);
      const loaded = context.loaded.get(spec.label);
      const skip = (reason: string) => {
        writer.upsert({
          ...base,
          exact: loaded?.ok ? loaded.variant.exact : null,
          status: 'skipped',
          reason,
        });
        progress.finish(`skipped (${reason})`);
      };
      if ('reason' in mha) {
        skip(mha.reason);
        continue;
      }
      if (!loaded?.ok) {
        skip(loaded ? loaded.reason : 'not loaded');
        continue;
      }
      const variant: AnyVariant = loaded.variant;
      // The layer passes causal itself; a window (and the spec's own options) go through variantOptions.
      const variantOptions: Record<string, unknown> = { ...spec.options };
      if (window) variantOptions.window = window;
      if (threads > 1) variantOptions.threads = threads;
      const reasons = safely(() =>
        variant.notSupportedReasons(probe.q, probe.k, probe.v, { ...variantOptions, causal }),
      );
      if ('error' in reasons || reasons.value.length > 0) {
        skip(`not supported: ${'error' in reasons ? reasons.error : reasons.value.join('; ')}`);
        continue;
      }
      const options: Record<string, unknown> = {
        heads: benchCase.shape.qHeads,
        kvHeads: benchCase.shape.kvHeads,
        variant,
        causal,
        ...(Object.keys(variantOptions).length > 0 ? { variantOptions } : {}),
      };
      const started = performance.now();
      const { x, weights } = inputs!;
      const first = safely(() => mha.fn(x, weights, options));
      const firstMs = performance.now() - started;
      if ('error' in first) {
        skip(`multiHeadAttention threw: ${first.error}`);
        continue;
      }
      let accuracy: Accuracy | undefined;
      if (spec.variant === 'dense' && threads === 1) denseOutput = first.value.data;
      if (denseOutput) {
        accuracy = {
          reference: 'dense-layer',
          rowsPerHead: benchCase.shape.qLength,
          elements: denseOutput.length,
          vsOracle: compareOutputs(first.value.data, denseOutput),
          rule:
            spec.variant === 'dense'
              ? { name: 'reference' }
              : variant.exact
                ? { name: 'report-only' }
                : { name: 'approximate' },
        };
      }
      const timed = safely(() => timeSync(() => mha.fn(x, weights, options), suite.timing, firstMs, flops));
      if ('error' in timed) {
        skip(`timing failed: ${firstLine(timed.error)}`);
        continue;
      }
      const row: ResultRow = {
        ...base,
        exact: variant.exact,
        status: 'ok',
        time: timed.value,
        ...(accuracy ? { accuracy } : {}),
        notes: [`layer FLOPs include the four projections (dModel ${dModel})`],
      };
      writer.upsert(row);
      progress.finish(`${timed.value.medianMs.toFixed(2)} ms, ${timed.value.gflops.toFixed(2)} GFLOP/s`);
    }
  }
}
