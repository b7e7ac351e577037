/**
 * Registers every variant's work module with this thread's pool registry: the compute worker (the
 * pool's caller) and each pool worker must hold the same keys, so both call this one list.
 */
import { causalWorkModule } from '@attnkit/causal';
import { denseWorkModule } from '@attnkit/dense';
import { flashWorkModule } from '@attnkit/flash';
import { registerWorkModule } from '@attnkit/kernels';
import { linearWorkModule } from '@attnkit/linear';
import { slidingWindowWorkModule } from '@attnkit/sliding-window';

export function registerVariantWorkModules(): void {
  for (const module of [
    denseWorkModule,
    causalWorkModule,
    slidingWindowWorkModule,
    linearWorkModule,
    flashWorkModule,
  ])
    registerWorkModule(module.url, module);
}
