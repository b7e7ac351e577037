/**
 * The decode peer's rows: onnxruntime-node's GroupQueryAttention with a past KV (peer-child.ts),
 * one new token per sequence on the case's seeded chunks, checked against the same float64 oracle
 * and reported with the same bytes model as the caches (float32 keys and values).
 */

import { compareOutputs } from '../accuracy.js';
import { childScriptPath, runChild } from '../child.js';
import { decodeRowFields } from '../decode-model.js';
import { formatBytes, packageVersion } from '../machine.js';
import {
  decodePeerBytes,
  decodePeerReason,
  PEERS,
  type PeerReply,
  type PeerRequest,
} from '../peers/peers.js';
import type { PeerId } from '../registry.js';
import type { ResultRow } from '../results.js';
import { baseRow, describeError, SkipRow } from '../rows.js';
import { peerRow, type RunContext, recordSkipped } from '../run-context.js';
import type { BenchCase } from '../suite-schema.js';

export async function runDecodePeer(
  context: RunContext,
  benchCase: BenchCase,
  peer: PeerId,
  threads: number,
  flops: number,
  pairs: number,
  oracle: () => Float64Array,
): Promise<void> {
  context.progress.start(`${benchCase.id} ${peer} t=${threads} (child process)`);
  const decode = benchCase.decode!;
  const estimatedBytes = decodePeerBytes(benchCase.shape, decode.lengths);
  const memory = { workspaceBytes: null, estimatedBytes };
  try {
    const missing = PEERS[peer].packages.filter((name) => packageVersion(name) === null);
    if (missing.length > 0)
      throw new SkipRow(`peer not installed: ${missing.join(', ')} (optional dependency)`);
    const reason = decodePeerReason(peer, benchCase.shape);
    if (reason) throw new SkipRow(`not supported: ${reason}`);
    if (estimatedBytes > context.suite.memory.budgetBytes) {
      throw new SkipRow(
        `estimated ${formatBytes(estimatedBytes)} exceeds the memory budget ${formatBytes(context.suite.memory.budgetBytes)}`,
        { memory },
      );
    }
    const request: PeerRequest = {
      peer,
      decode: {
        lengths: decode.lengths,
        ...(decode.window !== undefined ? { window: decode.window } : {}),
        chunk: decode.spec.prefillChunk,
      },
      shape: benchCase.shape,
      mask: benchCase.mask,
      seed: benchCase.seed,
      threads,
      rowsPerHead: 1,
      timing: context.suite.timing,
      flops,
    };
    const outcome = await runChild<PeerReply>(
      childScriptPath('peers/peer-child'),
      request,
      context.suite.peerTimeoutMs,
    );
    if (!outcome.ok) throw new SkipRow(`peer failed: ${outcome.reason}`, { memory });
    const reply = outcome.value;
    const row: ResultRow = {
      ...baseRow(benchCase, peer, threads),
      flops,
      pairs,
      implementation: 'peer',
      variant: peer,
      exact: true,
      status: 'ok',
      accuracy: {
        reference: 'float64-oracle',
        rowsPerHead: 1,
        elements: oracle().length,
        vsOracle: compareOutputs(reply.rows, oracle()),
        rule: { name: 'report-only' },
      },
      time: reply.timing,
      memory: {
        ...memory,
        measured: {
          status: 'ok',
          peakBytes: reply.memory.peakBytes,
          baselineBytes: reply.memory.baselineBytes,
          floorBytes: reply.memory.floorBytes,
          method: reply.memory.method,
        },
      },
      decode: decodeRowFields(
        decode,
        { storage: 'float32', calls: 'one' },
        benchCase.shape,
        reply.timing.medianMs,
        threads,
        context.writer.results.bandwidth,
      ),
      notes: [...reply.notes, ...(reply.version ? [`version ${reply.version}`] : [])],
    };
    context.writer.upsert(row);
    context.progress.finish(
      `${reply.timing.medianMs.toFixed(2)} ms, ${row.decode?.gbPerSecond?.toFixed(1) ?? '–'} GB/s`,
    );
  } catch (error) {
    const skip =
      error instanceof SkipRow ? error : new SkipRow(`peer failed: ${describeError(error)}`, { memory });
    recordSkipped(context, benchCase, peerRow(peer, threads), { flops, pairs, ...skip.extra }, skip.reason);
  }
}
