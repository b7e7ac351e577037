#!/usr/bin/env node
/**
 * Packs every published workspace package (pnpm pack: workspace:* becomes the real version, as on
 * publish) and checks the tarballs as a user receives them:
 *   - publint (packaging errors) and arethetypeswrong with the esm-only profile (the packages are
 *     ESM-only, so CommonJS resolution is out of scope; every other problem is an error);
 *   - contents: no tsc build info, no bench output, no tests; a LICENSE equal to the root's;
 *   - every source map in dist/ resolves: each of its `sources` is in the tarball;
 *   - package.json states license, engines.node, repository and keywords.
 *
 *   node scripts/check-packages.mjs [--keep DIR]   (--keep: leave the tarballs in DIR)
 *
 * Prints one line per package and problem; exits 1 if any package has a problem.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const bin = (name) => join(root, 'node_modules', '.bin', name);
const keepIndex = process.argv.indexOf('--keep');
const keep = keepIndex >= 0 ? resolve(process.argv[keepIndex + 1] ?? '') : null;
const work = mkdtempSync(join(tmpdir(), 'attnkit-pack-'));
const out = keep ?? join(work, 'tarballs');
mkdirSync(out, { recursive: true });
const rootLicense = readFileSync(join(root, 'LICENSE'), 'utf8');

/** Paths a tarball must not carry: build info with the build machine's paths, bench output, tests. */
const FORBIDDEN = [
  [/\.tsbuildinfo$/, 'tsc build info'],
  [/^package\/build\//, 'bench build output'],
  [/(^|\/)results?\//, 'bench results'],
  [/\/__tests__\//, 'tests'],
  [/\.bench\.(ts|js)$/, 'bench script'],
];

function run(command, args, cwd) {
  return spawnSync(command, args, { cwd, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
}

function checkTarball(tarball, problems) {
  const dir = mkdtempSync(join(work, 'x-'));
  execFileSync('tar', ['-xzf', tarball, '-C', dir]);
  const files = execFileSync('tar', ['-tzf', tarball], { encoding: 'utf8' }).trim().split('\n');
  for (const file of files)
    for (const [pattern, what] of FORBIDDEN) if (pattern.test(file)) problems.push(`ships ${what}: ${file}`);
  const base = join(dir, 'package');
  if (!existsSync(join(base, 'LICENSE'))) problems.push('no LICENSE');
  else if (readFileSync(join(base, 'LICENSE'), 'utf8') !== rootLicense)
    problems.push('LICENSE differs from the root LICENSE');
  const manifest = JSON.parse(readFileSync(join(base, 'package.json'), 'utf8'));
  if (manifest.license !== 'MIT') problems.push(`license is ${manifest.license}, not MIT`);
  if (!manifest.engines?.node) problems.push('no engines.node');
  if (!manifest.repository?.url) problems.push('no repository');
  if (!Array.isArray(manifest.keywords) || manifest.keywords.length === 0) problems.push('no keywords');
  if (manifest.type !== 'module') problems.push('not "type": "module"');
  let maps = 0;
  for (const file of files.filter((name) => name.endsWith('.map'))) {
    maps++;
    const path = join(dir, file);
    const map = JSON.parse(readFileSync(path, 'utf8'));
    for (const source of map.sources ?? []) {
      const target = resolve(dirname(path), map.sourceRoot ?? '', source);
      if (!existsSync(target)) problems.push(`${file}: source ${source} is not in the tarball`);
    }
  }
  return { files: files.length, maps, name: manifest.name };
}

const packages = readdirSync(join(root, 'packages'))
  .map((name) => join(root, 'packages', name))
  .filter((dir) => existsSync(join(dir, 'package.json')))
  .filter((dir) => !JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).private);

let failed = 0;
for (const dir of packages) {
  const packed = run('npx', ['-y', 'pnpm@12.4.2', 'pack', '--pack-destination', out], dir);
  const tarball = /([^\s]+\.tgz)\s*$/.exec(packed.stdout.trim())?.[1];
  const problems = [];
  if (packed.status !== 0 || !tarball) {
    problems.push(`pnpm pack failed: ${packed.stderr.trim() || packed.stdout.trim()}`);
  } else {
    const { files, maps, name } = checkTarball(tarball, problems);
    const publint = run(bin('publint'), ['run', tarball, '--level', 'warning'], root);
    if (publint.status !== 0 || /error/i.test(publint.stdout))
      problems.push(`publint:\n${publint.stdout.trim()}`);
    else if (!/All good/i.test(publint.stdout))
      console.log(`${name}: publint notes\n${publint.stdout.trim()}`);
    const attw = run(
      bin('attw'),
      [tarball, '--profile', 'esm-only', '--format', 'ascii', '--no-emoji'],
      root,
    );
    if (attw.status !== 0) problems.push(`arethetypeswrong:\n${attw.stdout.trim()}${attw.stderr.trim()}`);
    if (problems.length === 0)
      console.log(`ok ${name}: ${files} files, ${maps} source maps resolve, publint and attw clean`);
  }
  if (problems.length > 0) {
    failed++;
    console.log(`FAIL ${dir}:\n  ${problems.join('\n  ')}`);
  }
}
console.log(
  `${packages.length - failed} of ${packages.length} packages clean${keep ? `; tarballs in ${keep}` : ''}`,
);
rmSync(work, { recursive: true, force: true });
process.exitCode = failed === 0 ? 0 : 1;
