/**
 * The banded step as a work module. Its key is built here, outside band-work.ts, with the pattern
 * bundlers rewrite to the emitted module (new URL('./band-work.js', import.meta.url)), so it is the
 * same string in an app's main bundle and in its pool worker's bundle; workers that are not bundled
 * import that URL, whose runItem export is the step.
 */
import { type BandParams, runBandItem } from './band-work.js';
import type { VariantWorkModule } from './variant-runtime.js';

export const bandWorkModule: VariantWorkModule<BandParams> = {
  url: new URL('./band-work.js', import.meta.url).href,
  runItem: runBandItem,
};
