// The owner's end of the shipping stream (docs/replicas.md part 3): a cursor
// over its directory heights. It opens `GET /v1/replica/{owner}/stream` on its
// standby (the admin key as a subprotocol, like every fleet call between
// gateways), waits for the standby's `hello` (where it stands), then reads
// seal after seal from its SealSource — the store, never memory — and sends
// it, with at most MAX_SEALS_IN_FLIGHT sent and not yet `durable`. So catching
// up a standby (new, back from SIGSTOP, on a new machine) is the same loop
// from a lower height, and the owner holds no seal bytes beyond the K on the
// wire, whatever the lag. A dropped stream is opened again with back-off; the
// standby's next `hello` says where to go on from.
//
// `ws` rather than the client package's socket: this end needs `maxPayload`
// (the standby's messages are small; a larger one is refused by `ws` before it
// is buffered) and nothing of the client's reconnecting and refusal parsing.
import WebSocket from 'ws';
import { backoffDelay, type ReconnectOptions } from '../client/index.js';
import { MAX_SEALS_IN_FLIGHT, ReplicaStreamError, decodeMessage, encodeMessage, encodeSealParts, type ReplicaErrorCode, type SealMessage } from './messages.js';

/** Where the owner's seals come from: its store (the ledger's half: reading seal n for shipping). */
export interface SealSource {
  /** The highest seal made durable here; -1 for none. */
  highest(): number;
  /** Seal `height` as stored, byte for byte. */
  read(height: number): Promise<Omit<SealMessage, 'type'>>;
}

/** The standby as the fleet names it: its id and the URL it serves at. */
export interface StandbyTarget {
  id: string;
  url: string;
}

export type ShipperState =
  /** No standby named (docs/replicas.md part 4: counts as lost after standbyLostAfterMs). */
  | 'no-standby'
  /** Opening the stream, or waiting to open it again. */
  | 'connecting'
  /** The standby said hello: seals flow. */
  | 'shipping'
  /** The standby (or this end) refused the stream; it is opened again with back-off, and `detail` says why. */
  | 'refused';

export interface ShipperOptions {
  owner: string;
  source: SealSource;
  /** Offered as `chainlanes.key.KEY` (null: open mode, loopback only on the standby). */
  adminKey: string | null;
  reconnect: ReconnectOptions;
  /** The standby made seals ≤ `height` durable (from its `hello` or a `durable`). */
  onDurable(height: number, standby: string): void;
  onState?(state: ShipperState, detail: string): void;
  /** How often the standby is pinged; a stream whose standby did not answer the previous ping is dropped (default PING_EVERY_MS). */
  pingEveryMs?: number;
  /**
   * Bytes of seal messages sent and not acknowledged, at most (the standby's
   * bound, StandbySessionOptions.maxQueuedBytes); one seal alone may take it
   * all. A seal larger than it can never be shipped: the stream is refused,
   * naming the seal and its size, and the gate calls the standby lost.
   */
  maxInFlightBytes: number;
}

/** The standby's messages are hello, durable and error: a few hundred bytes. Anything larger is refused by `ws`. */
const MAX_STANDBY_MESSAGE_BYTES = 64 * 1024;
/**
 * A ping this often; a stream whose standby has not answered the previous one
 * is dropped and opened again. Without it a stream cut by a partition between
 * the two (the standby still in etcd) would hang until TCP gives up.
 */
export const PING_EVERY_MS = 5_000;

/**
 * The all-zero masking key, which `ws` sends without touching the payload.
 * Masking (RFC 6455 section 10.3) keeps a browser's script from steering the
 * bytes an intermediary caches; this is one gateway talking to another, and a
 * random key cost a copy and an XOR of every seal on the front door's thread
 * (ws's JS mask was 3 % of that thread's time while shipping, in a profile).
 */
function unmasked(mask: Buffer): void {
  mask.fill(0);
}

/** A seal message in the pieces it is sent in (encodeSealParts), and their bytes in all. */
type EncodedSeal = ReturnType<typeof encodeSealParts>;

/** One message in fragments, sent in one go (nothing else can come between them: this end sends only from this loop and `refuse`). */
function sendFragments(socket: WebSocket, parts: readonly Uint8Array[]): void {
  parts.forEach((part, i) => socket.send(part, { binary: true, fin: i === parts.length - 1 }));
}

