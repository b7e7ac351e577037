import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { finiteOrNull, parseResults, ResultsError, resultsSchema } from '../results.js';
import { ResultsWriter } from '../results-writer.js';
import { makeResults, makeRow, timedRow } from './fixtures.js';

const directories: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'attnkit-results-'));
  directories.push(dir);
  return dir;
}
afterEach(() => {
  for (const dir of directories.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('results schema', () => {
  it('round-trips through JSON unchanged (ok rows, skipped rows, null errors)', () => {
    const results = makeResults([
      timedRow('dense', 64, 1, 2.5),
      makeRow({ label: 'flash', n: 64, threads: 2, status: 'skipped', reason: 'not supported: threads' }),
    ]);
    const text = JSON.stringify(results);
    const back = parseResults(JSON.parse(text));
    expect(back).toEqual(results);
    expect(back.rows[0]?.accuracy?.vsOracle.maxRel).toBeNull();
  });

  it('rejects a document that is not a results file, naming the paths', () => {
    const broken = { ...makeResults([]), schemaVersion: 2, rows: [{ id: 'x' }] };
    expect(() => parseResults(broken, 'old.json')).toThrow(ResultsError);
    expect(() => parseResults(broken, 'old.json')).toThrow(/old\.json[\s\S]*schemaVersion/);
  });

  it('keeps non-finite measurements visible as null', () => {
    expect(finiteOrNull(Number.NaN)).toBeNull();
    expect(finiteOrNull(Number.POSITIVE_INFINITY)).toBeNull();
    expect(finiteOrNull(0.5)).toBe(0.5);
  });
});

describe('incremental results writing', () => {
  it('leaves a complete, valid document on disk after every row, and no temporary file', () => {
    const dir = tempDir();
    const path = join(dir, 'results.json');
    const initial = { ...makeResults([]), complete: false, finishedAt: null, wallTimeMs: null };
    const writer = new ResultsWriter(path, initial);
    // An interrupted run stops here or after any upsert: what is on disk must parse.
    expect(parseResults(JSON.parse(readFileSync(path, 'utf8'))).rows).toHaveLength(0);
    const rows = [timedRow('dense', 64, 1, 1), timedRow('flash', 64, 1, 0.5), timedRow('dense', 128, 1, 4)];
    rows.forEach((row, index) => {
      writer.upsert(row);
      const onDisk = parseResults(JSON.parse(readFileSync(path, 'utf8')));
      expect(onDisk.rows.map((r) => r.id)).toEqual(rows.slice(0, index + 1).map((r) => r.id));
      expect(onDisk.complete).toBe(false);
      expect(readdirSync(dir)).toEqual(['results.json']);
    });
    const finished = writer.finish({ finishedAt: '2025-01-01T00:02:00.000Z', wallTimeMs: 120_000 });
    expect(finished.complete).toBe(true);
    expect(parseResults(JSON.parse(readFileSync(path, 'utf8')))).toEqual(finished);
  });

  it('replaces a row with the same id (memory completes a row later)', () => {
    const path = join(tempDir(), 'results.json');
    const writer = new ResultsWriter(path, makeResults([]));
    const row = timedRow('dense', 64, 1, 1);
    writer.upsert(row);
    writer.upsert({ ...row, notes: ['second write'] });
    const onDisk = parseResults(JSON.parse(readFileSync(path, 'utf8')));
    expect(onDisk.rows).toHaveLength(1);
    expect(onDisk.rows[0]?.notes).toEqual(['second write']);
  });

  it('refuses a row that breaks the schema and keeps the previous file', () => {
    const path = join(tempDir(), 'results.json');
    const writer = new ResultsWriter(path, makeResults([timedRow('dense', 64, 1, 1)]));
    const before = readFileSync(path, 'utf8');
    expect(() => writer.upsert({ ...timedRow('flash', 64, 1, 1), threads: 0 })).toThrow();
    expect(readFileSync(path, 'utf8')).toBe(before);
    expect(existsSync(path)).toBe(true);
  });

  it('accepts the schema object directly (exported for other tools)', () => {
    expect(resultsSchema.safeParse(makeResults([])).success).toBe(true);
  });
});
