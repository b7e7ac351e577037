#!/usr/bin/env node
/**
 * `pnpm test:playground`: serves the playground with vite (as `pnpm playground` does), opens it in
 * headless Chromium with `?autorun` (flash, N = 256, 4 heads of 64, causal, 2 threads), and checks
 * what a visitor sees: cross-origin isolation, the heatmap (N × N, exactly the causal pairs painted,
 * rows summing to 1), the time, GFLOP/s and the error against the float64 oracle. Then it saves a
 * screenshot of the page (`--screenshot PATH`; playground/screenshot.jpeg is the README's).
 * Last, `?runsuite` runs a reduced quick suite (two groups at their smallest N, wasm: about half a
 * minute here) and checks the results file the page offers for download (a blob URL whose JSON
 * the harness's results schema accepts, stating what ran) and the charts drawn from it (the names
 * the harness's chartSpecs gives for that file, each an SVG).
 * Prints one line per check and `N passed, M failed`; exits 1 on a failure, 2 without Chromium.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chartSpecs, parseResults } from '@attnkit/harness';
import { findChromium, freePort, holdLoadEvent } from '../scripts/headless-chromium.mjs';

const here = fileURLToPath(new URL('.', import.meta.url));
// JPEG: the repository tracks no PNG. By default into the temporary directory, so a run leaves the
// work tree clean; `--screenshot playground/screenshot.jpeg` refreshes the README's.
const screenshotIndex = process.argv.indexOf('--screenshot');
const screenshot = resolve(
  screenshotIndex >= 0
    ? (process.argv[screenshotIndex + 1] ?? '')
    : join(tmpdir(), 'attnkit-playground.jpeg'),
);
const TIMEOUT_MS = 120_000;
const N = 256;
/** The reduced suite run: one attention group and the layer, smallest N, wasm, the suite's 1 and 2 threads. */
const SUITE_GROUPS = ['gpt2-small-causal', 'mha-gpt2-small'];
const SUITE_QUERY = `?runsuite&suite=quick&sizes=smallest&groups=${SUITE_GROUPS.join(',')}&backends=wasm`;

function chromiumRun(chromium, extra, url) {
  const profile = mkdtempSync(join(tmpdir(), 'attnkit-playground-'));
  const args = [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--hide-scrollbars',
    `--user-data-dir=${profile}`,
    `--timeout=${TIMEOUT_MS - 10_000}`,
    ...extra,
    url,
  ];
  return new Promise((resolve) => {
    const child = spawn(chromium, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
    });
    child.stderr.resume();
    const timer = setTimeout(() => child.kill('SIGKILL'), TIMEOUT_MS);
    child.on('close', (code) => {
      clearTimeout(timer);
      rmSync(profile, { recursive: true, force: true });
      resolve({ stdout, code });
    });
  });
}

function unescapeHtml(text) {
  return text
    .replaceAll('&lt;', '<')
    .replaceAll('&gt;', '>')
    .replaceAll('&quot;', '"')
    .replaceAll('&#39;', "'")
    .replaceAll('&amp;', '&');
}

