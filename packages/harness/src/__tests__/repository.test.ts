/**
 * The repository as the harness leaves it: generated output stays small and in one place (no PNG
 * in git, charts once under docs/charts and each of them cited, docs/ and benchmarks/ under 3 MiB),
 * and every package carries the metadata and licence a user's install shows.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = resolve(fileURLToPath(new URL('../../../../', import.meta.url)));
const tracked = execFileSync('git', ['ls-files', '-z'], { cwd: root, encoding: 'utf8' })
  .split('\0')
  .filter((file) => file && existsSync(join(root, file)));

describe('generated output in git', () => {
  it('has no PNG tracked (docs embed SVG; PNGs are rendered on demand)', () => {
    expect(tracked.filter((file) => file.toLowerCase().endsWith('.png'))).toEqual([]);
  });

  it('keeps the tracked files under docs/ and benchmarks/ below 3 MiB', () => {
    const bytes = tracked
      .filter((file) => file.startsWith('docs/') || file.startsWith('benchmarks/'))
      .reduce((sum, file) => sum + statSync(join(root, file)).size, 0);
    expect(bytes).toBeLessThan(3 * 2 ** 20);
  });

  it('has one copy of the charts (docs/charts), each cited by a note, and every cited image exists', () => {
    expect(tracked.filter((file) => file.startsWith('benchmarks/charts/'))).toEqual([]);
    expect(tracked.filter((file) => file.startsWith('benchmarks/suites/'))).toEqual([]);
    const notes = tracked.filter((file) => /^docs\/[^/]+\.md$/.test(file));
    const cited = new Set<string>();
    for (const note of notes) {
      const text = readFileSync(join(root, note), 'utf8');
      for (const match of text.matchAll(/!\[[^\]]*\]\(([^)\s]+)\)/g)) {
        const target = join(dirname(note), match[1] ?? '');
        expect(tracked, `${note} cites ${match[1]}`).toContain(target);
        cited.add(target);
      }
    }
    const charts = tracked.filter((file) => file.startsWith('docs/charts/'));
    expect(charts.length).toBeGreaterThan(0);
    expect(charts.filter((file) => !cited.has(file))).toEqual([]);
  });
});

describe('every package', () => {
  const licence = readFileSync(join(root, 'LICENSE'), 'utf8');
  const packages = readdirSync(join(root, 'packages')).filter((name) =>
    existsSync(join(root, 'packages', name, 'package.json')),
  );

  it.each(packages)('%s has the root LICENSE, engines, repository and keywords', (name) => {
    const dir = join(root, 'packages', name);
    const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
    expect(licence).toMatch(/^MIT License/);
    expect(readFileSync(join(dir, 'LICENSE'), 'utf8')).toBe(licence);
    expect(manifest.engines).toEqual({ node: '>=20.19' });
    expect(manifest.repository).toMatchObject({ type: 'git', directory: `packages/${basename(dir)}` });
    expect(manifest.keywords.length).toBeGreaterThan(0);
    expect(manifest.type).toBe('module');
    if (!manifest.private) expect(manifest.license).toBe('MIT');
    // @attnkit/native is C++ and a .node file, not tsc output: its files list is checked by check-packages.mjs
    if (!manifest.private && existsSync(join(dir, 'tsconfig.json'))) {
      // dist without tsc's build info; src so the source maps resolve; never tests or bench scripts.
      expect(manifest.files).toEqual(
        expect.arrayContaining([
          'dist',
          'src',
          '!dist/.tsbuildinfo',
          '!src/**/__tests__',
          '!src/**/*.bench.ts',
        ]),
      );
    }
  });
});
