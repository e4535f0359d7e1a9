// --micro: the tinybench suites in bench/micro/. Each module exports one
// function returning rows; suites that are not built (or cannot load here, e.g.
// without the native addon) are skipped with a note rather than failing the run.
import { fmtInt, table } from './report.js';

export interface MicroRow {
  name: string;
  opsPerSec: number;
  nsPerOp: number;
}

export interface MicroSuite {
  suite: string;
  rows: MicroRow[];
  skipped?: string;
}

const SUITES: readonly { suite: string; file: string; fn: string }[] = [
  { suite: 'hashing', file: './micro/hashing.js', fn: 'runHashingBench' },
  { suite: 'ledger', file: './micro/merkle-store.js', fn: 'runLedgerBench' },
  { suite: 'seal path', file: './micro/seal-path.js', fn: 'runSealPathBench' },
  { suite: 'lmdb copy', file: './micro/lmdb-copy.js', fn: 'runLmdbCopyBench' },
  { suite: 'frames and ring', file: './micro/frames.js', fn: 'runFramesBench' },
  { suite: 'counters', file: './micro/counters.js', fn: 'runCountersBench' },
  { suite: 'metrics', file: './micro/metrics.js', fn: 'runMetricsBench' },
  { suite: 'credits', file: './micro/credits.js', fn: 'runCreditsBench' },
  { suite: 'fair share', file: './micro/fair-share.js', fn: 'runFairShareBench' },
  { suite: 'directory log', file: './micro/directory-log.js', fn: 'runDirectoryLogBench' },
  { suite: 'calibration', file: './micro/calibration.js', fn: 'runCalibrationBench' },
];

function isRows(value: unknown): value is MicroRow[] {
  return Array.isArray(value) && value.every((r) => typeof r === 'object' && r !== null && 'name' in r && 'opsPerSec' in r && 'nsPerOp' in r);
}

async function runSuite(suite: string, file: string, fn: string): Promise<MicroSuite> {
  let mod: Record<string, unknown>;
  try {
    mod = (await import(new URL(file, import.meta.url).href)) as Record<string, unknown>;
  } catch (err) {
    const missing = err instanceof Error && 'code' in err && err.code === 'ERR_MODULE_NOT_FOUND' && err.message.includes(file.slice(2));
    return { suite, rows: [], skipped: missing ? `${file} is not built yet` : `cannot load ${file}: ${String(err)}` };
  }
  const run = mod[fn];
  if (typeof run !== 'function') return { suite, rows: [], skipped: `${file} does not export ${fn}()` };
  const rows: unknown = await (run as () => Promise<unknown>)();
  return isRows(rows) ? { suite, rows } : { suite, rows: [], skipped: `${fn}() did not return {name, opsPerSec, nsPerOp}[]` };
}

export async function runMicro(log: (line: string) => void): Promise<MicroSuite[]> {
  const out: MicroSuite[] = [];
  for (const s of SUITES) {
    log(`micro: ${s.suite}…`);
    out.push(await runSuite(s.suite, s.file, s.fn));
  }
  return out;
}

export function formatMicro(suites: readonly MicroSuite[]): string {
  return suites
    .map((s) => {
      if (s.skipped !== undefined) return `${s.suite}: skipped — ${s.skipped}`;
      const rows = [['benchmark', 'ops/s', 'ns/op'], ...s.rows.map((r) => [r.name, fmtInt(r.opsPerSec), fmtInt(r.nsPerOp)])];
      return `${s.suite}\n${table(rows)}`;
    })
    .join('\n\n');
}
