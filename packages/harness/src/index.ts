export {
  type AccuracyRole,
  measureAccuracy,
  type OracleSlice,
  prepareOracle,
  TWO_X_RULE_FLOOR_ULPS,
} from './accuracy.js';
export {
  accuracySpeedChart,
  type ChartFormat,
  type ChartKind,
  type ChartSpec,
  chartSpecs,
  errorChart,
  gflopsChart,
  memoryChart,
  renderSvg,
  svgToPng,
  timeChart,
  writeChart,
  writeCharts,
} from './charts.js';
export { type ChildOutcome, childScriptPath, runChild } from './child.js';
export { type Comparison, compareResults, formatComparison } from './compare.js';
export { rewriteDocs, rewriteMarkdown, scalingExponent } from './docs.js';
export { computeFigures, type FigureSpec, type FigureValue, figureSchema } from './figures.js';
export { attendedPairs, attentionFlops, gflopsPerSecond, mhaFlops, problemFor } from './flops.js';
export { type AttentionInputs, ioBytes, lastRows, makeInputs } from './inputs.js';
export { keySlice, lseMergeDemo, mergePartials, type PartialAttention } from './lse-merge.js';
export { describeMachine, gitState, packageVersions } from './machine.js';
export {
  blockSparseLayout,
  describeMask,
  documentOffsets,
  type MaskOptions,
  maskOptions,
  maskSchema,
  sliceMaskOptions,
} from './mask-spec.js';
export {
  buildOnnxModel,
  decodeOnnxModel,
  ONNX_SUBSET_PROTO,
  type OnnxModelSpec,
} from './peers/onnx-model.js';
export { PEERS, peerNotSupportedReasons } from './peers/peers.js';
export { Progress } from './progress.js';
export { type PeerInfo, VARIANTS, type VariantEntry } from './registry.js';
export { figuresMarkdown, markdownReport, speedupVsDense, terminalFigures, terminalTable } from './report.js';
export {
  type Accuracy,
  type Memory,
  parseResults,
  RESULTS_SCHEMA_VERSION,
  type ResultRow,
  type Results,
  resultsSchema,
  rowSchema,
  type Timing,
} from './results.js';
export { ResultsWriter } from './results-writer.js';
export { type RunOptions, runBenchmarks, selectPeers, selectVariants } from './runner.js';
export {
  type BenchCase,
  expandGroup,
  formatSuiteList,
  groupSchema,
  listSuiteNames,
  listSuites,
  loadSuite,
  type MaskSpec,
  PEER_IDS,
  parseSuite,
  type Suite,
  SuiteError,
  type SuiteSummary,
  suiteSchema,
  suitesDirectory,
  VARIANT_IDS,
} from './suite.js';
export { plannedSamples, type TimingPlan, timeAsync, timeSync } from './timing.js';
export { naiveVariant } from './variants.js';
export { attentionWeightPanels, weightsSpec, writeAttentionWeightsFigure } from './weights-figure.js';
