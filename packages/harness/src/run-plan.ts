/**
 * What a run does that needs neither a file system nor child processes, shared by the Node runner
 * (runner.ts) and the browser runner (browser-runner.ts): which variant specs and peers it runs,
 * how many steps that is, and the loop over every case of the suite. Every outcome is a row, ok or
 * skipped with its reason: a case that fails in a way its row kind did not catch has its missing
 * rows recorded as skipped, and the run goes on.
 */
import { runAttentionCase } from './cases/attention-case.js';
import { runMhaCase } from './cases/mha-case.js';
import { describeMask } from './mask-spec.js';
import type { PeerId } from './registry.js';
import { describeError, rowId } from './rows.js';
import { casePeers, plannedRows, type RunContext, recordSkipped, specsForGroup } from './run-context.js';
import {
  type BenchCase,
  expandGroup,
  type GroupSpec,
  normaliseVariantSpec,
  type Suite,
  type VariantSpec,
} from './suite-schema.js';

/** The variant specs a run uses: the suite's, filtered by --variants, with dense always present. */
export function selectVariants(
  suite: Suite,
  filter: readonly string[] | undefined,
): { specs: VariantSpec[]; notes: string[] } {
  const all = suite.variants.map(normaliseVariantSpec);
  const notes: string[] = [];
  let specs = all;
  if (filter && filter.length > 0) {
    specs = all.filter((spec) => filter.includes(spec.label) || filter.includes(spec.variant));
    const unknown = filter.filter(
      (name) => !all.some((spec) => spec.label === name || spec.variant === name),
    );
    if (unknown.length > 0) notes.push(`--variants: not in suite '${suite.name}': ${unknown.join(', ')}`);
  }
  if (!specs.some((spec) => spec.variant === 'dense')) {
    specs = [{ label: 'dense', variant: 'dense', options: {} }, ...specs];
    notes.push('dense added: it is always timed as the baseline');
  }
  return { specs, notes };
}

/** Whether a --peers name selects a peer: its id, or its runtime prefix ('ort-node'). */
export function peerMatches(peer: PeerId, name: string): boolean {
  return peer === name || peer.startsWith(`${name}:`);
}

export function selectPeers(suite: Suite, enabled: boolean, filter: readonly string[] | undefined): PeerId[] {
  if (!enabled) return [];
  if (!filter || filter.length === 0) return [...suite.peers];
  return suite.peers.filter((peer) => filter.some((name) => peerMatches(peer, name)));
}

export function countSteps(
  context: Pick<RunContext, 'suite' | 'specs' | 'threads' | 'peers' | 'outOfProcess'>,
): number {
  let steps = 0;
  for (const group of context.suite.groups) {
    const cases = expandGroup(group);
    if (group.kind === 'decode') {
      const planned = context.outOfProcess?.plannedDecodeRows;
      if (planned) for (const benchCase of cases) steps += planned(context, group, benchCase).length;
      continue;
    }
    const labels = specsForGroup(context, group).length;
    steps += cases.length * labels * context.threads.length;
    if (group.kind === 'attention' && context.outOfProcess) {
      if (group.memory && context.suite.memory.enabled) steps += cases.length * labels;
      for (const benchCase of cases)
        steps += casePeers(context, group, benchCase.n).length * context.threads.length;
    }
  }
  return steps;
}

export function defaultRunId(suiteName: string, date = new Date()): string {
  const stamp = date
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z')
    .replace('T', '-');
  return `${suiteName}-${stamp}`;
}

/**
 * The last line of defence: a case whose row kind threw past its own per-row handling still
 * owes every one of its rows; those not written yet become skipped rows carrying the error.
 */
function recordCaseFailure(
  context: RunContext,
  group: GroupSpec,
  benchCase: BenchCase,
  error: unknown,
): void {
  const written = new Set(context.writer.results.rows.map((row) => row.id));
  const reason = `case failed: ${describeError(error)}`;
  const owed =
    group.kind === 'decode'
      ? (context.outOfProcess?.plannedDecodeRows?.(context, group, benchCase) ?? [])
      : plannedRows(context, group, benchCase);
  for (const planned of owed) {
    if (written.has(rowId(benchCase.id, planned.label, planned.threads))) continue;
    context.progress.start(`${benchCase.id} ${planned.label} t=${planned.threads}`);
    recordSkipped(context, benchCase, planned, { flops: 0, pairs: 0 }, reason);
  }
}

/** Every case of the suite, group by group, each row written to the context's sink as it is measured. */
export async function runCases(context: RunContext): Promise<void> {
  const { suite, progress, outOfProcess } = context;
  if (suite.ceilingProbe && outOfProcess?.measureCeiling) await outOfProcess.measureCeiling(context);
  let probed = false;
  for (const group of suite.groups) {
    progress.note(`${group.title} — ${group.source}; ${describeMask(group.mask)}`);
    let runCase = group.kind === 'mha' ? runMhaCase : runAttentionCase;
    if (group.kind === 'decode') {
      // KV caches over seeded contexts and the GQA peer: Node only (the runner passes them in)
      if (!outOfProcess?.runDecodeCase) {
        progress.note('  decode groups run in Node only: skipped here');
        continue;
      }
      if (!probed && outOfProcess.measureProbe) {
        probed = true;
        await outOfProcess.measureProbe(context, 'before');
      }
      runCase = outOfProcess.runDecodeCase;
    }
    for (const benchCase of expandGroup(group)) {
      try {
        await runCase(context, group, benchCase);
      } catch (error) {
        recordCaseFailure(context, group, benchCase, error);
      }
    }
  }
  // The memory bandwidth of a shared machine drifts over minutes: the probe is taken again, and the
  // rows' "% probe" and the probe figures use the best of both.
  if (probed && outOfProcess?.measureProbe) await outOfProcess.measureProbe(context, 'after');
  progress.end();
}
