/**
 * Progress on stderr. On a TTY: one bar redrawn in place; otherwise (CI, pipes): one plain line
 * per step, so logs stay readable. Messages (`note`) print above the bar in both modes. The bar
 * appears only once the total is known (a run learns it after planning): before that a bar would
 * read "full, 0/0".
 */
export interface ProgressStream {
  readonly isTTY?: boolean;
  readonly columns?: number;
  write(text: string): boolean;
}

export class Progress {
  private done = 0;
  private current = '';
  private readonly started = Date.now();
  private readonly tty: boolean;

  constructor(
    private total: number,
    private readonly stream: ProgressStream = process.stderr,
    private readonly enabled = true,
  ) {
    this.tty = stream.isTTY === true;
  }

  /** Starts a step: shows what is being measured now. */
  start(label: string): void {
    this.current = label;
    if (!this.enabled) return;
    if (this.tty) this.redraw();
    else
      this.stream.write(
        `[${this.done + 1}/${this.total} ${formatDuration(Date.now() - this.started)}] ${label}\n`,
      );
  }

  /** Ends a step (with an optional short outcome appended on non-TTY output). */
  finish(outcome?: string): void {
    this.done = Math.min(this.total, this.done + 1);
    if (!this.enabled) return;
    if (this.tty) this.redraw();
    else if (outcome) this.stream.write(`    ${outcome}\n`);
  }

  /** Grows the total when work is discovered late (the first call makes the bar appear). */
  addWork(steps: number): void {
    this.total += steps;
    if (this.enabled && this.tty) this.redraw();
  }

  note(line: string): void {
    if (!this.enabled) return;
    if (this.tty) {
      if (this.total > 0) this.clearLine();
      this.stream.write(`${line}\n`);
      this.redraw();
    } else {
      this.stream.write(`${line}\n`);
    }
  }

  end(): void {
    if (this.enabled && this.tty && this.total > 0) {
      this.clearLine();
    }
  }

  get completed(): number {
    return this.done;
  }

  get steps(): number {
    return this.total;
  }

  private clearLine(): void {
    this.stream.write('\r\x1b[2K');
  }

  private redraw(): void {
    if (this.total === 0) return;
    const width = Math.max(40, (this.stream.columns ?? 100) - 1);
    const fraction = this.total === 0 ? 1 : this.done / this.total;
    const barWidth = 24;
    const filled = Math.round(fraction * barWidth);
    const elapsed = formatDuration(Date.now() - this.started);
    const head = `[${'#'.repeat(filled)}${'-'.repeat(barWidth - filled)}] ${this.done}/${this.total} ${elapsed} `;
    const room = Math.max(0, width - head.length);
    const label =
      this.current.length > room ? `${this.current.slice(0, Math.max(0, room - 1))}…` : this.current;
    this.stream.write(`\r\x1b[2K${head}${label}`);
  }
}

export function formatDuration(milliseconds: number): string {
  const seconds = Math.round(milliseconds / 1000);
  const minutes = Math.floor(seconds / 60);
  return minutes > 0 ? `${minutes}m${String(seconds % 60).padStart(2, '0')}s` : `${seconds}s`;
}
