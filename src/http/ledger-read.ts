// A route answered from a ledger reader thread: the front door forwards the
// JSON text the thread made, or names why there is none. The one place that
// notices a client gone before its answer and maps a read's errors to replies.
import { sendError, sendText, type HttpResponse } from '../uws/index.js';
import { SupersededError, type LedgerReadTask } from '../ledger/index.js';
import type { Refusal } from '../credits/index.js';

/** The ledger reads the front door serves, answered off its thread as JSON text (null: not there). */
export interface LedgerReads {
  read(task: LedgerReadTask): Promise<string | null>;
}

/**
 * Answers `task` from `ledger`: `not_found` naming `notFound` when there is
 * nothing; else `found` gives the body to send for what was found (charging
 * for it, or adding to it) or says why it may not be served.
 */
export function answerLedgerRead(
  ledger: LedgerReads,
  res: HttpResponse,
  task: LedgerReadTask,
  notFound: string,
  found: (json: string) => string | Refusal = (json) => json,
): void {
  let aborted = false;
  res.onAborted(() => {
    aborted = true;
  });
  ledger.read(task).then(
    (json) => {
      if (aborted) return;
      if (json === null) return sendError(res, 'not_found', notFound);
      const body = found(json);
      if (typeof body !== 'string') return sendError(res, body.code, body.message);
      sendText(res, 'application/json', body);
    },
    (error: unknown) => {
      if (aborted) return;
      // A head size the entry's directory is not in (?head=N too small) comes back a RangeError; nothing else does.
      if (task.kind === 'entry' && task.headSize !== undefined && error instanceof RangeError) return sendError(res, 'bad_request', error.message);
      // Removed by a returning owner's truncation (never committed): not found, and why (docs/replicas.md part 6).
      if (error instanceof SupersededError) return sendError(res, 'not_found', error.message);
      // A proof the gateway cannot verify is never served (LedgerCorruptionError).
      sendError(res, 'internal', error instanceof Error ? error.message : String(error));
    },
  );
}
