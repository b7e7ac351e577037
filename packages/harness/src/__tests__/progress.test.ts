import { describe, expect, it } from 'vitest';
import { Progress } from '../progress.js';

/** Carriage return and "erase line": what redraws the bar in place. */
const CLEAR = '\r\x1b[2K';

/** A terminal stand-in: records every write. */
function terminal() {
  const writes: string[] = [];
  return { writes, stream: { isTTY: true, columns: 100, write: (text: string) => writes.push(text) > 0 } };
}

describe('the progress bar on a terminal', () => {
  it('draws nothing before the total is known, then starts at 0 of it', () => {
    const { writes, stream } = terminal();
    const progress = new Progress(0, stream);
    progress.note('attnkit-bench: suite quick');
    progress.note('variant dense: @attnkit/dense');
    // Only the notes: no bar (the issue: "a full bar at 0/0").
    expect(writes).toEqual(['attnkit-bench: suite quick\n', 'variant dense: @attnkit/dense\n']);
    progress.addWork(4);
    expect(writes).toHaveLength(3);
    expect(writes[2]).toBe(`${CLEAR}[${'-'.repeat(24)}] 0/4 0s `);
    progress.start('case 1');
    progress.finish();
    expect(writes.at(-1)).toBe(`${CLEAR}[${'#'.repeat(6)}${'-'.repeat(18)}] 1/4 0s case 1`);
  });

  it('clears nothing at the end of a run that never knew its total', () => {
    const { writes, stream } = terminal();
    const progress = new Progress(0, stream);
    progress.end();
    expect(writes).toEqual([]);
  });

  it('writes plain lines, never a bar, when not on a terminal', () => {
    const writes: string[] = [];
    const progress = new Progress(0, { write: (text: string) => writes.push(text) > 0 });
    progress.note('hello');
    progress.addWork(2);
    progress.start('case 1');
    expect(writes).toEqual(['hello\n', '[1/2 0s] case 1\n']);
  });
});
