// The composition root: builds the shared tables, the lanes, the scheduler
// and the sealer, opens the store, and serves the front door.
import { mkdirSync } from 'node:fs';
import { monitorEventLoopDelay, performance, type IntervalHistogram } from 'node:perf_hooks';
import { LANE_COUNT, LANE_NAMES, ChainTable, LaneCores, LoadCounters } from './ring/index.js';
import { LanePool } from './lanes/index.js';
import { Scheduler, describeLayout, validateLaneTable, type CoreLayout, type LaneTable, type SchedulerEvent } from './scheduler/index.js';
import { Ledger, LANE_TABLE_KEY, LedgerReaders, StoredSettings, chainIdOf } from './ledger/index.js';
import { Sealer, type SealerEvent } from './sealer/index.js';
import { hashing, nativeLoaded, nativeLoadError } from './native/index.js';
import {
  Admission, ChainRegistry, LatencyHistogram, addHttpRoutes, addStreamRoute, encodeCommitted, loadUws, renderMetrics,
  type ChainState, type MetricSample, type PendingFrame, type StreamConnection,
} from './frontdoor/index.js';
import { validateConfig, type GatewayConfig } from './config.js';
import type { us_listen_socket } from 'uWebSockets.js';

/** Worker slots in the load counters: lane workers plus restarts before slots are reused. */
const WORKER_SLOTS = 256;

export interface GatewayLog {
  info(message: string): void;
  warn(message: string): void;
}

const consoleLog: GatewayLog = {
  info: (m) => console.log(m),
  warn: (m) => console.error(m),
};

interface SealStats {
  directoryHeight: number;
  blocksCommitted: number;
  entriesCommitted: number;
  sealFailures: number;
  lastSealError: string | null;
}

export class Gateway {
  port = 0;
  readonly config: GatewayConfig;
  readonly layout: CoreLayout;
  private readonly log: GatewayLog;
  private readonly chainTable: ChainTable;
  private readonly counters: LoadCounters;
  private readonly laneCores: LaneCores;
  private readonly chains: ChainRegistry;
  private readonly pools: LanePool<PendingFrame>[];
  private readonly connections = new Set<StreamConnection>();
  /** Admission to hashes ready, per lane: the gateway's own share of `accepted` latency. */
  private readonly hashLatency = LANE_NAMES.map(() => new LatencyHistogram());
  /** How late the front door's event loop runs; a frame waits that long before admission. */
  private readonly loopDelay: IntervalHistogram = monitorEventLoopDelay({ resolution: 1 });
  private readonly startedAt = Date.now();
  private readonly seals: SealStats = { directoryHeight: -1, blocksCommitted: 0, entriesCommitted: 0, sealFailures: 0, lastSealError: null };
  private ledger!: Ledger;
  private readers!: LedgerReaders;
  /** The lane table the scheduler applies: the store's, seeded from config on a new store. */
  private laneTable!: LaneTable;
  private sealer!: Sealer;
  private scheduler!: Scheduler;
  private admission!: Admission;
  private listenSocket: us_listen_socket | null = null;
  private sealTimer: NodeJS.Timeout | null = null;
  private stopping: Promise<void> | null = null;

  private constructor(config: GatewayConfig, log: GatewayLog) {
    this.config = config;
    this.log = log;
    this.layout = validateConfig(config);
    this.chainTable = ChainTable.allocate(config.limits.maxChains);
    this.counters = LoadCounters.allocate(config.limits.maxChains, WORKER_SLOTS);
    this.laneCores = LaneCores.allocate(LANE_COUNT);
    this.layout.lanes.forEach((cores, lane) => this.laneCores.set(lane, cores));
    this.chains = new ChainRegistry(this.chainTable);
    this.pools = LANE_NAMES.map((_, lane) => this.createPool(lane));
  }

  static async start(config: GatewayConfig, log: GatewayLog = consoleLog): Promise<Gateway> {
    const uws = loadUws();
    const gateway = new Gateway(config, log);
    await gateway.openLedger();
    await gateway.startThreads();
    const app = uws.App();
    gateway.addRoutes(app);
    await gateway.listen(app, uws.us_socket_local_port);
    // Pinned last: threads inherit their creator's affinity, and the lane
    // workers and the sealer were started before and pin themselves.
    hashing.pinThread(gateway.layout.frontdoor);
    log.info(`chainlanes: ${describeLayout(gateway.layout)}; native hashing ${nativeLoaded ? 'on' : `OFF (${nativeLoadError})`}`);
    log.info(`chainlanes listening on http://${config.host}:${gateway.port}`);
    return gateway;
  }

