/**
 * Small pictures of core's mask values for docs/masks.md (the `mask-picture` section of docs.ts):
 * each kind is one constructor call of @attnkit/core at a small size, drawn by core's maskToString,
 * so a picture in the notes is what the library computes and never a drawing typed by hand. The
 * code that built the value is printed next to it (`code`), and the optional SVG heatmap is drawn
 * from the same bytes (materializeMask).
 */
import {
  type AttentionMask,
  andMasks,
  blockSparseMask,
  causalMask,
  documentMask,
  globalTokensMask,
  kvLengthMask,
  maskToString,
  materializeMask,
  notMask,
  orMasks,
  predicateMask,
  prefixLMMask,
  problemForShape,
  windowMask,
} from '@attnkit/core';
import { blockSparseLayout, blockSparseSchema } from './mask-spec.js';

/** Kinds a `mask-picture` marker may name, each with the marker arguments it reads. */
export const MASK_PICTURE_KINDS = {
  causal: [],
  window: ['left', 'right'],
  'kv-lengths': ['length'],
  documents: ['offsets'],
  'documents-causal': ['offsets'],
  'prefix-lm': ['prefix'],
  'global-tokens': ['tokens'],
  'global-window': ['tokens', 'left', 'right'],
  'block-sparse': ['density', 'block', 'seed'],
  predicate: ['name'],
  not: ['left'],
} as const satisfies Record<string, readonly string[]>;
export type MaskPictureKind = keyof typeof MASK_PICTURE_KINDS;

/** The predicates a `predicate` picture may draw; their source text is printed as written. */
const PREDICATES = {
  /** The masks suite's predicate at Lq = Lk: the causal mask as FlexAttention's showcase mask_mod. */
  causal: (_b: number, _h: number, i: number, j: number) => j <= i,
  /** Every third key back, causal: a dilated pattern no built-in term expresses. */
  dilated: (_b: number, _h: number, i: number, j: number) => j <= i && (i - j) % 3 === 0,
} as const;

export interface MaskPicture {
  readonly kind: MaskPictureKind;
  /** The core call that built `value` (as a user would write it). */
  readonly code: string;
  /** What `code` leaves out (where a block-sparse layout comes from). */
  readonly note?: string;
  readonly value: AttentionMask;
  readonly n: number;
}

/** A marker argument that is wrong: the section prints the message instead of a picture. */
export class MaskPictureError extends Error {}

const MAX_N = 128;

function integer(args: Record<string, string>, key: string, fallback: number, min = 0): number {
  const text = args[key];
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value < min)
    throw new MaskPictureError(`${key}=${text}: expected an integer >= ${min}`);
  return value;
}

function integers(args: Record<string, string>, key: string, fallback: number[]): number[] {
  const text = args[key];
  if (text === undefined) return fallback;
  const values = text.split(',').map(Number);
  if (values.some((value) => !Number.isInteger(value) || value < 0))
    throw new MaskPictureError(`${key}=${text}: expected comma-separated integers >= 0`);
  return values;
}

const list = (values: readonly number[]) => `[${values.join(', ')}]`;

/**
 * The mask value a `mask-picture` marker names, on Lq = Lk = n (default 16, at most 128). Defaults
 * scale with n: documents at 5/16 and 11/16 of n, a prefix of n/4, global token 0, a ±2 window.
 * Throws MaskPictureError naming the argument when a marker is wrong (docs.ts prints it).
 */
