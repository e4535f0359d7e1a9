// Frames of a stream that wait for their chain's claim (a fleet: a new
// chain is claimed in etcd by its first frame that passes every other check,
// docs/fleet.md "Claims"). Admission is synchronous and a claim is a round
// trip, so that frame and every later one of the connection wait here, in
// order, copied out of uWS's buffer; when the claim resolves they are
// admitted (won) or refused (lost: `moved`; not made: `busy`) in that order,
// so replies keep the order frames came in. Nothing of a waiting frame is
// reserved. The copies count against the inbound total every stream shares
// (limits.maxInboundTotalBytes), and how many wait is bounded by the
// connection's frames in flight (limits.maxFramesInFlight).
import type { InboundBudget } from '../uws/index.js';

export interface ParkedFrame {
  frame: number;
  bytes: Uint8Array;
}

export class ParkedFrames {
  private frames: ParkedFrame[] = [];
  private bytes = 0;
  private claiming = false;

  constructor(private readonly budget: InboundBudget) {}

  /** A claim is in flight for this connection's chain: its frames wait. */
  get waiting(): boolean {
    return this.claiming;
  }

  /** Starts waiting (the claim was sent). */
  begin(): void {
    this.claiming = true;
  }

  /** Copies a frame to wait; false when the inbound total has no room (the frame is then refused `busy`). */
  park(frame: number, bytes: Uint8Array): boolean {
    if (!this.budget.reserveInbound(bytes.byteLength)) return false;
    this.frames.push({ frame, bytes: bytes.slice() });
    this.bytes += bytes.byteLength;
    return true;
  }

  /** The claim resolved: the waiting frames, in order; their bytes no longer count. */
  end(): ParkedFrame[] {
    const frames = this.frames;
    this.frames = [];
    this.claiming = false;
    this.budget.releaseInbound(this.bytes);
    this.bytes = 0;
    return frames;
  }
}
