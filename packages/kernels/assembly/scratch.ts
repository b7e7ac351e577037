// Per-instance scratch: every wasm instance (the caller's and each worker's) shares one memory
// but owns a private scratch area, whose address lives in this (per-instance, unshared) global.
// Layout: [packed B panel: KC × 8 floats][packed A block: MC × KC floats][one 4 × 8 spill tile].

/** Depth of a k block. */
// @ts-ignore: decorator
@inline export const KC: i32 = 256;
/** Rows of A per block (a multiple of 4). */
// @ts-ignore: decorator
@inline export const MC: i32 = 64;
// @ts-ignore: decorator
@inline export const PANEL_BYTES: usize = <usize>KC * 8 * 4;
// @ts-ignore: decorator
@inline export const A_BLOCK_BYTES: usize = <usize>MC * <usize>KC * 4;
// @ts-ignore: decorator
@inline export const SCRATCH_BYTES: usize = PANEL_BYTES + A_BLOCK_BYTES + 4 * 8 * 4;

export let scratch: usize = 0;

/** Bytes the engine must reserve for this instance's scratch (64-byte multiple). */
export function scratchBytes(): i32 {
  return <i32>SCRATCH_BYTES;
}

/** Points this instance's scratch at `ptrFloats` (an offset in floats, 16-float aligned). */
export function setScratch(ptrFloats: i32): void {
  scratch = (<usize>ptrFloats) << 2;
}

/** First byte above the module's static data: the engine places its control block and arena above it. */
export function heapBase(): i32 {
  return <i32>__heap_base;
}
