// The front door's ingest parts, in this process and real: a lane pool per
// lane (piscina workers hashing in shared memory), the sealer thread sealing
// into a store in a temp dir, the chain registry, and Admission between them;
// optionally the credits of an authenticated gateway. What `src/wiring/` does
// for a gateway, cut down to what the hot path's unit tests need (no scheduler,
// no HTTP API), so a test can drive Admission or the stream route directly and
// look at every part afterwards. Released after the test.
import { expect } from 'vitest';
import { unpack } from 'msgpackr';
import { ADMIN, Credits, isRefusal, newKey, type Principal } from '../../src/credits/index.js';
import { ClientBuffers, ConnectionGuard, loopTurnsOf, TurnMeter, type EventLoopTurns, type GuardSettings } from '../../src/defence/index.js';
import {
  Admission,
  ChainRegistry,
  Rejection,
  Repeat,
  SealProgress,
  StoredRepeat,
  StreamConnection,
  addStreamRoute,
  answerHashed,
  onSealerEvent,
  type CommitHold,
  type AdmissionParts,
  type FairShareGate,
  type FrameOwner,
  type PendingFrame,
} from '../../src/frontdoor/index.js';
import { LanePool } from '../../src/lanes/index.js';
import { Ledger } from '../../src/ledger/index.js';
import { silentLogger } from '../../src/log/index.js';
import { LatencyHistogram } from '../../src/metrics/index.js';
import { ChainTable, LANE_NAMES, LaneCores, LoadCounters, type RingView } from '../../src/ring/index.js';
import { Sealer, SealerDoorbell, type SealedBlock } from '../../src/sealer/index.js';
import { loadUws } from '../../src/uws/index.js';
import { registerCleanup } from './cleanup.js';
import { sha256Hex } from './hash.js';
import { tempDir } from './temp.js';
import { listenApp } from './uws-app.js';

type Limits = AdmissionParts['limits'];

/** The gateway's default frame limits, with small blocks and a small unsealed bound unless a test says otherwise. */
const LIMITS: Limits = {
  maxFrameBytes: 64 * 1024,
  maxEntryBytes: 16 * 1024,
  maxEntriesPerFrame: 1024,
  maxUnsealedBytes: 64 * 1024 * 1024,
  maxBlockEntries: 10_000,
  frameIdWindow: 4_096,
  maxFrameIdBytes: 16 * 1024 * 1024,
};

export interface FrontDoorOptions {
  limits?: Partial<Limits>;
  /** Each lane's ring (a power of two). */
  ringBytes?: number;
  /** Worker threads per lane. */
  threads?: number;
  /** Authenticated mode: the credits of a store with an admin key. */
  credits?: boolean;
  fairShare?: FairShareGate | null;
  maxChains?: number;
  /** Where `sealed` events go before their notices (src/replicas/gate.ts); default: on at once. */
  hold?: CommitHold;
}

export interface FrontDoor {
  dataDir: string;
  limits: Limits;
  admission: Admission;
  chains: ChainRegistry;
  chainTable: ChainTable;
  counters: LoadCounters;
  pools: LanePool<PendingFrame>[];
  sealer: Sealer;
  seals: SealProgress;
  /** The store as the front door reads it (read-only; the sealer thread writes it). */
  ledger: Ledger;
  /** Accounts, chains and credits; null in open mode. */
  credits: Credits | null;
  /** Every block the sealer made durable, in order. */
  sealed: SealedBlock[];
  /** Cuts the open blocks (hop 4) and waits until every entry accepted so far is durable. */
  sealAll(timeoutMs?: number): Promise<void>;
}

/** Starts the parts; they are stopped after the test (or the file, when started outside a test). */
/** The frame admission took; anything else it answered (a refusal, a repeat) fails the test, named. */
export function admitted(result: ReturnType<Admission['admit']>): PendingFrame {
  if (result instanceof Rejection) throw new Error(`refused ${result.code}: ${result.message}`);
  if (result instanceof Repeat) throw new Error(`answered as a repeat of seq ${result.seq}`);
  if (result instanceof StoredRepeat) throw new Error('answered as a repeat from the store');
  return result;
}

