// Exactly-once `committed` per frame for a client with frame ids
// (ConnectOptions.frameIds, docs/protocol.md 4.8): every accepted frame is
// kept until `committed` notices cover all its seqs, so that a connection
// that drops, moves or fails over before they come can send it again; and
// each frame's commit is reported to the application once.
//
// A frame sent again is answered with its first `accepted` (a repeat, maybe
// `committed: true` already) or, when the gateway serving the chain now never
// sealed it (its first gateway died first), written again with new seqs: the
// frame's seqs are then the new ones, and what covered the old ones counts
// for nothing (those seqs now hold other frames' entries, or nothing).
import type { CommittedNotice } from './protocol.js';

/** A frame whose entries are all durable: reported once per frame (the `frameCommitted` event). */
export interface FrameCommitted {
  /** The frame's id (its `n` for this client's producer): SubmitResult.id. */
  id: number;
  /** The seqs its entries were committed at: `seq` … `seq + count − 1` (after a failover maybe not those its submit resolved with). */
  seq: number;
  count: number;
  /** SHA-256 of each entry's content, in order. */
  hashes: Uint8Array[];
}

/** A frame with an id as the tracker sees it: where it was accepted last, and how much of that is durable. */
export interface TrackedFrame {
  readonly id: number;
  /** Where the frame was accepted last; undefined before its first `accepted`. */
  accepted?: { seq: number; count: number; hashes: Uint8Array[] };
  /** First seqs of the blocks whose notice covered part of `accepted` (a block's notice counts once). */
  blocks: Set<number>;
  /** Entries of `accepted` that notices covered. */
  covered: number;
}

export interface FrameCommitStats {
  /** Frames accepted and not yet covered by `committed`: kept to send again. */
  uncommitted: number;
  /** Frames reported committed. */
  reported: number;
  /** Frames sent again that the gateway answered with their first `accepted`. */
  repeats: number;
  /** Frames sent again that the gateway wrote again, at new seqs (the gateway that had them died before sealing them). */
  rewritten: number;
  /** Reports for an id already reported, dropped. */
  duplicates: number;
}

export class FrameCommits<Frame extends TrackedFrame> {
  readonly stats: FrameCommitStats = { uncommitted: 0, reported: 0, repeats: 0, rewritten: 0, duplicates: 0 };
  /** Accepted and not yet committed, by id. */
  private readonly kept = new Map<number, Frame>();
  /** Ids reported lately, oldest first, at most `reportedBound` of them: a later report of one is a duplicate. */
  private readonly reportedIds = new Set<number>();

  constructor(
    private readonly reportedBound: number,
    private readonly report: (committed: FrameCommitted) => void,
  ) {}

  /** Frames kept until committed. */
  get size(): number {
    return this.kept.size;
  }

  /**
   * The gateway accepted `frame` at `seq` (its first `accepted`, a repeat, or
   * a rewrite at new seqs); `durable`: a repeat said its entries are durable.
   */
  accepted(frame: Frame, seq: number, count: number, hashes: Uint8Array[], repeat: boolean, durable: boolean): void {
    if (frame.accepted !== undefined) {
      if (repeat) this.stats.repeats++;
      else this.stats.rewritten++;
    }
    if (frame.accepted?.seq !== seq) {
      frame.blocks.clear();
      frame.covered = 0;
    }
    frame.accepted = { seq, count, hashes };
    if (durable) return this.reportOnce(frame);
    this.kept.set(frame.id, frame);
    this.stats.uncommitted = this.kept.size;
  }

  /** A `committed` notice: the frames it completes are reported. */
  committed(notice: CommittedNotice): void {
    const end = notice.seq + notice.count;
    for (const frame of this.kept.values()) {
      const at = frame.accepted!;
      const overlap = Math.min(end, at.seq + at.count) - Math.max(notice.seq, at.seq);
      if (overlap <= 0 || frame.blocks.has(notice.seq)) continue;
      frame.blocks.add(notice.seq);
      frame.covered += overlap;
      if (frame.covered >= at.count) this.reportOnce(frame);
    }
  }

  /** Every frame kept, taken to be sent again (their answers bring them back): a connection is gone. */
  takeAll(): Frame[] {
    const frames = [...this.kept.values()];
    this.kept.clear();
    this.stats.uncommitted = 0;
    return frames;
  }

  private reportOnce(frame: Frame): void {
    this.kept.delete(frame.id);
    this.stats.uncommitted = this.kept.size;
    if (this.reportedIds.has(frame.id)) {
      this.stats.duplicates++;
      return;
    }
    this.reportedIds.add(frame.id);
    if (this.reportedIds.size > this.reportedBound) this.reportedIds.delete(this.reportedIds.values().next().value!);
    this.stats.reported++;
    const { seq, count, hashes } = frame.accepted!;
    this.report({ id: frame.id, seq, count, hashes });
  }
}