  private createPool(lane: number): LanePool<PendingFrame> {
    return new LanePool<PendingFrame>({
      lane,
      ringBytes: this.config.ringBytes[LANE_NAMES[lane]!],
      threads: this.layout.threads[lane]!,
      counters: this.counters,
      laneCores: this.laneCores,
      limits: this.config.limits,
      nice: this.layout.nice[lane]!,
      crashAfterTasks: this.config.faults.crashWorkerAfterTasks,
      onFramesHashed: (frames, view) => {
        const now = performance.now();
        const latency = this.hashLatency[lane]!;
        for (const frame of frames) {
          latency.observe((now - frame.admittedAt) / 1000);
          frame.owner.hashed(frame, view);
        }
      },
      // The sealer polls every few tens of ms and drains on every cut anyway; the
      // doorbell only hurries it when a ring is filling, so a quiet gateway does
      // not wake the sealer thread for every frame.
      onHashedAdvanced: (view) => {
        if (view.used() * 8 > view.size) this.sealer.ring();
      },
      onWorkerError: (error, attempt) => this.log.warn(`chainlanes: ${LANE_NAMES[lane]} lane worker failed (attempt ${attempt}): ${error.message}`),
    });
  }

  private async openLedger(): Promise<void> {
    mkdirSync(this.config.dataDir, { recursive: true });
    this.ledger = await Ledger.open(this.config.dataDir, { readOnly: true });
    const heads = this.ledger.heads();
    for (const head of heads.chains) {
      const chain = this.chains.getOrCreate(head.chainName, head.nextSeq, head.nextHeight);
      if (chain === undefined) throw new Error(`the store holds more chains than limits.maxChains (${this.config.limits.maxChains})`);
    }
    this.seals.directoryHeight = heads.directory.nextHeight - 1;
    await this.loadLaneTable();
    this.readers = new LedgerReaders(this.config.dataDir, this.config.ledger.readerThreads);
  }

  /** The lane table lives in the store; a new store takes the configured one. */
  private async loadLaneTable(): Promise<void> {
    const settings = StoredSettings.open(this.config.dataDir);
    const stored = settings.get(LANE_TABLE_KEY);
    if (stored === null) {
      this.laneTable = this.config.scheduler.laneTable;
      await settings.put(LANE_TABLE_KEY, this.laneTable);
      return;
    }
    try {
      this.laneTable = validateLaneTable(stored);
    } catch (error) {
      throw new Error(`the lane table in the store is invalid (${error instanceof Error ? error.message : String(error)}); fix it with \`chainlanes lanes --set FILE\``);
    }
  }

  private async startThreads(): Promise<void> {
    this.sealer = await Sealer.start({
      rings: this.pools.map((pool) => pool.view.sab),
      dataDir: this.config.dataDir,
      anchorFile: this.config.ledger.anchorFile,
      cores: this.layout.sealer,
      nice: this.layout.sealerNice,
      maxChains: this.config.limits.maxChains,
      sealFaults: { after: this.config.faults.failSealsAfter, attempts: this.config.faults.failSealAttempts },
      onEvent: (event) => this.onSealerEvent(event),
    });
    // Chains restored from the store were created before the sealer existed.
    for (const chain of this.chains.all()) this.sealer.chain(chain.slot, chain.nextSeq);
    this.chains.onCreate = (chain) => this.sealer.chain(chain.slot, chain.nextSeq);
    this.admission = new Admission(this.config, this.pools, this.sealer, (slot) => this.chainTable.lane(slot));
    this.scheduler = new Scheduler({ ...this.config.scheduler, laneTable: this.laneTable, layout: this.layout }, this.config.dataDir, this.chainTable, this.counters, this.laneCores,
      (event) => this.onSchedulerEvent(event));
    this.sealTimer = setInterval(() => this.admission.sealInterval(this.chains.all()), this.config.ledger.blockIntervalMs);
    this.loopDelay.enable();
  }

