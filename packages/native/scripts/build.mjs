// Builds dist/attnkit_native.node with the machine's C/C++ compiler, or explains why not.
//
// kernels.cc and ceiling.cc are compiled three times (AVX-512F + FMA, AVX2 + FMA, baseline x86-64),
// each into its own namespace, and linked with the Node-API glue (addon.cc, baseline) into one addon
// that picks a path at load time (src/addon.cc). Never -march=native: the binary must run on any x86-64.
//
// This script never fails the build: where there is no compiler, no Node-API headers, or a platform
// other than x86-64 Linux/macOS (or ATTNKIT_NATIVE_BUILD=skip), it removes any stale addon, writes
// dist/status.json { built: false, reason } and exits 0, and the native backend reports that reason
// (src/index.cjs). Nothing is downloaded: the headers come from the node-api-headers package (a
// devDependency, installed with the workspace) or from the headers Node ships with.
// Inputs: CC (default gcc). Output: dist/attnkit_native.node, dist/status.json.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'dist');
const addon = join(out, 'attnkit_native.node');
const statusFile = join(out, 'status.json');

const PATHS = [
  { name: 'avx512', flags: ['-mavx512f', '-mfma'], width: 16, rows: 8 },
  { name: 'avx2', flags: ['-mavx2', '-mfma', '-mf16c'], width: 8, rows: 6 },
  { name: 'baseline', flags: ['-march=x86-64', '-mtune=generic'], width: 4, rows: 4 },
];

const COMMON = [
  '-std=c++17',
  '-O3',
  '-fPIC',
  '-fvisibility=hidden',
  '-fno-exceptions',
  '-fno-rtti',
  '-fno-threadsafe-statics',
  '-ffp-contract=fast',
  '-Wall',
  '-Wno-unused-function',
];

function writeStatus(status) {
  mkdirSync(out, { recursive: true });
  writeFileSync(statusFile, `${JSON.stringify(status, null, 2)}\n`);
}

function skip(reason) {
  rmSync(addon, { force: true });
  writeStatus({ built: false, reason });
  console.log(`@attnkit/native: not built (${reason}); the native backend reports itself unavailable`);
  process.exit(0);
}

function headerDirectory() {
  const candidates = [];
  try {
    const headers = createRequire(import.meta.url)('node-api-headers');
    if (typeof headers.include_dir === 'string') candidates.push(headers.include_dir);
  } catch {
    // not installed: fall back to Node's own headers
  }
  candidates.push(
    join(dirname(process.execPath), '..', 'include', 'node'),
    '/usr/include/node',
    '/usr/local/include/node',
  );
  return candidates.find((dir) => existsSync(join(dir, 'node_api.h')));
}

function run(compiler, args) {
  const result = spawnSync(compiler, args, { encoding: 'utf8' });
  if (result.error) return `${compiler} could not run: ${result.error.message}`;
  if (result.status !== 0) {
    const text = `${result.stderr}${result.stdout}`.trim().split('\n').slice(-12).join('\n');
    return `${compiler} ${args.slice(-3).join(' ')} failed (exit ${result.status}):\n${text}`;
  }
  return undefined;
}

if (process.env.ATTNKIT_NATIVE_BUILD === 'skip') skip('ATTNKIT_NATIVE_BUILD=skip');
if (process.arch !== 'x64') skip(`no native kernels for ${process.arch} (x86-64 only)`);
if (process.platform !== 'linux' && process.platform !== 'darwin') {
  skip(`no native build for ${process.platform} (Linux and macOS on x86-64 only)`);
}
const compiler = process.env.CC || 'gcc';
const probe = spawnSync(compiler, ['--version'], { encoding: 'utf8' });
if (probe.error || probe.status !== 0) skip(`no C/C++ compiler: '${compiler} --version' failed`);
const version = probe.stdout.split('\n')[0]?.trim() ?? compiler;
const include = headerDirectory();
if (!include) skip('no Node-API headers (node-api-headers is not installed and Node ships none here)');

const objects = join(out, 'obj');
mkdirSync(objects, { recursive: true });
const source = (name) => join(root, 'src', name);
const started = Date.now();
const compiled = [];
for (const path of PATHS) {
  // the kernels and the ceiling loop (peakGflops) of each path, with the same flags
  for (const unit of ['kernels', 'ceiling']) {
    const object = join(objects, `${unit}-${path.name}.o`);
    const failure = run(compiler, [
      ...COMMON,
      ...path.flags,
      `-DAK_NS=ak_${path.name}`,
      `-DAK_PATH_NAME="${path.name}"`,
      `-DAK_W=${path.width}`,
      `-DAK_MR=${path.rows}`,
      '-c',
      source(`${unit}.cc`),
      '-o',
      object,
    ]);
    if (failure) skip(failure);
    compiled.push(object);
  }
}
const glue = join(objects, 'addon.o');
const glueFailure = run(compiler, [
  ...COMMON,
  '-march=x86-64',
  '-mtune=generic',
  '-DNAPI_VERSION=8',
  `-I${include}`,
  '-c',
  source('addon.cc'),
  '-o',
  glue,
]);
if (glueFailure) skip(glueFailure);
// Node-API symbols resolve against the running node at load time.
const linkFlags =
  process.platform === 'darwin' ? ['-undefined', 'dynamic_lookup'] : ['-Wl,-z,noexecstack', '-pthread'];
const temporary = join(out, `attnkit_native.${process.pid}.tmp.node`);
const linkFailure = run(compiler, ['-shared', ...linkFlags, ...compiled, glue, '-lm', '-o', temporary]);
if (linkFailure) skip(linkFailure);

// Load it once in a child process: a binary that links but cannot load is reported, not shipped.
const check = spawnSync(
  process.execPath,
  ['-e', `console.log(JSON.stringify(require(${JSON.stringify(temporary)}).pathInfo()))`],
  { encoding: 'utf8' },
);
if (check.status !== 0) {
  rmSync(temporary, { force: true });
  skip(`the addon built but does not load: ${check.stderr.trim().split('\n').slice(0, 3).join(' ')}`);
}
renameSync(temporary, addon);
const info = JSON.parse(check.stdout);
writeStatus({
  built: true,
  compiler: version,
  headers: include,
  paths: PATHS.map((path) => ({ name: path.name, flags: path.flags })),
});
console.log(
  `@attnkit/native: built with ${version} in ${Date.now() - started} ms; ` +
    `this CPU runs ${info.paths.join(', ')} (default ${info.path})`,
);
