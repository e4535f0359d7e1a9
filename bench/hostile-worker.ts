// One attack process of the hostile scenario: holds its share of each kind of
// hostile connection (hostile-protocol.ts) against the gateway, reopening what
// the gateway closes, until the parent says stop or its own deadline passes.
// Connections open quietly first and all start their behaviour on `go`: were
// the floods to start as they open, the rest could not get in.
// Raw TCP sockets with a hand-made WebSocket handshake: a library would read
// replies, answer closes and refuse to send half a frame, which is the point.
// Loopback only; every connection, write and reopening is bounded in count and time.
import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import {
  ATTACK_KINDS,
  emptyKindStats,
  perKind,
  type AttackDone,
  type AttackInit,
  type AttackKind,
  type AttackReady,
  type KindStats,
  type ToAttacker,
} from './hostile-protocol.js';
import { epochNow } from './clock.js';

/** Handshakes in progress at once per process: the gateway's listen backlog is finite, and a SYN dropped there costs a second. */
const OPENING_AT_ONCE = 64;
const HANDSHAKE_TIMEOUT_MS = 10_000;
/** A slot the gateway closed opens again after 0.5–1.5 × this: the attack keeps its strength, without a busy loop. */
const REOPEN_PAUSE_MS = 1000;
const MAX_ATTEMPTS_PER_SLOT = 200;
/** Kinds that do not read learn of a close only by writing: they write a little this often. */
const PROBE_EVERY_MS = 1000;
/** How long a slow reader reads after its upgrade, to see a refusal sent at open. */
const SLOW_READS_FOR_MS = 50;

/** Frames in one flood write, and how many writes one connection makes before yielding to the others. */
const FLOOD_BATCH_FRAMES = 64;
const FLOOD_WRITES_PER_TURN = 16;
/** Per connection, reopenings excepted: far past limits.maxFramesInFlight, so the bound is the gateway's. */
const FLOOD_FRAMES_MAX = 200_000;
/** Slow readers: frames of 256 one-byte entries (an 8 KiB `accepted` reply each), then text frames (a ~110-byte error each). */
const SLOW_LARGE_FRAMES = 8;
const SLOW_TEXT_BATCH = 256;
const SLOW_TEXT_FRAMES_MAX = 16_384;
/** HTTP requests pipelined at once, then two more per probe, up to the maximum. */
const PIPELINE_DEPTH = 32;
const PIPELINE_MAX = 256;

const OP_TEXT = 0x1;
const OP_BINARY = 0x2;
const OP_CLOSE = 0x8;
const OP_PING = 0x9;
const OP_PONG = 0xa;

/**
 * A client frame header (RFC 6455 §5.2): FIN, the opcode, the mask bit and an
 * all-zero mask, so the payload goes as is.
 */
function frameHeader(opcode: number, length: number): Buffer {
  if (length < 126) return Buffer.from([0x80 | opcode, 0x80 | length, 0, 0, 0, 0]);
  if (length < 65_536) {
    const header = Buffer.alloc(8);
    header[0] = 0x80 | opcode;
    header[1] = 0x80 | 126;
    header.writeUInt16BE(length, 2);
    return header;
  }
  const header = Buffer.alloc(14);
  header[0] = 0x80 | opcode;
  header[1] = 0x80 | 127;
  header.writeBigUInt64BE(BigInt(length), 2);
  return header;
}

const frame = (opcode: number, payload: Buffer): Buffer => Buffer.concat([frameHeader(opcode, payload.length), payload]);

/** A one-entry msgpack array of 9 bytes: fixarray(1), fixstr(7). */
const SMALL_ENTRY_FRAME = frame(OP_BINARY, Buffer.from([0x91, 0xa7, ...Buffer.from('attack!')]));
const TEXT_FRAME_9 = frame(OP_TEXT, Buffer.from('not bytes'));
/** Three binary frames to one text frame. */
const FLOOD_BATCH = Buffer.concat(Array.from({ length: FLOOD_BATCH_FRAMES }, (_, i) => (i % 4 === 3 ? TEXT_FRAME_9 : SMALL_ENTRY_FRAME)));
/** array 16 of 256 fixstr(1) entries: 515 bytes asking for 8 KiB of hashes. */
const LARGE_REPLY_FRAME = frame(OP_BINARY, Buffer.concat([Buffer.from([0xdc, 0x01, 0x00]), Buffer.alloc(512, Buffer.from([0xa1, 0x78]))]));
const SLOW_LARGE_BATCH = Buffer.concat(Array.from({ length: SLOW_LARGE_FRAMES }, () => LARGE_REPLY_FRAME));
const TEXT_FRAME_1 = frame(OP_TEXT, Buffer.from('x'));
const SLOW_TEXT_BATCH_BYTES = Buffer.concat(Array.from({ length: SLOW_TEXT_BATCH }, () => TEXT_FRAME_1));
const CLIENT_CLOSE = frame(OP_CLOSE, Buffer.from([0x03, 0xe8])); // 1000

