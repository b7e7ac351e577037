// @attnkit/native's entry: loads the addon built by scripts/build.mjs, or says why there is none.
// CommonJS on purpose: @attnkit/kernels reaches it with createRequire in Node only, so browsers and
// bundlers never see a .node file. Exports { addon } or { reason } (never throws).
'use strict';
const { readFileSync } = require('node:fs');
const { join } = require('node:path');

const build = join(__dirname, '..', 'dist');

function load() {
  const forced = process.env.ATTNKIT_NATIVE_PATH;
  if (forced === 'none') return { reason: 'disabled by ATTNKIT_NATIVE_PATH=none' };
  let status;
  try {
    status = JSON.parse(readFileSync(join(build, 'status.json'), 'utf8'));
  } catch {
    return { reason: '@attnkit/native was not built (no dist/status.json): run its build script' };
  }
  if (!status.built) return { reason: `@attnkit/native was not built: ${status.reason}` };
  try {
    return { addon: require(join(build, 'attnkit_native.node')), status };
  } catch (error) {
    return { reason: `the @attnkit/native addon failed to load: ${error?.message}` };
  }
}

// Assigned one by one so Node's CommonJS lexer sees the names (ESM `import { addon }` works too).
const loaded = load();
exports.addon = loaded.addon;
exports.status = loaded.status;
exports.reason = loaded.reason;

/**
 * The best GFLOP/s of one core on a CPU path ('avx512', 'avx2', 'baseline'; default: the path calls
 * run on): `repeats` timed runs of `iterations` iterations of twelve independent vector FMA chains
 * (src/ceiling.cc). Throws where the addon did not load (with the reason) or the CPU lacks the path.
 */
exports.peakGflops = function peakGflops(path, iterations, repeats) {
  if (!loaded.addon) throw new Error(`peakGflops: no native addon (${loaded.reason})`);
  return loaded.addon.peakGflops(path, iterations, repeats);
};
