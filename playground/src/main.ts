/**
 * The playground page: reads the form, sends the case to the compute worker, draws the returned
 * attention weights as a heatmap and shows time, GFLOP/s and error. `?autorun` runs the form's
 * case on load and writes a JSON summary into <pre id="result"> (the playground test reads it).
 *
 * The suite form runs one of the harness's named suites in the same worker, draws its charts with
 * the harness's chart specs and offers the results file for download; `?runsuite` runs it on load
 * and writes a summary, with the downloadable file's text, into <pre id="suite-result">.
 */
import { chartSpecs, type Results, renderSvg, sequenceLengths } from '@attnkit/harness/browser';
import type { CaseRequest, CaseResult, SuiteRequest, WorkerMessage } from './protocol.js';

const element = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const form = element<HTMLFormElement>('form');
const status = element<HTMLDivElement>('status');
const canvas = element<HTMLCanvasElement>('heatmap');
const worker = new Worker(new URL('./worker.ts', import.meta.url), { type: 'module' });

function readForm(): CaseRequest {
  const data = new FormData(form);
  const number = (name: string) => Number(data.get(name));
  return {
    variant: String(data.get('variant')) as CaseRequest['variant'],
    backend: String(data.get('backend')) as CaseRequest['backend'],
    n: number('n'),
    heads: number('heads'),
    headDim: number('headDim'),
    mask: String(data.get('mask')) as CaseRequest['mask'],
    window: number('window'),
    threads: number('threads'),
    head: number('head'),
    repeats: 5,
    seed: 1,
  };
}

function formatMs(ms: number): string {
  return ms >= 100 ? `${ms.toFixed(0)} ms` : ms >= 10 ? `${ms.toFixed(1)} ms` : `${ms.toFixed(3)} ms`;
}

/**
 * Weights → pixels: white for 0 (masked) to dark blue for 1, on a square-root scale so the small
 * weights of a long row stay visible (the harness's attention-weights figure uses the same scale).
 */
function drawHeatmap(weights: Float32Array, n: number): number {
  canvas.width = n;
  canvas.height = n;
  const context = canvas.getContext('2d');
  if (!context) return 0;
  const image = context.createImageData(n, n);
  let painted = 0;
  for (let index = 0; index < n * n; index++) {
    const t = Math.sqrt(Math.min(1, Math.max(0, weights[index] ?? 0)));
    if (t > 0) painted++;
    image.data[4 * index] = Math.round(255 + t * (8 - 255));
    image.data[4 * index + 1] = Math.round(255 + t * (48 - 255));
    image.data[4 * index + 2] = Math.round(255 + t * (107 - 255));
    image.data[4 * index + 3] = 255;
  }
  context.putImageData(image, 0, 0);
  return painted;
}

function show(result: CaseResult): Record<string, unknown> {
  const { request } = result;
  const painted = drawHeatmap(result.weights, request.n);
  element('time').textContent = formatMs(result.medianMs);
  element('fastest').textContent = formatMs(result.minMs);
  element('gflops').textContent = result.gflops.toFixed(2);
  element('error').textContent =
    result.maxAbsError === null ? 'not finite' : result.maxAbsError.toExponential(2);
  element('oracle').textContent = result.oracle;
  element('engine').textContent =
    `${request.backend} backend (default ${result.backend}), threads ${request.threads}, pool workers ${result.poolWorkers}`;
  element('caption').textContent =
    `Attention weights of head ${result.head} of ${request.heads}, N = ${request.n}, mask ${request.mask}` +
    `${request.mask.includes('window') ? ` (w = ${request.window})` : ''}: row i = query, column j = key, darker = more weight, white = masked.`;
  let rowSumError = 0;
  for (let i = 0; i < request.n; i++) {
    let sum = 0;
    for (let j = 0; j < request.n; j++) sum += result.weights[i * request.n + j] ?? 0;
    rowSumError = Math.max(rowSumError, Math.abs(sum - 1));
  }
  return {
    request,
    medianMs: result.medianMs,
    gflops: result.gflops,
    maxAbsError: result.maxAbsError,
    oracle: result.oracle,
    backend: result.backend,
    poolWorkers: result.poolWorkers,
    heatmap: { width: canvas.width, height: canvas.height, painted, maxRowSumError: rowSumError },
    numbersShown: ['time', 'gflops', 'error'].map((id) => element(id).textContent),
  };
}

