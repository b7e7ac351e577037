/**
 * The attention-weights figure: which keys each query attends to, as heatmaps. Softmax weights
 * come from dense's `attentionWeights` for a full, a causal and a sliding-window mask; linear
 * attention's implied weights φ(q_i)·φ(k_j) / Σ_j' φ(q_i)·φ(k_j') come from linear's own float64
 * oracle run with V = the identity (out = A·I = A), so they use exactly linear's feature maps.
 */
import { randn, type Tensor } from '@attnkit/core';
import { attentionWeights } from '@attnkit/dense';
import { referenceLinearAttention } from '@attnkit/linear';
import type { TopLevelSpec } from 'vega-lite';
import { type ChartFormat, writeChart } from './charts.js';

export interface WeightsPanel {
  readonly title: string;
  /** [L, L] row-major, rows sum to 1 (or 0 for a row that sees nothing). */
  readonly weights: ArrayLike<number>;
}

const LENGTH = 24;
const HEAD_DIM = 16;
const SEED = 11;

function identityValues(length: number): Tensor {
  const data = new Float32Array(length * length);
  for (let i = 0; i < length; i++) data[i * length + i] = 1;
  return { data, shape: [1, 1, length, length] };
}

/** The panels of the figure (`notes` is kept for callers that print it; nothing is omitted now). */
export async function attentionWeightPanels(): Promise<{ panels: WeightsPanel[]; notes: string[] }> {
  const q = randn([1, 1, LENGTH, HEAD_DIM], SEED, 1.5);
  const k = randn([1, 1, LENGTH, HEAD_DIM], SEED + 1, 1.5);
  const notes: string[] = [];
  const panels: WeightsPanel[] = [
    { title: 'softmax, full', weights: attentionWeights(q, k).data },
    { title: 'softmax, causal', weights: attentionWeights(q, k, { causal: true }).data },
    {
      title: 'softmax, causal window 6',
      weights: attentionWeights(q, k, { causal: true, window: [6, 0] }).data,
    },
  ];
  const identity = identityValues(LENGTH);
  panels.push({
    title: 'linear (elu+1), full',
    weights: referenceLinearAttention(q, k, identity, { featureMap: 'elu' }).out,
  });
  panels.push({
    title: 'linear (elu+1), causal',
    weights: referenceLinearAttention(q, k, identity, { featureMap: 'elu', causal: true }).out,
  });
  panels.push({
    title: 'linear (FAVOR+, 256 features), full',
    weights: referenceLinearAttention(q, k, identity, { featureMap: 'favor', features: 256 }).out,
  });
  return { panels, notes };
}

export function weightsSpec(panels: readonly WeightsPanel[], length = LENGTH): TopLevelSpec {
  const values: { panel: string; i: number; j: number; w: number }[] = [];
  for (const panel of panels) {
    for (let i = 0; i < length; i++)
      for (let j = 0; j < length; j++)
        values.push({ panel: panel.title, i, j, w: Number(panel.weights[i * length + j] ?? 0) });
  }
  const ticks = Array.from({ length: Math.ceil(length / 4) }, (_, index) => index * 4);
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: {
      text: `Attention weights, one head, ${length} tokens (same q, k in every panel)`,
      subtitle:
        'row i = query, column j = key; each row sums to 1; darker = more weight; white = masked (weight 0)',
    },
    config: {
      // As in charts.ts: no per-cell ARIA labels in a figure embedded as an image.
      aria: false,
      font: 'DejaVu Sans',
      background: 'white',
      title: { fontSize: 15, subtitleFontSize: 12, anchor: 'start' },
      header: { labelFontSize: 13 },
    },
    data: { values },
    facet: { field: 'panel', type: 'nominal', sort: panels.map((panel) => panel.title), title: null },
    columns: 3,
    spec: {
      width: 210,
      height: 210,
      mark: { type: 'rect', stroke: '#f0f0f0', strokeWidth: 0.5 },
      encoding: {
        x: { field: 'j', type: 'ordinal', title: 'key j', axis: { values: ticks, labelAngle: 0 } },
        y: { field: 'i', type: 'ordinal', title: 'query i', axis: { values: ticks } },
        color: {
          field: 'w',
          type: 'quantitative',
          title: 'weight',
          // From white, so a masked entry (weight exactly 0) is white; sqrt spreads the small weights.
          scale: { type: 'sqrt', domain: [0, 1], range: ['#ffffff', '#08306b'], interpolate: 'rgb' },
        },
      },
    },
  } as TopLevelSpec;
}

/** Writes attention-weights.svg/.png into `directory`; returns the files. */
export async function writeAttentionWeightsFigure(
  directory: string,
  formats: readonly ChartFormat[],
): Promise<string[]> {
  const { panels } = await attentionWeightPanels();
  return writeChart(weightsSpec(panels), directory, 'attention-weights', formats);
}
