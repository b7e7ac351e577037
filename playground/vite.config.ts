import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

// Cross-origin isolation: SharedArrayBuffer, and with it the worker pool (threads).
const isolation = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
};

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  server: { headers: isolation, host: '127.0.0.1' },
  preview: { headers: isolation, host: '127.0.0.1' },
  worker: { format: 'es' },
  build: { target: 'es2022' },
});
