/**
 * The pool worker this page gives kernels' setWorkerFactory: the package's bootstrap plus the
 * work modules of the variants the page runs on threads, registered here so no work module has to
 * be imported by URL (the kernels README's set-up for browser apps).
 */
import '@attnkit/kernels/web-worker';
import { causalWorkModule } from '@attnkit/causal';
import { denseWorkModule } from '@attnkit/dense';
import { flashWorkModule } from '@attnkit/flash';
import { registerWorkModule } from '@attnkit/kernels';
import { linearWorkModule } from '@attnkit/linear';
import { slidingWindowWorkModule } from '@attnkit/sliding-window';

for (const module of [
  denseWorkModule,
  causalWorkModule,
  slidingWindowWorkModule,
  linearWorkModule,
  flashWorkModule,
])
  registerWorkModule(module.url, module);
