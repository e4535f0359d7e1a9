// Two floods and many light chains on one gateway (issue 9): every light
// chain's p99 under the floods against its own p99 alone, and how evenly the
// two floods split what they get. Run against each variant in the same run,
// one after the other, so that a shared machine's noise hits them alike.
import { runLoad, type ChainResult, type LoadResult, type LoadTarget } from './load.js';
import { fmtInt, fmtRatio, fmtUs, table } from './report.js';
import { floodsPlan, type IsolationShape } from './plan.js';

export type FloodsShape = IsolationShape & { floods: number };

export interface FloodsResult {
  target: string;
  alone: LoadResult;
  flooded: LoadResult;
  /** Per light chain: p99 flooded ÷ p99 alone. */
  lightRatios: { chain: string; p99AloneUs: number | null; p99FloodedUs: number | null; ratio: number | null }[];
  worstLightRatio: number | null;
  lightWithin3x: number;
  floods: { chain: string; entriesPerSec: number }[];
  /** Slower flood ÷ faster flood: 1 = an even split. */
  floodSplit: number | null;
}

export async function runFloods(
  target: LoadTarget,
  shape: FloodsShape,
  prefix: string,
  timing: { durationS: number; warmupS: number; entrySize: number },
): Promise<FloodsResult> {
  const alone = await runLoad(target, floodsPlan(shape, prefix, false), timing);
  const flooded = await runLoad(target, floodsPlan(shape, prefix, true), timing);
  const p99 = (r: LoadResult, chain: string): number | null => r.chains.find((c) => c.name === chain)?.accepted?.p99 ?? null;
  const lightRatios = alone.chains
    .filter((c) => c.cls === 'light')
    .map((c) => {
      const a = p99(alone, c.name);
      const f = p99(flooded, c.name);
      return { chain: c.name, p99AloneUs: a, p99FloodedUs: f, ratio: a === null || f === null ? null : f / a };
    });
  const ratios = lightRatios.map((r) => r.ratio).filter((r): r is number => r !== null);
  const floods = flooded.chains.filter((c: ChainResult) => c.cls === 'heavy').map((c) => ({ chain: c.name, entriesPerSec: c.entriesPerSec }));
  const rates = floods.map((f) => f.entriesPerSec);
  const fastest = Math.max(0, ...rates);
  return {
    target: target.name,
    alone,
    flooded,
    lightRatios,
    worstLightRatio: ratios.length === 0 ? null : Math.max(...ratios),
    lightWithin3x: ratios.filter((r) => r <= 3).length,
    floods,
    floodSplit: rates.length < 2 || fastest === 0 ? null : Math.min(...rates) / fastest,
  };
}

export function formatFloods(results: readonly FloodsResult[], shape: FloodsShape): string {
  const rows = [
    [
      'target',
      'light p99 alone (median chain)',
      'light p99 flooded (median chain)',
      'worst chain ratio',
      'chains ≤ 3×',
      'flood entries/s',
      'flood split (slow ÷ fast)',
      'errors',
    ],
  ];
  const median = (values: (number | null)[]): number | null => {
    const v = values.filter((x): x is number => x !== null).sort((a, b) => a - b);
    return v.length === 0 ? null : v[Math.floor(v.length / 2)]!;
  };
  for (const r of results) {
    rows.push([
      r.target,
      fmtUs(median(r.lightRatios.map((l) => l.p99AloneUs))),
      fmtUs(median(r.lightRatios.map((l) => l.p99FloodedUs))),
      fmtRatio(r.worstLightRatio),
      `${r.lightWithin3x}/${r.lightRatios.length}`,
      r.floods.map((f) => fmtInt(f.entriesPerSec)).join(' + '),
      r.floodSplit === null ? 'n/a' : r.floodSplit.toFixed(2),
      Object.entries(r.flooded.errors)
        .map(([code, n]) => `${fmtInt(n)} × ${code}`)
        .join(', ') || 'none',
    ]);
  }
  const head =
    `floods: ${shape.lightChains} light chains × ${shape.lightRate} single-entry frames/s each, alone, then while ${shape.floods} chains ` +
    `flood (${shape.floodConnections} connections in all × ${shape.inflight} frames of ${shape.batch} entries in flight)`;
  const notes = results.flatMap((r) => [
    ...r.alone.notes.map((n) => `  note (${r.target} alone): ${n}`),
    ...r.flooded.notes.map((n) => `  note (${r.target} flooded): ${n}`),
  ]);
  return [head, '', table(rows), ...notes].join('\n');
}