const wsKinds: ReadonlySet<AttackKind> = new Set(['unfinished', 'flood', 'slow', 'squat']);
/** Kinds that never read what the gateway sends. */
const deafKinds: ReadonlySet<AttackKind> = new Set(['slow', 'pipelined']);

/** Reads server frames (unmasked) from a byte stream, whole messages only. */
class ServerFrames {
  private pending: Buffer | null = null;

  constructor(private readonly onMessage: (opcode: number, payload: Buffer) => void) {}

  push(chunk: Buffer): void {
    const buf = this.pending === null ? chunk : Buffer.concat([this.pending, chunk]);
    let at = 0;
    for (;;) {
      if (buf.length - at < 2) break;
      let length = (buf[at + 1] ?? 0) & 0x7f;
      let header = 2;
      if (length === 126) {
        if (buf.length - at < 4) break;
        length = buf.readUInt16BE(at + 2);
        header = 4;
      } else if (length === 127) {
        if (buf.length - at < 10) break;
        length = Number(buf.readBigUInt64BE(at + 2));
        header = 10;
      }
      if (buf.length - at < header + length) break;
      this.onMessage((buf[at] ?? 0) & 0x0f, buf.subarray(at + header, at + header + length));
      at += header + length;
    }
    this.pending = at < buf.length ? Buffer.from(buf.subarray(at)) : null;
  }
}

class Attack {
  readonly stats: Record<AttackKind, KindStats> = perKind(emptyKindStats);
  readonly openNow: Record<AttackKind, number> = perKind(() => 0);
  readonly slots: Slot[] = [];
  stopping = false;
  /** Set by `go`: from then on every connection, and every reopened one, does what its kind does. */
  attacking = false;
  private readonly waiting: Slot[] = [];
  private opening = 0;
  private firstRoundLeft = 0;
  private readySent = false;
  /** A frame header announcing maxFrameBytes, and half of that payload: what every unfinished connection sends (one copy, never changed). */
  readonly unfinishedFrame: Buffer;

  constructor(readonly init: AttackInit) {
    this.unfinishedFrame = Buffer.concat([frameHeader(OP_BINARY, init.maxFrameBytes), Buffer.alloc(Math.floor(init.maxFrameBytes / 2))]);
  }

  start(): void {
    // Interleaved, so that when the gateway refuses streams past its inbound bound every kind has some inside.
    const most = Math.max(...ATTACK_KINDS.map((k) => this.init.counts[k]));
    let index = this.init.firstIndex;
    for (let i = 0; i < most; i++) {
      for (const kind of ATTACK_KINDS) if (i < this.init.counts[kind]) this.slots.push(new Slot(kind, index++, this));
    }
    this.firstRoundLeft = this.slots.length;
    this.slots.forEach((s) => this.requestOpen(s));
    setTimeout(() => this.sendReady(), Math.max(0, this.init.readyBy - epochNow()));
    if (this.slots.length === 0) this.sendReady();
  }

  requestOpen(slot: Slot): void {
    if (this.stopping) return;
    this.waiting.push(slot);
    this.pump();
  }

  /** A slot's attempt settled (open or failed). */
  settled(first: boolean): void {
    this.opening--;
    if (first && --this.firstRoundLeft === 0) this.sendReady();
    this.pump();
  }

  opened(kind: AttackKind): void {
    this.openNow[kind]++;
    const s = this.stats[kind];
    s.opened++;
    s.peakOpen = Math.max(s.peakOpen, this.openNow[kind]);
  }

  private pump(): void {
    while (!this.stopping && this.opening < OPENING_AT_ONCE && this.waiting.length > 0) {
      const slot = this.waiting.shift();
      if (slot === undefined) break;
      this.opening++;
      slot.connect();
    }
  }

  private sendReady(): void {
    if (this.readySent) return;
    this.readySent = true;
    const ready: AttackReady = { type: 'ready', open: { ...this.openNow } };
    process.send?.(ready);
  }

  go(): void {
    this.attacking = true;
    for (const slot of this.slots) slot.begin();
  }

  stop(): Record<AttackKind, KindStats> {
    this.stopping = true;
    for (const kind of ATTACK_KINDS) this.stats[kind].openAtEnd = this.openNow[kind];
    for (const slot of this.slots) slot.destroy();
    return this.stats;
  }
}

