/**
 * The one error type every public entry point throws for bad input (docs/design.md, Errors). It names the
 * argument (`'k'`, `'options.window'`, `'options.blockQ'`), what was expected, what was received,
 * and how to fix it, so a caller can both read the message and branch on `argument`.
 */
export class AttentionInputError extends Error {
  override name = 'AttentionInputError';
  /** Which argument is wrong, as a path: 'q', 'k.data', 'options.window', 'options.out'. */
  readonly argument: string;
  readonly expected: string;
  readonly received: string;
  /** How to fix it ('' when the expected value says it all). */
  readonly fix: string;

  constructor(argument: string, expected: string, received: string, fix?: string) {
    super(`${argument}: expected ${expected}, received ${received}.${fix ? ` ${fix}` : ''}`);
    this.argument = argument;
    this.expected = expected;
    this.received = received;
    this.fix = fix ?? '';
  }
}

/** A short, bounded description of any value for error messages ('Float64Array(12)', '[2, 3]', 'NaN'). */
export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (typeof value === 'number') return Object.is(value, -0) ? '-0' : String(value);
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  if (typeof value === 'function') return 'a function';
  if (ArrayBuffer.isView(value)) {
    const length = (value as unknown as { length?: number }).length;
    return `${value.constructor.name}(${length ?? value.byteLength})`;
  }
  if (Array.isArray(value)) {
    const shown = value.slice(0, 8).map(describeValue).join(', ');
    return `[${shown}${value.length > 8 ? `, … (${value.length} items)` : ''}]`;
  }
  if (typeof value === 'object') {
    const keys = Object.keys(value);
    return `an object with keys {${keys.slice(0, 8).join(', ')}${keys.length > 8 ? ', …' : ''}}`;
  }
  return typeof value;
}
