/** The addon's functions (see src/addon.cc; @attnkit/kernels' native-ops.ts is the only caller). */
export interface NativeAddon {
  bindArgs(args: Float64Array): void;
  heapAddress(heap: Float32Array): number;
  copyFloats(heap: Float32Array, offset: number, array: Float32Array, toHeap: boolean): void;
  run(op: number): number;
  pathInfo(): NativePathInfo;
  setPath(path?: string): NativePathInfo;
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
