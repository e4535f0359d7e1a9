// The gateway's settings: every key, what it allows and its default, in one
// place. `GatewayConfig` is derived from it, and so are the defaults.
import { LOG_FORMATS, LOG_LEVELS } from '../log/index.js';
import { totalmem } from 'node:os';
import { z } from 'zod';
import { LANE_NAMES, recordBytesFor } from '../ring/index.js';
import { DEFAULT_LANE_TABLE, LaneTableSchema } from '../scheduler/index.js';
import { WHEN_VALID, atLeast, integer, text } from '../validation/index.js';
import { GatewayFleetSchema } from '../fleet/index.js';
import { SEAL_MESSAGE_FIXED_BYTES, sealBytesOfFrame } from '../protocol/index.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;

const ms = (min: number) => integer(min, undefined, 'milliseconds');
const bytes = (min: number) => integer(min, undefined, 'bytes');

const RING_BYTES = `a power of two from ${KiB} (1 KiB) to ${GiB} (1 GiB) bytes`;
/** Ring offsets are masked, so a ring's size must be a power of two. */
const ringBytes = z
  .int({ error: RING_BYTES })
  .min(KiB, { error: RING_BYTES })
  .max(GiB, { error: RING_BYTES })
  .refine((n) => (n & (n - 1)) === 0, { error: RING_BYTES });

// Cores are checked against the machine's core count in `validateConfig`, not here.
const core = integer(0, undefined, 'a core number');
const cores = z.array(core).min(1, { error: 'a non-empty list of core numbers' });
const CORES = 'null (a layout from the core count) or an object';

/**
 * What the process holds for itself whatever clients do: its code, the V8
 * heaps of its threads, and what malloc keeps for reuse after lmdb's seals
 * (gateway.ts MALLOC_KEEP lets up to 256 MiB stay). Measured on 2 cores, Node
 * 20, the bench's default load: an idle gateway is 200 MiB resident; after
 * 12–15 s of load, with the unsealed backlog empty, 940–1,020 MiB, of which
 * 384 MiB are the rings (all touched) and up to a quarter of maxUnsealedBytes
 * the backlog's idle segments — 480–560 MiB beyond the bounds, of which the
 * glibc arenas held ~340 MiB (bench/history/2026-12-06.md, "The memory budget's baseline").
 */
export const PROCESS_BASELINE_BYTES = 576 * MiB;

/**
 * What the gateway may hold in memory, by default half the machine's memory
 * (but at least what the defaults below need). The three buffers that clients
 * fill (frames in progress, replies not yet read, entries not yet durable)
 * default to a quarter of it each, at most 1 GiB; together with the lane rings
 * and the process's own baseline they must fit in it (checked below).
 */
const RING_DEFAULTS = { heavy: 256 * MiB, medium: 64 * MiB, light: 64 * MiB };
const RING_DEFAULT_BYTES = RING_DEFAULTS.heavy + RING_DEFAULTS.medium + RING_DEFAULTS.light;
const BUFFER_MIN = 16 * MiB;
/** The three buffers share what the rings and the baseline leave; the unsealed one counts 1.25 times (see memoryHeld). */
const BUFFERS_WEIGHT = 3.25;
const MEMORY_BUDGET = Math.max(Math.floor(totalmem() / 2), PROCESS_BASELINE_BYTES + RING_DEFAULT_BYTES + Math.ceil(BUFFERS_WEIGHT * BUFFER_MIN));
const BUFFER_DEFAULT = Math.max(
  BUFFER_MIN,
  Math.min(GiB, Math.floor((MEMORY_BUDGET - RING_DEFAULT_BYTES - PROCESS_BASELINE_BYTES) / BUFFERS_WEIGHT / MiB) * MiB),
);

