// The composition root: builds the shared tables, the lanes, the scheduler
// and the sealer, opens the store, and serves the front door.
import { mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { performance } from 'node:perf_hooks';
import { LANE_COUNT, LANE_NAMES, ChainTable, LaneCores, LoadCounters } from './ring/index.js';
import { LanePool } from './lanes/index.js';
import {
  Scheduler, describeLayout, validateLaneTable,
  type CoreLayout, type LaneTable, type SchedulerEvent,
} from './scheduler/index.js';

import { Ledger, LANE_TABLE_KEY, LedgerReaders, StoreLock, StoredSettings, probeStore } from './ledger/index.js';
import { Sealer, type SealerEvent } from './sealer/index.js';
import { THREAD_NAMES, system, nativeLoaded, nativeLoadError } from './native/index.js';
import {
  Admission, BalancerLog, ChainRegistry, ClientBuffers, ConnectionGuard, DescriptorWatch, FairShare, SealProgress, addCreditRoutes, addHttpRoutes, addLaneRoutes, addOpenModeCreditRoutes,
  FrontDoorCores, FrontDoorShare, READYZ_PATH, addAnchorRoutes, addReadinessRoute, addStreamRoute, chainView, connectionBounds, descriptorLimit, encodeCommitted, healthView, lanesView, openDescriptors, revokeStreams,
  type ConnectionBounds, type FrameOwner, type PendingFrame, type StreamConnection, DashboardFeed, StaticFiles,
} from './frontdoor/index.js';
import { Credits } from './credits/index.js';
import { AnchorService, AnchoredReads, readAnchorKey } from './anchors/index.js';
import { GatewayMetrics, LATENCY_BOUNDS, type MetricSources } from './metrics/index.js';
import { errorMessage, silentLogger, type Logger } from './log/index.js';
import { ConfigError, NO_FAULTS, checkTlsFiles, validateConfig, type FaultInjection, type GatewayConfig } from './config/index.js';
import { listenExclusive, loadUws, runningUws, type TemplatedApp as UwsApp, type us_listen_socket } from './uws/index.js';

/**
 * How often the total of unread replies is summed over every connection. Each
 * connection is bounded on its own at every send (maxOutboundBytes); the total
 * may overshoot by what the gateway writes in one period.
 */
const OUTBOUND_SWEEP_MS = 250;

/** Worker slots in the load counters: lane workers plus restarts before slots are reused. */
const WORKER_SLOTS = 256;
/**
 * glibc malloc thresholds for the whole process (native keepFreedMemory): blocks
 * up to 32 MiB (glibc's cap) come from the heap, and up to 256 MiB freed at its
 * top stays there, so lmdb's per-seal dirty pages are reused warm instead of
 * faulted in fresh every seal. Measured: sealer 0.56–0.71 → 0.35–0.43 CPU-s per
 * million entries (bench/RESULTS.md, "Durable path, part two — fresh memory").
 */
const MALLOC_KEEP = { mmapThresholdBytes: 32 * 1024 * 1024, trimThresholdBytes: 256 * 1024 * 1024 } as const;

export interface GatewayOptions {
  /** Where the gateway's events go; by default nowhere (the CLI passes the configured logger). */
  log?: Logger;
  /** Tests of failure handling only; the CLI takes them from CHAINLANES_TEST_FAULTS. */
  faults?: FaultInjection;
  /** The admin key: authenticated mode (accounts, keys, credits). Without one the gateway is open. */
  adminKey?: string | null;
}

export class Gateway {
  port = 0;
  readonly config: GatewayConfig;
  readonly layout: CoreLayout;
  /** The cores the front door thread runs on, as the heavy lane fills and empties. */
  private readonly frontDoorCores: FrontDoorCores;
  private readonly log: Logger;
  /** This gateway's hold on its data directory, released last at shutdown. */
  private readonly lock: StoreLock;
  private readonly faults: FaultInjection;
  private readonly chainTable: ChainTable;
  private readonly counters: LoadCounters;
  private readonly laneCores: LaneCores;
  private readonly chains: ChainRegistry;
  private readonly pools: LanePool<PendingFrame>[];
  private readonly connections = new Set<StreamConnection>();
  private readonly metrics = new GatewayMetrics(LANE_NAMES, this.metricSources());
  private readonly startedAt = Date.now();
  private seals = new SealProgress(-1);
  private ledger!: Ledger;
  private readers!: LedgerReaders;
  /** The lane table the scheduler applies: the store's, seeded from config on a new store. */
  private laneTable!: LaneTable;
  private sealer!: Sealer;
  private scheduler!: Scheduler;
  private admission!: Admission;
  private guard!: ConnectionGuard;
  /** Each client address's share of the front door's time; null when limits.frontDoorTurnBudgetMs is null. */
  private share: FrontDoorShare | null = null;
  private dashboard: DashboardFeed | null = null;
  private bounds!: ConnectionBounds;
  private descriptorWatch: DescriptorWatch | null = null;
  /** Accounts, keys and credits in authenticated mode; null in open mode. */
  private credits: Credits | null = null;
  /** The Ethereum anchor thread, when anchors.ethereum is configured. */
  private anchors: AnchorService | null = null;
  private readonly adminKey: string | null;
  private listenSocket: us_listen_socket | null = null;
  private sealTimer: NodeJS.Timeout | null = null;
  /** What clients make the front door hold, in total (frames in progress, unread replies). */
  private readonly buffers: ClientBuffers;
  /** The owners of one batch of hashed frames, reused from batch to batch. */
  private readonly hashedOwners = new Set<FrameOwner>();
  private outboundSweep: NodeJS.Timeout | null = null;
  /** Settings kept in the store: the lane table, pins, the last decisions. */
  private stored!: StoredSettings;
  /** Pins, decisions, capacity and fair shares (balancer-log.ts). */
  private balancer!: BalancerLog;
  private stopping: Promise<void> | null = null;
  /** From the ledger's opening to its closing at shutdown (GET /readyz). */
  private storeOpen = false;

  private constructor(config: GatewayConfig, log: Logger, lock: StoreLock, faults: FaultInjection, adminKey: string | null) {
    this.config = config;
    this.adminKey = adminKey;
    this.lock = lock;
    this.log = log;
    this.faults = faults;
    this.layout = validateConfig(config);
    this.frontDoorCores = new FrontDoorCores(this.layout, (cores) => system.pinThread(cores), log);
    this.chainTable = ChainTable.allocate(config.limits.maxChains);
    this.counters = LoadCounters.allocate(config.limits.maxChains, WORKER_SLOTS);
    this.laneCores = LaneCores.allocate(LANE_COUNT);
    this.layout.lanes.forEach((cores, lane) => this.laneCores.set(lane, cores));
    this.chains = new ChainRegistry(this.chainTable);
    this.buffers = new ClientBuffers(config.limits);
    this.pools = LANE_NAMES.map((_, lane) => this.createPool(lane));
  }

  static async start(config: GatewayConfig, options: GatewayOptions = {}): Promise<Gateway> {
    const log = options.log ?? silentLogger();
    const uws = loadUws();
    system.keepFreedMemory(MALLOC_KEEP.mmapThresholdBytes, MALLOC_KEEP.trimThresholdBytes);
    const tls = checkTlsFiles(config.tls);
    mkdirSync(config.dataDir, { recursive: true });
    const lock = StoreLock.acquire(config.dataDir);
    let gateway: Gateway | undefined;
    try {
      // Before anything opens the store in this process: a damaged lmdb file
      // crashes the process that reads it (store-probe.ts).
      await probeStore(config.dataDir);
      gateway = new Gateway(config, log, lock, options.faults ?? NO_FAULTS, options.adminKey ?? null);
      await gateway.openLedger();
      await gateway.startThreads();
      gateway.boundConnections();
      // With TLS the one port speaks only TLS: plain HTTP is not served at all.
      const app = tls === null ? uws.App() : uws.SSLApp({ cert_file_name: tls.certFile, key_file_name: tls.keyFile });
      gateway.addRoutes(app);
      await gateway.listen(app, uws.us_socket_local_port);
      gateway.watchDescriptors();
    } catch (error) {
      // Whatever started is stopped, so a refused start leaves no thread, port or lock behind.
      await gateway?.stop().catch(() => undefined);
      lock.release();
      throw error;
    }
    // Pinned last: threads inherit their creator's affinity, and the lane
    // workers and the sealer were started before and pin themselves.
    // The scheduler's first balance may have come in already and freed it (front-door-cores.ts).
    system.pinThread(gateway.frontDoorCores.cores);
    system.nameThread(THREAD_NAMES.frontDoor);
    log.info({ event: 'layout', layout: gateway.layout, native: nativeLoaded, nativeError: nativeLoadError, uws: runningUws() },
      `${describeLayout(gateway.layout)}; native hashing ${nativeLoaded ? 'on' : `OFF (${nativeLoadError})`}; ${runningUws()}`);
    if (gateway.credits === null) {
      log.warn({ event: 'open-mode', host: config.host },
        `OPEN MODE: no admin key is set, so there are no accounts or credits and anyone who can reach ${config.host} may write to any chain; ` +
        'set CHAINLANES_ADMIN_KEY or auth.adminKeyFile to authenticate');
    }
    log.info({ event: 'listening', host: config.host, port: gateway.port, tls: tls !== null, dataDir: config.dataDir, mode: gateway.credits === null ? 'open' : 'authenticated' },
      `chainlanes listening on ${tls === null ? 'http' : 'https'}://${config.host}:${gateway.port}`);
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
      crashAfterTasks: this.faults.crashWorkerAfterTasks,
      onFramesHashed: (frames, view) => {
        const now = performance.now();
        const latency = this.metrics.hashLatency[lane]!;
        const owners = this.hashedOwners;
        for (const frame of frames) {
          latency.observe((now - frame.admittedAt) / 1000);
          frame.owner.hashed(frame, view);
          owners.add(frame.owner);
        }
        // One write per connection per batch, not per frame (bench/RESULTS.md, "Replies by the batch").
        for (const owner of owners) owner.sendHashed();
        owners.clear();
      },
      // The sealer polls every few tens of ms and drains on every cut anyway; the
      // doorbell only hurries it when a ring is filling, so a quiet gateway does
      // not wake the sealer thread for every frame.
      onHashedAdvanced: (view) => {
        if (view.used() * 8 > view.size) this.sealer.ring();
      },
      onWorkerError: (error, attempt) => this.log.warn({ event: 'worker-failed', lane: LANE_NAMES[lane], attempt, error: error.message },
        `${LANE_NAMES[lane]} lane worker failed (attempt ${attempt}): ${error.message}`),
    });
  }

  private async openLedger(): Promise<void> {
    this.ledger = await Ledger.open(this.config.dataDir, { readOnly: true });
    this.storeOpen = true;
    const heads = this.ledger.heads();
    for (const head of heads.chains) {
      const chain = this.chains.getOrCreate(head.chainName, head.nextSeq, head.nextHeight);
      if (chain === undefined) throw new Error(`the store holds more chains than limits.maxChains (${this.config.limits.maxChains})`);
    }
    this.seals = new SealProgress(heads.directory.nextHeight - 1);
    if (this.adminKey !== null) await this.openCredits();
    await this.loadLaneTable();
    this.readers = new LedgerReaders(this.config.dataDir, this.config.ledger.readerThreads);
  }

  /** Accounts, keys and credits live in the store beside the ledger; every chain they know gets its slot. */
  private async openCredits(): Promise<void> {
    this.credits = await Credits.open(this.ledger.environment, {
      adminKey: this.adminKey!,
      nextSeqOf: (name) => this.chains.get(name)?.nextSeq ?? 0,
      nextDirectoryHeight: () => this.seals.directoryHeight + 1,
    });
    for (const name of this.credits.book.chains.keys()) {
      if (this.chains.getOrCreate(name) === undefined) throw new Error(`the store holds more chains than limits.maxChains (${this.config.limits.maxChains})`);
    }
  }

  /** The lane table lives in the store; a new store takes the configured one. */
  private async loadLaneTable(): Promise<void> {
    const settings = StoredSettings.open(this.config.dataDir);
    this.stored = settings;
    const stored = settings.get(LANE_TABLE_KEY);
    if (stored === null) {
      this.laneTable = this.config.scheduler.laneTable;
      await settings.put(LANE_TABLE_KEY, this.laneTable);
      return;
    }
    try {
      this.laneTable = validateLaneTable(stored, `the lane table in the store ${this.config.dataDir}`);
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      throw new ConfigError([...error.problems, 'replace the lane table with `chainlanes lanes --data DIR --set FILE`']);
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
      // The quarter of maxUnsealedBytes the memory budget allows above it (config/schema.ts memoryHeld).
      maxIdleBacklogBytes: Math.floor(this.config.limits.maxUnsealedBytes / 4),
      dropSealedPageCache: this.config.ledger.dropSealedPageCache,
      sealFaults: { after: this.faults.failSealsAfter, attempts: this.faults.failSealAttempts },
      onEvent: (event) => this.onSealerEvent(event),
    });
    await this.startAnchors();
    // Chains restored from the store were created before the sealer existed.
    for (const chain of this.chains.all()) this.sealer.chain(chain.slot, chain.nextSeq);
    this.chains.onCreate = (chain) => {
      this.sealer.chain(chain.slot, chain.nextSeq);
      // A pin kept in the store for a chain that had nothing sealed before the restart applies once it exists again.
      const pinned = this.balancer?.pinOf(chain.name) ?? null;
      if (pinned !== null) this.scheduler?.pin(chain.slot, pinned);
    };
    this.admission = new Admission({ ...this.config.limits, maxBlockEntries: this.config.ledger.maxBlockEntries }, this.chains, this.pools, this.sealer,
      (slot) => this.chainTable.lane(slot), this.credits?.book ?? null);
    this.balancer = new BalancerLog({
      log: this.log, stored: this.stored, chains: this.chains, settings: this.config.balancer,
      fairShare: this.config.balancer.fairShare ? new FairShare({ ...this.config.balancer, maxChains: this.config.limits.maxChains }) : null,
      // Seal failures only: at shutdown the sealer has stopped before the last decisions are written.
      storeTrouble: () => this.seals.trouble(true, 1),
    });
    this.admission.shares = this.balancer.fairShare;
    this.scheduler = new Scheduler({ ...this.config.scheduler, laneTable: this.laneTable, layout: this.layout, balancer: this.config.balancer },
      this.config.dataDir, this.chainTable, this.counters, this.laneCores, (event) => this.onSchedulerEvent(event), this.balancer.pinsBySlot());
    this.balancer.start(this.config.scheduler.tickMs, this.chainTable);
    this.sealTimer = setInterval(() => {
      this.admission.sealInterval(this.chains.all());
      this.flushReadBurns();
    }, this.config.ledger.blockIntervalMs);
    this.outboundSweep = setInterval(() => this.buffers.enforceOutbound(this.connections, this.log), OUTBOUND_SWEEP_MS);
    this.metrics.start();
  }

  /** Started before the main thread pins itself, so the anchor thread runs on any core, not the front door's. */
  private async startAnchors(): Promise<void> {
    const { rpcUrl, keyFile, ...settings } = this.config.anchors.ethereum;
    if (rpcUrl === null && keyFile === null) return;
    if (rpcUrl === null || keyFile === null) {
      throw new ConfigError([`anchors.ethereum: ${rpcUrl === null ? 'keyFile is set but rpcUrl is not' : 'rpcUrl is set but keyFile is not'}; anchoring needs both`]);
    }
    this.anchors = await AnchorService.start(this.config.dataDir, { rpcUrl, ...settings }, readAnchorKey(keyFile), this.log);
    this.anchors.registerMetrics(this.metrics.registry);
  }

  /**
   * Sets the connection limits from the config and the descriptor limit, with
   * the descriptors the store, threads and logs hold by now counted as in use.
   */
  private boundConnections(): void {
    const limit = descriptorLimit();
    const bounds = connectionBounds(this.config.limits, limit, openDescriptors() ?? 0);
    if (Array.isArray(bounds)) throw new ConfigError(bounds);
    this.bounds = bounds;
    this.share = this.shareFrontDoor();
    this.guard = new ConnectionGuard({
      maxConnections: bounds.maxConnections,
      maxConnectionsPerAddress: bounds.maxConnectionsPerAddress,
      listenHost: this.config.host,
      allowedHosts: this.config.allowedHosts,
      allowedOrigins: this.config.allowedOrigins,
      // Answered on the spot, so it holds no slot; an operator's probe must get through at the limit.
      uncappedPaths: ['/healthz', READYZ_PATH],
    }, this.log, this.share);
    this.log.info({ event: 'connection-limits', ...bounds },
      `at most ${bounds.maxConnections} connections and requests in flight, ${bounds.maxConnectionsPerAddress} per client address ` +
      `(file-descriptor limit ${limit ?? 'unknown'}, ${bounds.descriptorsInUse} in use)`);
  }

  /** The front door's time shared by client address (front-door-share.ts). */
  private shareFrontDoor(): FrontDoorShare | null {
    const { frontDoorTurnBudgetMs, addressBarMs, maxAddressBarMs } = this.config.limits;
    if (frontDoorTurnBudgetMs === null) return null;
    return new FrontDoorShare({ turnBudgetMs: frontDoorTurnBudgetMs, firstBarMs: addressBarMs, maxBarMs: Math.max(addressBarMs, maxAddressBarMs) }, this.log);
  }

  /** Tells the guard while descriptors run low (descriptors.ts); only where they can be counted (Linux). */
  private watchDescriptors(): void {
    const { descriptorLimit: limit, lowAt } = this.bounds;
    if (limit === null || openDescriptors() === null) return;
    this.descriptorWatch = new DescriptorWatch(this.bounds, {
      low: (counted) => {
        // Infinity: none was left to count with (EMFILE).
        const open = Number.isFinite(counted) ? counted : limit;
        this.guard.descriptorsLow = true;
        this.log.error({ event: 'descriptors-low', openDescriptors: open, limit, lowAt },
          `${open} of ${limit} file descriptors are open, more than the connections counted hold: refusing new connections ` +
          'and requests until idle ones close');
      },
      ok: (open) => {
        this.guard.descriptorsLow = false;
        this.log.warn({ event: 'descriptors-ok', openDescriptors: open, limit }, `${open} of ${limit} file descriptors are open: accepting connections again`);
      },
    });
    this.descriptorWatch.start();
  }

  /** Read burns are written once per block interval (a crash loses at most one interval's: reads served free). */
  private flushReadBurns(): void {
    this.credits?.flushReadBurns().catch((error: unknown) => this.log.warn({ event: 'read-burns-failed', error: errorMessage(error) },
      `could not write read burns, retrying with the next interval: ${errorMessage(error)}`));
  }

  private addRoutes(app: UwsApp): void {
    // Every HTTP route goes through the guard: Host and Origin checks, connection caps.
    const routes = this.guard.routes(app);
    if (this.credits === null) addOpenModeCreditRoutes(routes);
    else {
      addCreditRoutes(routes, {
        log: this.log, credits: this.credits, chains: this.chains, buffers: this.buffers,
        revoked: (keyId) => revokeStreams(this.connections, keyId),
      });
    }
    addStreamRoute(app, {
      log: this.log,
      chains: this.chains,
      admission: this.admission,
      maxPayloadBytes: this.config.limits.maxFrameBytes,
      maxOutboundBytes: this.config.limits.maxOutboundBytes,
      maxFramesInFlight: this.config.limits.maxFramesInFlight,
      buffers: this.buffers,
      connections: this.connections,
      guard: this.guard,
      credits: this.credits?.book ?? null,
      share: this.share,
    });
    addReadinessRoute(routes, () => ({
      stopping: this.stopping !== null,
      storeOpen: this.storeOpen,
      sealerAlive: this.sealer.alive,
      lanesDown: this.pools.filter((pool) => !pool.up).map((pool) => pool.name),
      storeTrouble: this.admission.storeTrouble,
    }));
    addLaneRoutes(routes, {
      log: this.log, chains: this.chains, buffers: this.buffers, credits: this.credits,
      laneTable: () => this.laneTable,
      setLaneTable: async (table) => {
        await this.stored.put(LANE_TABLE_KEY, table);
        this.laneTable = table;
        this.balancer.tableChanged(table, 'PUT /v1/lanes/table');
        this.scheduler.reloadTable();
      },
      pinOf: (chain) => this.balancer.pinOf(chain.name),
      pin: async (chain, lane) => {
        await this.balancer.pin(chain, lane, this.chainTable.lane(chain.slot));
        this.scheduler.pin(chain.slot, lane);
      },
      events: (since, limit) => this.balancer.decisions.list(since, limit),
    });
    this.addDashboard(app, routes);
    addHttpRoutes(routes, {
      log: this.log,
      chains: this.chains,
      admission: this.admission,
      ledger: this.anchors === null ? this.readers : new AnchoredReads(this.readers, this.anchors),
      maxBodyBytes: this.config.limits.maxFrameBytes,
      buffers: this.buffers,
      commitWaitTimeoutMs: this.config.ledger.commitWaitTimeoutMs,
      sealTrouble: () => this.sealTrouble(),
      chainInfo: (chain) => chainView(chain, this.chainTable),
      lanes: () => this.lanesNow(),
      health: () => ({
        ...healthView({
          trouble: this.sealTrouble(), sealerAlive: this.sealer.alive, native: nativeLoaded, nativeError: nativeLoadError,
          chains: this.chains.size, connections: this.connections.size, seals: this.seals, startedAt: this.startedAt,
        }),
        ...(this.anchors === null ? {} : { anchors: this.anchors.health() }),
      }),
      metrics: this.metrics.registry,
      credits: this.credits?.book ?? null,
    });
    const anchors = this.anchors;
    addAnchorRoutes(routes, anchors === null ? null : { windows: (from, limit) => anchors.query({ kind: 'windows', from, limit }) });
  }

  /** The lanes as `GET /v1/lanes` and the dashboard show them: cores, capacity, placed demand, and why each chain is where it is. */
  private lanesNow(): unknown {
    return lanesView({
      layout: this.layout, frontdoorCores: this.frontDoorCores.cores, laneTable: this.laneTable, pools: this.pools, laneCores: this.laneCores, chains: this.chains,
      balance: this.balancer.balance, why: (slot) => this.balancer.why(slot),
    });
  }

  /** `GET /` and the dashboard's live feed (frontdoor/static-files.ts, dashboard-feed.ts). */
  private addDashboard(app: UwsApp, routes: ReturnType<ConnectionGuard['routes']>): void {
    new StaticFiles().routes(routes);
    this.dashboard = new DashboardFeed({
      chains: this.chains,
      chainInfo: (chain) => chainView(chain, this.chainTable),
      lanes: () => this.lanesNow(),
      anchors: () => this.anchors?.health() ?? null,
      entriesAccepted: () => this.admission.stats.entriesAccepted,
      entriesCommitted: () => this.seals.entriesCommitted,
      acceptedLatency: this.metrics.hashLatency,
      latencyBoundsSec: LATENCY_BOUNDS,
      credits: this.credits?.book ?? null,
      guard: this.guard,
    });
    this.admission.commitProbe = this.dashboard.commits;
    this.dashboard.route(app, routes);
    this.dashboard.start();
  }

  /**
   * Listens exclusively: uWS would otherwise share the port (SO_REUSEPORT) with a
   * second gateway, and clients would be spread over both without a word.
   */
  private listen(app: UwsApp, localPort: (socket: us_listen_socket) => number): Promise<void> {
    const { host, port } = this.config;
    return new Promise((resolve, reject) => {
      listenExclusive(app, host, port, (socket) => {
        if (socket === false) {
          void whyCannotListen(host, port).then((why) => reject(new Error(`cannot listen on ${host}:${port}: ${why}`)));
          return;
        }
        this.listenSocket = socket;
        this.port = localPort(socket);
        this.guard.listening(this.port);
        resolve();
      });
    });
  }

  private onSealerEvent(event: SealerEvent): void {
    if (event.type === 'sealed') {
      let entries = 0;
      for (const block of event.blocks) {
        const chain = this.chains.at(block.slot);
        if (chain === undefined) continue;
        const writers = chain.committed(block.firstSeq, block.count, block.height);
        this.dashboard?.commits.committed(block.slot, block.firstSeq + block.count, performance.now());
        entries += block.count;
        const notice = encodeCommitted({
          height: block.height, seq: block.firstSeq, count: block.count,
          root: block.root, block: block.hash, directory: event.directory.height,
        });
        for (const writer of writers) if (writer.open) writer.committed(notice);
      }
      this.seals.sealed(event.directory.height, event.blocks.length, entries);
      this.admission.storeTrouble = null;
    } else if (event.type === 'seal-failed') {
      this.seals.failed(event.message);
      // Read by admission on every frame: refusing `busy` while the store fails costs one comparison.
      // (The sealer is alive: it just reported.)
      this.admission.storeTrouble = this.seals.trouble(true, this.config.ledger.unhealthyAfterSealFailures);
      this.log.warn({ event: 'seal-failed', attempt: event.attempt, retryInMs: event.retryInMs, error: event.message },
        `seal failed (attempt ${event.attempt}), retrying in ${event.retryInMs} ms: ${event.message}`);
    } else if (event.type === 'sealer-error') {
      this.log.error({ event: 'sealer-error', where: event.where, error: event.message }, `sealer thread error (${event.where}); it goes on: ${event.message}`);
    } else if (event.type === 'stopped' && event.error !== undefined) {
      this.log.error({ event: 'store-close-failed', error: event.error }, `the sealer could not close the store: ${event.error}`);
    } else if (event.type === 'anchor-failed') {
      this.log.warn({ event: 'anchor-failed', sink: event.sink, height: event.height, error: event.message },
        `anchor sink ${event.sink} failed for directory ${event.height}: ${event.message}`);
    } else if (event.type === 'thread-failed') {
      this.log.fatal({ event: 'sealer-failed', error: event.message }, `the sealer thread died; nothing more is accepted until a restart: ${event.message}`);
    }
  }

  private onSchedulerEvent(event: SchedulerEvent): void {
    if (event.type === 'lane-table') {
      if (JSON.stringify(event.table) !== JSON.stringify(this.laneTable)) this.balancer.tableChanged(event.table, 'the store (chainlanes lanes --set)');
      this.laneTable = event.table;
      this.log.info({ event: 'lane-table', table: event.table }, 'lane table changed in the store');
    } else if (event.type === 'lane-table-rejected') {
      this.log.warn({ event: 'lane-table-rejected', error: event.message }, `ignoring the lane table in the store: ${event.message}`);
    } else if (event.type === 'thread-failed') {
      this.log.error({ event: 'scheduler-failed', error: event.message, restarts: event.restarts }, `scheduler thread failed, restarting it: ${event.message}`);
    } else {
      this.balancer.onSchedulerEvent(event);
      this.frontDoorCores.onSchedulerEvent(event);
      this.showOnDashboard(event);
    }
  }

  /** Chain and core moves, as they happen, for the dashboard's live feed. */
  private showOnDashboard(event: SchedulerEvent): void {
    if (this.dashboard === null) return;
    if (event.type === 'lane-change') {
      const chain = this.chains.at(event.slot)?.name;
      const [from, to] = [LANE_NAMES[event.from], LANE_NAMES[event.to]];
      if (chain === undefined || from === undefined || to === undefined) return;
      this.dashboard.event({ type: 'chain-move', at: Date.now(), chain, from, to, entriesPerSec: Math.round(event.entriesPerSec) });
    } else if (event.type === 'cores') {
      const lanes = Object.fromEntries(event.lanes.map((cores, i) => [LANE_NAMES[i], cores]));
      const utilisation = Object.fromEntries(event.utilisation.map((u, i) => [LANE_NAMES[i], Number(u.toFixed(2))]));
      this.dashboard.event({ type: 'cores', at: Date.now(), lanes, utilisation });
    }
  }

  private sealTrouble(): string | null {
    return this.seals.trouble(this.sealer.alive, this.config.ledger.unhealthyAfterSealFailures);
  }

  /** What the metrics read at each scrape; admission and sealer exist by the time the routes serve one. */
  private metricSources(): MetricSources {
    return {
      admission: () => this.admission.stats,
      seals: () => this.seals,
      unsealedBytes: () => this.sealer.pendingBytes(),
      chains: () => this.chains.size,
      connections: () => this.connections.size,
      guard: () => ({
        refused: this.guard?.stats.refused ?? {},
        httpInFlight: this.guard?.stats.httpInFlight ?? 0,
        maxConnections: this.bounds?.maxConnections ?? 0,
        descriptorsLow: this.descriptorWatch?.low ?? false,
        descriptorsLowEpisodes: this.descriptorWatch?.episodes ?? 0,
      }),
      share: () => this.share?.stats ?? null,
      lanes: () => this.pools.map((p) => ({ ringUsed: p.view.used(), backlog: p.backlog, retries: p.stats().retries })),
      fairShareRefusals: () => this.balancer?.refusals() ?? [],
    };
  }

  /**
   * Stops accepting, answers every frame in flight, seals everything accepted,
   * sends the last `committed` notices, and releases every thread.
   */
  stop(): Promise<void> {
    this.stopping ??= this.shutdown();
    return this.stopping;
  }

  // Also runs for a start that failed half way, so every part that starts late may be missing.
  private async shutdown(): Promise<void> {
    this.admission?.close();
    this.descriptorWatch?.stop();
    this.guard?.stop();
    this.dashboard?.stop();
    if (this.listenSocket !== null) loadUws().us_listen_socket_close(this.listenSocket);
    this.listenSocket = null;
    await Promise.all(this.pools.map((pool) => pool.drain()));
    if (this.sealTimer !== null) clearInterval(this.sealTimer);
    if (this.outboundSweep !== null) clearInterval(this.outboundSweep);
    this.admission?.sealInterval(this.chains.all());
    await this.sealer?.stop();
    await this.anchors?.stop();
    await this.credits?.flushReadBurns().catch((error: unknown) => this.log.error({ event: 'read-burns-failed', error: errorMessage(error) }, `read burns lost at shutdown: ${errorMessage(error)}`));
    for (const connection of this.connections) connection.end(1001, 'the gateway is shutting down');
    await Promise.all(this.pools.map((pool) => pool.close()));
    await this.scheduler?.stop();
    await this.balancer?.stop();
    this.metrics.stop();
    await this.readers?.close();
    this.storeOpen = false;
    await this.ledger?.close();
    this.lock.release();
  }
}

/** uWS only says "false"; binding the same address with node:net names the errno (EADDRINUSE, EADDRNOTAVAIL, EACCES…). */
function whyCannotListen(host: string, port: number): Promise<string> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once('error', (error: NodeJS.ErrnoException) => resolve(`${error.code ?? 'error'}: ${error.message}`));
    probe.listen({ host, port, exclusive: true }, () => probe.close(() => resolve('the address could not be bound (it is free now: retry)')));
  });
}
