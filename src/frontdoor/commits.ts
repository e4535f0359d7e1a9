// Hop 5 of a frame's life (docs/architecture.md, "The life of a frame"): the
// sealer made a directory block durable. Every writer of its entry blocks gets
// one `committed` notice per block, the chains' committed seqs move on, and
// sealing's progress (or its failure) is kept for admission, health and metrics.
import { performance } from 'node:perf_hooks';
import type { Logger } from '../log/index.js';
import type { SealerEvent } from '../sealer/index.js';
import type { CommitProbe } from './admission.js';
import type { ChainRegistry } from './chains.js';
import { encodeCommitted } from './replies.js';
import type { SealProgress } from './seal-progress.js';

export interface CommitParts {
  chains: ChainRegistry;
  seals: SealProgress;
  /** Told of each durable block (the dashboard's commit latency); null: none. */
  probe: CommitProbe | null;
  log: Logger;
  /** Told of each sealed directory once its notices went out (reads above it are not served: the latest signed head moves here). */
  released?(event: SealedEvent): void;
}

export type SealedEvent = Extract<SealerEvent, { type: 'sealed' }>;
/** Sends a sealed directory's `committed` notices; `alone`: sent without the standby's copy (docs/replicas.md part 4). */
export type CommitRelease = (event: SealedEvent, alone: boolean) => void;
/**
 * Where a `sealed` event goes before its notices: on at once (no replicas,
 * the default), or held until the standby has the seal (src/replicas/gate.ts,
 * which calls `release` then). Sealing's own progress moves at the local seal either way.
 */
export type CommitHold = (event: SealedEvent, release: CommitRelease) => void;

const AT_ONCE: CommitHold = (event, release) => release(event, false);

/** The sealer's onEvent: `committed` notices for each sealed directory block, and the sealer's troubles logged. */
export function onSealerEvent(parts: CommitParts, hold: CommitHold = AT_ONCE): (event: SealerEvent) => void {
  const release: CommitRelease = (event, alone) => {
    sendCommitted(parts, event, alone);
    parts.seals.released(event.directory.height);
    parts.released?.(event);
  };
  return (event) => {
    if (event.type === 'sealed') {
      parts.seals.sealed(event.directory.height, event.blocks.length, countEntries(event));
      hold(event, release);
    } else if (event.type === 'seal-failed') {
      parts.seals.failed(event.message);
      parts.log.warn(
        { event: 'seal-failed', attempt: event.attempt, retryInMs: event.retryInMs, error: event.message },
        `seal failed (attempt ${event.attempt}), retrying in ${event.retryInMs} ms: ${event.message}`,
      );
    } else logSealerTrouble(parts.log, event);
  };
}

function countEntries(event: SealedEvent): number {
  let entries = 0;
  for (const block of event.blocks) entries += block.count;
  return entries;
}

function sendCommitted(parts: CommitParts, event: SealedEvent, alone: boolean): void {
  const { chains, probe } = parts;
  for (const block of event.blocks) {
    const chain = chains.at(block.slot);
    if (chain === undefined) continue;
    const writers = chain.committed(block.firstSeq, block.count, block.height);
    probe?.committed(block.slot, block.firstSeq + block.count, performance.now());
    const notice = encodeCommitted({
      height: block.height,
      seq: block.firstSeq,
      count: block.count,
      root: block.root,
      block: block.hash,
      directory: event.directory.height,
      ...(alone ? { alone: true } : {}),
    });
    for (const writer of writers) if (writer.open) writer.committed(notice);
  }
}

function logSealerTrouble(log: Logger, event: Exclude<SealerEvent, { type: 'sealed' | 'seal-failed' }>): void {
  if (event.type === 'sealer-error') {
    log.error({ event: 'sealer-error', where: event.where, error: event.message }, `sealer thread error (${event.where}); it goes on: ${event.message}`);
  } else if (event.type === 'stopped' && event.error !== undefined) {
    log.error({ event: 'store-close-failed', error: event.error }, `the sealer could not close the store: ${event.error}`);
  } else if (event.type === 'anchor-failed') {
    log.warn(
      { event: 'anchor-failed', sink: event.sink, height: event.height, error: event.message },
      `anchor sink ${event.sink} failed for directory ${event.height}: ${event.message}`,
    );
  } else if (event.type === 'thread-failed') {
    log.fatal({ event: 'sealer-failed', error: event.message }, `the sealer thread died; nothing more is accepted until a restart: ${event.message}`);
  }
}
