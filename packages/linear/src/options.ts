/**
 * Linear attention's options: the common AttentionOptions, the engine's (backend, threads), and the
 * feature-map knobs. Also the one place that decides which calls linear attention can honour
 * (`linearUnsupportedReasons`), so forward, the recurrent state and the variant agree.
 */
import {
  type AttentionMask,
  type AttentionOptions,
  type AttentionProblem,
  isAttentionMask,
  type ScoreMod,
  z,
} from '@attnkit/core';
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

/**
 * maskForm over the documents of a call (the whole sequence when it has none): under a document
 * mask the band is aligned per document, so each non-empty document has its own form. 'band' when
 * any document's is; else 'causal' when any document's is (a document 'full' under right = 0 has
 * at most one query, for which causal and full are the same keys); else 'full'.
 */
export function documentsMaskForm(
  left: number,
  right: number,
  shape: Pick<AttentionProblem, 'qLength' | 'kvLength' | 'documents'>,
): MaskForm {
  const docs = shape.documents;
  if (docs === null) return maskForm(left, right, shape.qLength, shape.kvLength);
  let form: MaskForm = 'full';
  for (let d = 0; d + 1 < docs.q.length; d++) {
    const rows = docs.q[d + 1]! - docs.q[d]!;
    if (rows === 0) continue;
    const docForm = maskForm(left, right, rows, docs.kv[d + 1]! - docs.kv[d]!);
    if (docForm === 'band') return 'band';
    if (docForm === 'causal') form = 'causal';
  }
  return form;
}

/** The form linear attention runs a parsed call in (its window and causal, per document). */
export function linearMaskForm(problem: AttentionProblem): MaskForm {
  return documentsMaskForm(problem.windowLeft, problem.windowRight, problem);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

// Why an element-wise mask term cannot run: the forms never hold a row's weights one by one.
const NO_WEIGHTS =
  "linear attention never forms a row's weights one by one (they are summed into φ(K)ᵀV), so it honours only masks under which each row sees its whole document or a causal prefix of it";

/** One reason per mask term linear attention cannot honour (top-level andMasks flattened, as core folds them). */
function maskTermReasons(mask: AttentionMask, argument: string): string[] {
  const reasons: string[] = [];
  let documents = 0;
  const visit = (term: AttentionMask) => {
    switch (term.kind) {
      case 'and':
        for (const inner of term.masks) visit(inner);
        return;
      case 'document':
        // core folds the first top-level documentMask into per-document ranges; a second one is a general term
        if (documents++ === 0) return;
        reasons.push(
          `${argument}.mask: a second documentMask: linear attention runs one set of documents (the state resets at each); merge the offsets into one documentMask, or use dense or flash`,
        );
        return;
      case 'window':
      case 'kvLengths':
        return; // folded into the window and the valid keys: checked there
      case 'prefixLM':
        reasons.push(
          `${argument}.mask: prefixLMMask(${term.prefixLength}) is not implemented in linear attention (its forms run one full or causal running sum per document, not a bidirectional prefix followed by causal rows); use dense or flash`,
        );
        return;
      default:
        reasons.push(`${argument}.mask: ${MASK_NAMES[term.kind]}: ${NO_WEIGHTS}; use dense or flash`);
    }
  };
  visit(mask);
  return reasons;
}

const MASK_NAMES: Record<string, string> = {
  globalTokens: 'globalTokensMask',
  blockSparse: 'blockSparseMask',
  predicate: 'predicateMask (or a predicate function)',
  or: 'orMasks',
  not: 'notMask',
};

/** The option keys of a parsed call linear attention refuses because it has no score matrix. */
function scoreReasons(options: Record<string, unknown>, argument: string): string[] {
  const reasons: string[] = [];
  if (options.scoreMod !== undefined) {
    const mods = (Array.isArray(options.scoreMod) ? options.scoreMod : [options.scoreMod]) as ScoreMod[];
    const kinds = [...new Set(mods.map((mod) => mod.kind))].join(', ');
    reasons.push(
      `${argument}.scoreMod: linear attention has no score matrix to modify (${kinds}: its weights φ(q)·φ(k) are never formed one by one but summed into φ(K)ᵀV); drop it, or use dense or flash`,
    );
  }
  if (options.bias !== undefined) {
    reasons.push(
      `${argument}.bias: linear attention has no score matrix to add a bias to (its weights φ(q)·φ(k) are summed into φ(K)ᵀV, never formed per key); drop it, or use dense or flash`,
    );
  }
  if (options.sinks !== undefined) {
    reasons.push(
      `${argument}.sinks: linear attention has no softmax denominator for a sink logit to join (its normaliser is φ(q)·Σφ(k)); drop it, or use dense or flash`,
    );
  }
  return reasons;
}

/**
 * Why linear attention cannot run a call as asked ([] when it can), one reason per option, each
 * starting with the option's path. `problem` is the parsed call (null for the recurrent state's
 * configuration, which has no lengths, window or masks).
 */
export function linearUnsupportedReasons(
  problem: AttentionProblem | null,
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
  if (problem === null) return reasons;
  if (linearMaskForm(problem) === 'band') {
    // name the option that brings the band: window (with causal), else the mask's window terms
    const window = options.window as readonly [number, number] | undefined;
    const right = window && options.causal === true ? Math.min(window[1], 0) : window?.[1];
    const within = problem.documents === null ? 'the sequence' : 'each document';
    if (window && documentsMaskForm(window[0], right!, problem) === 'band') {
      reasons.push(
        `${argument}.window: linear attention keeps running sums over every earlier key, so it can honour no mask, causal, or a window that covers ${within}, but not the band [${window[0]}, ${window[1]}]; use @attnkit/sliding-window`,
      );
    } else {
      reasons.push(
        `${argument}.mask: its windowMask makes the band [${problem.windowLeft}, ${problem.windowRight}]: linear attention keeps running sums over every earlier key, so it can honour no mask, causal, or a window that covers ${within}; use @attnkit/sliding-window`,
      );
    }
  }
  if (isAttentionMask(options.mask)) reasons.push(...maskTermReasons(options.mask, argument));
  reasons.push(...scoreReasons(options, argument));
  return [...new Set(reasons)];
}
