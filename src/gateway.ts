// The composition root: starts the gateway in phases (src/wiring/), each
// building on the last and pushing how to undo itself, and stops it in reverse:
// the port closes, intake stops and cuts the last blocks, the sealer seals
// them and sends the last `committed`, the streams close, the store closes.
import {
  checkTlsFiles,
  missingRealtimeNodeFlags,
  NO_FAULTS,
  REALTIME_NODE_FLAGS,
  validateConfig,
  type FaultInjection,
  type GatewayConfig,
} from './config/index.js';
import { silentLogger, type Logger } from './log/index.js';
import { GatewayMetrics } from './metrics/index.js';
import { THREAD_NAMES, nativeLoaded, nativeLoadError, system, yieldHelperThreads } from './native/index.js';
import { LANE_NAMES } from './ring/index.js';
import { describeLayout, type CoreLayout } from './scheduler/index.js';
import { loadUws, runningUws } from './uws/index.js';
import {
  StopStack,
  addRoutes,
  allocateShared,
  connectFleet,
  createApp,
  joinFleet,
  listen,
  metricSources,
  openClients,
  openIntake,
  openStore,
  registerReplicaMetrics,
  startReplicas,
  startThreads,
  type RunningParts,
} from './wiring/index.js';

/**
 * glibc malloc thresholds for the whole process (native keepFreedMemory): blocks
 * up to 32 MiB (glibc's cap) come from the heap, and up to 256 MiB freed at its
 * top stays there, so lmdb's per-seal dirty pages are reused warm instead of
 * faulted in fresh every seal. Measured: sealer 0.56–0.71 → 0.35–0.43 CPU-s per
 * million entries (bench/history/2026-12-04.md, "Durable path, part two — fresh memory").
 */
export const MALLOC_KEEP = { mmapThresholdBytes: 32 * 1024 * 1024, trimThresholdBytes: 256 * 1024 * 1024 } as const;

export interface GatewayOptions {
  /** Where the gateway's events go; by default nowhere (the CLI passes the configured logger). */
  log?: Logger;
  /** Tests of failure handling only; the CLI takes them from CHAINLANES_TEST_FAULTS. */
  faults?: FaultInjection;
  /** The admin key: authenticated mode (accounts, keys, credits). Without one the gateway is open. */
  adminKey?: string | null;
}

export class Gateway {
  readonly port: number;
  readonly config: GatewayConfig;
  readonly layout: CoreLayout;
  private readonly stops: StopStack;
  private stopping: Promise<void> | null = null;

  private constructor(config: GatewayConfig, layout: CoreLayout, port: number, stops: StopStack) {
    this.config = config;
    this.layout = layout;
    this.port = port;
    this.stops = stops;
  }

  static async start(config: GatewayConfig, options: GatewayOptions = {}): Promise<Gateway> {
    const log = options.log ?? silentLogger();
    loadUws();
    system.keepFreedMemory(MALLOC_KEEP.mmapThresholdBytes, MALLOC_KEEP.trimThresholdBytes);
    const tls = checkTlsFiles(config.tls);
    const layout = validateConfig(config);
    // Before any thread of ours exists (the store starts its readers): every thread with the process's name is then one of Node's.
    yieldHelperThreads(layout.helperNice);
    const stops = new StopStack(log);
    // Set once the gateway exists, for GET /readyz: stopping begins with the first phase undone.
    let gateway: Gateway | null = null;
    try {
      makeFrontDoorRealtime(config.scheduler.frontDoorRealtimePriority, stops, log);
      const store = await openStore(config, options.adminKey ?? null, stops);
      // A gateway in a fleet only (config.fleet): membership, ownership, the fleet's accounts (wiring/fleet.ts).
      const fleet = await joinFleet(config, store, log, stops);
      const shared = allocateShared(config, layout, store);
      const clients = openClients(config, log, stops);
      const metrics = new GatewayMetrics(LANE_NAMES);
      // Standby replicas (fleet.replicas: 1, docs/replicas.md): the commit hop's gate and the shipping stream.
      const replicas = startReplicas(store, () => threads.sealer, fleet, options.adminKey ?? null, log, stops);
      const threads = await startThreads(
        { config, layout, log, faults: options.faults ?? NO_FAULTS, store, shared, metrics, turnMeter: clients.turnMeter, commitHold: replicas?.hold },
        stops,
      );
      const intake = openIntake({ config, layout, log, store, shared, threads, clients, metrics, fleet, replicas }, stops);
      const parts: RunningParts = { layout, store, shared, clients, threads, intake, fleet, replicas, startedAt: Date.now() };
      connectFleet(fleet, parts, metrics.registry);
      await replicas?.connect(parts);
      registerReplicaMetrics(replicas, metrics.registry);
      const app = createApp(tls);
      addRoutes(app, { config, log, parts, metrics: metrics.registry, stopping: () => gateway?.stopping != null, adminKey: options.adminKey ?? null });
      const listening = await listen(app, config, intake.guard, intake.bounds, log, stops);
      const watch = listening.descriptorWatch;
      metrics.readFrom(
        metricSources(parts, () => ({
          low: watch?.low ?? false,
          episodes: watch?.episodes ?? 0,
          listening: listening.isListening(),
          listenStops: watch?.listenStops ?? 0,
        })),
      );
      gateway = new Gateway(config, layout, listening.port, stops);
      // Pinned last: threads inherit their creator's affinity, and the lane
      // workers and the sealer were started before and pin themselves.
      // The scheduler's first balance may have come in already and freed it (front-door-cores.ts).
      system.pinThread(intake.frontDoorCores.cores);
      system.nameThread(THREAD_NAMES.frontDoor);
      announce(gateway, log, tls !== null, store.credits === null);
      return gateway;
    } catch (error) {
      // Whatever started is stopped, so a refused start leaves no thread, port or lock behind.
      await stops.unwind().catch(() => undefined);
      throw error;
    }
  }