  private addRoutes(app: ReturnType<ReturnType<typeof loadUws>['App']>): void {
    addStreamRoute(app, {
      chains: this.chains,
      admission: this.admission,
      maxPayloadBytes: this.config.limits.maxFrameBytes,
      maxOutboundBytes: this.config.limits.maxOutboundBytes,
      connections: this.connections,
    });
    addHttpRoutes(app, {
      chains: this.chains,
      admission: this.admission,
      ledger: this.readers,
      maxBodyBytes: this.config.limits.maxFrameBytes,
      chainInfo: (chain) => this.chainInfo(chain),
      lanes: () => this.lanesInfo(),
      health: () => this.health(),
      metrics: () => this.metrics(),
    });
  }

  private listen(app: ReturnType<ReturnType<typeof loadUws>['App']>, localPort: (socket: us_listen_socket) => number): Promise<void> {
    return new Promise((resolve, reject) => {
      app.listen(this.config.host, this.config.port, (socket) => {
        if (socket === false) {
          reject(new Error(`cannot listen on ${this.config.host}:${this.config.port} (in use, or not an address of this machine)`));
          return;
        }
        this.listenSocket = socket;
        this.port = localPort(socket);
        resolve();
      });
    });
  }

  private onSealerEvent(event: SealerEvent): void {
    if (event.type === 'sealed') {
      this.seals.directoryHeight = event.directory.height;
      for (const block of event.blocks) {
        const chain = this.chains.at(block.slot);
        if (chain === undefined) continue;
        const writers = chain.committed(block.firstSeq, block.count, block.height);
        this.seals.blocksCommitted++;
        this.seals.entriesCommitted += block.count;
        const notice = encodeCommitted({
          height: block.height, seq: block.firstSeq, count: block.count,
          root: block.root, block: block.hash, directory: event.directory.height,
        });
        for (const writer of writers) if (writer.open) writer.committed(notice);
      }
    } else if (event.type === 'seal-failed') {
      this.seals.sealFailures++;
      this.seals.lastSealError = event.message;
      this.log.warn(`chainlanes: seal failed (attempt ${event.attempt}), retrying in ${event.retryInMs} ms: ${event.message}`);
    }
  }

  private onSchedulerEvent(event: SchedulerEvent): void {
    if (event.type === 'lane-change') {
      const chain = this.chains.at(event.slot);
      this.log.info(`chainlanes: chain "${chain?.name}" ${LANE_NAMES[event.from]} → ${LANE_NAMES[event.to]} at ${Math.round(event.entriesPerSec)} entries/s`);
    } else if (event.type === 'lane-table') {
      this.laneTable = event.table;
      this.log.info(`chainlanes: lane table changed in the store, now ${JSON.stringify(event.table)}`);
    } else if (event.type === 'lane-table-rejected') {
      this.log.warn(`chainlanes: ignoring the lane table in the store: ${event.message}`);
    } else if (event.type === 'cores') {
      this.log.info(`chainlanes: cores moved by utilisation ${event.utilisation.map((u) => u.toFixed(2)).join('/')}: ${event.lanes.map((c, i) => `${LANE_NAMES[i]} [${c.join(',')}]`).join(', ')}`);
    }
  }

  chainInfo(chain: ChainState): Record<string, unknown> {
    const slot = chain.slot;
    return {
      name: chain.name,
      chainId: chainIdOf(chain.name).toString('hex'),
      lane: LANE_NAMES[this.chainTable.lane(slot)],
      entriesPerSec: round(this.chainTable.entriesPerSec(slot)),
      bytesPerSec: round(this.chainTable.bytesPerSec(slot)),
      share: round(this.chainTable.share(slot), 4),
      nextSeq: chain.nextSeq,
      committedSeq: chain.committedSeq,
      height: chain.nextHeight - 1,
    };
  }

  lanesInfo(): Record<string, unknown> {
    const laneOfChain = this.chains.all().map((c) => this.chainTable.lane(c.slot));
    return {
      cpuCount: this.layout.cpuCount,
      frontdoor: { cores: this.layout.frontdoor },
      sealer: { cores: this.layout.sealer },
      laneTable: this.laneTable,
      lanes: this.pools.map((pool, lane) => ({
        name: pool.name,
        cores: this.laneCores.cores(lane),
        workers: pool.threads,
        ...pool.stats(),
        chains: this.chains.all().filter((_, i) => laneOfChain[i] === lane).map((c) => c.name),
      })),
    };
  }

  health(): Record<string, unknown> {
    return {
      status: this.sealer.alive ? 'ok' : 'degraded',
      native: nativeLoaded,
      nativeError: nativeLoadError,
      uws: 'native',
      sealer: this.sealer.alive,
      chains: this.chains.size,
      connections: this.connections.size,
      directoryHeight: this.seals.directoryHeight,
      sealFailures: this.seals.sealFailures,
      lastSealError: this.seals.lastSealError,
      uptimeSec: Math.round((Date.now() - this.startedAt) / 1000),
    };
  }

