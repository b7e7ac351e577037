/**
 * A suite's mask spec as attention options and as words. Its own module, importing types only, so
 * the chart specs (chart-specs.ts) can name a group's mask without loading the variants.
 */
import type { MaskSpec } from './suite-schema.js';

/** The AttentionOptions fields a mask spec stands for ("inf" → Infinity). */
export function maskOptions(mask: MaskSpec): { causal?: boolean; window?: readonly [number, number] } {
  const options: { causal?: boolean; window?: readonly [number, number] } = {};
  if (mask.causal) options.causal = true;
  if (mask.window) {
    const [left, right] = mask.window;
    options.window = [
      left === 'inf' ? Number.POSITIVE_INFINITY : left,
      right === 'inf' ? Number.POSITIVE_INFINITY : right,
    ];
  }
  return options;
}

export function describeMask(mask: MaskSpec): string {
  const parts: string[] = [];
  if (mask.causal) parts.push('causal');
  if (mask.window) parts.push(`window [${mask.window[0]}, ${mask.window[1]}]`);
  return parts.length > 0 ? parts.join(' + ') : 'full';
}
