#!/usr/bin/env node
/**
 * `pnpm test:browser`: runs the attnkit checks (main.ts, worker.ts) in headless Chromium.
 *
 *   node browser-test/run.mjs [bundled] [dev] [--chromium=PATH]      (default: both modes)
 *
 * - bundled: `vite build` into browser-test/dist, served by `vite preview` on 127.0.0.1 — what an
 *   app that bundles attnkit ships.
 * - dev: the vite dev server, which serves the packages' dist/ files as separate ES modules
 *   (imports rewritten, nothing bundled) — isolates bundling problems from library problems.
 * Both serve with COOP/COEP, so the page is cross-origin isolated (SharedArrayBuffer, threads).
 * Chromium runs with --dump-dom; the page holds its load event until its JSON summary is in
 * <pre id="result"> (see holdLoadEvent in vite.config.ts). Prints one row per check and, last,
 * `N passed, M failed`; exits 1 on any failure, 2 when Chromium is missing.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findChromium, freePort } from '../scripts/headless-chromium.mjs';

const here = fileURLToPath(new URL('.', import.meta.url));
const configFile = join(here, 'vite.config.ts');
const PAGE_TIMEOUT_MS = 120_000;
const MODES = ['bundled', 'dev'];
const USAGE = 'node browser-test/run.mjs [bundled] [dev] [--chromium=PATH]';

/**
 * Checks that fail today for a known library bug, kept running so the bug stays visible (like
 * vitest's it.fails): such a check prints XFAIL and counts as passed while it fails; once it
 * passes it prints XPASS and counts as failed, so the entry must go with the fix.
 */
const KNOWN_FAILURES = [];

function knownFailure(mode, check) {
  return KNOWN_FAILURES.find(
    (known) => known.mode === mode && known.thread === check.thread && known.name === check.name,
  );
}

/** Loads `url` in headless Chromium and returns the DOM it dumps once the page's load event fired. */
function dumpDom(chromium, url) {
  const profile = mkdtempSync(join(tmpdir(), 'attnkit-chromium-'));
  const args = [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    `--user-data-dir=${profile}`,
    `--timeout=${PAGE_TIMEOUT_MS - 10_000}`,
    '--dump-dom',
    url,
  ];
  return new Promise((resolve) => {
    const child = spawn(chromium, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
    });
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), PAGE_TIMEOUT_MS);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      rmSync(profile, { recursive: true, force: true });
      resolve({ stdout, stderr, code, signal });
    });
  });
}

function unescapeHtml(text) {
  return text
    .replaceAll('&lt;', '<')
    .replaceAll('&gt;', '>')
    .replaceAll('&quot;', '"')
    .replaceAll('&#39;', "'")
    .replaceAll('&nbsp;', ' ')
    .replaceAll('&amp;', '&');
}

