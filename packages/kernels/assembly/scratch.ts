// Per-instance scratch: every wasm instance (the caller's and each worker's) shares one memory
// but owns a private scratch area, whose address lives in this (per-instance, unshared) global.
// Layout: [packed B panel][packed A block (gemmTN only)][one 4 × 8 spill tile], at most 15.1 KiB,
// which the engine's INSTANCE_SCRATCH_BYTES (128 KiB reserved) must cover.

/** Depth of a k block for gemmNT / gemmNN (their packed B panel: KC × 8 floats, 8 KiB). */
// @ts-ignore: decorator
@inline export const KC: i32 = 256;
/** gemmTN's k block and row block: packed B panel (3 KiB) + packed A block (KC_TN × MC_TN floats, 12 KiB). */
// @ts-ignore: decorator
@inline export const KC_TN: i32 = 96;
// @ts-ignore: decorator
@inline export const MC_TN: i32 = 32;
// @ts-ignore: decorator
@inline export const PANEL_BYTES: usize = <usize>KC * 8 * 4;
// @ts-ignore: decorator
@inline export const TN_PANEL_BYTES: usize = <usize>KC_TN * 8 * 4;
// @ts-ignore: decorator
@inline export const TN_A_BLOCK_BYTES: usize = <usize>MC_TN * <usize>KC_TN * 4;
/** The spill tile sits above both layouts. */
// @ts-ignore: decorator
@inline export const SPILL_OFFSET: usize =
  PANEL_BYTES > TN_PANEL_BYTES + TN_A_BLOCK_BYTES ? PANEL_BYTES : TN_PANEL_BYTES + TN_A_BLOCK_BYTES;
// @ts-ignore: decorator
@inline export const SCRATCH_BYTES: usize = SPILL_OFFSET + 4 * 8 * 4;

export let scratch: usize = 0;

/** Bytes the engine must reserve for this instance's scratch. */
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