const Limits = z.strictObject({
  /** Whole frames only: a WebSocket frame is buffered until complete, so this bounds each connection's input. */
  maxFrameBytes: bytes(1).default(1 * MiB),
  maxEntryBytes: bytes(1).default(64 * KiB),
  maxEntriesPerFrame: integer(1).default(65_536),
  maxChains: integer(1).default(10_000),
  /** Per connection: replies buffered for a client that does not read; past it the connection is closed. */
  maxOutboundBytes: bytes(1).default(16 * MiB),
  /** All connections: replies buffered for clients that do not read; past it the connections holding most are closed. */
  maxOutboundTotalBytes: bytes(1).default(BUFFER_DEFAULT),
  /** All streams: frames in progress (streams × maxFrameBytes); past it new streams are refused `busy`. */
  maxInboundTotalBytes: bytes(1).default(BUFFER_DEFAULT),
  /** Entries accepted but not yet durable; past it new frames get `busy` (a last quarter above it is kept for small chains). */
  maxUnsealedBytes: bytes(1).default(BUFFER_DEFAULT),
  /** What the buffers above, the lane rings and the process's own baseline (PROCESS_BASELINE_BYTES) may hold together. */
  memoryBudgetBytes: bytes(1).default(MEMORY_BUDGET),
  /** Per connection: frames sent and not yet answered; past it `busy` before any parsing, past twice it the connection is closed. */
  maxFramesInFlight: integer(1).default(1024),
  /** Client frame ids (producer, n) remembered per chain, to answer a frame sent again with its first `accepted` (docs/protocol.md 4.8). */
  frameIdWindow: integer(1, 1_000_000, 'frame ids').default(4_096),
  /** All chains' remembered frame ids together (each counted as 256 bytes plus 32 per entry); past it the oldest are forgotten. */
  maxFrameIdBytes: bytes(64 * KiB).default(16 * MiB),
  /**
   * WebSocket connections and HTTP requests in flight, together; past it new
   * ones get `busy`. null: the file-descriptor limit less those in use at start
   * and a reserve of 10 % (at least 64); a number above that is refused at start.
   */
  maxConnections: integer(1, undefined, 'connections, or null for one from the file-descriptor limit').nullable().default(null),
  /** The same, from one client address. null: half of maxConnections. */
  maxConnectionsPerAddress: integer(1, undefined, 'connections, or null for half of maxConnections').nullable().default(null),
  /**
   * An event-loop turn of the front door longer than this is overloaded: the
   * client addresses that took more than their fair share of it are barred
   * (their streams cut off, new connections refused `busy`), and its further
   * frames from any address past 64 units in it are answered `busy`. null: never.
   */
  frontDoorTurnBudgetMs: integer(1, 10_000, 'milliseconds, or null to never bar an address').nullable().default(5),
  /** How long an address is first barred; a bar soon after the last one doubles, up to maxAddressBarMs. */
  addressBarMs: integer(1, 3_600_000).default(1_000),
  maxAddressBarMs: integer(1, 3_600_000).default(30_000),
});

