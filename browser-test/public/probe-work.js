// A work module with no imports (served verbatim from public/, so any thread can import it by URL):
// item i does a fixed amount of arithmetic (no clock: the page may run on virtual time), then
// records at arena float payload.out + i which thread ran it: 1 = the thread that called
// runParallel (it sets globalThis.__attnkitCaller), 2 = a pool worker.
export function runItem(engine, payload, item) {
  let x = 0;
  for (let i = 0; i < payload.spinIterations; i++) x = Math.sqrt(x + i);
  engine.arena.heap[payload.out + item] = globalThis.__attnkitCaller === true && x >= 0 ? 1 : 2;
}