export async function startFrontDoor(options: FrontDoorOptions = {}): Promise<FrontDoor> {
  const dataDir = tempDir('chainlanes-frontdoor-');
  const limits = { ...LIMITS, ...options.limits };
  const maxChains = options.maxChains ?? 64;
  const ledger = await Ledger.open(dataDir, { readOnly: true });
  registerCleanup("the front door's ledger", () => ledger.close());
  const credits = options.credits === true ? await openCredits(ledger) : null;
  const chainTable = ChainTable.allocate(maxChains);
  const counters = LoadCounters.allocate(maxChains, 64);
  const laneCores = LaneCores.allocate(LANE_NAMES.length);
  const chains = new ChainRegistry(chainTable);
  const seals = new SealProgress(-1, 3);
  const doorbell = new SealerDoorbell();
  const pools = LANE_NAMES.map(
    (_, lane) =>
      new LanePool<PendingFrame>({
        lane,
        ringBytes: options.ringBytes ?? 1 << 20,
        threads: options.threads ?? 1,
        counters,
        laneCores,
        nice: 0,
        onFramesHashed: answerHashed(new LatencyHistogram()),
        onHashedAdvanced: () => doorbell.ring(),
        onWorkerError: () => undefined,
      }),
  );
  registerCleanup('the lane pools', () => Promise.all(pools.map((pool) => pool.close())));
  const sealed: SealedBlock[] = [];
  const commit = onSealerEvent({ chains, seals, probe: null, log: silentLogger() }, options.hold);
  const sealer = await Sealer.start({
    rings: pools.map((pool) => pool.view.sab),
    doorbell,
    dataDir,
    anchorFile: null,
    cores: [],
    nice: 0,
    maxChains,
    maxIdleBacklogBytes: 0,
    dropSealedPageCache: false,
    heads: null,
    onEvent: (event) => {
      if (event.type === 'sealed') sealed.push(...event.blocks);
      commit(event);
    },
  });
  chains.onCreate = (chain) => sealer.chain(chain.slot, chain.nextSeq);
  const admission = new Admission({
    limits,
    chains,
    pools,
    sealer,
    laneOf: (slot) => chainTable.lane(slot),
    credits: credits?.book ?? null,
    seals,
    fairShare: options.fairShare ?? null,
    commitProbe: null,
    ownership: null,
  });
  // Stopped as the gateway stops: refuse, let the lanes finish, cut the last blocks, seal them, then the threads.
  registerCleanup('the sealer', async () => {
    admission.close();
    await Promise.all(pools.map((pool) => pool.drain()));
    if (sealer.alive) admission.cutBlocks();
    await sealer.stop();
  });
  const sealAll = async (timeoutMs = 20_000): Promise<void> => {
    await Promise.all(pools.map((pool) => pool.drain()));
    admission.cutBlocks();
    await expect.poll(() => chains.all().every((chain) => chain.committedSeq === chain.nextSeq), { timeout: timeoutMs, interval: 10 }).toBe(true);
  };
  return { dataDir, limits, admission, chains, chainTable, counters, pools, sealer, seals, ledger, credits, sealed, sealAll };
}

async function openCredits(ledger: Ledger): Promise<Credits> {
  // A new store: no chain has entries yet, and the next seal is directory 0.
  return Credits.open(ledger.environment, { adminKey: newKey(), nextSeqOf: () => 0, nextDirectoryHeight: () => 0 });
}

/** An account of `credits` that owns `chain`, priced by `policy`, holding `balance` of its credits. */
export async function payingOwner(
  credits: Credits,
  chain: string,
  policy: { writePerEntry: number; writePerKiB: number },
  balance: number,
): Promise<Principal> {
  const made = await credits.createAccount(ADMIN, { name: `owner of ${chain}` });
  if (isRefusal(made)) throw new Error(`account: ${made.message}`);
  const owner = credits.authenticate(made.key);
  if (isRefusal(owner)) throw new Error(`key: ${owner.message}`);
  const request = credits.chainRequest(ADMIN, { name: chain, owner: made.id });
  if (isRefusal(request)) throw new Error(`chain: ${request.message}`);
  for (const step of [
    await credits.createChain(request, 0),
    await credits.setPolicy(owner, chain, { ...policy, readPerEntry: 0, writers: 'owner', readers: 'owner', transferable: false }, () => 0),
    await credits.mint(owner, chain, { to: made.id, amount: balance }),
  ]) {
    if (isRefusal(step)) throw new Error(`${chain}: ${step.message}`);
  }
  return owner;
}

