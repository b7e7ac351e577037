/**
 * The playground page: reads the form, sends the case to the compute worker, draws the returned
 * attention weights as a heatmap and shows time, GFLOP/s and error. `?autorun` runs the form's
 * case on load and writes a JSON summary into <pre id="result"> (the playground test reads it).
 */
import type { CaseRequest, CaseResult, WorkerMessage } from './protocol.js';

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
      if (message.kind === 'error') {
        status.className = 'error';
        status.textContent = message.message;
        resolve({ error: message.message });
        return;
      }
      status.textContent = `done: ${request.variant}, N = ${request.n}, ${request.heads} heads of ${request.headDim}`;
      resolve({ error: null, ...show(message.result) });
    };
    worker.postMessage(request);
  });
}

form.addEventListener('submit', (event) => {
  event.preventDefault();
  if (!running) void run();
});

status.textContent = `ready (crossOriginIsolated: ${globalThis.crossOriginIsolated})`;
// A case can be shared as a URL: ?variant=linear&n=1024&mask=window&window=64 fills the form.
const params = new URLSearchParams(location.search);
for (const [name, value] of params) {
  const field = form.elements.namedItem(name);
  if (field instanceof HTMLInputElement || field instanceof HTMLSelectElement) field.value = value;
}
if (params.has('autorun')) {
  // Under the test (test.mjs), a pending image holds the load event until the result is on the
  // page: headless Chromium's --dump-dom and --screenshot act at load.
  const hold = params.get('hold');
  if (hold) {
    const image = new Image();
    image.src = `/__hold?id=${encodeURIComponent(hold)}`;
    image.hidden = true;
    document.body.append(image);
  }
  void run().then((summary) => {
    const pre = element<HTMLPreElement>('result');
    pre.textContent = JSON.stringify({ crossOriginIsolated: globalThis.crossOriginIsolated, ...summary });
    // Two frames, so the heatmap and the numbers are painted before the load event lets go.
    requestAnimationFrame(() =>
      requestAnimationFrame(() => {
        if (hold) void fetch(`/__done?id=${encodeURIComponent(hold)}`);
      }),
    );
  });
}
