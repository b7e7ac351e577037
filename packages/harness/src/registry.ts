/**
 * Everything the harness can measure, in one table: the attnkit variants (imported statically,
 * so a missing or renamed export fails the build, not a run) and the peers (optional packages,
 * loaded in their own child process by peers/peer-child.ts, so only their names live here).
 * Adding a variant to the harness is one line in VARIANTS plus its entries in the suites.
 */
import { causal } from '@attnkit/causal';
import { dense } from '@attnkit/dense';
import { flash } from '@attnkit/flash';
import { linear, referenceLinearAttention } from '@attnkit/linear';
import { slidingWindow } from '@attnkit/sliding-window';
import { type AnyVariant, naiveVariant, type OwnOracle } from './variants.js';

export interface VariantEntry {
  readonly variant: AnyVariant;
  /** Where the variant object comes from (printed at the start of a run). */
  readonly source: string;
  /**
   * The variant's own float64 oracle, for approximate variants held to their own function
   * (docs/design.md, Accuracy policy: linear is held exactly to its quadratic form).
   */
  readonly ownOracle?: OwnOracle;
}

export const VARIANTS = {
  naive: { variant: naiveVariant, source: '@attnkit/core#naiveFloat32Attention' },
  dense: { variant: dense, source: '@attnkit/dense#dense' },
  causal: { variant: causal, source: '@attnkit/causal#causal' },
  'sliding-window': { variant: slidingWindow, source: '@attnkit/sliding-window#slidingWindow' },
  linear: { variant: linear, source: '@attnkit/linear#linear', ownOracle: referenceLinearAttention },
  flash: { variant: flash, source: '@attnkit/flash#flash' },
} as const satisfies Record<string, VariantEntry>;

/** The implementations a suite can name. 'naive' is core's float32 triple loop. */
export type VariantId = keyof typeof VARIANTS;
export const VARIANT_IDS = Object.keys(VARIANTS) as [VariantId, ...VariantId[]];

export function variantEntry(id: VariantId): VariantEntry {
  return VARIANTS[id];
}

export interface PeerInfo {
  /** The npm packages the peer needs (all must be installed). */
  readonly packages: readonly string[];
  readonly graph: 'mha' | 'matmul' | 'gqa';
  /**
   * The masks the peer's graph expresses: 'any' (an additive mask input), 'unmasked',
   * 'causal' (unmasked or causal, no window), 'causal-window' (causal only, with or without a
   * left window: GroupQueryAttention has no non-causal mode).
   */
  readonly masks: 'any' | 'unmasked' | 'causal' | 'causal-window';
  readonly description: string;
}

/**
 * Attention implementations a JS user could pick instead, each run in its own child process:
 *   ort-node:mha     onnxruntime-node, com.microsoft MultiHeadAttention (fused CPU kernel), unmasked
 *                    and causal (`unidirectional`) cases
 *   ort-node:gqa     onnxruntime-node, com.microsoft GroupQueryAttention (fused, causal only),
 *                    causal and causal-windowed (`local_window_size`) cases, GQA heads included
 *   ort-node:matmul  onnxruntime-node, MatMul → Softmax → MatMul with an additive mask (materialised)
 *   ort-web:mha / ort-web:matmul   the same graphs on onnxruntime-web's wasm backend in Node
 *                    (ort-web:mha unmasked only: its causal mode is not checked here)
 *   tfjs-wasm        @tensorflow/tfjs-core ops (matMul, softmax, matMul) on tfjs-backend-wasm
 */
export const PEERS = {
  'ort-node:mha': {
    packages: ['onnxruntime-node', 'protobufjs'],
    graph: 'mha',
    masks: 'causal',
    description: 'onnxruntime-node, com.microsoft MultiHeadAttention',
  },
  'ort-node:gqa': {
    packages: ['onnxruntime-node', 'protobufjs'],
    graph: 'gqa',
    masks: 'causal-window',
    description: 'onnxruntime-node, com.microsoft GroupQueryAttention',
  },
  'ort-node:matmul': {
    packages: ['onnxruntime-node', 'protobufjs'],
    graph: 'matmul',
    masks: 'any',
    description: 'onnxruntime-node, MatMul→Softmax→MatMul graph',
  },
  'ort-web:mha': {
    packages: ['onnxruntime-web', 'protobufjs'],
    graph: 'mha',
    masks: 'unmasked',
    description: 'onnxruntime-web (wasm), com.microsoft MultiHeadAttention',
  },
  'ort-web:matmul': {
    packages: ['onnxruntime-web', 'protobufjs'],
    graph: 'matmul',
    masks: 'any',
    description: 'onnxruntime-web (wasm), MatMul→Softmax→MatMul graph',
  },
  'tfjs-wasm': {
    packages: ['@tensorflow/tfjs-core', '@tensorflow/tfjs-backend-wasm'],
    graph: 'matmul',
    masks: 'any',
    description: '@tensorflow/tfjs-core on tfjs-backend-wasm',
  },
} as const satisfies Record<string, PeerInfo>;

export type PeerId = keyof typeof PEERS;
export const PEER_IDS = Object.keys(PEERS) as [PeerId, ...PeerId[]];

/** What --peers accepts besides full ids: the runtime prefix ('ort-node' selects both its graphs). */
export const PEER_PREFIXES: readonly string[] = [
  ...new Set(PEER_IDS.filter((id) => id.includes(':')).map((id) => id.slice(0, id.indexOf(':')))),
];
