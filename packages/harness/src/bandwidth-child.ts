/** Child process running the streaming-bandwidth probe (bandwidth.ts) for the parent run. */
import { measureBandwidth, type ProbeRequest } from './bandwidth.js';
import { serveOnce } from './child.js';
import type { BandwidthProbe } from './results.js';

serveOnce<ProbeRequest, BandwidthProbe[]>((request) =>
  request.backends.flatMap((backend) => measureBandwidth(backend, request.threads, request.options)),
);