export class Shipper {
  private target: StandbyTarget | null = null;
  private socket: WebSocket | null = null;
  /** Set by the standby's hello: the highest seal it holds, and the next one to send. */
  private acked = -1;
  private next = -1;
  private reading = false;
  /** The sizes of the seals sent and not acknowledged, oldest first. */
  private inFlightSizes: number[] = [];
  private bytesInFlight = 0;
  /** A seal read and encoded that waits for room in the byte window (never more than one). */
  private ready: { height: number; message: EncodedSeal } | null = null;
  private attempt = 0;
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  state: ShipperState = 'no-standby';
  detail = 'no standby is named for this gateway';
  /** Seals read from the source since the start (a test shows they never run more than K ahead of the acknowledgements). */
  reads = 0;

  constructor(private readonly options: ShipperOptions) {}

  /** Seals sent and not acknowledged. */
  get inFlight(): number {
    return this.next < 0 ? 0 : this.next - this.acked - 1;
  }

  /** Bytes of the seals sent and not acknowledged (at most maxInFlightBytes). */
  get inFlightBytes(): number {
    return this.bytesInFlight;
  }

  /** What the current standby holds (-1 before its hello). */
  get standbyAcked(): number {
    return this.acked;
  }

  get standby(): string | null {
    return this.target?.id ?? null;
  }

  /** The standby named now (null: none). A change closes the stream; the new one starts from what the new standby says it holds. */
  follow(target: StandbyTarget | null): void {
    if (this.stopped || (target?.id === this.target?.id && target?.url === this.target?.url)) return;
    this.target = target;
    this.disconnect();
    this.attempt = 0;
    if (target === null) this.setState('no-standby', 'no standby is named for this gateway');
    else this.connect();
  }

  /** A seal was made durable here: send it if the window has room. */
  sealed(): void {
    void this.pump();
  }

  stop(): void {
    this.stopped = true;
    this.disconnect();
  }

  private connect(): void {
    const target = this.target;
    if (target === null || this.stopped) return;
    this.setState('connecting', `opening the stream to standby "${target.id}" at ${target.url}`);
    const url = new URL(`v1/replica/${encodeURIComponent(this.options.owner)}/stream`, target.url.endsWith('/') ? target.url : `${target.url}/`);
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    const key = this.options.adminKey;
    const protocols = key === null ? ['chainlanes.v1'] : ['chainlanes.v1', `chainlanes.key.${key}`];
    const socket = new WebSocket(url, protocols, {
      perMessageDeflate: false,
      maxPayload: MAX_STANDBY_MESSAGE_BYTES,
      handshakeTimeout: 10_000,
      generateMask: unmasked,
    });
    this.socket = socket;
    this.resetWindow();
    // This socket's pinger, stopped by its own 'close' (terminate() closes it too).
    let answered = true;
    let pinger: NodeJS.Timeout | null = null;
    socket.on('open', () => {
      pinger = setInterval(() => {
        if (!answered) return socket.terminate(); // 'close' follows: opened again with back-off
        answered = false;
        socket.ping();
      }, this.options.pingEveryMs ?? PING_EVERY_MS);
      pinger.unref();
    });
    socket.on('pong', () => {
      answered = true;
    });
    socket.on('message', (data: Buffer, isBinary: boolean) => {
      if (this.socket === socket) this.onMessage(socket, isBinary ? data : Buffer.alloc(0));
    });
    socket.on('unexpected-response', (_req, res) => {
      if (this.socket === socket) this.setState('refused', `standby "${target.id}" refused the stream with HTTP ${res.statusCode ?? 0}`);
      socket.terminate();
    });
    socket.on('error', (error: Error) => {
      if (this.socket === socket && this.state !== 'refused') this.setState('connecting', `stream to standby "${target.id}": ${error.message}`);
    });
    socket.on('close', (code: number, reason: Buffer) => {
      if (pinger !== null) clearInterval(pinger);
      if (this.socket !== socket) return;
      this.socket = null;
      if (this.state === 'shipping') this.setState('connecting', `the stream to standby "${target.id}" closed (${code} ${reason.toString('utf8')})`);
      this.retryLater();
    });
  }

  private onMessage(socket: WebSocket, bytes: Buffer): void {
    try {
      const m = decodeMessage(bytes, 0);
      if (m.type === 'hello') return this.hello(m.owner, m.acked);
      if (m.type === 'durable') return this.durable(m.directory);
      if (m.type === 'error') {
        this.setState('refused', `standby "${this.target?.id}" ended the stream: ${m.code}: ${m.message}`);
        socket.close(1000);
        return;
      }
      throw new ReplicaStreamError('bad_message', `a standby sends hello, durable and error, not ${m.type}`);
    } catch (error) {
      if (!(error instanceof ReplicaStreamError)) throw error;
      this.refuse(socket, error.code, error.message);
    }
  }

