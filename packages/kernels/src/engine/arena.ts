/**
 * A bump arena over a WebAssembly.Memory: variants place their inputs and scratch tiles here once
 * per call (`mark` → `alloc`/`put` → work → `release`). Growth detaches old views, so `heap` is a
 * getter that re-creates the Float32Array view whenever the underlying buffer changed: read it
 * after every `alloc`/`put`, never cache it across one. (A shared memory never detaches, but its
 * `buffer` object is replaced by a longer one after growth: the same getter covers both.)
 *
 * Bump allocation: O(1) per call, no per-allocation bookkeeping; memory is reused only by `release`.
 */

/** Every allocation starts on a 64-byte boundary (16 floats): whole cache lines, aligned f32x4 loads. */
const ALIGN_FLOATS = 16;
const PAGE_BYTES = 65536;

/** Floats an allocation of `floats` really takes: rounded up to the arena's 16-float grid. */
export function alignFloats(floats: number): number {
  return Math.ceil(floats / ALIGN_FLOATS) * ALIGN_FLOATS;
}

export class ArenaError extends Error {
  override name = 'ArenaError';
}

export class Arena {
  readonly memory: WebAssembly.Memory;
  /** First float offset the arena may hand out (above the module's static data). */
  readonly base: number;
  /**
   * Lowest float offset `checkRange` accepts. Equal to `base`, except for a worker's arena: it
   * allocates in its own region but may read and write the caller's allocations below it.
   */
  readonly floor: number;
  private top: number;
  private view: Float32Array;
  private readonly maxFloats: number;

  constructor(memory: WebAssembly.Memory, baseBytes: number, maxBytes: number, floorBytes?: number) {
    this.memory = memory;
    this.base = Math.ceil(baseBytes / 4 / ALIGN_FLOATS) * ALIGN_FLOATS;
    this.floor = floorBytes === undefined ? this.base : Math.min(this.base, Math.floor(floorBytes / 4));
    this.top = this.base;
    this.view = new Float32Array(memory.buffer);
    this.maxFloats = Math.floor(maxBytes / 4);
  }

  /** The float32 view over the whole memory, re-created after growth. */
  get heap(): Float32Array {
    if (this.view.buffer !== this.memory.buffer) this.view = new Float32Array(this.memory.buffer);
    return this.view;
  }

  /** Current high-water offset; pass it to `release` to free everything allocated after it. */
  mark(): number {
    return this.top;
  }

  release(mark: number): void {
    if (!Number.isInteger(mark) || mark < this.base || mark > this.top) {
      throw new ArenaError(`release(${mark}): not a mark of this arena (base ${this.base}, top ${this.top})`);
    }
    this.top = mark;
  }

  /** Reserves `floats` elements (64-byte aligned) and returns their offset; grows memory if needed. */
  alloc(floats: number): number {
    if (!Number.isInteger(floats) || floats < 0) {
      throw new ArenaError(`alloc(${floats}): expected a non-negative integer number of floats`);
    }
    const offset = this.top;
    const end = offset + alignFloats(floats);
    if (end > this.maxFloats) {
      throw new ArenaError(
        `alloc(${floats}): arena would need ${(end * 4) / 2 ** 20} MiB, above its ${(this.maxFloats * 4) / 2 ** 20} MiB limit`,
      );
    }
    const haveBytes = this.memory.buffer.byteLength;
    if (end * 4 > haveBytes) {
      try {
        this.memory.grow(Math.ceil((end * 4 - haveBytes) / PAGE_BYTES));
      } catch (error) {
        throw new ArenaError(
          `alloc(${floats}): the memory cannot grow to ${(end * 4) / 2 ** 20} MiB (${String(error)})`,
        );
      }
    }
    this.top = end;
    return offset;
  }

  /** Allocates and copies `data` in; returns its offset. */
  put(data: Float32Array): number {
    const offset = this.alloc(data.length);
    this.heap.set(data, offset);
    return offset;
  }

  /** Copies `length` floats out of the arena into `target` (at targetOffset). */
  read(offset: number, length: number, target: Float32Array, targetOffset = 0): void {
    this.checkRange(offset, length);
    target.set(this.heap.subarray(offset, offset + length), targetOffset);
  }

  /** Throws unless [offset, offset + length) lies inside memory the arena has handed out. */
  checkRange(offset: number, length: number): void {
    if (
      !Number.isInteger(offset) ||
      !Number.isInteger(length) ||
      offset < this.floor ||
      length < 0 ||
      offset + length > this.top
    ) {
      throw new ArenaError(
        `range [${offset}, ${offset + length}) is outside the arena's live allocations [${this.floor}, ${this.top})`,
      );
    }
  }
}