class Slot {
  private socket: Socket | null = null;
  private attempts = 0;
  private isOpen = false;
  private closedHere = false;
  private closeReason: string | null = null;
  /** Frames or requests written on the current connection, for the per-connection caps. */
  private written = 0;
  private probe: ReturnType<typeof setInterval> | undefined;
  /** Whether the current connection has started its behaviour. */
  private begun = false;
  private readonly stats: KindStats;

  constructor(
    readonly kind: AttackKind,
    readonly index: number,
    private readonly attack: Attack,
  ) {
    this.stats = attack.stats[kind];
  }

  connect(): void {
    const { init } = this.attack;
    const first = this.attempts === 0;
    this.attempts++;
    this.stats.attempts++;
    this.closedHere = false;
    this.closeReason = null;
    this.written = 0;
    this.begun = false;
    let settled = false;
    const settle = (): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      this.attack.settled(first);
    };
    const localAddress = init.sourceAddresses[this.index % init.sourceAddresses.length];
    const socket = connect({ host: init.host, port: init.port, ...(localAddress === undefined ? {} : { localAddress }) });
    this.socket = socket;
    socket.setNoDelay(true);
    const timer = setTimeout(() => {
      if (this.isOpen) return;
      this.closeReason = 'handshake timeout';
      socket.destroy();
    }, HANDSHAKE_TIMEOUT_MS);
    socket.on('error', (err: NodeJS.ErrnoException) => {
      this.closeReason ??= err.code ?? 'error';
    });
    socket.on('close', () => {
      settle();
      this.onClose();
    });
    socket.on('connect', () => {
      if (!wsKinds.has(this.kind)) {
        this.onOpen(socket);
        settle();
        return;
      }
      const key = randomBytes(16).toString('base64');
      socket.write(
        `GET /v1/chains/${init.prefix}-x-${this.kind}-${this.index}/stream HTTP/1.1\r\nHost: ${init.host}:${init.port}\r\n` +
          `Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
      );
    });
    if (!wsKinds.has(this.kind)) return;
    let head = Buffer.alloc(0);
    const onHandshake = (chunk: Buffer): void => {
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) {
        if (head.length > 8192) socket.destroy();
        return;
      }
      socket.off('data', onHandshake);
      if (!head.subarray(0, end).toString('latin1').startsWith('HTTP/1.1 101')) {
        this.closeReason = `no upgrade: ${head.subarray(0, Math.min(end, 40)).toString('latin1')}`;
        socket.destroy();
        return;
      }
      this.onOpen(socket, head.subarray(end + 4));
      settle();
    };
    socket.on('data', onHandshake);
  }

  destroy(): void {
    clearInterval(this.probe);
    if (this.socket === null) return;
    this.closedHere = true;
    // A polite close frame first for streams, so the gateway's log is not full of resets; then the socket goes.
    if (this.isOpen && wsKinds.has(this.kind) && !this.socket.destroyed) this.socket.write(CLIENT_CLOSE);
    this.socket.destroy();
  }

  private onOpen(socket: Socket, rest: Buffer = Buffer.alloc(0)): void {
    this.isOpen = true;
    this.attack.opened(this.kind);
    if (wsKinds.has(this.kind)) {
      const frames = new ServerFrames((opcode, payload) => this.onMessage(socket, opcode, payload));
      socket.on('data', (chunk: Buffer) => frames.push(chunk));
      if (rest.length > 0) frames.push(rest);
    } else {
      socket.on('data', () => undefined); // reads (and drops) whatever comes, to see the close, until it stops reading
    }
    if (this.attack.attacking) this.begin();
  }

  /** Starts what this kind does on the open connection (once per connection). */
  begin(): void {
    const socket = this.socket;
    if (socket === null || !this.isOpen || this.begun) return;
    this.begun = true;
    switch (this.kind) {
      case 'unfinished':
        this.write(this.attack.unfinishedFrame, 1);
        break;
      case 'flood':
        this.flood();
        break;
      case 'slow':
        setTimeout(() => socket.pause(), SLOW_READS_FOR_MS); // from then on reads nothing: the replies pile up at the gateway
        this.write(SLOW_LARGE_BATCH, SLOW_LARGE_FRAMES);
        this.slowText();
        this.probe = setInterval(() => this.write(TEXT_FRAME_1, 1), PROBE_EVERY_MS);
        break;
      case 'pipelined':
        socket.pause();
        this.pipeline(PIPELINE_DEPTH);
        this.probe = setInterval(() => this.pipeline(2), PROBE_EVERY_MS);
        break;
      case 'squat':
      case 'idle':
        break;
    }
  }

  private onMessage(socket: Socket, opcode: number, payload: Buffer): void {
    if (opcode === OP_BINARY || opcode === OP_TEXT) this.stats.messagesRead++;
    else if (opcode === OP_PING)
      socket.write(frame(OP_PONG, payload)); // as any WebSocket client does: a squatter stays
    else if (opcode === OP_CLOSE) {
      const code = payload.length >= 2 ? payload.readUInt16BE(0) : 1005;
      this.closeReason = `${code} ${payload.subarray(2).toString('utf8').slice(0, 48)}`.trimEnd();
    }
  }

  private write(bytes: Buffer, frames: number): boolean {
    const socket = this.socket;
    if (socket === null || !this.isOpen || socket.destroyed || this.attack.stopping) return false;
    this.written += frames;
    this.stats.framesSent += frames;
    this.stats.bytesSent += bytes.length;
    return socket.write(bytes);
  }

  /** As fast as the socket takes them, never waiting for a reply; yields between turns so every flood gets its go. */
  private flood(): void {
    for (let i = 0; i < FLOOD_WRITES_PER_TURN; i++) {
      if (!this.isOpen || this.written >= FLOOD_FRAMES_MAX) return;
      if (!this.write(FLOOD_BATCH, FLOOD_BATCH_FRAMES)) {
        this.socket?.once('drain', () => this.flood());
        return;
      }
    }
    setImmediate(() => this.flood());
  }

  private slowText(): void {
    if (!this.isOpen || this.written >= SLOW_LARGE_FRAMES + SLOW_TEXT_FRAMES_MAX) return;
    if (this.write(SLOW_TEXT_BATCH_BYTES, SLOW_TEXT_BATCH)) setImmediate(() => this.slowText());
    else this.socket?.once('drain', () => this.slowText());
  }

  private pipeline(requests: number): void {
    const { host, port } = this.attack.init;
    for (let i = 0; i < requests && this.written < PIPELINE_MAX; i++) {
      const path = (this.written + i) % 2 === 0 ? '/v1/chains?limit=1000' : '/healthz';
      this.write(Buffer.from(`GET ${path} HTTP/1.1\r\nHost: ${host}:${port}\r\n\r\n`, 'latin1'), 1);
    }
  }

  private onClose(): void {
    clearInterval(this.probe);
    this.probe = undefined;
    this.socket = null;
    const wasOpen = this.isOpen;
    this.isOpen = false;
    if (this.closedHere || this.attack.stopping) {
      if (wasOpen) this.attack.openNow[this.kind]--;
      return;
    }
    const reason = this.closeReason ?? (deafKinds.has(this.kind) ? 'closed (not read)' : 'end');
    if (wasOpen) {
      this.attack.openNow[this.kind]--;
      this.stats.closedByGateway++;
      this.stats.closeReasons[reason] = (this.stats.closeReasons[reason] ?? 0) + 1;
    } else {
      this.stats.failed++;
      const key = `failed: ${reason}`;
      this.stats.closeReasons[key] = (this.stats.closeReasons[key] ?? 0) + 1;
    }
    const pause = REOPEN_PAUSE_MS * (0.5 + Math.random());
    if (this.attempts < MAX_ATTEMPTS_PER_SLOT && epochNow() + pause < this.attack.init.until) {
      setTimeout(() => this.attack.requestOpen(this), pause);
    }
  }
}

// ---- process body: init → ready … stop (or the deadline) → done

function main(): void {
  let attack: Attack | undefined;
  let cpu = process.cpuUsage();
  let elu = performance.eventLoopUtilization();
  let startedAt = performance.now();
  const finish = (): void => {
    if (attack === undefined || attack.stopping) return;
    const kinds = attack.stop();
    const wallSeconds = (performance.now() - startedAt) / 1000;
    const used = process.cpuUsage(cpu);
    const done: AttackDone = {
      type: 'done',
      result: { kinds, cpu: (used.user + used.system) / 1e6 / wallSeconds, elu: performance.eventLoopUtilization(elu).utilization, wallSeconds },
    };
    process.send?.(done, () => process.exit(0));
  };
  process.on('message', (msg: ToAttacker) => {
    if (msg.type === 'stop') return finish();
    if (msg.type === 'go') return attack?.go();
    if (attack !== undefined) return;
    cpu = process.cpuUsage();
    elu = performance.eventLoopUtilization();
    startedAt = performance.now();
    attack = new Attack(msg);
    attack.start();
    setTimeout(finish, Math.max(0, msg.until - epochNow()));
  });
  // The parent going away (crash, Ctrl-C) must not leave this process attacking.
  process.on('disconnect', () => process.exit(0));
}

main();