  private hello(owner: string, acked: number): void {
    if (this.next >= 0) throw new ReplicaStreamError('out_of_step', 'a second hello on one stream');
    if (owner !== this.options.owner) throw new ReplicaStreamError('out_of_step', `the standby answered for gateway "${owner}"`);
    const highest = this.options.source.highest();
    if (acked > highest)
      throw new ReplicaStreamError('out_of_step', `the standby holds seals up to ${acked} of this gateway, which has sealed only up to ${highest}`);
    this.acked = acked;
    this.next = acked + 1;
    this.attempt = 0;
    this.setState('shipping', `shipping to standby "${this.target?.id}" from seal ${this.next}`);
    if (acked >= 0) this.options.onDurable(acked, this.target!.id);
    void this.pump();
  }

  private durable(height: number): void {
    if (this.next < 0) throw new ReplicaStreamError('out_of_step', 'durable before hello');
    if (height <= this.acked || height >= this.next)
      throw new ReplicaStreamError('out_of_step', `durable ${height}, but the seals awaiting acknowledgement are ${this.acked + 1} to ${this.next - 1}`);
    for (let h = this.acked + 1; h <= height; h++) this.bytesInFlight -= this.inFlightSizes.shift() ?? 0;
    this.acked = height;
    this.options.onDurable(height, this.target!.id);
    void this.pump();
  }

  /** Sends seals while the window has room; one reader at a time, so they go in order. */
  private async pump(): Promise<void> {
    if (this.reading) return;
    this.reading = true;
    try {
      const socket = this.socket;
      while (socket !== null && this.socket === socket && this.next >= 0 && this.next <= this.options.source.highest() && this.inFlight < MAX_SEALS_IN_FLIGHT) {
        const height = this.next;
        let message = this.ready?.height === height ? this.ready.message : null;
        if (message === null) {
          this.reads++;
          const seal = await this.options.source.read(height);
          if (this.socket !== socket || this.next !== height) break; // the stream changed while reading
          message = encodeSealParts({ type: 'seal', ...seal });
        }
        const max = this.options.maxInFlightBytes;
        if (message.bytes > max) {
          this.ready = null;
          this.refuse(socket, 'too_many_seals', `seal ${height} is ${message.bytes} bytes, over the stream's bound of ${max} (fleet.maxUnreplicatedBytes)`);
          break;
        }
        if (this.inFlight > 0 && this.bytesInFlight + message.bytes > max) {
          this.ready = { height, message };
          break; // sent when acknowledgements make room
        }
        this.ready = null;
        sendFragments(socket, message.parts);
        this.inFlightSizes.push(message.bytes);
        this.bytesInFlight += message.bytes;
        this.next++;
      }
    } catch (error) {
      const socket = this.socket;
      if (socket !== null)
        this.refuse(
          socket,
          'out_of_step',
          `this gateway could not read seal ${this.next} to ship it: ${error instanceof Error ? error.message : String(error)}`,
        );
    } finally {
      this.reading = false;
    }
  }

  /** This end refuses what the standby said: it tells it why and closes (then opens again with back-off). */
  private refuse(socket: WebSocket, code: ReplicaErrorCode, message: string): void {
    this.setState('refused', message);
    if (socket.readyState === WebSocket.OPEN) socket.send(encodeMessage({ type: 'error', code, message }));
    socket.close(4400, code);
  }

  private retryLater(): void {
    if (this.stopped || this.target === null || this.timer !== null) return;
    const delay = backoffDelay(this.attempt++, this.options.reconnect);
    this.timer = setTimeout(() => {
      this.timer = null;
      this.connect();
    }, delay);
    this.timer.unref();
  }

  private disconnect(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    const socket = this.socket;
    this.socket = null;
    this.resetWindow();
    if (socket !== null) socket.terminate();
  }

  private resetWindow(): void {
    this.acked = -1;
    this.next = -1;
    this.inFlightSizes = [];
    this.bytesInFlight = 0;
    this.ready = null;
  }

  private setState(state: ShipperState, detail: string): void {
    this.state = state;
    this.detail = detail;
    this.options.onState?.(state, detail);
  }
}