/** One job at a time in the worker: a case or a suite. */
let running = false;
function run(): Promise<Record<string, unknown>> {
  running = true;
  const request = readForm();
  status.className = '';
  status.textContent = `running ${request.variant} at N = ${request.n}…`;
  return new Promise((resolve) => {
    worker.onmessage = (event: MessageEvent<WorkerMessage>) => {
      running = false;
      const message = event.data;
      if (message.kind !== 'result') {
        const text = message.kind === 'error' ? message.message : `unexpected ${message.kind}`;
        status.className = 'error';
        status.textContent = text;
        resolve({ error: text });
        return;
      }
      status.textContent = `done: ${request.variant}, N = ${request.n}, ${request.heads} heads of ${request.headDim}`;
      resolve({ error: null, ...show(message.result) });
    };
    worker.postMessage({ kind: 'case', request });
  });
}

form.addEventListener('submit', (event) => {
  event.preventDefault();
  if (!running) void run();
});

const suiteForm = element<HTMLFormElement>('suite-form');
const suiteStatus = element<HTMLDivElement>('suite-status');
const download = element<HTMLAnchorElement>('download');
const charts = element<HTMLDivElement>('charts');

function readSuiteForm(): SuiteRequest {
  const data = new FormData(suiteForm);
  const list = (name: string) =>
    String(data.get(name) ?? '')
      .split(',')
      .map((item) => item.trim())
      .filter((item) => item.length > 0);
  return {
    suite: String(data.get('suite')) as SuiteRequest['suite'],
    sizes: String(data.get('sizes')) as SuiteRequest['sizes'],
    groups: list('groups'),
    backends: list('backends') as SuiteRequest['backends'],
    threads: list('suiteThreads').map(Number),
    argv: location.search ? [location.search] : [],
  };
}

function updateSuiteButton(): void {
  element('run-suite').textContent = `Run ${String(new FormData(suiteForm).get('suite'))} suite`;
}
suiteForm.addEventListener('change', updateSuiteButton);

/** What ran, in words: the page says which subset of the suite this is. */
function describeRun(results: Results): string {
  const { options, suite } = results;
  const groups = suite.groups.map((group) => `${group.id} at N = ${sequenceLengths(group).join(', ')}`);
  const ok = results.rows.filter((row) => row.status === 'ok').length;
  const seconds = ((results.wallTimeMs ?? 0) / 1000).toFixed(1);
  return (
    `Ran the ${options.suite} suite in this browser: ${groups.join('; ')}; backends ` +
    `${options.backends?.join(', ')}; threads ${options.threads.join(', ')}. ${ok} rows measured, ` +
    `${results.rows.length - ok} skipped, in ${seconds} s. ${suite.description.split('. The suite:')[0]}.`
  );
}

function showSkipped(results: Results): void {
  const skipped = results.rows.filter((row) => row.status === 'skipped');
  const details = element<HTMLDetailsElement>('skipped');
  details.hidden = skipped.length === 0;
  const summary = details.querySelector('summary');
  if (summary) summary.textContent = `${skipped.length} skipped rows and why`;
  const list = details.querySelector('ul');
  list?.replaceChildren(
    ...skipped.map((row) => {
      const item = document.createElement('li');
      item.textContent = `${row.caseId} ${row.label} t=${row.threads}: ${row.reason ?? ''}`;
      return item;
    }),
  );
}

/** The harness's chart specs for these results, rendered by the harness's renderSvg (vega, headless). */
async function drawCharts(results: Results): Promise<string[]> {
  charts.replaceChildren();
  const drawn: string[] = [];
  for (const chart of chartSpecs(results)) {
    suiteStatus.textContent = `drawing ${chart.name}…`;
    const figure = document.createElement('figure');
    figure.dataset.name = chart.name;
    // The SVG is vega's output for the harness's own spec, not user markup.
    figure.innerHTML = await renderSvg(chart.spec);
    charts.append(figure);
    drawn.push(chart.name);
  }
  return drawn;
}

