/**
 * Peer rows: one (peer, threads) of an attention case per row, run in its own child process
 * (peers/peer-child.ts) on the same seeded inputs and checked against the same oracle slice.
 */
import { measureSliceAccuracy, type OracleSlice } from '../accuracy.js';
import { childScriptPath, runChild } from '../child.js';
import { packageVersion } from '../machine.js';
import { PEERS, type PeerReply, type PeerRequest, peerEstimatedBytes, peerPrecheck } from '../peers/peers.js';
import type { PeerId } from '../registry.js';
import type { ResultRow } from '../results.js';
import { baseRow, describeError, SkipRow } from '../rows.js';
import { peerRow, type RunContext, recordSkipped } from '../run-context.js';
import type { BenchCase } from '../suite.js';

export async function runPeerCase(
  context: RunContext,
  benchCase: BenchCase,
  peer: PeerId,
  threads: number,
  flops: number,
  pairs: number,
  oracleFor: () => OracleSlice,
): Promise<void> {
  context.progress.start(`${benchCase.id} ${peer} t=${threads} (child process)`);
  const estimatedBytes = peerEstimatedBytes(peer, benchCase.shape, benchCase.mask);
  const memory = { workspaceBytes: null, estimatedBytes };
  try {
    const row = await measurePeerRow(context, benchCase, peer, threads, flops, pairs, oracleFor, memory);
    context.writer.upsert(row);
    context.progress.finish(`${row.time?.medianMs.toFixed(2)} ms, ${row.time?.gflops.toFixed(2)} GFLOP/s`);
  } catch (error) {
    const skip =
      error instanceof SkipRow ? error : new SkipRow(`peer failed: ${describeError(error)}`, { memory });
    recordSkipped(context, benchCase, peerRow(peer, threads), { flops, pairs, ...skip.extra }, skip.reason);
  }
}

async function measurePeerRow(
  context: RunContext,
  benchCase: BenchCase,
  peer: PeerId,
  threads: number,
  flops: number,
  pairs: number,
  oracleFor: () => OracleSlice,
  memory: { workspaceBytes: null; estimatedBytes: number },
): Promise<ResultRow> {
  const { suite } = context;
  const limit = context.peerThreadLimits.get(`${peer}|${threads}`);
  const reason =
    peerPrecheck(
      peer,
      benchCase.shape,
      benchCase.mask,
      suite.memory.budgetBytes,
      (name) => packageVersion(name) !== null,
    ) ?? limit;
  if (reason) throw new SkipRow(reason, reason.startsWith('estimated') ? { memory } : {});
  const request: PeerRequest = {
    peer,
    shape: benchCase.shape,
    mask: benchCase.mask,
    seed: benchCase.seed,
    threads,
    rowsPerHead: suite.accuracy.rowsPerHead,
    timing: suite.timing,
    flops,
  };
  const outcome = await runChild<PeerReply>(
    childScriptPath('peers/peer-child'),
    request,
    suite.peerTimeoutMs,
  );
  if (!outcome.ok) throw new SkipRow(`peer failed: ${outcome.reason}`, { memory });
  const reply = outcome.value;
  if (reply.threadsUsed !== threads) {
    const limitReason = `${PEERS[peer].description} ran on ${reply.threadsUsed} thread(s) when asked for ${threads} in Node`;
    context.peerThreadLimits.set(`${peer}|${threads}`, limitReason);
    throw new SkipRow(limitReason, { memory });
  }
  const accuracy = measureSliceAccuracy(reply.rows, oracleFor(), 'exact');
  return {
    ...baseRow(benchCase, peer, threads),
    flops,
    pairs,
    implementation: 'peer',
    variant: peer,
    exact: true,
    status: 'ok',
    accuracy,
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
    notes: [...reply.notes, ...(reply.version ? [`version ${reply.version}`] : [])],
  };
}
