/**
 * The playground's compute thread: a dedicated Worker, where a browser allows blocking waits, so
 * the kernels pool can run threads (the main thread may not). It runs one case on request and
 * answers with the timing, the error against the float64 oracle and one head's attention weights;
 * or it runs one of the harness's named suites (runInBrowser) and answers with its results file,
 * reporting each row as it is written.
 */
import { causalAttention } from '@attnkit/causal';
import {
  type AttentionProblem,
  attentionFlops,
  errorStats,
  problemForShape,
  randn,
  referenceAttention,
  type Tensor,
} from '@attnkit/core';
import { attentionWeights, denseAttention } from '@attnkit/dense';
import { flashAttention } from '@attnkit/flash';
import {
  browserSuite,
  type ProgressSink,
  parseSuite,
  type Results,
  runInBrowser,
} from '@attnkit/harness/browser';
import quick from '@attnkit/harness/suites/quick.json' with { type: 'json' };
import smoke from '@attnkit/harness/suites/smoke.json' with { type: 'json' };
import { defaultBackend, initKernels, setWorkerFactory, startThreads } from '@attnkit/kernels';
import { linearAttention, referenceLinearAttention } from '@attnkit/linear';
import { slidingWindowAttention } from '@attnkit/sliding-window';
import type { CaseRequest, CaseResult, SuiteRequest, WorkerMessage, WorkerRequest } from './protocol.js';
import { registerVariantWorkModules } from './work-modules.js';

type Variant = CaseRequest['variant'];
type Attend = (q: Tensor, k: Tensor, v: Tensor, options: Record<string, unknown>) => Tensor;

const VARIANTS: Record<Variant, Attend> = {
  dense: denseAttention as Attend,
  causal: causalAttention as Attend,
  'sliding-window': slidingWindowAttention as Attend,
  linear: linearAttention as Attend,
  flash: flashAttention as Attend,
};

let ready: Promise<{ backend: string; poolWorkers: number }> | null = null;

function setUp(): Promise<{ backend: string; poolWorkers: number }> {
  ready ??= (async () => {
    await initKernels();
    setWorkerFactory(() => new Worker(new URL('./pool-worker.ts', import.meta.url), { type: 'module' }));
    registerVariantWorkModules();
    const poolWorkers = await startThreads(2);
    return { backend: defaultBackend(), poolWorkers };
  })();
  return ready;
}

/** The mask a request asks for, as attention options. */
function maskOptions(request: CaseRequest): { causal?: boolean; window?: [number, number] } {
  if (request.mask === 'causal') return { causal: true };
  if (request.mask === 'window') return { window: [request.window, request.window] };
  if (request.mask === 'causal-window') return { window: [request.window, 0] };
  return {};
}

/** The problem the FLOP model counts (docs/design.md, FLOP model): same for every variant. */
function problemOf(request: CaseRequest): AttentionProblem {
  const { heads, n, headDim } = request;
  const shape = {
    batch: 1,
    qHeads: heads,
    kvHeads: heads,
    qLength: n,
    kvLength: n,
    headDim,
    valueDim: headDim,
  };
  return problemForShape(shape, maskOptions(request));
}

/** One head of a [1, H, N, d] tensor as a [1, 1, N, d] tensor (a view, no copy). */
function oneHead(tensor: Tensor, head: number): Tensor {
  const [, , n = 0, d = 0] = tensor.shape;
  return { data: tensor.data.subarray(head * n * d, (head + 1) * n * d), shape: [1, 1, n, d] };
}

async function runCase(request: CaseRequest): Promise<CaseResult> {
  const setup = await setUp();
  const { heads, n, headDim, seed } = request;
  const q = randn([1, heads, n, headDim], seed);
  const k = randn([1, heads, n, headDim], seed + 1);
  const v = randn([1, heads, n, headDim], seed + 2);
  const options: Record<string, unknown> = { ...maskOptions(request), backend: request.backend };
  if (request.threads > 1) options.threads = request.threads;
  const attend = VARIANTS[request.variant];
  const out = attend(q, k, v, options); // warm-up (and the output checked below)
  const times: number[] = [];
  for (let repeat = 0; repeat < request.repeats; repeat++) {
    const start = performance.now();
    attend(q, k, v, options);
    times.push(performance.now() - start);
  }
  times.sort((a, b) => a - b);
  const medianMs = times[Math.floor(times.length / 2)] ?? Number.NaN;
  // linear attention is its own definition: compare it with its own float64 oracle.
  const mask = maskOptions(request);
  const expected =
    request.variant === 'linear'
      ? referenceLinearAttention(q, k, v, mask).out
      : referenceAttention(q, k, v, mask).out;
  const error = errorStats(out.data, expected);
  const head = Math.min(request.head, heads - 1);
  const weights = attentionWeights(oneHead(q, head), oneHead(k, head), mask).data;
  const flops = attentionFlops(problemOf(request));
  return {
    request,
    backend: setup.backend,
    poolWorkers: setup.poolWorkers,
    medianMs,
    minMs: times[0] ?? Number.NaN,
    gflops: flops / (medianMs * 1e6),
    maxAbsError: error.maxAbs,
    oracle:
      request.variant === 'linear' ? 'referenceLinearAttention (float64)' : 'referenceAttention (float64)',
    head,
    weights: Float32Array.from(weights),
  };
}

/** The harness's named suites this page offers, as shipped in the package (suites/*.json). */
const SUITES: Record<SuiteRequest['suite'], unknown> = { quick, smoke };

async function runSuite(request: SuiteRequest): Promise<Results> {
  await setUp();
  const suite = browserSuite(parseSuite(SUITES[request.suite], `suite '${request.suite}'`), {
    sizes: request.sizes,
    groups: request.groups,
  });
  let done = 0;
  let total = 0;
  let current = '';
  const progress: ProgressSink = {
    start(label) {
      current = label;
      scope.postMessage({ kind: 'suite-progress', done, total, text: label });
    },
    finish(outcome) {
      done++;
      scope.postMessage({ kind: 'suite-progress', done, total, text: `${current}: ${outcome ?? 'done'}` });
    },
    note() {},
    addWork(steps) {
      total += steps;
    },
    end() {},
  };
  return runInBrowser({
    suite,
    backends: request.backends,
    ...(request.threads.length > 0 ? { threads: request.threads } : {}),
    progress,
    argv: request.argv,
  });
}

const scope = globalThis as unknown as {
  onmessage: ((event: MessageEvent<WorkerRequest>) => void) | null;
  postMessage(message: WorkerMessage, transfer?: Transferable[]): void;
};

function reportError(error: unknown): void {
  scope.postMessage({
    kind: 'error',
    message: error instanceof Error ? `${error.name}: ${error.message}` : String(error),
  });
}

scope.onmessage = (event) => {
  const message = event.data;
  if (message.kind === 'suite') {
    runSuite(message.request).then(
      (results) => scope.postMessage({ kind: 'suite-result', results }),
      reportError,
    );
    return;
  }
  runCase(message.request).then(
    (result) => scope.postMessage({ kind: 'result', result }, [result.weights.buffer]),
    reportError,
  );
};
