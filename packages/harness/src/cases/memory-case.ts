/**
 * The peak memory of a variant's 1-thread call, measured in a fresh child process
 * (memory-child.ts) and written into the row the timing produced. A failure of any kind is the
 * measurement's skip reason; the row itself stays measured.
 */
import { childScriptPath, runChild } from '../child.js';
import { formatBytes } from '../machine.js';
import type { MemoryReply, MemoryRequest } from '../memory-child.js';
import type { ResultRow } from '../results.js';
import { describeError } from '../rows.js';
import type { RunContext } from '../run-context.js';
import type { BenchCase, VariantSpec } from '../suite.js';

/** The 1-thread row a memory measurement completes, and the options its call ran with. */
export interface MemoryCandidate {
  readonly row: ResultRow;
  readonly options: Record<string, unknown>;
}

type Measured = NonNullable<NonNullable<ResultRow['memory']>['measured']>;

export async function measureMemory(
  context: RunContext,
  benchCase: BenchCase,
  spec: VariantSpec,
  candidate: MemoryCandidate | undefined,
): Promise<void> {
  const { progress, writer, suite } = context;
  progress.start(`${benchCase.id} ${spec.label} peak memory (child process)`);
  if (!candidate) {
    // Nothing ran at 1 thread (skipped above, reason recorded there): nothing to measure.
    progress.finish('memory: not measured (the call itself was skipped)');
    return;
  }
  const { row, options } = candidate;
  let measured: Measured;
  try {
    const request: MemoryRequest = {
      variant: spec.variant,
      options,
      shape: benchCase.shape,
      mask: benchCase.mask,
      seed: benchCase.seed,
    };
    const outcome = await runChild<MemoryReply>(
      childScriptPath('memory-child'),
      request,
      suite.memory.timeoutMs,
    );
    measured = outcome.ok
      ? {
          status: 'ok',
          peakBytes: outcome.value.peakBytes,
          baselineBytes: outcome.value.baselineBytes,
          floorBytes: outcome.value.floorBytes,
          method: outcome.value.method,
        }
      : { status: 'skipped', reason: outcome.reason };
  } catch (error) {
    measured = { status: 'skipped', reason: `memory measurement failed: ${describeError(error)}` };
  }
  const memory = row.memory ?? { workspaceBytes: null, estimatedBytes: 0 };
  writer.upsert({ ...row, memory: { ...memory, measured } });
  progress.finish(
    measured.status === 'ok'
      ? `peak ${formatBytes(measured.peakBytes)}`
      : `memory skipped (${measured.reason})`,
  );
}
