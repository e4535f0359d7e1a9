// The row every micro-benchmark suite returns, and tinybench results turned into rows.
import type { Bench } from 'tinybench';

export interface Row {
  name: string;
  opsPerSec: number;
  nsPerOp: number;
}

export function rowsOf(bench: Bench): Row[] {
  return bench.tasks.map((task) => {
    const result = task.result;
    if (result.state !== 'completed') throw new Error(`${task.name}: ${result.state}`);
    // period is totalTime / runs in ms: the mean cost of one call.
    return { name: task.name, opsPerSec: 1000 / result.period, nsPerOp: result.period * 1e6 };
  });
}
