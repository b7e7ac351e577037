/**
 * Linear attention's options: the common AttentionOptions, the engine's (backend, threads), and the
 * feature-map knobs. Also the one place that decides which calls linear attention can honour
 * (`linearUnsupportedReasons`), so forward, the recurrent state and the variant agree.
 */
import { type AttentionOptions, z } from '@attnkit/core';
import type { EngineOptions } from '@attnkit/kernels';
import { variantOptionsSchema } from '@attnkit/kernels/runtime';

/** 'elu': φ(x) = elu(x) + 1; 'relu': φ(x) = max(x, 0); 'favor': Performer FAVOR+ random features. */
export type FeatureMap = 'elu' | 'relu' | 'favor';
export const FEATURE_MAPS: readonly FeatureMap[] = ['elu', 'relu', 'favor'];

export const DEFAULT_FEATURE_MAP: FeatureMap = 'elu';
/** FAVOR+ features m. 256 ≈ d·ln d for d = 64, the order the Performer paper recommends. */
export const DEFAULT_FEATURES = 256;
/** FAVOR+ projection seed: fixed, so two runs without a seed give the same output. */
export const DEFAULT_SEED = 0;
/**
 * Causal chunk length C (fla's "chunk" mode). Per token the chunked form costs C·(m + dv) for the
 * masked quadratic part on top of 2·m·dv for the state: C = 32 adds half the state's work at
 * m = dv = 64 while keeping each gemm call long enough for the SIMD kernels; measured best or
 * within noise of the best among 16–64 for elu and FAVOR+ (README "Chunk size").
 */
export const DEFAULT_CHUNK_SIZE = 32;
/** elu / relu denominator guard: out = num / (den + eps), as in Katharopoulos et al.'s code. */
export const DEFAULT_EPS = 1e-6;
/**
 * FAVOR+ denominator guard. Its features carry stabilisers (constants that cancel in num / den),
 * so den has no fixed unit and an eps of 1e-6 could outweigh a perfectly valid den of 1e-9; 1e-30
 * only turns 0 / 0 (a row that sees no key) into 0 and moves any den above 1e-24 by < 1e-6.
 */
export const DEFAULT_FAVOR_EPS = 1e-30;
export const MAX_FEATURES = 65536;
export const MAX_CHUNK_SIZE = 4096;

export interface LinearOptions extends AttentionOptions, EngineOptions {
  /** Default 'elu'. */
  featureMap?: FeatureMap;
  /** FAVOR+ only: number of random features m. Default 256. */
  features?: number;
  /** FAVOR+ only: seed of the random projection (any safe integer). Default 0. */
  seed?: number;
  /** Causal form only: rows per chunk. Default 32. Changes speed, not the result. */
  chunkSize?: number;
  /** Denominator guard (> 0): out = num / (den + eps). Default 1e-6 (elu / relu), 1e-30 (FAVOR+). */
  eps?: number;
}

/** Strict: an option linear attention does not know (say flash's blockQ) is refused, not ignored. */
export const linearOptionsSchema = variantOptionsSchema({
  featureMap: z.enum(['elu', 'relu', 'favor']).optional(),
  features: z.number().int().min(1).max(MAX_FEATURES).optional(),
  seed: z.number().int().optional(),
  chunkSize: z.number().int().min(1).max(MAX_CHUNK_SIZE).optional(),
  eps: z.number().positive().optional(),
});

/** The options with defaults filled in, as the kernels loop reads them. */
export interface LinearSettings {
  readonly featureMap: FeatureMap;
  /** Feature dimension m: `features` for FAVOR+, the head dimension for elu / relu. */
  readonly features: number;
  readonly seed: number;
  readonly chunkSize: number;
  readonly eps: number;
}

export function resolveSettings(
  own: { featureMap?: FeatureMap; features?: number; seed?: number; chunkSize?: number; eps?: number },
  headDim: number,
): LinearSettings {
  const featureMap = own.featureMap ?? DEFAULT_FEATURE_MAP;
  return {
    featureMap,
    features: featureMap === 'favor' ? (own.features ?? DEFAULT_FEATURES) : headDim,
    seed: own.seed ?? DEFAULT_SEED,
    chunkSize: own.chunkSize ?? DEFAULT_CHUNK_SIZE,
    eps: own.eps ?? (featureMap === 'favor' ? DEFAULT_FAVOR_EPS : DEFAULT_EPS),
  };
}

/**
 * Which mask linear attention runs for a normalised band (causal folded into `right`):
 * 'full' when the band hides nothing, 'causal' when it is exactly the causal mask, 'band' otherwise
 * (a finite window, which running sums cannot honour: keys would have to leave the state).
 * Bottom-right alignment (docs/design.md, Masks): query i sits at key position p = i + Lk − Lq, p ∈ [Lk − Lq, Lk − 1],
 * so a left reach >= Lk − 1 and a right reach >= Lq − 1 cover every key.
 */
export type MaskForm = 'full' | 'causal' | 'band';

export function maskForm(left: number, right: number, qLength: number, kvLength: number): MaskForm {
  if (left < kvLength - 1) return 'band';
  if (right >= qLength - 1) return 'full';
  return right === 0 ? 'causal' : 'band';
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

export function linearUnsupportedReasons(
  lengths: { readonly qLength: number; readonly kvLength: number } | null,
  options: unknown,
  argument = 'options',
): string[] {
  if (!isRecord(options)) return [];
  const reasons: string[] = [];
  const featureMap = options.featureMap ?? DEFAULT_FEATURE_MAP;
  if (featureMap === 'elu' || featureMap === 'relu') {
    if (options.scale !== undefined) {
      reasons.push(
        `${argument}.scale: the '${featureMap}' map is applied to q and k as given (Katharopoulos et al.), so a scale would change nothing; drop it, or use featureMap 'favor' (which estimates exp(scale·q·k))`,
      );
    }
    if (options.features !== undefined) {
      reasons.push(
        `${argument}.features: only featureMap 'favor' has a feature count (the '${featureMap}' map has headDim features)`,
      );
    }
    if (options.seed !== undefined) {
      reasons.push(
        `${argument}.seed: only featureMap 'favor' is random (the '${featureMap}' map is deterministic)`,
      );
    }
  }
  if (options.lse !== undefined) {
    reasons.push(
      `${argument}.lse: linear attention has no softmax normaliser, so there is no log-sum-exp to report; drop lse`,
    );
  }
  const window = options.window;
  if (Array.isArray(window) && window.length === 2) {
    const qLength = lengths?.qLength;
    const kvLength = lengths?.kvLength;
    const left = window[0];
    let right = window[1];
    if (
      typeof left === 'number' &&
      typeof right === 'number' &&
      qLength !== undefined &&
      kvLength !== undefined
    ) {
      if (options.causal === true) right = Math.min(right, 0);
      if (maskForm(left, right, qLength, kvLength) === 'band') {
        reasons.push(
          `${argument}.window: linear attention keeps running sums over every earlier key, so it can honour no mask, causal, or a window that covers the sequence, but not the band [${left}, ${window[1]}]; use @attnkit/sliding-window`,
        );
      }
    }
  }
  return reasons;
}