/** The reduced quick suite, run by the page: its downloadable results file and its charts. */
async function checkSuite(chromium, port, check) {
  const started = Date.now();
  const { stdout } = await chromiumRun(
    chromium,
    ['--dump-dom'],
    `http://127.0.0.1:${port}/${SUITE_QUERY}&hold=suite`,
  );
  console.log(`suite ran in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  const match = /<pre id="suite-result"[^>]*>([\s\S]*?)<\/pre>/.exec(stdout);
  const summary = match?.[1] ? JSON.parse(unescapeHtml(match[1])) : null;
  check(
    'the page ran the reduced quick suite',
    summary && summary.error === null,
    summary
      ? (summary.error ?? `${summary.rows} rows, ${summary.charts.length} charts`)
      : 'no result in the DOM',
  );
  if (!summary || summary.error !== null) return;
  check(
    'results JSON offered for download from a blob URL',
    summary.href.startsWith('blob:') &&
      /^quick-\d{8}-\d{6}Z\.json$/.test(summary.filename) &&
      summary.contentType === 'application/json',
    `${summary.href} as ${summary.filename} (${summary.contentType})`,
  );
  let results;
  try {
    results = parseResults(JSON.parse(summary.text), 'the downloaded file');
    check('the download parses with the harness results schema', true, `${results.rows.length} rows`);
  } catch (error) {
    check('the download parses with the harness results schema', false, String(error).slice(0, 600));
    return;
  }
  const groups = results.suite.groups.map((group) => `${group.id}:${group.lengths?.join('/')}`);
  check(
    'the file states what ran: two groups at their smallest N, wasm, 1 and 2 threads, no peers',
    groups.join(',') === 'gpt2-small-causal:256,mha-gpt2-small:512' &&
      results.options.backends?.join(',') === 'wasm' &&
      results.options.threads.join(',') === '1,2' &&
      results.suite.peers.length === 0 &&
      results.suite.memory.enabled === false &&
      results.suite.description.startsWith(
        "Run in a browser (groups gpt2-small-causal, mha-gpt2-small only; each group's smallest N only)",
      ),
    `${groups.join(', ')}; backends ${results.options.backends}; threads ${results.options.threads}`,
  );
  // gpt2-small-causal: naive + 6 labels; the layer: 6 labels; each at 1 and 2 threads.
  const ok = results.rows.filter((row) => row.status === 'ok');
  check(
    'every planned row is there: 26, none a peer or a measured peak',
    results.rows.length === 26 &&
      !results.rows.some((row) => row.implementation === 'peer' || row.memory?.measured),
    `${results.rows.length} rows, ${ok.length} ok`,
  );
  // Exact under a plain causal mask: dense, causal and flash (sliding-window wants a window).
  const exact = ok.filter((row) => row.accuracy?.rule.name === '2x-naive-float32');
  check(
    'dense, causal and flash measured at 1 and 2 threads, each within 2× the naive float32 error',
    exact.map((row) => `${row.label}/${row.threads}`).join(',') ===
      'dense/1,dense/2,causal/1,causal/2,flash/1,flash/2' &&
      exact.every((row) => row.accuracy?.rule.pass === true && row.time?.medianMs > 0),
    `${exact.filter((row) => row.accuracy?.rule.pass).length} of ${exact.length} pass`,
  );
  const expected = chartSpecs(results).map((chart) => chart.name);
  check(
    "the page drew the harness's charts for that file, each an SVG",
    expected.length >= 2 &&
      JSON.stringify(summary.charts) === JSON.stringify(expected) &&
      summary.svgs === expected.length,
    `${summary.svgs} SVGs: ${summary.charts.join(', ')}`,
  );
  const figures = [...stdout.matchAll(/<figure data-name="([^"]+)"><svg /g)].map((figure) => figure[1]);
  check(
    'the charts are in the page',
    JSON.stringify(figures) === JSON.stringify(expected),
    `${figures.length} figures with an SVG`,
  );
  check(
    'the page says which subset ran',
    /Ran the quick suite in this browser: gpt2-small-causal at N = 256; mha-gpt2-small at N = 512; backends wasm; threads 1, 2\./.test(
      summary.scope,
    ) && summary.scope.includes("each group's smallest N only"),
    summary.scope,
  );
}

async function main() {
  const chromium = findChromium();
  if (!chromium) {
    console.error('Chromium not found on PATH: apt-get update && apt-get install -y chromium (as root)');
    console.log('0 passed, 1 failed');
    return 2;
  }
  const vite = await import('vite');
  const port = await freePort();
  const server = await vite.createServer({
    configFile: join(here, 'vite.config.ts'),
    plugins: [holdLoadEvent()],
    logLevel: 'warn',
    server: { port, host: '127.0.0.1', strictPort: true },
  });
  await server.listen();
  const query = `?autorun&variant=flash&n=${N}&mask=causal&threads=2`;
  const checks = [];
  const check = (name, pass, detail) => checks.push({ name, pass: Boolean(pass), detail });
  try {
    const started = Date.now();
    const { stdout } = await chromiumRun(
      chromium,
      ['--dump-dom'],
      `http://127.0.0.1:${port}/${query}&hold=dom`,
    );
    const match = /<pre id="result"[^>]*>([\s\S]*?)<\/pre>/.exec(stdout);
    const summary = match?.[1] ? JSON.parse(unescapeHtml(match[1])) : null;
    console.log(`page ran in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    check(
      'the page ran a case',
      summary && summary.error === null,
      summary ? (summary.error ?? 'ok') : 'no result in the DOM',
    );
    if (summary && summary.error === null) {
      const { request, heatmap } = summary;
      check(
        'cross-origin isolated (threads)',
        summary.crossOriginIsolated === true,
        `${summary.crossOriginIsolated}`,
      );
      check(
        'the form case: flash, N = 256, causal, 2 threads',
        request.variant === 'flash' && request.n === N && request.mask === 'causal' && request.threads === 2,
        JSON.stringify(request),
      );
      check('the pool started a worker', summary.poolWorkers >= 1, `poolWorkers ${summary.poolWorkers}`);
      check(
        'heatmap is N × N',
        heatmap.width === N && heatmap.height === N,
        `${heatmap.width} × ${heatmap.height}`,
      );
      // Causal: row i sees keys 0..i, each with a positive weight; everything above the diagonal is white.
      check(
        'heatmap paints exactly the N(N+1)/2 causal pairs',
        heatmap.painted === (N * (N + 1)) / 2,
        `${heatmap.painted} painted`,
      );
      check(
        'each heatmap row sums to 1',
        heatmap.maxRowSumError < 1e-5,
        `max |row sum − 1| = ${heatmap.maxRowSumError}`,
      );
      check(
        'time and GFLOP/s shown',
        summary.medianMs > 0 &&
          summary.gflops > 0 &&
          summary.numbersShown.every((text) => text && text !== '–'),
        summary.numbersShown.join(', '),
      );
      check(
        'error against the float64 oracle shown and below 1e-5',
        summary.maxAbsError !== null && summary.maxAbsError < 1e-5,
        `${summary.maxAbsError} (${summary.oracle})`,
      );
    }
    rmSync(screenshot, { force: true });
    await chromiumRun(
      chromium,
      [`--screenshot=${screenshot}`, '--window-size=1150,860'],
      `http://127.0.0.1:${port}/${query}&hold=shot`,
    );
    const saved = existsSync(screenshot) ? statSync(screenshot).size : 0;
    check('screenshot saved', saved > 10_000, `${screenshot} (${saved} bytes)`);
    await checkSuite(chromium, port, check);
  } finally {
    await server.close();
  }
  for (const { name, pass, detail } of checks) console.log(`${pass ? 'PASS' : 'FAIL'}  ${name}: ${detail}`);
  const failed = checks.filter((entry) => !entry.pass).length;
  console.log(`${checks.length - failed} passed, ${failed} failed`);
  return failed === 0 ? 0 : 1;
}

process.exitCode = await main();
