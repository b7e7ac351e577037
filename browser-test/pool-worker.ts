/**
 * The pool worker this app supplies to kernels' setWorkerFactory: the package's own bootstrap plus the
 * work modules the app runs on threads, registered here so that the bundled worker never has to
 * import a work module by URL (a bundler cannot serve those as loadable modules).
 */
import '@attnkit/kernels/web-worker';
import { flashWorkModule } from '@attnkit/flash';
import { registerWorkModule } from '@attnkit/kernels';

registerWorkModule(flashWorkModule.url, flashWorkModule);
