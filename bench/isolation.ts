// Isolation: does a flood on one chain slow the others? Light chains send one
// entry at a time on a fixed schedule, first alone, then while one chain floods
// at full speed; last the flood alone, so its throughput can be set beside what
// it got with the light chains there. Same gateway process for every phase.
import { runLoad, type LoadResult, type LoadTarget } from './load.js';
import { fmtInt, fmtRatio, fmtUs, table } from './report.js';
import { isolationPlan, type IsolationShape } from './plan.js';

export interface IsolationResult {
  target: string;
  alone: LoadResult;
  flood: LoadResult;
  lightP50AloneUs: number | null;
  lightP99AloneUs: number | null;
  lightP99FloodUs: number | null;
  /** light p99 under flood ÷ light p99 alone: 1 = perfect isolation. */
  ratio: number | null;
  floodEntriesPerSec: number;
  /** The flood with no light chains, and flooded ÷ alone (1 = the light chains cost it nothing). */
  floodAloneEntriesPerSec: number;
  floodRatio: number | null;
}

export async function runIsolation(
  target: LoadTarget,
  shape: IsolationShape,
  prefix: string,
  timing: { durationS: number; warmupS: number; entrySize: number },
): Promise<IsolationResult> {
  const alone = await runLoad(target, isolationPlan(shape, prefix, false), timing);
  const flood = await runLoad(target, isolationPlan(shape, prefix, true), timing);
  const floodAlone = await runLoad(target, isolationPlan({ ...shape, lightChains: 0 }, prefix, true), timing);
  const floodAloneEntriesPerSec = floodAlone.classes.heavy.entriesPerSec;
  const p99Alone = alone.classes.light.accepted?.p99 ?? null;
  const p99Flood = flood.classes.light.accepted?.p99 ?? null;
  return {
    target: target.name,
    alone,
    flood,
    lightP50AloneUs: alone.classes.light.accepted?.p50 ?? null,
    lightP99AloneUs: p99Alone,
    lightP99FloodUs: p99Flood,
    ratio: p99Alone === null || p99Flood === null ? null : p99Flood / p99Alone,
    floodEntriesPerSec: flood.classes.heavy.entriesPerSec,
    floodAloneEntriesPerSec,
    floodRatio: floodAloneEntriesPerSec > 0 ? flood.classes.heavy.entriesPerSec / floodAloneEntriesPerSec : null,
  };
}

export function formatIsolation(results: readonly IsolationResult[], shape: IsolationShape): string {
  const rows = [['target', 'light p50 alone', 'light p99 alone', 'light p99 flooded', 'ratio', 'flood entries/s', 'flood alone', 'flood ÷ alone', 'clients']];
  for (const r of results) {
    const saturated = r.alone.clientSaturated || r.flood.clientSaturated;
    rows.push([
      r.target,
      fmtUs(r.lightP50AloneUs),
      fmtUs(r.lightP99AloneUs),
      fmtUs(r.lightP99FloodUs),
      fmtRatio(r.ratio),
      fmtInt(r.floodEntriesPerSec),
      fmtInt(r.floodAloneEntriesPerSec),
      r.floodRatio === null ? 'n/a' : r.floodRatio.toFixed(2),
      saturated ? 'SATURATED' : 'ok',
    ]);
  }
  const head =
    `isolation: ${shape.lightChains} light chains × ${shape.lightRate} single-entry frames/s each, alone, then while one chain ` +
    `floods (${shape.floodConnections} connections × ${shape.inflight} frames of ${shape.batch} entries in flight)`;
  const notes = results.flatMap((r) => [
    ...r.alone.notes.map((n) => `  note (${r.target} alone): ${n}`),
    ...r.flood.notes.map((n) => `  note (${r.target} flooded): ${n}`),
  ]);
  const errors = results.flatMap((r) => Object.entries({ ...r.flood.errors }).map(([code, n]) => `  ${r.target} under flood: ${fmtInt(n)} × ${code}`));
  return [head, '', table(rows), ...errors, ...notes].join('\n');
}
