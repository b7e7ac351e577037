/**
 * The streaming probe's work module (bandwidth.ts): item i sums chunk i of the buffer down 16
 * columns with the engine's columnSums, i.e. every 64-byte line of the chunk is loaded once and
 * added into four independent f32x4 accumulators: a read-only stream with arithmetic to spare, so
 * its rate is the memory system's. Pool workers import this file by URL (dist/bandwidth-work.js).
 */
import type { Engine } from '@attnkit/kernels/runtime';

/** Columns per row of the probe's view of the buffer: one 64-byte cache line per row. */
export const PROBE_COLUMNS = 16;

export interface BandwidthPayload {
  /** Arena offset (floats) of the buffer. */
  readonly x: number;
  /** Floats per item (a multiple of PROBE_COLUMNS). */
  readonly chunkFloats: number;
  /** Arena offset of PROBE_COLUMNS floats per item for the sums. */
  readonly out: number;
}

export function runItem(engine: Engine, payload: unknown, item: number): void {
  const { x, chunkFloats, out } = payload as BandwidthPayload;
  engine.ops.columnSums(
    x + item * chunkFloats,
    PROBE_COLUMNS,
    chunkFloats / PROBE_COLUMNS,
    PROBE_COLUMNS,
    out + item * PROBE_COLUMNS,
    0,
  );
}