/** An accepted frame as its owner was told: the seqs and the entry hashes the lane wrote into the ring. */
export interface Accepted {
  frame: number;
  seq: number;
  count: number;
  hashes: string[];
}

/**
 * A frame owner as a connection is one, without a socket: it records each
 * frame's hashes when told they are ready, each batch it was asked to send, and
 * each `committed` notice (decoded).
 */
export class RecordingOwner implements FrameOwner {
  readonly accepted: Accepted[] = [];
  readonly notices: { height: number; seq: number; count: number }[] = [];
  /** How many frames each `sendHashed` call had made due. */
  readonly batches: number[] = [];
  open = true;
  private due = 0;

  hashed(frame: PendingFrame, ring: RingView): void {
    const start = ring.hashesStart(frame.at);
    const bytes = ring.u8.subarray(start, start + 32 * frame.count);
    const hashes = Array.from({ length: frame.count }, (_, i) => Buffer.from(bytes.subarray(32 * i, 32 * i + 32)).toString('hex'));
    this.accepted.push({ frame: frame.frame, seq: frame.seq, count: frame.count, hashes });
    this.due++;
  }

  sendHashed(): void {
    this.batches.push(this.due);
    this.due = 0;
  }

  committed(notice: Buffer): void {
    this.notices.push(unpack(notice) as { height: number; seq: number; count: number });
  }
}

/** Hex SHA-256 of each entry, as the gateway must report them. */
export function hashesOf(entries: readonly string[]): string[] {
  return entries.map((entry) => sha256Hex(entry));
}

export interface StreamDoorOptions {
  maxFramesInFlight?: number;
  /** What the streams may buffer in all; each holds a whole frame's worth (maxFrameBytes) while open. */
  maxInboundTotalBytes?: number;
  maxOutboundBytes?: number;
  guard?: Partial<GuardSettings>;
}

export interface StreamDoor {
  port: number;
  connections: Set<StreamConnection>;
  guard: ConnectionGuard;
}

/** The front door's turn counting, as the gateway gives it to the guard and the stream route (the meter released after the test). */
export function frontDoorTurns(): { turnMeter: TurnMeter; loopTurns: EventLoopTurns } {
  const turnMeter = new TurnMeter(silentLogger());
  registerCleanup('the turn meter', () => turnMeter.stop());
  return { turnMeter, loopTurns: loopTurnsOf(turnMeter) };
}

/** `door`'s streams on a real uWS app in this process, on an ephemeral port, behind a connection guard. */
export async function serveStreams(door: FrontDoor, options: StreamDoorOptions = {}): Promise<StreamDoor> {
  const log = silentLogger();
  const app = loadUws().App();
  const connections = new Set<StreamConnection>();
  const { turnMeter, loopTurns } = frontDoorTurns();
  const guard = new ConnectionGuard(
    {
      maxConnections: 1000,
      maxConnectionsPerAddress: 1000,
      listenHost: '127.0.0.1',
      allowedHosts: [],
      allowedOrigins: [],
      uncappedPaths: [],
      unchargedPaths: [],
      ...options.guard,
    },
    log,
    null,
    turnMeter,
    loopTurns,
  );
  const { maxFrameBytes } = door.limits;
  const buffers = new ClientBuffers({
    maxFrameBytes,
    maxInboundTotalBytes: options.maxInboundTotalBytes ?? 1024 * maxFrameBytes,
    maxOutboundTotalBytes: 64 * 1024 * 1024,
  });
  addStreamRoute(app, {
    log,
    chains: door.chains,
    admission: door.admission,
    maxPayloadBytes: maxFrameBytes,
    maxOutboundBytes: options.maxOutboundBytes ?? 16 * 1024 * 1024,
    maxFramesInFlight: options.maxFramesInFlight ?? 1000,
    buffers,
    connections,
    guard,
    credits: door.credits?.book ?? null,
    turns: null,
    turnMeter,
    loopTurns,
  });
  const port = await listenApp(app);
  guard.listening(port);
  registerCleanup("the guard's sweep", () => guard.stop());
  return { port, connections, guard };
}
