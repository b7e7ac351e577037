/**
 * What the two headless-Chromium tests (browser-test/run.mjs, playground/test.mjs) share: finding a
 * Chromium binary, a free local port, and the vite plugin that holds the page's load event until its
 * checks are done.
 */
import { accessSync, constants } from 'node:fs';
import { createServer as createNetServer } from 'node:net';
import { delimiter, join } from 'node:path';

/** The Chromium to run: `given` (a name on PATH or a path) or the first usual name on PATH. */
export function findChromium(given) {
  const candidates = given
    ? [given]
    : ['chromium', 'chromium-browser', 'google-chrome-stable', 'google-chrome'];
  for (const name of candidates) {
    const paths = name.includes('/')
      ? [name]
      : (process.env.PATH ?? '').split(delimiter).map((dir) => join(dir, name));
    for (const path of paths) {
      try {
        accessSync(path, constants.X_OK);
        return path;
      } catch {
        // not here
      }
    }
  }
  return undefined;
}

/** A TCP port free on 127.0.0.1 right now. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createNetServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

// A 1×1 transparent GIF.
const PIXEL = Buffer.from('R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7', 'base64');

/**
 * A vite plugin that holds the page's load event until its checks are done, so `chromium --dump-dom`
 * (which dumps at load) sees the result: the page requests `/__hold?id=…` with an <img> before its
 * first await (a pending image delays the load event) and calls `/__done?id=…` once the result is in
 * the DOM. Virtual time (--virtual-time-budget) cannot do this: it jumps ahead while the page awaits
 * wasm compilation or Web Workers, and the dump happens before the work is done.
 */
export function holdLoadEvent() {
  const held = new Map();
  const done = new Set();
  const pixel = (res) => {
    res.writeHead(200, { 'Content-Type': 'image/gif', 'Cache-Control': 'no-store' });
    res.end(PIXEL);
  };
  const middleware = (req, res, next) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const id = url.searchParams.get('id') ?? '';
    if (url.pathname === '/__hold') {
      if (done.has(id)) pixel(res);
      else held.set(id, [...(held.get(id) ?? []), res]);
    } else if (url.pathname === '/__done') {
      done.add(id);
      for (const waiting of held.get(id) ?? []) pixel(waiting);
      held.delete(id);
      res.writeHead(204, { 'Cache-Control': 'no-store' });
      res.end();
    } else {
      next();
    }
  };
  return {
    name: 'attnkit-hold-load-event',
    configureServer: (server) => void server.middlewares.use(middleware),
    configurePreviewServer: (server) => void server.middlewares.use(middleware),
  };
}
