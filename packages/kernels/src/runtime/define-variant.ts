/**
 * The variant template (docs/writing-a-variant.md): one spec — name, exactness, a strict option
 * schema, how a call splits into work items and the scratch each needs, the work module — gives both
 * the `AttentionVariant` object and the plain function, with one forward path:
 *   parse (once) → check → plan → reasons → engine → place → run items → finish → release.
 * `notSupportedReasons` and `workspaceBytes` read the same parse, so the three methods agree:
 *   - notSupportedReasons never throws; it is [] exactly when forward runs; a malformed call gets one
 *     reason, "invalid input: " and the precise error; a call the spec's check refuses gets the
 *     check's message;
 *   - workspaceBytes never throws; 0 for a malformed call, else the arena bytes the call places;
 *   - forward throws the precise AttentionInputError first, then a refusal naming `options`.
 */
import {
  type AttentionCall,
  type AttentionOptions,
  type AttentionProblem,
  type AttentionVariant,
  assertSupported,
  attentionOptionsShape,
  parseAttentionCall,
  type Tensor,
  z,
} from '@attnkit/core';
import { alignFloats } from '../engine/arena.js';
import type { Engine } from '../engine/engine.js';
import { type EngineOptions, engineOptionsSchema } from '../engine/engine-options.js';
import { maxThreads } from '../pool/thread-pool.js';
import {
  type ArenaOffsets,
  finishAttention,
  outputTensor,
  placeAttention,
  touchPages,
} from './attention-io.js';
import { applySinks, scoreFunctionsOf, setScoreFunctions } from './score-tile.js';
import {
  callArenaFloats,
  engineFor,
  engineReasons,
  runWorkItems,
  threadedEngineReasons,
  type VariantPayload,
  type VariantWorkModule,
} from './variant-runtime.js';

/**
 * A variant's strict option schema: the common options (core), the engine's (backend, threads) and
 * its own. Strict: an unknown key is an AttentionInputError naming it.
 */
export function variantOptionsSchema<S extends z.core.$ZodLooseShape>(own: S) {
  return z.strictObject({ ...attentionOptionsShape, ...engineOptionsSchema.shape, ...own });
}

/** How one call runs: its work items, the scratch each running item takes, and the variant's parameters. */
export interface VariantPlan<P> {
  readonly items: number;
  /** Floats each running item allocates from its thread's arena. */
  readonly scratchFloats: number;
  /** The variant's own payload part: plain data (it is structured-cloned to pool workers). */
  readonly params: P;
  /** Floats the call places once next to q, k, v (e.g. FAVOR+'s projection); default 0. */
  readonly sharedFloats?: number;
}

export interface VariantSpec<O extends AttentionOptions & EngineOptions, P> {
  readonly name: string;
  /** Softmax attention up to float rounding? */
  readonly exact: boolean;
  /** Built with variantOptionsSchema. */
  readonly options: z.ZodType<O>;
  /** Input errors only this variant can see (throws AttentionInputError naming the argument). */
  check?(problem: AttentionProblem, options: O): void;
  /** Why this variant cannot run the call as asked ([] when it can). Must not throw. */
  reasons?(problem: AttentionProblem, options: O): string[];
  plan(problem: AttentionProblem, options: O): VariantPlan<P>;
  /**
   * Places the call's shared data (sharedFloats) once q, k, v are in the arena (at `at`); returns
   * the params with its offsets.
   */
  place?(engine: Engine, problem: AttentionProblem, options: O, params: P, at: ArenaOffsets): P;
  /** Runs on the calling thread once every item is done (e.g. merging split-KV partial results). */
  finish?(engine: Engine, problem: AttentionProblem, at: ArenaOffsets, params: P): void;
  readonly work: VariantWorkModule<P>;
}

/** One parsed call of a variant, with its plan and what the engine needs. */
export interface PreparedCall<O, P> extends AttentionCall<O> {
  readonly plan: VariantPlan<P>;
  readonly threads: number;
  /** Everything the call places in engine memory (what workspaceBytes reports). */
  readonly arenaBytes: number;
  /** Why it cannot run ([] when it can). */
  readonly reasons: readonly string[];
}

export interface DefinedVariant<O extends AttentionOptions & EngineOptions, P> {
  readonly variant: AttentionVariant<O>;
  /** The plain function: forward of the variant object. */
  attention(q: Tensor, k: Tensor, v: Tensor, options?: O): Tensor;
  /** Parses and plans a call (throws AttentionInputError on malformed input). */
  prepare(q: Tensor, k: Tensor, v: Tensor, options?: O): PreparedCall<O, P>;
}