function offerDownload(results: Results): void {
  if (download.href.startsWith('blob:')) URL.revokeObjectURL(download.href);
  const blob = new Blob([`${JSON.stringify(results, null, 2)}\n`], { type: 'application/json' });
  download.href = URL.createObjectURL(blob);
  download.download = `${results.runId}.json`;
  download.textContent = `Download results JSON (${download.download}, ${results.rows.length} rows)`;
  download.hidden = false;
}

function runSuite(): Promise<Record<string, unknown>> {
  running = true;
  const request = readSuiteForm();
  suiteStatus.className = '';
  suiteStatus.textContent = `running the ${request.suite} suite…`;
  return new Promise((resolve) => {
    worker.onmessage = (event: MessageEvent<WorkerMessage>) => {
      const message = event.data;
      if (message.kind === 'suite-progress') {
        suiteStatus.textContent = `row ${message.done} of ${message.total}: ${message.text}`;
        return;
      }
      if (message.kind !== 'suite-result') {
        running = false;
        const text = message.kind === 'error' ? message.message : `unexpected ${message.kind}`;
        suiteStatus.className = 'error';
        suiteStatus.textContent = text;
        resolve({ error: text });
        return;
      }
      const { results } = message;
      const scope = element<HTMLParagraphElement>('scope');
      scope.textContent = describeRun(results);
      scope.hidden = false;
      offerDownload(results);
      showSkipped(results);
      drawCharts(results).then(
        (drawn) => {
          running = false;
          suiteStatus.textContent = `done: ${drawn.length} charts`;
          resolve({ error: null, charts: drawn, rows: results.rows.length });
        },
        (error: unknown) => {
          running = false;
          suiteStatus.className = 'error';
          suiteStatus.textContent = `drawing the charts failed: ${String(error)}`;
          resolve({ error: String(error) });
        },
      );
    };
    worker.postMessage({ kind: 'suite', request });
  });
}

suiteForm.addEventListener('submit', (event) => {
  event.preventDefault();
  if (!running) void runSuite();
});

status.textContent = `ready (crossOriginIsolated: ${globalThis.crossOriginIsolated})`;
// A case can be shared as a URL: ?variant=linear&n=1024&mask=window&window=64 fills the form;
// the suite form's fields too (?suite=quick&sizes=smallest&groups=gpt2-small&backends=wasm).
const params = new URLSearchParams(location.search);
for (const [name, value] of params) {
  for (const target of [form, suiteForm]) {
    const field = target.elements.namedItem(name);
    if (field instanceof HTMLInputElement || field instanceof HTMLSelectElement) field.value = value;
  }
}
updateSuiteButton();

/** Two frames, so what the run drew is painted before the load event lets go. */
function release(hold: string | null): void {
  requestAnimationFrame(() =>
    requestAnimationFrame(() => {
      if (hold) void fetch(`/__done?id=${encodeURIComponent(hold)}`);
    }),
  );
}

/** After ?runsuite: the downloadable file read back through its blob URL, as a user's download gets it. */
async function suiteSummary(outcome: Record<string, unknown>): Promise<Record<string, unknown>> {
  if (outcome.error !== null || download.hidden) return outcome;
  const response = await fetch(download.href);
  return {
    ...outcome,
    href: download.href,
    filename: download.download,
    contentType: response.headers.get('content-type'),
    svgs: charts.querySelectorAll('figure > svg').length,
    scope: element('scope').textContent,
    text: await response.text(),
  };
}

if (params.has('autorun') || params.has('runsuite')) {
  // Under the test (test.mjs), a pending image holds the load event until the result is on the
  // page: headless Chromium's --dump-dom and --screenshot act at load.
  const hold = params.get('hold');
  if (hold) {
    const image = new Image();
    image.src = `/__hold?id=${encodeURIComponent(hold)}`;
    image.hidden = true;
    document.body.append(image);
  }
  void (async () => {
    if (params.has('autorun')) {
      const summary = await run();
      element<HTMLPreElement>('result').textContent = JSON.stringify({
        crossOriginIsolated: globalThis.crossOriginIsolated,
        ...summary,
      });
    }
    if (params.has('runsuite')) {
      const outcome = await runSuite().then(suiteSummary, (error: unknown) => ({ error: String(error) }));
      element<HTMLPreElement>('suite-result').textContent = JSON.stringify(outcome);
    }
    release(hold);
  })();
}
