// The memory clients can make the front door hold, in total: frames in
// progress (uWS buffers a WebSocket message until it is whole, up to
// limits.maxFrameBytes, and HTTP bodies are read whole) and replies written for
// clients that do not read them. Each connection has its own bound already;
// these keep the sum under the operator's (limits.max*TotalBytes).
import type { Logger } from '../log/index.js';

export interface ClientBufferLimits {
  maxFrameBytes: number;
  maxInboundTotalBytes: number;
  maxOutboundTotalBytes: number;
}

/** A connection that holds replies its client has not read. */
export interface OutboundHolder {
  /** Bytes written for the client and not yet taken by it. */
  bufferedBytes(): number;
  /** Drops the connection at once; what it held is freed. */
  drop(): void;
}

export class ClientBuffers {
  private inbound = 0;
  private readonly limits: ClientBufferLimits;

  constructor(limits: ClientBufferLimits) {
    this.limits = limits;
  }

  /**
   * Takes room for `bytes` of input, or says false when the total would pass
   * the bound. A stream takes a whole frame's worth at open, since that is what
   * uWS may buffer for it at any time.
   */
  reserveInbound(bytes: number): boolean {
    if (this.inbound + bytes > this.limits.maxInboundTotalBytes) return false;
    this.inbound += bytes;
    return true;
  }

  releaseInbound(bytes: number): void {
    this.inbound -= bytes;
  }

  /**
   * Drops the holders of the most unread replies until the total is under the
   * bound again; returns how many were dropped. Run periodically: the sum is
   * taken over every connection, so not per frame.
   */
  enforceOutbound(holders: Iterable<OutboundHolder>, log: Logger): number {
    const held: { holder: OutboundHolder; bytes: number }[] = [];
    let total = 0;
    for (const holder of holders) {
      const bytes = holder.bufferedBytes();
      if (bytes === 0) continue;
      held.push({ holder, bytes });
      total += bytes;
    }
    const bound = this.limits.maxOutboundTotalBytes;
    if (total <= bound) return 0;
    held.sort((a, b) => b.bytes - a.bytes);
    let dropped = 0;
    const before = total;
    for (const { holder, bytes } of held) {
      if (total <= bound) break;
      holder.drop();
      total -= bytes;
      dropped++;
    }
    log.warn(
      { event: 'outbound-budget', dropped, heldBytes: before, bound },
      `${before} bytes of unread replies passed limits.maxOutboundTotalBytes (${bound}): closed the ${dropped} connections holding the most`,
    );
    return dropped;
  }
}
