// The standby's streams, one per owner it stands by for (the route
// `GET /v1/replica/{owner}/stream` asks this whether to take a stream and
// opens sessions through it). A new stream of an owner replaces the one open:
// the old one may be a half-open connection the owner gave up on. Its last
// seal may still be going to the store, so the new stream's `hello` waits for
// it — else it would name a lower height, the owner would send that seal
// again, and the store would refuse it as out of order.
import { StandbySession, type SealSink, type SessionSocket } from './standby-session.js';

export interface StandbyStreamsOptions {
  /** The standby's store identity. */
  store: string;
  sink: SealSink;
  /** True when this gateway stands by for `owner` now (the fleet's `standby/` table). */
  standsBy(owner: string): boolean;
  maxBlocks: number;
  /** Bytes of an owner's seals queued here, at most (StandbySessionOptions.maxQueuedBytes): the standby's memory per owner. */
  maxQueuedBytes: number;
  onDurable?(owner: string, height: number): void;
  onEnd?(owner: string, code: string | null, message: string): void;
}

export class StandbyStreams {
  private readonly streams = new Map<string, { session: StandbySession; socket: SessionSocket }>();

  constructor(private readonly options: StandbyStreamsOptions) {}

  refusal(owner: string): { code: 'forbidden'; message: string } | null {
    if (this.options.standsBy(owner)) return null;
    return { code: 'forbidden', message: `this gateway does not stand by for gateway ${JSON.stringify(owner.slice(0, 64))} (the fleet's standby/ table)` };
  }

  /** A stream from `owner`: its session, and the hello sent once the previous stream's last seal is stored. */
  open(owner: string, socket: SessionSocket): StandbySession {
    const previous = this.streams.get(owner);
    if (previous !== undefined) {
      previous.session.closed();
      previous.socket.close(1000, 'replaced by a new stream of the same owner');
    }
    const { store, sink, maxBlocks, maxQueuedBytes, onDurable, onEnd } = this.options;
    const session = new StandbySession({
      owner,
      after: previous?.session.idle(),
      store,
      sink,
      socket,
      maxBlocks,
      maxQueuedBytes,
      onDurable: (height) => onDurable?.(owner, height),
      // An ended session stays in the map (one per owner this gateway stands by for): the next stream waits for its last seal.
      onEnd: (code, message) => onEnd?.(owner, code, message),
    });
    this.streams.set(owner, { session, socket });
    return session;
  }

  /**
   * Ends `owner`'s stream (a takeover: nothing more of the owner may be
   * stored) and resolves once its last seal is stored or refused.
   */
  end(owner: string): Promise<void> {
    const open = this.streams.get(owner);
    if (open === undefined) return Promise.resolve();
    open.session.closed();
    open.socket.close(1000, "this standby is taking the owner's chains over");
    return open.session.idle();
  }

  /** The owners with a stream open now. */
  owners(): string[] {
    return [...this.streams].filter(([, s]) => s.session.isOpen).map(([owner]) => owner);
  }
}
