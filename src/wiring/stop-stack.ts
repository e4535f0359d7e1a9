// Each start-up phase pushes how to undo what it started; stopping runs them
// in reverse. A start that fails half way unwinds exactly what had started,
// and a step that fails to stop does not keep the later ones from running.
import { errorMessage, type Logger } from '../log/index.js';

interface Step {
  what: string;
  stop(): unknown;
}

export class StopStack {
  private readonly steps: Step[] = [];
  private readonly log: Logger;

  constructor(log: Logger) {
    this.log = log;
  }

  push(what: string, stop: () => unknown): void {
    this.steps.push({ what, stop });
  }

  /** Runs every step, last pushed first; rejects with the first failure once all have run. */
  async unwind(): Promise<void> {
    let first: unknown = null;
    for (let step = this.steps.pop(); step !== undefined; step = this.steps.pop()) {
      try {
        await step.stop();
      } catch (error) {
        this.log.error({ event: 'stop-failed', step: step.what, error: errorMessage(error) }, `stopping ${step.what} failed: ${errorMessage(error)}`);
        first ??= error;
      }
    }
    if (first !== null) throw first;
  }
}
