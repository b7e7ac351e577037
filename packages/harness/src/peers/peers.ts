/**
 * Peers (listed in registry.ts), timed side by side with the variants on the same inputs, each
 * run in its own child process (peer-child.ts). This module is the parent side: which cases a
 * peer can express, and the request/reply types.
 */
import { ioBytes } from '../inputs.js';
import { formatBytes } from '../machine.js';
import { describeMask, usesMaskValues } from '../mask-spec.js';
import { PEERS, type PeerId } from '../registry.js';
import type { Timing } from '../results.js';
import type { CallPeak } from '../rss.js';
import type { CaseShape, MaskSpec } from '../suite.js';
import type { TimingPlan } from '../timing.js';

export { PEERS, type PeerInfo } from '../registry.js';

export function isMasked(mask: MaskSpec): boolean {
  return mask.causal || mask.window !== undefined;
}

/** Why a peer cannot run a case ([] when it can). */
export function peerNotSupportedReasons(peer: PeerId, shape: CaseShape, mask: MaskSpec): string[] {
  const { graph, masks } = PEERS[peer];
  const reasons: string[] = [];
  if (graph !== 'gqa' && shape.qHeads !== shape.kvHeads) {
    reasons.push(
      `GQA (${shape.qHeads}/${shape.kvHeads} heads) is not expressed in the ${graph} graph used here`,
    );
  }
  if (usesMaskValues(mask)) {
    reasons.push(
      `the peers' graphs express the causal and window masks only, not ${describeMask(mask)} (mask values and score modifiers)`,
    );
  }
  if (masks === 'unmasked' && isMasked(mask)) {
    reasons.push(
      'this MultiHeadAttention graph runs unmasked cases; the matmul graph covers causal and windowed masks',
    );
  }
  if (masks === 'causal' && mask.window !== undefined) {
    reasons.push('MultiHeadAttention has no window; GroupQueryAttention covers causal windows');
  }
  if (masks === 'causal' && mask.causal && shape.qLength !== shape.kvLength) {
    reasons.push('causal MultiHeadAttention (unidirectional) is checked here only for Lq = Lk');
  }
  if (masks === 'causal-window' && !mask.causal) {
    reasons.push('GroupQueryAttention is always causal; this case is not');
  }
  if (masks === 'causal-window' && mask.window?.[0] === 'inf') {
    reasons.push('GroupQueryAttention windows are finite on the left');
  }
  if (graph === 'gqa' && shape.qLength !== shape.kvLength) {
    reasons.push('GroupQueryAttention runs here as a prompt call: Lq = Lk');
  }
  if (graph === 'gqa' && shape.headDim % 8 !== 0) {
    reasons.push(`onnxruntime's CPU GroupQueryAttention needs D % 8 = 0 (D = ${shape.headDim})`);
  }
  if (graph === 'gqa' && shape.qHeads % shape.kvHeads !== 0) {
    reasons.push(`GroupQueryAttention needs Hq a multiple of Hkv (${shape.qHeads}/${shape.kvHeads})`);
  }
  if (graph !== 'matmul' && shape.headDim !== shape.valueDim) {
    reasons.push(`${graph === 'gqa' ? 'GroupQueryAttention' : 'MultiHeadAttention'} here needs Dv = Dk`);
  }
  return reasons;
}

/**
 * Peak bytes a peer's call needs, estimated: inputs and output, plus for the materialised graphs
 * the score matrix three times (scores, scaled/masked scores, probabilities) and the mask.
 */
export function peerEstimatedBytes(peer: PeerId, shape: CaseShape, mask: MaskSpec): number {
  const scores = 4 * shape.batch * shape.qHeads * shape.qLength * shape.kvLength;
  const maskBytes = isMasked(mask) ? 4 * shape.qLength * shape.kvLength : 0;
  const materialised = PEERS[peer].graph === 'matmul' ? 3 * scores + maskBytes : scores;
  return ioBytes(shape) + materialised;
}

/**
 * Why a peer run cannot start, or null: a missing optional package, a case the peer's graph does
 * not express, or an estimated footprint over the memory budget. `isInstalled` is injectable so
 * the "not installed" row can be tested on a machine that has every peer.
 */
export function peerPrecheck(
  peer: PeerId,
  shape: CaseShape,
  mask: MaskSpec,
  budgetBytes: number,
  isInstalled: (packageName: string) => boolean,
): string | null {
  const missing = PEERS[peer].packages.filter((name) => !isInstalled(name));
  if (missing.length > 0) return `peer not installed: ${missing.join(', ')} (optional dependency)`;
  const reasons = peerNotSupportedReasons(peer, shape, mask);
  if (reasons.length > 0) return `not supported: ${reasons.join('; ')}`;
  const estimated = peerEstimatedBytes(peer, shape, mask);
  if (estimated > budgetBytes) {
    return `estimated ${formatBytes(estimated)} exceeds the memory budget ${formatBytes(budgetBytes)}`;
  }
  return null;
}

/** A decode case for the peer: the batch's lengths, the window, the chunking of the seeded past. */
export interface PeerDecodeRequest {
  readonly lengths: readonly number[];
  readonly window?: number;
  readonly chunk: number;
}

/** Why a peer cannot run a decode case, or null: only ort-node's GroupQueryAttention takes a past KV here. */
export function decodePeerReason(peer: PeerId, shape: CaseShape): string | null {
  if (peer !== 'ort-node:gqa')
    return 'no past-KV decoding graph for this peer here (ort-node:gqa is the decoding peer)';
  if (shape.headDim % 8 !== 0)
    return `onnxruntime's CPU GroupQueryAttention needs D % 8 = 0 (D = ${shape.headDim})`;
  if (shape.headDim !== shape.valueDim) return 'GroupQueryAttention needs Dv = Dk';
  return null;
}

/** Bytes the decode peer holds: past and present keys and values (float32) and the small tensors. */
export function decodePeerBytes(shape: CaseShape, lengths: readonly number[]): number {
  const past = Math.max(...lengths) - 1;
  return 4 * lengths.length * shape.kvHeads * (2 * past + 1) * (shape.headDim + shape.valueDim);
}

export interface PeerRequest {
  readonly peer: PeerId;
  /** A decode case: one new token against a past KV (the GroupQueryAttention decode graph). */
  readonly decode?: PeerDecodeRequest;
  readonly shape: CaseShape;
  readonly mask: MaskSpec;
  readonly seed: number;
  readonly threads: number;
  readonly rowsPerHead: number;
  readonly timing: TimingPlan;
  readonly flops: number;
}

export interface PeerReply {
  readonly version: string | null;
  /** Threads the runtime reports it used (tfjs-wasm and ort-web may fall back to 1). */
  readonly threadsUsed: number;
  /** The last rowsPerHead rows of every head, in BHSD order, for the oracle check. */
  readonly rows: Float32Array;
  readonly timing: Timing;
  /** Peak over the validating call and all timed samples (see rss.ts). */
  readonly memory: CallPeak;
  readonly notes: readonly string[];
}