  metrics(): string {
    const s = this.admission.stats;
    const samples: MetricSample[] = [
      { name: 'chainlanes_frames_accepted_total', help: 'Frames accepted.', type: 'counter', values: [{ value: s.framesAccepted }] },
      { name: 'chainlanes_entries_accepted_total', help: 'Entries accepted.', type: 'counter', values: [{ value: s.entriesAccepted }] },
      { name: 'chainlanes_bytes_accepted_total', help: 'Frame bytes accepted.', type: 'counter', values: [{ value: s.bytesAccepted }] },
      { name: 'chainlanes_frames_rejected_total', help: 'Frames rejected, by error code.', type: 'counter',
        values: Object.entries(s.rejected).map(([code, value]) => ({ labels: { code }, value })) },
      { name: 'chainlanes_entries_committed_total', help: 'Entries made durable.', type: 'counter', values: [{ value: this.seals.entriesCommitted }] },
      { name: 'chainlanes_blocks_committed_total', help: 'Entry blocks made durable.', type: 'counter', values: [{ value: this.seals.blocksCommitted }] },
      { name: 'chainlanes_seal_failures_total', help: 'Failed seal transactions (retried).', type: 'counter', values: [{ value: this.seals.sealFailures }] },
      { name: 'chainlanes_directory_height', help: 'Height of the last durable directory block.', type: 'gauge', values: [{ value: this.seals.directoryHeight }] },
      { name: 'chainlanes_unsealed_bytes', help: 'Bytes of accepted entries not yet durable.', type: 'gauge', values: [{ value: this.sealer.pendingBytes() }] },
      { name: 'chainlanes_chains', help: 'Chains known.', type: 'gauge', values: [{ value: this.chains.size }] },
      { name: 'chainlanes_connections', help: 'Open WebSocket connections.', type: 'gauge', values: [{ value: this.connections.size }] },
      { name: 'chainlanes_lane_ring_used_bytes', help: 'Bytes in use in each lane ring.', type: 'gauge',
        values: this.pools.map((p) => ({ labels: { lane: p.name }, value: p.view.used() })) },
      { name: 'chainlanes_lane_backlog_frames', help: 'Frames admitted to a lane and not yet hashed.', type: 'gauge',
        values: this.pools.map((p) => ({ labels: { lane: p.name }, value: p.backlog })) },
      { name: 'chainlanes_hash_latency_seconds', help: 'From admission of a frame to its hashes being ready, by lane.', type: 'histogram',
        values: this.hashLatency.flatMap((h, lane) => h.samples({ lane: LANE_NAMES[lane]! })) },
      { name: 'chainlanes_event_loop_delay_seconds', help: 'How late the front door thread ran its event loop since start (a frame waits that long to be read).', type: 'gauge',
        values: [0.5, 0.99, 1].map((q) => ({ labels: { quantile: String(q) }, value: (q === 1 ? this.loopDelay.max : this.loopDelay.percentile(q * 100)) / 1e9 })) },
      { name: 'chainlanes_lane_worker_retries_total', help: 'Lane tasks run again after a worker failed.', type: 'counter',
        values: this.pools.map((p) => ({ labels: { lane: p.name }, value: p.stats().retries })) },
    ];
    return renderMetrics(samples);
  }

  /**
   * Stops accepting, answers every frame in flight, seals everything accepted,
   * sends the last `committed` notices, and releases every thread.
   */
  stop(): Promise<void> {
    this.stopping ??= this.shutdown();
    return this.stopping;
  }

  private async shutdown(): Promise<void> {
    this.admission.closing = true;
    if (this.listenSocket !== null) loadUws().us_listen_socket_close(this.listenSocket);
    this.listenSocket = null;
    await Promise.all(this.pools.map((pool) => pool.drain()));
    if (this.sealTimer !== null) clearInterval(this.sealTimer);
    this.admission.sealInterval(this.chains.all());
    await this.sealer.stop();
    for (const connection of this.connections) connection.end(1001, 'the gateway is shutting down');
    await Promise.all(this.pools.map((pool) => pool.close()));
    await this.scheduler.stop();
    this.loopDelay.disable();
    await this.readers.close();
    await this.ledger.close();
  }
}

function round(value: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}
