/**
 * The append check every KV cache shares (growing, fixed or rolling): new keys
 * [B, Hkv, Lnew, Dk] and values [B, Hkv, Lnew, Dv] must match the cache's dimensions and each other.
 * Here rather than in one variant because a variant never imports another.
 */
import { AttentionInputError, parseTensor, type Tensor } from '@attnkit/core';

/** A byte count as the caches' refusals state it: GiB with two decimals from 1 GiB on, else bytes. */
export function describeBytes(bytes: number): string {
  return bytes >= 2 ** 30 ? `${(bytes / 2 ** 30).toFixed(2)} GiB` : `${bytes} bytes`;
}

export interface CacheDimensions {
  readonly batch: number;
  readonly kvHeads: number;
  readonly headDim: number;
  readonly valueDim: number;
}

function checkAppended(
  name: 'k' | 'v',
  value: unknown,
  cache: CacheDimensions,
  depth: number,
  depthName: string,
) {
  const t = parseTensor(value, name, { rank: 4, dims: `B, Hkv, Lnew, ${depthName}` });
  const [b, h, length, d] = t.shape as [number, number, number, number];
  if (b !== cache.batch || h !== cache.kvHeads || d !== depth) {
    throw new AttentionInputError(
      name,
      `shape [${cache.batch}, ${cache.kvHeads}, Lnew, ${depth}] ([B, Hkv, Lnew, ${depthName}] of the cache)`,
      `shape [${t.shape.join(', ')}]`,
      'Append the new positions of every batch entry and kv head at once, with the dims the cache was created with.',
    );
  }
  return length;
}

/** Validates an append of k and v to a cache; returns the number of new positions. */
export function parseCacheAppend(k: Tensor, v: Tensor, cache: CacheDimensions): number {
  const added = checkAppended('k', k, cache, cache.headDim, 'Dk');
  const addedValues = checkAppended('v', v, cache, cache.valueDim, 'Dv');
  if (addedValues !== added) {
    throw new AttentionInputError(
      'v',
      `${added} new positions (as k)`,
      `${addedValues}`,
      'Append one value row per key row.',
    );
  }
  return added;
}
