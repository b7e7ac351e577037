/**
 * The pool worker this page gives kernels' setWorkerFactory: the package's bootstrap plus the
 * work modules of the variants the page runs on threads, registered here so no work module has to
 * be imported by URL (the kernels README's set-up for browser apps).
 */
import '@attnkit/kernels/web-worker';
import { registerVariantWorkModules } from './work-modules.js';

registerVariantWorkModules();