  /**
   * Stops accepting, answers every frame in flight, seals everything accepted,
   * sends the last `committed` notices, and releases every thread.
   */
  stop(): Promise<void> {
    this.stopping ??= this.stops.unwind();
    return this.stopping;
  }
}

/**
 * scheduler.frontDoorRealtimePriority: the calling thread, the front door's,
 * under SCHED_RR until the gateway stops. The threads it starts stay ordinary
 * (src/native/addon.ts), so only the front door jumps the queue for a core.
 * A refusal stops the start: an operator who asked for it must not get a
 * gateway that silently runs without it.
 *
 * A real-time thread that waits on an ordinary one waits as long as the
 * scheduler leaves that one off the CPU, and V8's collector, as node starts
 * it, makes the front door wait for its helper threads: REALTIME_NODE_FLAGS
 * (src/config/realtime-node-flags.ts) says which node flags avoid that, and
 * what each one measured. V8 takes them only at start, so the gateway can
 * only say so.
 */
function makeFrontDoorRealtime(priority: number | null, stops: StopStack, log: Logger): void {
  if (priority === null) return;
  const refusal = system.setThreadRealtime(priority);
  if (refusal !== null) {
    throw new Error(
      `scheduler.frontDoorRealtimePriority ${priority}: the front door's thread cannot be made real-time (${refusal}); ` +
        `it needs CAP_SYS_NICE (root, or setcap cap_sys_nice+ep on node) or an RLIMIT_RTPRIO of at least ${priority}`,
    );
  }
  const missing = missingRealtimeNodeFlags();
  if (missing.length > 0) {
    log.warn(
      { event: 'realtime-gc', priority, missing },
      `scheduler.frontDoorRealtimePriority is set but node runs without ${missing.join(' ')}: the front door may wait for V8's helper threads ` +
        `in a collection, or mark its heap every few hundred milliseconds; start it as \`node ${REALTIME_NODE_FLAGS.join(' ')} …/chainlanes serve\` (docs/operations.md)`,
    );
  }
  stops.push('the front door back to ordinary scheduling', () => system.setThreadRealtime(0));
}

function announce(gateway: Gateway, log: Logger, tls: boolean, open: boolean): void {
  const { config, layout } = gateway;
  const realtime = config.scheduler.frontDoorRealtimePriority;
  log.info(
    { event: 'layout', layout, frontDoorRealtimePriority: realtime, native: nativeLoaded, nativeError: nativeLoadError, uws: runningUws() },
    `${describeLayout(layout)}${realtime === null ? '' : `; the front door real-time (SCHED_RR ${realtime})`}; native hashing ${nativeLoaded ? 'on' : `OFF (${nativeLoadError})`}; ${runningUws()}`,
  );
  if (open) {
    log.warn(
      { event: 'open-mode', host: config.host },
      `OPEN MODE: no admin key is set, so there are no accounts or credits and anyone who can reach ${config.host} may write to any chain; ` +
        'set CHAINLANES_ADMIN_KEY or auth.adminKeyFile to authenticate',
    );
  }
  log.info(
    { event: 'listening', host: config.host, port: gateway.port, tls, dataDir: config.dataDir, mode: open ? 'open' : 'authenticated' },
    `chainlanes listening on ${tls ? 'https' : 'http'}://${config.host}:${gateway.port}`,
  );
}
