// A lease kept alive, and whether it is live by this process's own clock.
//
// etcd expires a lease when it has heard no keep-alive for TTL seconds,
// measured on its side. A keep-alive acknowledged with a TTL proves the lease
// was alive when etcd handled it, which was after we sent it, so it cannot
// expire before `sent + TTL`. We count from the send, not the answer, and
// subtract a margin (clock-rate differences, a stalled event loop): until
// `liveUntil`, no one else can have been given what the lease holds. Past it
// the holder fences itself: it stops admitting, whatever its event loop or
// etcd tell it late. `isLive()` reads the monotonic clock each time, so a late
// timer can never stretch the window (a timer only announces the fence).
import { performance } from 'node:perf_hooks';
import { EtcdError, type EtcdClient, type LeaseId } from './etcd.js';
import { errorMessage } from '../log/index.js';

export interface LeaseSettings {
  /** The lease's TTL in seconds (etcd may raise a tiny one to its minimum). */
  ttlSeconds: number;
  /** Subtracted from every TTL counted by our clock. */
  marginMs: number;
}

export type LeaseState = 'joining' | 'live' | 'fenced' | 'stopped';

export interface LeaseEvents {
  /**
   * A new lease was granted: put what lives on it. Resolves once done; a
   * throw revokes the lease and tries again later (the cause is reported).
   */
  attach(lease: LeaseId): Promise<void>;
  /** The state changed; `cause` says why in a sentence. */
  changed(state: LeaseState, cause: string): void;
}

/** Keep-alives per TTL: three, so two may be lost before the third is late. */
const KEEPALIVES_PER_TTL = 3;
/** After a failure, retry at this fraction of the keep-alive period (at least RETRY_MIN_MS). */
const RETRY_FRACTION = 1 / 3;
const RETRY_MIN_MS = 100;

export class LeaseKeeper {
  private readonly client: EtcdClient;
  private readonly settings: LeaseSettings;
  private readonly events: LeaseEvents;
  private leaseId: LeaseId | null = null;
  /** performance.now() until which the lease is live by our clock. */
  private until = 0;
  private stateNow: LeaseState = 'joining';
  private timer: NodeJS.Timeout | null = null;
  private fenceTimer: NodeJS.Timeout | null = null;
  private stopped = false;
  private running: Promise<void> | null = null;
  /** Why the last attempt failed, for the next state change. */
  lastError: string | null = null;

  constructor(client: EtcdClient, settings: LeaseSettings, events: LeaseEvents) {
    if (settings.marginMs >= (settings.ttlSeconds * 1000) / 2)
      throw new Error(`lease margin ${settings.marginMs} ms must be under half the TTL (${settings.ttlSeconds} s)`);
    this.client = client;
    this.settings = settings;
    this.events = events;
  }

  /** The lease in use, or null while there is none. */
  get lease(): LeaseId | null {
    return this.leaseId;
  }

  get state(): LeaseState {
    return this.stateNow;
  }

  /** The per-frame question: one clock read and a comparison. */
  isLive(now = performance.now()): boolean {
    return now < this.until;
  }

  /** ms of life left by our clock (0 when fenced). */
  remainingMs(now = performance.now()): number {
    return Math.max(0, this.until - now);
  }

  private get periodMs(): number {
    return (this.settings.ttlSeconds * 1000) / KEEPALIVES_PER_TTL;
  }

  /**
   * Grants the first lease and attaches to it. Resolves true when live; false
   * when the first try failed (the cause is in `lastError` and was reported):
   * the keeper goes on trying by itself, so a gateway started while etcd is
   * away joins when it comes back.
   */
  async start(): Promise<boolean> {
    try {
      await this.join();
      this.schedule(this.periodMs);
      return true;
    } catch (error) {
      this.failed(error);
      this.schedule(this.retryMs(error));
      return false;
    }
  }

  async stop(revoke = true): Promise<void> {
    this.stopped = true;
    if (this.timer !== null) clearTimeout(this.timer);
    if (this.fenceTimer !== null) clearTimeout(this.fenceTimer);
    await this.running?.catch(() => undefined);
    const lease = this.leaseId;
    this.until = 0;
    this.leaseId = null;
    this.setState('stopped', 'stopped');
    if (revoke && lease !== null) await this.client.revokeLease(lease).catch(() => undefined);
  }

  private async join(): Promise<void> {
    const sent = performance.now();
    const granted = await this.client.grantLease(this.settings.ttlSeconds);
    try {
      await this.events.attach(granted.id);
    } catch (error) {
      await this.client.revokeLease(granted.id).catch(() => undefined);
      throw error;
    }
    this.leaseId = granted.id;
    this.renewed(sent, granted.ttlSeconds, 'lease granted');
  }

  private renewed(sent: number, ttlSeconds: number, cause: string): void {
    this.until = sent + ttlSeconds * 1000 - this.settings.marginMs;
    this.lastError = null;
    if (this.stateNow !== 'live') this.setState('live', cause);
    this.armFence();
  }

  /** Announces the fence when the window closes without a renewal. */
  private armFence(): void {
    if (this.fenceTimer !== null) clearTimeout(this.fenceTimer);
    this.fenceTimer = setTimeout(
      () => {
        this.fenceTimer = null;
        if (!this.isLive() && this.stateNow === 'live') {
          this.setState(
            'fenced',
            `no keep-alive acknowledged for ${this.settings.ttlSeconds} s less the ${this.settings.marginMs} ms margin` +
              (this.lastError === null ? '' : ` (${this.lastError})`),
          );
        }
      },
      Math.max(0, this.until - performance.now()) + 1,
    );
    this.fenceTimer.unref();
  }

  private setState(state: LeaseState, cause: string): void {
    if (state === this.stateNow) return;
    this.stateNow = state;
    this.events.changed(state, cause);
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.beat().finally(() => {
        this.running = null;
      });
    }, ms);
    this.timer.unref();
  }

  private async beat(): Promise<void> {
    let next = this.periodMs;
    try {
      if (this.leaseId === null) {
        await this.join();
      } else {
        const sent = performance.now();
        // A keep-alive answered later than the window is worth nothing: bound it by what is left.
        const ttl = await this.client.keepAlive(this.leaseId, Math.max(RETRY_MIN_MS, Math.min(this.periodMs, this.remainingMs(sent) || this.periodMs)));
        if (ttl > 0) this.renewed(sent, ttl, 'keep-alive acknowledged again');
        else this.lost('etcd no longer holds the lease (it expired)');
      }
    } catch (error) {
      this.failed(error);
      next = this.retryMs(error);
    }
    this.schedule(next);
  }

  /** Reports a failed call: a fence when the window has closed, else a new cause (the same one is said once). */
  private failed(error: unknown): void {
    const message = errorMessage(error);
    const repeated = message === this.lastError;
    this.lastError = message;
    if (!this.isLive() && this.stateNow === 'live') this.setState('fenced', `cut off from etcd: ${message}`);
    else if (!repeated && this.stateNow !== 'live' && this.stateNow !== 'stopped') this.events.changed(this.stateNow, message);
  }

  /** A refused attach (another holder of the member key) is worth a slower retry than a lost packet. */
  private retryMs(error: unknown): number {
    return Math.max(RETRY_MIN_MS, this.periodMs * (error instanceof EtcdError && error.kind === 'unavailable' ? RETRY_FRACTION : 1));
  }

  /** etcd says the lease is gone: everything on it went with it. Fence now; the next beat grants a new one. */
  private lost(cause: string): void {
    this.until = 0;
    this.leaseId = null;
    this.setState('fenced', cause);
  }
}