export function maskPicture(args: Record<string, string>): MaskPicture {
  const kind = args.kind ?? '';
  if (!(kind in MASK_PICTURE_KINDS))
    throw new MaskPictureError(
      `kind=${kind || '(none)'}: expected one of ${Object.keys(MASK_PICTURE_KINDS).join(', ')}`,
    );
  const known = new Set<string>(['kind', 'n', 'svg', ...MASK_PICTURE_KINDS[kind as MaskPictureKind]]);
  // results= is every marker's (docs.ts): a picture reads no results file, so it changes nothing
  for (const key of Object.keys(args))
    if (!known.has(key) && key !== 'results')
      throw new MaskPictureError(`${key}=: kind=${kind} takes ${[...known].join(', ')}`);
  const n = integer(args, 'n', 16, 1);
  if (n > MAX_N) throw new MaskPictureError(`n=${n}: a picture is at most ${MAX_N} wide`);
  const offsets = () =>
    integers(args, 'offsets', [0, Math.round((5 * n) / 16), Math.round((11 * n) / 16), n]);
  const picture = (value: AttentionMask, code: string, note?: string): MaskPicture => ({
    kind: kind as MaskPictureKind,
    code,
    value,
    n,
    ...(note ? { note } : {}),
  });
  try {
    const built = build(kind as MaskPictureKind, args, n, offsets, picture);
    // the call-dependent rules (offsets ending at n, a prefix or length within n, a layout covering
    // the blocks): core checks them when a call parses its options, maskToString does not
    problemForShape(
      { batch: 1, qHeads: 1, kvHeads: 1, qLength: n, kvLength: n, headDim: 1, valueDim: 1 },
      { mask: built.value },
    );
    return built;
  } catch (error) {
    if (error instanceof MaskPictureError) throw error;
    // core's own refusal, one line
    throw new MaskPictureError(`kind=${kind} n=${n}: ${(error as Error).message.split('\n')[0]}`);
  }
}

function build(
  kind: MaskPictureKind,
  args: Record<string, string>,
  n: number,
  offsets: () => number[],
  picture: (value: AttentionMask, code: string, note?: string) => MaskPicture,
): MaskPicture {
  switch (kind) {
    case 'causal':
      return picture(causalMask(), 'causalMask()');
    case 'window': {
      const left = integer(args, 'left', 2);
      const right = integer(args, 'right', 2);
      return picture(windowMask(left, right), `windowMask(${left}, ${right})`);
    }
    case 'kv-lengths': {
      const length = integer(args, 'length', Math.floor((3 * n) / 4));
      return picture(kvLengthMask([length]), `kvLengthMask(${list([length])})`);
    }
    case 'documents': {
      const o = offsets();
      return picture(documentMask(o), `documentMask(${list(o)})`);
    }
    case 'documents-causal': {
      const o = offsets();
      return picture(
        andMasks(documentMask(o), causalMask()),
        `andMasks(documentMask(${list(o)}), causalMask())`,
      );
    }
    case 'prefix-lm': {
      const prefix = integer(args, 'prefix', Math.floor(n / 4));
      return picture(prefixLMMask(prefix), `prefixLMMask(${prefix})`);
    }
    case 'global-tokens': {
      const tokens = integers(args, 'tokens', [0]);
      return picture(globalTokensMask(tokens), `globalTokensMask(${list(tokens)})`);
    }
    case 'global-window': {
      const tokens = integers(args, 'tokens', [0]);
      const left = integer(args, 'left', 2);
      const right = integer(args, 'right', 2);
      return picture(
        orMasks(windowMask(left, right), globalTokensMask(tokens)),
        `orMasks(windowMask(${left}, ${right}), globalTokensMask(${list(tokens)}))`,
      );
    }
    case 'block-sparse': {
      const parsed = blockSparseSchema.safeParse({
        density: args.density === undefined ? 0.25 : Number(args.density),
        block: integer(args, 'block', 4, 1),
        seed: integer(args, 'seed', 1),
      });
      if (!parsed.success) throw new MaskPictureError(`density=${args.density}: expected a number in (0, 1]`);
      const spec = parsed.data;
      const layout = blockSparseLayout(spec, n, n);
      const visible = layout.flat().filter((cell) => cell === 1).length;
      return picture(
        blockSparseMask(layout, spec.block),
        `blockSparseMask(layout, ${spec.block})`,
        `layout: ${layout.length} × ${layout.length} blocks of ${spec.block} × ${spec.block}, ${visible} visible (the diagonal and ${visible - layout.length} drawn at random: the harness's blockSparseLayout({ density: ${spec.density}, block: ${spec.block}, seed: ${spec.seed} }), as the masks suite draws its layout)`,
      );
    }
    case 'predicate': {
      const name = args.name ?? 'causal';
      if (!(name in PREDICATES))
        throw new MaskPictureError(`name=${name}: expected one of ${Object.keys(PREDICATES).join(', ')}`);
      const fn = PREDICATES[name as keyof typeof PREDICATES];
      return picture(
        predicateMask(fn, { sameForEveryHead: true, sameForEveryBatch: true }),
        `predicateMask(${fn.toString()}, { sameForEveryHead: true, sameForEveryBatch: true })`,
      );
    }
    case 'not': {
      const left = integer(args, 'left', 2);
      return picture(
        andMasks(causalMask(), notMask(windowMask(left, 0))),
        `andMasks(causalMask(), notMask(windowMask(${left}, 0)))`,
      );
    }
  }
}