const HOST = 'a host name or address as clients write it in the Host header, optionally with ":port" (no scheme, no path), or "*" for any';
/** A name the gateway answers to, besides its own (the listen address, localhost, 127.0.0.1, [::1]). */
const allowedHost = z
  .string({ error: HOST })
  .regex(/^(\*|[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(:\d{1,5})?$/, { error: HOST })
  .refine((h) => !h.startsWith('*:'), { error: HOST });

const ORIGIN = 'an origin as browsers send it: scheme://host[:port], lower case, no path or trailing slash (e.g. "https://app.example.com"), or "*" for any';
/** A web page's origin that may open streams and send POST/PUT/DELETE (docs/protocol.md §6, "Every request"). */
const allowedOrigin = z.string({ error: ORIGIN }).refine((o) => o === '*' || isSerializedOrigin(o), { error: ORIGIN });

function isSerializedOrigin(text: string): boolean {
  try {
    const url = new URL(text);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.origin === text;
  } catch {
    return false;
  }
}

/** Ring data bytes per lane. */
const RingBytes = z.strictObject({
  heavy: ringBytes.default(RING_DEFAULTS.heavy),
  medium: ringBytes.default(RING_DEFAULTS.medium),
  light: ringBytes.default(RING_DEFAULTS.light),
});

const Cores = z.strictObject(
  {
    frontdoor: cores,
    /** Where the front door may run while no chain is heavy; default: `frontdoor` (core-layout.ts). */
    frontdoorQuiet: cores.optional(),
    sealer: cores.optional(),
    heavy: cores,
    medium: cores,
    light: cores,
    /** Worker threads per lane; default one per core. */
    threads: z.strictObject({ heavy: integer(1), medium: integer(1), light: integer(1) }).optional(),
  },
  { error: (issue) => (issue.code === 'invalid_type' ? CORES : undefined) },
);

const Scheduler = z.strictObject({
  /** How often load is measured. */
  tickMs: ms(10).default(100),
  /** Time constant of the moving averages. */
  tauMs: ms(1).default(500),
  demoteAfterMs: ms(0).default(5_000),
  /** Move cores between lanes by utilisation. */
  rebalance: z.boolean().default(true),
  rebalanceEveryTicks: integer(1, undefined, 'ticks').default(10),
  /** Seeds the store's lane table when the store has none; after that the store's is used. */
  laneTable: LaneTableSchema.prefault(DEFAULT_LANE_TABLE),
  /** How often the lane table is re-read from the store. */
  laneTablePollMs: ms(10).default(1_000),
  /**
   * The front door's thread under SCHED_RR at this priority (1–99): it runs
   * the moment it has work, ahead of every ordinary thread on its core, so a
   * busy machine cannot make it wait for a core. Needs CAP_SYS_NICE (root) or
   * RLIMIT_RTPRIO; refused at start without it. null: an ordinary thread.
   */
  frontDoorRealtimePriority: integer(1, 99, 'a real-time priority, or null for an ordinary thread').nullable().default(null),
});

/** Capacity-aware placement and fair admission inside a lane (issue 9; docs/configuration.md "Capacity, headroom, pins"). */
const fraction = (min: number, what: string) => atLeast(min, what).max(1, { error: `a number from ${min} to 1 (${what})` });
const DeclaredCapacity = z.strictObject({ entriesPerSec: atLeast(1, 'entries/s'), bytesPerSec: atLeast(1, 'bytes/s') });
const Balancer = z.strictObject({
  /** A lane carries at most this fraction of its capacity in placed demand. */
  headroom: fraction(0.05, "fraction of a lane's capacity").default(0.8),
  /** Start-up calibration per distinct lane core set (split between the two frame shapes). */
  calibrationMs: ms(10).max(1_000, { error: 'an integer from 10 to 1000 (milliseconds)' }).default(120),
  /** Per-chain token buckets inside a lane while the lane is contended. */
  fairShare: z.boolean().default(true),
  /** Share of each lane's capacity kept for chains it has not seen yet. */
  newChainReserve: fraction(0, "fraction of a lane's capacity").default(0.1),
  /** A chain's bucket holds this many ticks of its share (its burst). */
  burstTicks: integer(1, 100, 'ticks').default(5),
  /**
   * Capacity declared per lane instead of measured (e.g. to leave a VM's cores
   * room for other work); a declared lane is neither calibrated nor corrected.
   */
  declaredCapacity: z.strictObject({ heavy: DeclaredCapacity.optional(), medium: DeclaredCapacity.optional(), light: DeclaredCapacity.optional() }).default({}),
  /** Decisions kept in memory for GET /v1/lanes/events. */
  eventsKept: integer(1, 10_000, 'events').default(500),
  /** Of those, the last ones kept in the store across restarts. */
  eventsPersisted: integer(0, 1_000, 'events').default(100),
});

const Ledger = z.strictObject({
  blockIntervalMs: ms(10).default(500),
  maxBlockEntries: integer(1).default(65_536),
  /** Also append each directory hash as a JSON line to this file. */
  anchorFile: text('a file path (string), or null for none').nullable().default(null),
  /** Threads that read blocks and build proofs for HTTP, off the front door's thread. */
  readerThreads: integer(1, undefined, 'threads').default(1),
  /** How long `POST …/entries?wait=committed` waits for the commit. */
  commitWaitTimeoutMs: ms(1).default(30_000),
  /** After each durable seal, drop the store file's clean cached pages (the sealer's writes then reuse warm pages). */
  dropSealedPageCache: z.boolean().default(true),
  /** Failed seal attempts in a row after which /healthz answers 503. */
  unhealthyAfterSealFailures: integer(1, undefined, 'failed seals in a row').default(3),
});

/** Accounts and credits (DESIGN.md "Accounts, keys and credits"); the admin key itself is never a config value. */
const Auth = z.strictObject({
  /** A file holding the admin key (authenticated mode); it must be readable by its owner only. */
  adminKeyFile: text('a file path (string), or null for none').nullable().default(null),
  /** Open mode (no admin key) on an address other than loopback: refused unless this is true. */
  insecureOpen: z.boolean().default(false),
  /**
   * Authenticated mode: whether GET /v1/chains, /v1/chains/{name} and /v1/lanes
   * answer anyone. By default they answer only to a key, showing an account
   * the chains it owns (the admin all).
   */
  publicListings: z.boolean().default(false),
});

const RPC_URL = 'an http:// or https:// JSON-RPC URL (string), or null for no Ethereum anchoring';
const GWEI = 'a fee per gas in gwei (number), from 0.000000001 (1 wei) to 1000000';
/** Directory hashes written to an Ethereum chain, one transaction per window (DESIGN.md "Anchors"). */
const EthereumAnchors = z.strictObject({
  /** The node's JSON-RPC endpoint; null: no Ethereum anchoring. */
  rpcUrl: z.string({ error: RPC_URL }).refine(isHttpUrl, { error: RPC_URL }).nullable().default(null),
  /** A file holding the sending account's private key (hex), readable by its owner only. */
  keyFile: text('a file path (string), or null for none').nullable().default(null),
  /** A window closes after this many directory blocks… */
  everyDirectories: integer(1, undefined, 'directory blocks').default(100),
  /** …or once its oldest directory block is this old, whichever comes first. */
  everySeconds: integer(1, undefined, 'seconds').default(60),
  /** Blocks on top of (and including) the transaction's before a window counts as anchored. */
  confirmations: integer(1, undefined, 'blocks').default(12),
  /** The most directory blocks one window covers; also the backlog past which /healthz says "behind". */
  maxWindowDirectories: integer(1, undefined, 'directory blocks').default(4096),
  /** How often the node is asked about the window in flight, and the store about new directory blocks. */
  pollMs: ms(10).default(1_000),
  /** Back-off after a failed step (node down, transaction refused): doubling from min to max. */
  retryMinMs: ms(1).default(500),
  retryMaxMs: ms(1).default(60_000),
  rpcTimeoutMs: ms(1).default(10_000),
  /** The EIP-155 chain id the node must be on; null: whichever it is. */
  networkId: integer(1, undefined, 'a chain id, or null for any').nullable().default(null),
  /** A window's transaction not in a block this long after it reached the node is signed again, same nonce, higher fees. */
  bumpAfterSeconds: integer(1, undefined, 'seconds').default(180),
  /** Each re-signed transaction raises both the tip and the fee cap by at least this much (geth, Besu and Erigon want 10 %). */
  bumpPercent: integer(10, 1000, 'percent').default(15),
  /** The most the gateway offers per gas, tip included (gwei, fractions allowed): at this cap it waits for fees to fall rather than pay more. */
  maxFeePerGasGwei: z.number({ error: GWEI }).min(1e-9, { error: GWEI }).max(1_000_000, { error: GWEI }).default(200),
  /** Blocks after confirmation during which a window's block is still checked to be canonical; one left out is anchored again. */
  watchBlocks: integer(0, 1000, 'blocks').default(64),
});

const WITNESS = "an Ed25519 public key: 64 lowercase hex digits (the witness's GET /v1/directory/key answer, or chainlanes monitor --cosign-key prints it)";
/** Signed heads of the directory log (DESIGN.md "Signed heads and consistency", docs/protocol.md §13). */
const Heads = z.strictObject({
  /** Keep the directory log and sign its head after each seal; false: neither (its routes answer not_found). */
  enabled: z.boolean().default(true),
  /** A PEM Ed25519 private key readable by its owner only; null: the store makes one and keeps it. */
  keyFile: text('a file path (string), or null for the key the store keeps').nullable().default(null),
  /** While nothing is sealed, the present head is signed again this often, so its time stays fresh. */
  refreshSeconds: integer(1, 86_400, 'seconds').default(60),
  /** Witnesses whose co-signatures the gateway keeps and serves (POST /v1/directory/cosignatures). */
  witnesses: z
    .array(z.string({ error: WITNESS }).regex(/^[0-9a-f]{64}$/, { error: WITNESS }))
    .max(32, { error: 'at most 32 witnesses' })
    .default([]),
});

const Anchors = z.strictObject({
  ethereum: EthereumAnchors.prefault({}),
});

function isHttpUrl(text: string): boolean {
  try {
    const url = new URL(text);
    return url.protocol === 'http:' || url.protocol === 'https:';
  } catch {
    return false;
  }
}

/**
 * TLS (docs/protocol.md "TLS"): with both files the gateway serves only https:// and wss://, never plain HTTP.
 * That both are given is checked with the files at start (config/tls.ts): each source is checked alone here.
 */
const Tls = z.strictObject({
  /** PEM certificate chain, leaf first. */
  certFile: text('a file path (string), or null for none').nullable().default(null),
  /** PEM private key of the certificate, unencrypted (read once at start). */
  keyFile: text('a file path (string), or null for none').nullable().default(null),
});

export const ConfigSchema = z
  .strictObject({
    host: text('a host name or address (string)').default('127.0.0.1'),
    /** 0: any free port. */
    port: integer(0, 65535).default(9001),
    /** Host names the gateway answers to besides its own; others are refused `forbidden` (DNS rebinding). */
    allowedHosts: z.array(allowedHost).default([]),
    /** Browser origins that may write; none by default. */
    allowedOrigins: z.array(allowedOrigin).default([]),
    dataDir: text('a directory path (string)').default('./data'),
    logLevel: z.enum(LOG_LEVELS).default('info'),
    /** auto: pretty on a terminal, JSON lines otherwise. */
    logFormat: z.enum(LOG_FORMATS).default('auto'),
    limits: Limits.prefault({}),
    ringBytes: RingBytes.prefault({}),
    /** null: derived from the machine's core count. */
    cores: Cores.nullable().default(null),
    scheduler: Scheduler.prefault({}),
    balancer: Balancer.prefault({}),
    ledger: Ledger.prefault({}),
    auth: Auth.prefault({}),
    anchors: Anchors.prefault({}),
    heads: Heads.prefault({}),
    tls: Tls.prefault({}),
    /** A fleet of gateways behind HAProxy, etcd deciding who owns each chain (docs/fleet.md); null: a gateway on its own. */
    fleet: GatewayFleetSchema.nullable().default(null),
  })
  .superRefine((config, ctx) => {
    const ethereum = config.anchors.ethereum;
    // rpcUrl and keyFile go together, checked at start (the sources are checked one at a time here, and may set one each).
    if (ethereum.retryMaxMs < ethereum.retryMinMs) {
      ctx.addIssue({
        code: 'custom',
        path: ['anchors', 'ethereum', 'retryMaxMs'],
        input: ethereum.retryMaxMs,
        message: `at least anchors.ethereum.retryMinMs (${ethereum.retryMinMs})`,
      });
    }
    // A frame that can never fit in its ring would get `busy` forever: refuse the config instead.
    const largestRecord = recordBytesFor(config.limits.maxFrameBytes, config.limits.maxEntriesPerFrame);
    for (const lane of LANE_NAMES) {
      if (config.ringBytes[lane] >= largestRecord) continue;
      ctx.addIssue({
        code: 'custom',
        path: ['ringBytes', lane],
        input: config.ringBytes[lane],
        message: `a power of two ≥ ${largestRecord} bytes, to hold the largest frame record limits.maxFrameBytes and limits.maxEntriesPerFrame allow (or lower those limits)`,
      });
    }
    // With standby replicas, one frame must fit a seal message on its own (protocol/seal-bound.ts): admission cuts before any other would overflow it.
    const largestFrameSeal = sealBytesOfFrame(config.limits.maxFrameBytes, config.limits.maxEntriesPerFrame) + SEAL_MESSAGE_FIXED_BYTES;
    const fleet = config.fleet;
    if (fleet != null && fleet.replicas === 1 && fleet.maxUnreplicatedBytes < largestFrameSeal) {
      ctx.addIssue({
        code: 'custom',
        path: ['fleet', 'maxUnreplicatedBytes'],
        input: fleet.maxUnreplicatedBytes,
        message: `at least ${largestFrameSeal} bytes with fleet.replicas: 1, so the seal of the largest frame limits.maxFrameBytes and limits.maxEntriesPerFrame allow fits the replica stream (or lower those limits)`,
      });
    }
    const { limits } = config;
    const held = memoryHeld(config);
    if (held > limits.memoryBudgetBytes) {
      ctx.addIssue({
        code: 'custom',
        path: ['limits', 'memoryBudgetBytes'],
        input: limits.memoryBudgetBytes,
        message:
          `at least ${held} bytes: the sum of 1.25 × limits.maxUnsealedBytes, limits.maxOutboundTotalBytes, limits.maxInboundTotalBytes, ` +
          `the lane rings and the process's own baseline of ${PROCESS_BASELINE_BYTES / MiB} MiB (code, thread heaps, memory kept for reuse) (or lower those)`,
      });
    }
  }, WHEN_VALID);

/**
 * The most the gateway holds: the process's own baseline, and what it holds
 * for clients, where the unsealed bound has a last quarter kept for small chains.
 */
export function memoryHeld(config: {
  limits: { maxUnsealedBytes: number; maxOutboundTotalBytes: number; maxInboundTotalBytes: number };
  ringBytes: Record<string, number>;
}): number {
  const { limits } = config;
  const rings = Object.values(config.ringBytes).reduce((sum, n) => sum + n, 0);
  return PROCESS_BASELINE_BYTES + Math.ceil(limits.maxUnsealedBytes * 1.25) + limits.maxOutboundTotalBytes + limits.maxInboundTotalBytes + rings;
}

export type GatewayConfig = z.output<typeof ConfigSchema>;
/** What a config file may hold: any subset of the keys. */
export type GatewayConfigInput = z.input<typeof ConfigSchema>;

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}

/** Every default, from the schema. Frozen: take `defaultConfig()` for a copy to change. */
export const DEFAULT_CONFIG: Readonly<GatewayConfig> = deepFreeze(ConfigSchema.parse({}));

export function defaultConfig(): GatewayConfig {
  return structuredClone(DEFAULT_CONFIG);
}
