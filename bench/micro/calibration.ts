// Micro-benchmark of lane calibration (src/scheduler/capacity.ts), which the
// gateway runs for every lane at start: how long one takes with the budget the
// gateway gives it, and the per-thread rates it measures, one row each. The
// unit test (test/scheduler/capacity.test.ts) asserts no speed: these are the numbers.
// Run: npm run build && node dist/bench/micro/calibration.js
import { pathToFileURL } from 'node:url';
import { Bench } from 'tinybench';
import { hashing } from '../../src/native/index.js';
import { CALIBRATION_SHAPES, calibrateLane, measureShape } from '../../src/scheduler/index.js';
import { rowsOf, type Row } from './rows.js';

/** balancer.calibrationMs by default (config/schema.ts): what each lane is given at start. */
const BUDGET_MS = 120;

export async function runCalibrationBench(): Promise<Row[]> {
  const whole = new Bench({ time: 0, iterations: 5, warmupTime: 0, warmupIterations: 1 });
  whole.add(`calibrateLane, 1 thread, ${BUDGET_MS} ms budget`, () => void calibrateLane(hashing, 1, BUDGET_MS));
  await whole.run();
  // What calibration measures, as rates: an entry of each shape per op.
  const rate = (name: string, perSec: number): Row => ({ name, opsPerSec: perSec, nsPerOp: 1e9 / perSec });
  const entries = measureShape(hashing, CALIBRATION_SHAPES.entries, BUDGET_MS);
  const bytes = measureShape(hashing, CALIBRATION_SHAPES.bytes, BUDGET_MS);
  const { entries: e, bytes: b } = CALIBRATION_SHAPES;
  return [
    ...rowsOf(whole),
    rate(`measured per thread: ${e.entryBytes}-byte entries (frames of ${e.entries}), walked and hashed`, entries.entriesPerSec),
    rate(`measured per thread: ${b.entryBytes / 1024} KiB entries (frames of ${b.entries}), walked and hashed`, bytes.entriesPerSec),
  ];
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const result = await runCalibrationBench();
  console.table(result.map((r) => ({ name: r.name, 'ops/s': Math.round(r.opsPerSec), 'ns/op': Math.round(r.nsPerOp) })));
}