/** The picture as text: core's maskToString of the value on n × n ('#' visible, '.' hidden). */
export function maskPictureText(picture: MaskPicture): string {
  return maskToString(picture.value, picture.n, picture.n);
}

/** Visible (query, key) pairs of the picture: what the FLOP model charges for this mask on n × n. */
export function maskPictureVisible(picture: MaskPicture): number {
  return materializeMask(picture.value, picture.n, picture.n).reduce((sum, bit) => sum + bit, 0);
}

/** The SVG file name (without directory) of a marker's picture: every argument in the name. */
export function maskPictureFile(args: Record<string, string>): string {
  const extras = Object.keys(args)
    .filter((key) => key !== 'kind' && key !== 'n' && key !== 'svg' && key !== 'results')
    .sort()
    .map((key) => `-${key}-${(args[key] ?? '').replace(/[^a-zA-Z0-9.]+/g, '_')}`)
    .join('');
  return `mask-picture-${args.kind}-n${args.n ?? 16}${extras}.svg`;
}

/** Side of the SVG in pixels, about (cells of at least 2 px). */
const SVG_SIZE = 256;

/**
 * The picture as an SVG heatmap: one dark rectangle per run of visible keys in a row (so the file
 * stays small), the hidden area light, a grid line per 4 cells (per 16 above n = 32).
 */
export function maskPictureSvg(picture: MaskPicture): string {
  const { n } = picture;
  const bytes = materializeMask(picture.value, n, n);
  const CELL = Math.max(2, Math.floor(SVG_SIZE / n));
  const size = n * CELL;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${size + 2}" height="${size + 2}" viewBox="-1 -1 ${size + 2} ${size + 2}" role="img">`,
    `<title>${picture.code.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')}, Lq = Lk = ${n}</title>`,
    `<rect x="0" y="0" width="${size}" height="${size}" fill="#f1f1f1"/>`,
  ];
  // a run of visible keys that repeats on the next rows (a block, a document) grows downwards
  let open = new Map<string, { start: number; end: number; top: number }>();
  const close = (run: { start: number; end: number; top: number }, bottom: number) =>
    parts.push(
      `<rect x="${run.start * CELL}" y="${run.top * CELL}" width="${(run.end - run.start) * CELL}" height="${(bottom - run.top) * CELL}" fill="#1f4e79"/>`,
    );
  for (let i = 0; i <= n; i++) {
    const next = new Map<string, { start: number; end: number; top: number }>();
    let j = 0;
    while (i < n && j < n) {
      if (bytes[i * n + j] !== 1) {
        j++;
        continue;
      }
      const start = j;
      while (j < n && bytes[i * n + j] === 1) j++;
      const key = `${start},${j}`;
      next.set(key, open.get(key) ?? { start, end: j, top: i });
    }
    for (const [key, run] of open) if (!next.has(key)) close(run, i);
    open = next;
  }
  const lines: string[] = [];
  const every = n <= 32 ? 4 : 16;
  for (let k = every; k < n; k += every) lines.push(`M${k * CELL} 0V${size}M0 ${k * CELL}H${size}`);
  if (lines.length > 0)
    parts.push(`<path d="${lines.join('')}" stroke="#ffffff" stroke-opacity="0.5" stroke-width="0.5"/>`);
  parts.push(`<rect x="0" y="0" width="${size}" height="${size}" fill="none" stroke="#555555"/>`, '</svg>');
  return `${parts.join('\n')}\n`;
}
