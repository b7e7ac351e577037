/**
 * Incremental, atomic results writing: after every case the whole document is written to a
 * temporary file in the same directory and renamed over the results file. rename(2) within one
 * file system replaces the target atomically, so a reader (or an interrupted run) only ever sees
 * the previous complete document or the next one, never half of one.
 */
import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { type ResultRow, type Results, resultsSchema } from './results.js';

export class ResultsWriter {
  readonly path: string;
  private readonly document: Results;
  private readonly tempPath: string;

  constructor(path: string, initial: Results) {
    this.path = path;
    this.document = { ...initial, rows: [...initial.rows] };
    mkdirSync(dirname(path), { recursive: true });
    // tmp-* is git-ignored in benchmarks/results; the pid keeps two concurrent runs apart.
    this.tempPath = join(dirname(path), `tmp-${process.pid}-${basename(path)}`);
    this.flush();
  }

  get results(): Results {
    return this.document;
  }

  /** Adds a row, or replaces the row with the same id (memory measurements complete a row later). */
  upsert(row: ResultRow): void {
    const index = this.document.rows.findIndex((existing) => existing.id === row.id);
    if (index >= 0) this.document.rows[index] = row;
    else this.document.rows.push(row);
    this.flush();
  }

  /** Adds streaming-bandwidth probes to the run's (decode runs: before their first decode case, and after their last). */
  addBandwidth(probes: NonNullable<Results['bandwidth']>): void {
    this.document.bandwidth = [...(this.document.bandwidth ?? []), ...probes];
    this.flush();
  }

  /** Records the run's FMA-throughput ceilings (suites with a ceilingProbe, before their first case). */
  setCeiling(probes: NonNullable<Results['ceiling']>): void {
    this.document.ceiling = [...probes];
    this.flush();
  }

  finish(fields: Pick<Results, 'finishedAt' | 'wallTimeMs'>): Results {
    this.document.finishedAt = fields.finishedAt;
    this.document.wallTimeMs = fields.wallTimeMs;
    this.document.complete = true;
    this.flush();
    return this.document;
  }

  private flush(): void {
    // Validate before writing: a row that does not fit the schema is a harness bug, caught at once.
    const checked = resultsSchema.parse(this.document);
    try {
      writeFileSync(this.tempPath, `${JSON.stringify(checked, null, 2)}\n`);
      renameSync(this.tempPath, this.path);
    } catch (error) {
      rmSync(this.tempPath, { force: true });
      throw error;
    }
  }
}