/** Serves the page in `mode`, runs Chromium on it, returns the parsed summary (or a failure reason). */
async function runMode(vite, chromium, mode) {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}/`;
  let server;
  try {
    if (mode === 'bundled') {
      await vite.build({ configFile, logLevel: 'warn' });
      server = await vite.preview({ configFile, preview: { port, host: '127.0.0.1', strictPort: true } });
    } else {
      server = await vite.createServer({ configFile, server: { port, host: '127.0.0.1', strictPort: true } });
      await server.listen();
    }
    const started = Date.now();
    const { stdout, stderr, code, signal } = await dumpDom(chromium, url);
    const seconds = (Date.now() - started) / 1000;
    const match = /<pre id="result">([\s\S]*?)<\/pre>/.exec(stdout);
    const text = match ? unescapeHtml(match[1]).trim() : '';
    if (!text) {
      const noise = /dbus|unexpected operator|vaapi|InitializeSandbox|ScreenSaver/;
      const log = stderr
        .split('\n')
        .filter((line) => line.trim() && !noise.test(line))
        .slice(-5)
        .join('\n');
      return {
        seconds,
        error: `no result in the dumped DOM (chromium exit ${code ?? signal}, ${stdout.length} bytes)${log ? `\n${log}` : ''}`,
      };
    }
    const summary = JSON.parse(text);
    return { seconds, summary, error: summary.finished ? summary.error : 'page did not finish' };
  } catch (error) {
    return { seconds: 0, error: error instanceof Error ? (error.stack ?? error.message) : String(error) };
  } finally {
    await server?.close();
  }
}

function formatTable(rows) {
  const widths = rows[0].map((_, column) => Math.max(...rows.map((row) => row[column].length)));
  return rows.map((row) =>
    row
      .map((cell, column) => cell.padEnd(widths[column]))
      .join('  ')
      .trimEnd(),
  );
}

function describeSummary(summary) {
  const lines = [
    `  ${summary.userAgent}`,
    `  crossOriginIsolated ${summary.crossOriginIsolated}, hardwareConcurrency ${summary.hardwareConcurrency}, ` +
      `initKernels() -> ${summary.initKernels}, defaultBackend() -> ${summary.defaultBackend}` +
      (summary.wasmUnavailableReason ? ` (${summary.wasmUnavailableReason})` : '') +
      `, wasmFeatures ${JSON.stringify(summary.wasmFeatures)}`,
    `  main thread: ${summary.mainThread.flashWorkModule}; startThreads(2) -> ${summary.mainThread.startThreads}`,
  ];
  const worker = summary.worker;
  if (worker) {
    lines.push(
      `  dedicated worker: defaultBackend() -> ${worker.defaultBackend}; ${worker.flashWorkModule}`,
      `  dedicated worker: startThreads(2) -> ${worker.startThreads?.resolvedTo} after ${worker.startThreads?.ms} ms`,
      ...worker.poolWorkers.map((event) => `  pool worker: ${event}`),
    );
  }
  return lines;
}

async function main() {
  const args = process.argv.slice(2);
  const given = args.find((arg) => arg.startsWith('--chromium='))?.slice('--chromium='.length);
  const requested = args.filter((arg) => !arg.startsWith('--chromium='));
  const unknown = requested.filter((mode) => !MODES.includes(mode));
  if (unknown.length > 0) {
    console.error(`unknown argument(s) ${unknown.join(', ')}; usage: ${USAGE}`);
    return 2;
  }
  const modes = requested.length > 0 ? requested : MODES;
  const chromium = findChromium(given);
  if (!chromium) {
    const looked = given
      ? `--chromium=${given} is not executable`
      : 'looked for chromium, chromium-browser, google-chrome on PATH';
    console.error(
      `Chromium not found (${looked}).\n` +
        'Install it with: apt-get update && apt-get install -y chromium   (as root), or pass --chromium=PATH',
    );
    console.log('0 passed, 1 failed');
    return 2;
  }
  const packages = ['core', 'kernels', 'dense', 'causal', 'sliding-window', 'linear', 'flash', 'mha'];
  const unbuilt = packages.filter(
    (name) => !existsSync(join(here, '..', 'packages', name, 'dist', 'index.js')),
  );
  if (unbuilt.length > 0) {
    console.error(`packages not built (${unbuilt.join(', ')}): run \`npx -y pnpm@12.4.2 build\` first`);
    console.log('0 passed, 1 failed');
    return 2;
  }
  const version = execFileSync(chromium, ['--version'], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  console.log(`${version.trim()} (${chromium})`);
  const vite = await import('vite');
  const began = Date.now();
  let passed = 0;
  let failed = 0;
  let expectedFailures = 0;
  const notes = [];
  for (const mode of modes) {
    const result = await runMode(vite, chromium, mode);
    console.log(`\n== ${mode}: page ran in ${result.seconds.toFixed(1)} s`);
    if (result.summary) {
      for (const line of describeSummary(result.summary)) console.log(line);
      const rows = [['result', 'thread', 'backend', 'threads', 'check', 'max abs', 'limit', 'note']];
      for (const check of result.summary.checks) {
        const known = knownFailure(mode, check);
        let verdict = check.pass ? 'PASS' : 'FAIL';
        if (known) {
          verdict = check.pass ? 'XPASS' : 'XFAIL';
          notes.push(
            check.pass
              ? `XPASS ${mode} ${check.thread} '${check.name}' passes now: remove it from KNOWN_FAILURES in run.mjs`
              : `XFAIL ${mode} ${check.thread} '${check.name}' (known bug): ${known.why}`,
          );
        }
        if (check.pass !== Boolean(known)) passed++;
        else failed++;
        if (known && !check.pass) expectedFailures++;
        rows.push([
          verdict,
          check.thread,
          check.backend,
          String(check.threads),
          check.name,
          check.maxAbs === null ? '-' : check.maxAbs.toExponential(2),
          check.limit,
          check.note,
        ]);
      }
      console.log('');
      for (const line of formatTable(rows)) console.log(line);
    }
    if (result.error) {
      failed++;
      console.log(`FAIL ${mode}: ${result.error}`);
    }
  }
  if (notes.length > 0) console.log(`\n${notes.join('\n')}`);
  console.log(`\ntotal ${((Date.now() - began) / 1000).toFixed(1)} s`);
  if (expectedFailures > 0)
    console.log(`(${expectedFailures} known failure(s) counted as passed, as vitest counts it.fails)`);
  console.log(`${passed} passed, ${failed} failed`);
  return failed === 0 ? 0 : 1;
}

process.exitCode = await main();
