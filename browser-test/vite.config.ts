import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';
import { holdLoadEvent } from '../scripts/headless-chromium.mjs';

const packages = fileURLToPath(new URL('../packages/', import.meta.url));

interface ExportTarget {
  readonly default?: string;
}

/**
 * One exact alias per entry of each workspace package's `exports` map (`@attnkit/kernels/runtime`
 * → packages/kernels/dist/runtime/index.js), so the page resolves what a user's bundler resolves
 * from the published package: a path pattern would guess file names the map does not promise.
 */
function workspaceAliases(): { find: RegExp; replacement: string }[] {
  const aliases: { find: RegExp; replacement: string }[] = [];
  for (const dir of readdirSync(packages)) {
    let manifest: { name?: string; private?: boolean; exports?: Record<string, ExportTarget | string> };
    try {
      manifest = JSON.parse(readFileSync(join(packages, dir, 'package.json'), 'utf8'));
    } catch {
      continue;
    }
    if (!manifest.name || !manifest.exports) continue;
    for (const [subpath, target] of Object.entries(manifest.exports)) {
      const file = typeof target === 'string' ? target : target.default;
      if (!file) continue;
      const specifier = subpath === '.' ? manifest.name : `${manifest.name}${subpath.slice(1)}`;
      aliases.push({
        find: new RegExp(`^${specifier.replace(/[/.-]/g, '\\$&')}$`),
        replacement: join(packages, dir, file),
      });
    }
  }
  return aliases;
}

// Cross-origin isolation, so SharedArrayBuffer (and with it the worker pool) is available.
const isolation = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
};

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  // The workspace packages as a user gets them: their built dist/ entries (browser-test is not a workspace package).
  resolve: {
    alias: workspaceAliases(),
  },
  plugins: [holdLoadEvent()],
  // The dev server's pre-bundled deps (zod) live outside this folder.
  cacheDir: fileURLToPath(new URL('../node_modules/.vite/browser-test', import.meta.url)),
  build: { outDir: 'dist', emptyOutDir: true, target: 'es2022', minify: false },
  worker: { format: 'es' },
  server: { headers: isolation },
  preview: { headers: isolation, host: '127.0.0.1', strictPort: true },
  logLevel: 'warn',
});