/** Builds a variant from its spec (see the file header for the rules the three methods keep). */
export function defineVariant<O extends AttentionOptions & EngineOptions, P>(
  spec: VariantSpec<O, P>,
): DefinedVariant<O, P> {
  function prepare(q: Tensor, k: Tensor, v: Tensor, options?: O): PreparedCall<O, P> {
    const call = parseAttentionCall(q, k, v, options, spec.options);
    const { problem } = call;
    try {
      spec.check?.(problem, call.options);
    } catch (error) {
      throw new VariantCheckError(error);
    }
    const plan = spec.plan(problem, call.options);
    // A score function is a JS closure: it cannot cross to a worker, so its call runs on this thread.
    const threads = problem.hasScoreFunction ? 1 : (call.options.threads ?? 1);
    // The pool runs at most maxThreads() threads, whatever was asked (results are the same bits).
    const running = Math.min(threads, maxThreads());
    const arenaBytes =
      4 *
      (callArenaFloats(problem, plan.scratchFloats, plan.items, running) +
        alignFloats(plan.sharedFloats ?? 0));
    const reasons = [
      ...(spec.reasons?.(problem, call.options) ?? []),
      ...threadedEngineReasons(call.options.backend, problem, plan.scratchFloats, plan.items, threads),
    ];
    // The shared floats (FAVOR+'s projection) can tip a call over the limit on their own.
    if (reasons.length === 0) reasons.push(...engineReasons(call.options.backend, arenaBytes));
    return { ...call, plan, threads, arenaBytes, reasons };
  }

  function attention(q: Tensor, k: Tensor, v: Tensor, options?: O): Tensor {
    const call = prepareOrThrow(q, k, v, options);
    assertSupported(spec.name, call.reasons);
    const { problem, plan } = call;
    const engine = engineFor(call.options.backend);
    const placed = placeAttention(engine, problem, q, k, v, call.options.bias);
    if (problem.hasScoreFunction) setScoreFunctions(scoreFunctionsOf(call.options.scoreMod));
    try {
      const params = spec.place
        ? spec.place(engine, problem, call.options, plan.params, placed)
        : plan.params;
      const payload: VariantPayload<P> = { problem, at: placed, params };
      // A fresh output's page faults go to the caller while the workers start (not after the job).
      const out = outputTensor(problem, call.out);
      const touch = call.out === null && call.threads > 1 ? () => touchPages(out.data) : undefined;
      runWorkItems(engine, spec.work, payload, plan.items, call.threads, plan.scratchFloats, touch);
      spec.finish?.(engine, problem, placed, params);
      applySinks(engine, problem, placed.out, placed.lse);
      return finishAttention(engine, problem, placed, { out, lse: call.lse });
    } finally {
      if (problem.hasScoreFunction) setScoreFunctions([]);
      engine.arena.release(placed.mark);
    }
  }

  /** prepare, with a check's error unwrapped (forward must throw the variant's own error). */
  function prepareOrThrow(q: Tensor, k: Tensor, v: Tensor, options?: O): PreparedCall<O, P> {
    try {
      return prepare(q, k, v, options);
    } catch (error) {
      throw error instanceof VariantCheckError ? error.cause : error;
    }
  }

  const variant: AttentionVariant<O> = {
    name: spec.name,
    exact: spec.exact,
    notSupportedReasons(q, k, v, options) {
      try {
        return [...prepare(q, k, v, options).reasons];
      } catch (error) {
        // A variant's check names a call it cannot take (its message is the reason); anything else
        // is malformed input.
        if (error instanceof VariantCheckError) return [messageOf(error.cause)];
        return [`invalid input: ${messageOf(error)}`];
      }
    },
    forward: attention,
    workspaceBytes(q, k, v, options) {
      try {
        return prepare(q, k, v, options).arenaBytes;
      } catch {
        return 0;
      }
    },
  };
  return { variant, attention, prepare: prepareOrThrow };
}

/** Marks an error thrown by a spec's check, so notSupportedReasons can tell it from malformed input. */
class VariantCheckError extends Error {
  override readonly cause: unknown;
  constructor(cause: unknown) {
    super(messageOf(cause));
    this.cause = cause;
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
