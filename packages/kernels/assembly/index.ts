// Entry point of the kernels module: every export here is called by src/wasm-ops.ts.
export { heapBase, scratchBytes, setScratch } from './scratch';
export { gemmNN, gemmNT, gemmTN } from './gemm';
export {
  columnSums,
  divideRows,
  eluPlusOne,
  expShiftRows,
  finishRows,
  maskBand,
  notFinite,
  onlineSoftmaxStep,
  relu,
  rowMax,
  rowSquaredNorms,
  softmaxRows,
} from './rows';
export { addAlibi, addTile, maskRanges, softcapScores } from './scores';
export { expArray, expNonPositiveArray } from './exp';
export { simdCeiling } from './ceiling';
export { dequantRows } from './compact';
export { decodeAttendPaged } from './decode';
