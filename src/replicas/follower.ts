// The returning owner (docs/replicas.md part 6). When this gateway's standby
// took its chains over (its lease had expired: a crash, a partition, a stop
// longer than the TTL), `takeover/{me}` in etcd names the last seal the
// standby held. Every seal made here above it was never acknowledged, so
// never reported `committed`: before this gateway serves anything again (at
// start, before it listens) and whenever it joins the fleet again (a
// partition healed while it ran), that tail is truncated — the store's
// blocks, the front door's chain heads, the credits' balances, the frame-id
// window — and the record is deleted. What it owned is then the standby's;
// this gateway follows (stands by for others as the naming says), and takes
// chains back by an ordinary handoff.
//
// A truncation waits while a chain still has entries not sealed here (a
// gateway cut off mid-stream cuts and seals what it admitted within a block
// interval), and is retried every second until it runs; a record it cannot
// read, or a truncation the store refuses (blocks adopted above the tail:
// the chain came back by a handoff meanwhile), is reported and left for the
// operator, and nothing is removed.
import type { Logger } from '../log/index.js';
import { errorMessage } from '../log/index.js';
import type { Decoded, Revision, TakeoverRecord } from '../fleet/index.js';
import { isInvalid } from '../fleet/index.js';
import type { TruncationRequest, TruncationResult } from '../ledger/index.js';
import { TruncationError } from '../ledger/index.js';

export interface FollowerParts {
  me: string;
  /** `takeover/{me}` with its mod revision, or null when there is none. */
  readTakeover(): Promise<{ record: Decoded<TakeoverRecord>; revision: Revision } | null>;
  /** Why a truncation cannot run now (a chain not owned here still has entries not sealed), or null. */
  notYet(): string | null;
  /** Truncates the store and moves the front door, the credits and the frame-id window with it. */
  truncate(request: TruncationRequest): Promise<TruncationResult>;
  /** Deletes `takeover/{me}` if it is still at `revision`. */
  clear(revision: Revision): Promise<boolean>;
  log: Logger;
}

const RETRY_MS = 1_000;

export type FollowerOutcome = 'none' | 'truncated' | 'waiting' | 'refused';

export class Follower {
  private running: Promise<FollowerOutcome> | null = null;
  private again = false;
  private retry: NodeJS.Timeout | null = null;
  private stopped = false;

  constructor(private readonly parts: FollowerParts) {}

  /** Looks for `takeover/{me}` and truncates what it names; one look at a time (a call meanwhile looks again after it). */
  check(): Promise<FollowerOutcome> {
    if (this.running !== null) {
      this.again = true;
      return this.running;
    }
    this.running = this.look().finally(() => {
      this.running = null;
      if (this.again && !this.stopped) {
        this.again = false;
        this.recheck();
      }
    });
    return this.running;
  }

  /**
   * `check()` for a caller that does not wait (a retry, a rejoin): a failure
   * other than a refusal (the store or the sealer thread failing under the
   * truncation) is logged here, not left an unhandled rejection, which would
   * end the process. The record stays, for the next rejoin or start.
   */
  recheck(): void {
    this.check().catch((error: unknown) =>
      this.parts.log.error(
        { event: 'replica-follower-failed', error: errorMessage(error) },
        `the truncation after a takeover of this gateway failed (${errorMessage(error)}): takeover/${this.parts.me} is left for the next start or rejoin`,
      ),
    );
  }

  stop(): void {
    this.stopped = true;
    if (this.retry !== null) clearTimeout(this.retry);
    this.retry = null;
  }

  private async look(): Promise<FollowerOutcome> {
    const { parts } = this;
    let found: Awaited<ReturnType<FollowerParts['readTakeover']>>;
    try {
      found = await parts.readTakeover();
    } catch (error) {
      parts.log.warn({ event: 'replica-follower-retry', error: errorMessage(error) }, `cannot read takeover/${parts.me} (${errorMessage(error)}); retrying`);
      return this.retryLater();
    }
    if (found === null) return 'none';
    const { record, revision } = found;
    if (isInvalid(record)) {
      parts.log.error(
        { event: 'replica-follower-refused', revision, error: record.invalid },
        `takeover/${parts.me} in etcd is unreadable (${record.invalid}): nothing truncated; the operator decides`,
      );
      return 'refused';
    }
    const busy = parts.notYet();
    if (busy !== null) {
      parts.log.info({ event: 'replica-follower-waiting', why: busy }, `the truncation after a takeover by "${record.by}" waits: ${busy}`);
      return this.retryLater();
    }
    return this.truncate(record, revision);
  }

  private async truncate(record: TakeoverRecord, revision: Revision): Promise<FollowerOutcome> {
    const { parts } = this;
    let result: TruncationResult;
    try {
      result = await parts.truncate({ after: record.acked, by: record.by, token: revision, at: record.at });
    } catch (error) {
      if (!(error instanceof TruncationError)) throw error;
      parts.log.error(
        { event: 'replica-follower-refused', by: record.by, token: revision, error: error.message },
        `the truncation after the takeover by "${record.by}" was refused (${error.message}): nothing removed; the operator decides`,
      );
      return 'refused';
    }
    parts.log.warn(
      {
        event: 'replica-truncated',
        by: record.by,
        token: revision,
        after: record.acked,
        directories: result.directories,
        blocks: result.blocks,
        entries: result.entries,
        chains: result.chains.map((c) => ({ chain: c.chain, seqs: c.seqs, head: c.head.nextSeq })),
      },
      `"${record.by}" took this gateway's chains over holding its seals up to ${record.acked}: removed ${result.entries} entries in ` +
        `${result.blocks} blocks of ${result.chains.length} chains sealed after it, never acknowledged by the standby, so never reported committed`,
    );
    await parts.clear(revision).catch((error: unknown) =>
      // Left for the next look (a repeat truncates nothing: the directories are marked).
      parts.log.warn({ event: 'replica-follower-retry', error: errorMessage(error) }, `could not delete takeover/${parts.me}: ${errorMessage(error)}`),
    );
    return 'truncated';
  }

  private retryLater(): FollowerOutcome {
    if (this.retry === null && !this.stopped) {
      this.retry = setTimeout(() => {
        this.retry = null;
        this.recheck();
      }, RETRY_MS);
      this.retry.unref();
    }
    return 'waiting';
  }
}
