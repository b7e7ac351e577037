/**
 * `@attnkit/harness/browser`: the part of the harness that runs without Node (no node:* in its
 * import graph; a test walks it). The chart specs and their SVG are the very functions the CLI
 * writes its charts with; the runner runs a suite's cases with the CLI's row kinds and timing,
 * minus what needs child processes (peers, measured peak memory). The named suites are
 * importable as JSON: `@attnkit/harness/suites/quick.json`.
 */

export {
  BROWSER_BACKENDS,
  type BrowserEnvironment,
  type BrowserRunOptions,
  type BrowserSuiteOptions,
  browserMachine,
  browserSuite,
  runInBrowser,
} from './browser-runner.js';
export {
  ANALYTIC_PANEL,
  accuracySpeedChart,
  CHART_KINDS,
  type ChartKind,
  type ChartSpec,
  chartSpecs,
  errorChart,
  gflopsChart,
  IMPLEMENTATION_COLOURS,
  MEASURED_PANEL,
  memoryChart,
  renderSvg,
  timeChart,
} from './chart-specs.js';
export { describeMask } from './mask-spec.js';
export {
  parseResults,
  RESULTS_SCHEMA_VERSION,
  type ResultRow,
  type Results,
  ResultsError,
  resultsSchema,
} from './results.js';
export type { ProgressSink } from './run-context.js';
export {
  expandGroup,
  type HarnessBackend,
  parseSuite,
  type Suite,
  SuiteError,
  type SuiteInput,
  sequenceLengths,
  suiteSchema,
} from './suite-schema.js';
