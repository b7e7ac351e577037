/** The addon's functions (see src/addon.cc; @attnkit/kernels' native-ops.ts is the only caller). */
export interface NativeAddon {
  bindArgs(args: Float64Array): void;
  heapAddress(heap: Float32Array): number;
  copyFloats(heap: Float32Array, offset: number, array: Float32Array, toHeap: boolean): void;
  run(op: number): number;
  /** `count` independent calls of `op` (decodeAttend), call i with blocks[32·i, 32·i + 32), on `threads` native threads. */
  runMany(op: number, blocks: Float64Array, count: number, threads: number): void;
  /** Asks for transparent huge pages over [heap, heap + bytes) (MADV_HUGEPAGE; a hint, never an error). */
  adviseHugePages(heap: Float32Array, bytes: number): void;
  pathInfo(): NativePathInfo;
  setPath(path?: string): NativePathInfo;
  /** See the module's `peakGflops`. */
  peakGflops(path?: string, iterations?: number, repeats?: number): number;
}

export interface NativePathInfo {
  /** The path every call runs now: 'avx512', 'avx2' or 'baseline'. */
  path: string;
  /** 'cpu' (the best this CPU runs), 'ATTNKIT_NATIVE_PATH' or 'setPath'. */
  selectedBy: string;
  /** The paths this CPU can run, best first. */
  paths: string[];
  /** Every path compiled into the binary. */
  compiled: string[];
}

/** The loaded addon, or undefined (then `reason` says why). */
export declare const addon: NativeAddon | undefined;
/** dist/status.json of the build, when it built. */
export declare const status: unknown;
/** Why there is no addon (undefined when it loaded). */
export declare const reason: string | undefined;

/**
 * The FMA-throughput ceiling of one core on a CPU path (default: the path calls run on now): the
 * best GFLOP/s of `repeats` (default 40) runs of `iterations` (default 1e6) iterations of twelve
 * independent vector multiply-add chains held in registers (src/ceiling.cc: 16-float FMAs on
 * avx512, 8-float FMAs on avx2, 4-float multiply + add on baseline). Throws where the addon did not
 * load (with the reason) or the CPU cannot run `path`.
 */
export declare function peakGflops(path?: string, iterations?: number, repeats?: number): number;
