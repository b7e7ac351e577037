/**
 * Finds the variant implementations at run time. Each variant package is imported dynamically and
 * searched for its exported variant object (the documented export name first, then any export
 * with the AttentionVariant shape and the right `name`). A package that is missing, not built,
 * or without such an export yields a reason instead of a variant: the runner turns it into
 * `skipped (reason)` rows, so the harness measures whatever exists and never drops a variant
 * silently.
 */
import {
  type AttentionOptions,
  type AttentionVariant,
  naiveFloat32Attention,
  type Tensor,
} from '@attnkit/core';
import { z } from 'zod';
import type { VariantId } from './suite.js';

// biome-ignore lint/suspicious/noExplicitAny: variants have their own option types; the harness passes plain objects
export type AnyVariant = AttentionVariant<any>;

interface VariantSource {
  readonly packageName: string;
  /** Export names to look at first (DESIGN §3 names the plain functions; the objects follow the package name). */
  readonly exportNames: readonly string[];
}

export const VARIANT_SOURCES: Readonly<Record<Exclude<VariantId, 'naive'>, VariantSource>> = {
  dense: { packageName: '@attnkit/dense', exportNames: ['dense', 'denseVariant'] },
  causal: { packageName: '@attnkit/causal', exportNames: ['causal', 'causalVariant'] },
  'sliding-window': {
    packageName: '@attnkit/sliding-window',
    exportNames: ['slidingWindow', 'slidingWindowVariant', 'sliding'],
  },
  linear: { packageName: '@attnkit/linear', exportNames: ['linear', 'linearVariant'] },
  flash: { packageName: '@attnkit/flash', exportNames: ['flash', 'flashVariant'] },
};

const isFunction = z.custom<(...args: unknown[]) => unknown>((value) => typeof value === 'function');

/** What an object must look like to be timed as a variant (DESIGN §3). */
export const variantShapeSchema = z.object({
  name: z.string().min(1),
  exact: z.boolean(),
  notSupportedReasons: isFunction,
  forward: isFunction,
  workspaceBytes: isFunction,
});

export function isAttentionVariant(value: unknown): value is AnyVariant {
  return variantShapeSchema.safeParse(value).success;
}

export type LoadedVariant =
  | {
      readonly ok: true;
      readonly variant: AnyVariant;
      readonly module: Record<string, unknown>;
      readonly source: string;
    }
  | { readonly ok: false; readonly reason: string };

/** Picks the variant object out of a module namespace, or says why there is none. */
export function findVariantExport(
  namespace: Record<string, unknown>,
  variantName: string,
  packageName: string,
  exportNames: readonly string[],
): LoadedVariant {
  for (const exportName of exportNames) {
    const candidate = namespace[exportName];
    if (candidate === undefined) continue;
    if (isAttentionVariant(candidate)) {
      return { ok: true, variant: candidate, module: namespace, source: `${packageName}#${exportName}` };
    }
    const problems = variantShapeSchema
      .safeParse(candidate)
      .error?.issues.map((issue) => issue.path.join('.'));
    return {
      ok: false,
      reason: `${packageName} exports '${exportName}' but it is not an AttentionVariant (check: ${problems?.join(', ')})`,
    };
  }
  for (const [exportName, candidate] of Object.entries(namespace)) {
    if (isAttentionVariant(candidate) && candidate.name === variantName) {
      return { ok: true, variant: candidate, module: namespace, source: `${packageName}#${exportName}` };
    }
  }
  const exported = Object.keys(namespace).filter((key) => key !== 'default');
  return {
    ok: false,
    reason:
      exported.length === 0
        ? `${packageName} has no exports yet (not implemented)`
        : `${packageName} exports no AttentionVariant named '${variantName}' (exports: ${exported.slice(0, 8).join(', ')})`,
  };
}

export async function importOptional(
  packageName: string,
): Promise<{ module: Record<string, unknown> } | { reason: string }> {
  try {
    return { module: (await import(packageName)) as Record<string, unknown> };
  } catch (error) {
    const err = error as NodeJS.ErrnoException;
    if (err.code === 'ERR_MODULE_NOT_FOUND' || err.code === 'MODULE_NOT_FOUND') {
      return { reason: `${packageName} is not installed or not built (${firstLine(err.message)})` };
    }
    return { reason: `${packageName} failed to load: ${firstLine(err.message)}` };
  }
}

const cache = new Map<VariantId, Promise<LoadedVariant>>();

export function loadVariant(id: VariantId): Promise<LoadedVariant> {
  let pending = cache.get(id);
  if (!pending) {
    pending = loadVariantUncached(id);
    cache.set(id, pending);
  }
  return pending;
}

async function loadVariantUncached(id: VariantId): Promise<LoadedVariant> {
  if (id === 'naive')
    return { ok: true, variant: naiveVariant, module: {}, source: '@attnkit/core#naiveFloat32Attention' };
  const source = VARIANT_SOURCES[id];
  const imported = await importOptional(source.packageName);
  if ('reason' in imported) return { ok: false, reason: imported.reason };
  return findVariantExport(imported.module, id, source.packageName, source.exportNames);
}

/**
 * Core's plain float32 triple loop wrapped as a variant, timed as the "naive" row: what a
 * straightforward JS implementation costs, and the error the 2× rule is measured against.
 */
export const naiveVariant: AttentionVariant<AttentionOptions & { threads?: number }> = {
  name: 'naive',
  exact: true,
  notSupportedReasons(_q, _k, _v, options) {
    return options?.threads !== undefined && options.threads > 1
      ? ['naive is a single-threaded reference loop']
      : [];
  },
  forward(q: Tensor, k: Tensor, v: Tensor, options?: AttentionOptions): Tensor {
    const { threads: _threads, ...attention } = (options ?? {}) as AttentionOptions & { threads?: number };
    const data = naiveFloat32Attention(q, k, v, attention);
    const [batch = 1, heads = 1, length = 1] = q.shape;
    const valueDim = v.shape[3] ?? 1;
    return { data, shape: [batch, heads, length, valueDim] };
  },
  workspaceBytes(_q, k) {
    // One row of float32 scores at a time (the loop's only scratch).
    return 4 * (k.shape[2] ?? 0);
  },
};

/**
 * Approximate variants that export their own float64 oracle (DESIGN §5: linear is held exactly to
 * its quadratic form); the harness reports fidelity to it next to the distance from softmax.
 */
export const OWN_ORACLE_EXPORTS: Partial<Record<VariantId, string>> = { linear: 'referenceLinearAttention' };

export type OwnOracle = (
  q: Tensor,
  k: Tensor,
  v: Tensor,
  options: Record<string, unknown>,
) => { out: Float64Array };

export function ownOracleOf(id: VariantId, loaded: LoadedVariant): OwnOracle | null {
  const exportName = OWN_ORACLE_EXPORTS[id];
  if (!exportName || !loaded.ok) return null;
  const candidate = loaded.module[exportName];
  return typeof candidate === 'function' ? (candidate as OwnOracle) : null;
}

export function firstLine(message: string): string {
  const line = message.split('\n')[0] ?? message;
  return line.length > 240 ? `${line.slice(0, 237)}...` : line;
}
