/** Messages between the page (main.ts) and its compute worker (worker.ts). */
import type { Results } from '@attnkit/harness/browser';

export interface CaseRequest {
  readonly variant: 'dense' | 'causal' | 'sliding-window' | 'linear' | 'flash';
  readonly backend: 'wasm' | 'js';
  /** Sequence length N (Lq = Lk). */
  readonly n: number;
  readonly heads: number;
  readonly headDim: number;
  /** none; causal; window = symmetric ±w; causal-window = [w, 0]. */
  readonly mask: 'none' | 'causal' | 'window' | 'causal-window';
  readonly window: number;
  readonly threads: number;
  /** The head whose attention weights are drawn. */
  readonly head: number;
  readonly repeats: number;
  readonly seed: number;
}

export interface CaseResult {
  readonly request: CaseRequest;
  /** kernels' default backend in the worker ('wasm' where WebAssembly SIMD is available). */
  readonly backend: string;
  /** Pool workers startThreads(2) started (0 where the page is not cross-origin isolated). */
  readonly poolWorkers: number;
  readonly medianMs: number;
  readonly minMs: number;
  readonly gflops: number;
  /** max |out − float64 oracle| over every element. */
  readonly maxAbsError: number | null;
  readonly oracle: string;
  readonly head: number;
  /** dense's attentionWeights for that head, N × N, row = query. */
  readonly weights: Float32Array;
}

/** A run of one of the harness's named suites (runInBrowser), reduced as asked. */
export interface SuiteRequest {
  readonly suite: 'quick' | 'smoke';
  /** 'smallest': each group at its smallest N only; 'all': the suite's every N. */
  readonly sizes: 'smallest' | 'all';
  /** Group ids to keep; empty: every group. */
  readonly groups: readonly string[];
  readonly backends: readonly ('wasm' | 'js')[];
  /** Empty: the suite's thread counts. */
  readonly threads: readonly number[];
  /** The page's query string, recorded as the results' options.argv. */
  readonly argv: readonly string[];
}

export type WorkerRequest =
  | { readonly kind: 'case'; readonly request: CaseRequest }
  | { readonly kind: 'suite'; readonly request: SuiteRequest };

export type WorkerMessage =
  | { readonly kind: 'result'; readonly result: CaseResult }
  | {
      readonly kind: 'suite-progress';
      /** Rows written so far, of the run's total. */
      readonly done: number;
      readonly total: number;
      /** The row written (label and outcome), or the step that started. */
      readonly text: string;
    }
  | { readonly kind: 'suite-result'; readonly results: Results }
  | { readonly kind: 'error'; readonly message: string };
