// Per-instance scratch: every wasm instance (the caller's and each worker's) shares one memory
// but owns a private scratch area, whose address lives in this (per-instance, unshared) global.
// Layout: [packed B panel][packed A block (gemmTN only)][one 4 × 8 spill tile], at most 15.1 KiB,
// which the engine's INSTANCE_SCRATCH_BYTES (128 KiB reserved) must cover. decodeAttend (decode.ts)
// lays its own 5.3 KiB over the same bytes: no call of one runs inside a call of the other.

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
@inline const GEMM_SCRATCH_BYTES: usize = SPILL_OFFSET + 4 * 8 * 4;
/** decodeAttend's block of keys (kernel-ops.ts DECODE_BLOCK_KEYS) and query rows per sweep over them. */
// @ts-ignore: decorator
@inline export const DECODE_BLOCK: i32 = 64;
// @ts-ignore: decorator
@inline export const DECODE_SWEEP_ROWS: i32 = 16;
/** decodeAttend's scratch: the scores of a sweep's rows, 4 words per key of a block, 4 per row. */
// @ts-ignore: decorator
@inline const DECODE_SCRATCH_BYTES: usize =
  <usize>(DECODE_SWEEP_ROWS * DECODE_BLOCK * 4 + 4 * DECODE_BLOCK * 4 + 4 * DECODE_SWEEP_ROWS * 4);
// @ts-ignore: decorator
@inline export const SCRATCH_BYTES: usize =
  GEMM_SCRATCH_BYTES > DECODE_SCRATCH_BYTES ? GEMM_SCRATCH_BYTES : DECODE_SCRATCH_BYTES;

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
