// Phase 3: the threads — a piscina pool per lane, the sealer, the anchor
// thread when anchoring is on, and the scheduler with the front door's
// balancer bookkeeping. Stopping seals what the front door cut last, then
// closes the threads.
import { AnchorService, readAnchorKey } from '../anchors/index.js';
import { BalancerLog, FairShare } from '../balancer/index.js';
import { ConfigError, type FaultInjection, type GatewayConfig } from '../config/index.js';
import { TURN_COUNTS, type TurnMeter } from '../defence/index.js';
import { answerHashed, onSealerEvent, type CommitHold, type PendingFrame } from '../frontdoor/index.js';
import { LanePool } from '../lanes/index.js';
import type { Logger } from '../log/index.js';
import type { GatewayMetrics } from '../metrics/index.js';
import { LANE_NAMES, type RingView } from '../ring/index.js';
import { Scheduler, type CoreLayout, type SchedulerEvent } from '../scheduler/index.js';
import { Sealer, SealerDoorbell, type SealerEvent } from '../sealer/index.js';
import type { SharedParts } from './shared.js';
import type { StopStack } from './stop-stack.js';
import type { StoreParts } from './store.js';

export interface ThreadParts {
  pools: LanePool<PendingFrame>[];
  sealer: Sealer;
  /** The Ethereum anchor thread, when anchors.ethereum is configured. */
  anchors: AnchorService | null;
  scheduler: Scheduler;
  /** Pins, decisions, the lane table, capacity and fair shares. */
  balancer: BalancerLog;
  /** Whoever else wants the scheduler's events (the dashboard, the front door's cores) says so here. */
  schedulerListeners: ((event: SchedulerEvent) => void)[];
}

export interface ThreadInputs {
  config: GatewayConfig;
  layout: CoreLayout;
  log: Logger;
  faults: FaultInjection;
  store: StoreParts;
  shared: SharedParts;
  metrics: GatewayMetrics;
  /** Counts the lanes' replies and the seals in the front door's turns. */
  turnMeter: TurnMeter;
  /** Where `sealed` events wait before their notices: the replica gate (replicas.ts); absent: on at once. */
  commitHold?: CommitHold;
}

export async function startThreads(inputs: ThreadInputs, stops: StopStack): Promise<ThreadParts> {
  const { config, layout, log, faults, store, shared, metrics } = inputs;
  const doorbell = new SealerDoorbell();
  const pools = LANE_NAMES.map((_, lane) => createPool(inputs, lane, doorbell));
  stops.push('the lane pools', () => Promise.all(pools.map((pool) => pool.close())));
  const sealer = await Sealer.start({
    rings: pools.map((pool) => pool.view.sab),
    doorbell,
    dataDir: config.dataDir,
    anchorFile: config.ledger.anchorFile,
    cores: layout.sealer,
    nice: layout.sealerNice,
    maxChains: config.limits.maxChains,
    // The quarter of maxUnsealedBytes the memory budget allows above it (config/schema.ts memoryHeld).
    maxIdleBacklogBytes: Math.floor(config.limits.maxUnsealedBytes / 4),
    // With a standby, each seal is read back at once to be shipped: its pages are kept. Dropped, they had to come
    // back from disk, and with seals of an eighth of the stream's bound the owner fell behind over a bench run
    // (630k entries/s admitted, 337k/s committed); kept, it held steady (bench/RESULTS.md "Replicas").
    dropSealedPageCache: config.ledger.dropSealedPageCache && (config.fleet?.replicas ?? 0) === 0,
    sealFaults: { after: faults.failSealsAfter, attempts: faults.failSealAttempts, drainEveryMs: faults.sealerDrainEveryMs },
    heads: store.heads.sealerOptions(),
    onEvent: sealerEvents(store, shared, log, inputs.turnMeter, inputs.commitHold),
  });
  // The sealer seals everything cut before its stop; the read burns of the last interval follow it.
  stops.push('the sealer', async () => {
    await sealer.stop();
    await store.credits
      ?.flushReadBurns()
      .catch((error: unknown) => log.error({ event: 'read-burns-failed', error: String(error) }, `read burns lost at shutdown: ${String(error)}`));
  });
  const anchors = await startAnchors(config, log, metrics, faults);
  if (anchors !== null) stops.push('the anchor thread', () => anchors.stop());
  const balancer = new BalancerLog({
    log,
    stored: store.settings,
    chains: shared.chains,
    settings: config.balancer,
    table: store.laneTable,
    fairShare: config.balancer.fairShare ? new FairShare({ ...config.balancer, maxChains: config.limits.maxChains }) : null,
    // Seal failures only: at shutdown the sealer has stopped before the last decisions are written.
    storeTrouble: () => store.seals.trouble(true, 1),
  });
  stops.push('the balancer log', () => balancer.stop());
  const schedulerListeners: ((event: SchedulerEvent) => void)[] = [(event) => balancer.onSchedulerEvent(event)];
  const scheduler = new Scheduler(
    { ...config.scheduler, laneTable: store.laneTable, layout, balancer: config.balancer },
    config.dataDir,
    shared.chainTable,
    shared.counters,
    shared.laneCores,
    (event) => {
      if (event.type === 'thread-failed')
        log.error({ event: 'scheduler-failed', error: event.message, restarts: event.restarts }, `scheduler thread failed, restarting it: ${event.message}`);
      else for (const listener of schedulerListeners) listener(event);
    },
    balancer.pinsBySlot(),
  );
  stops.push('the scheduler', () => scheduler.stop());
  balancer.start(config.scheduler.tickMs, shared.chainTable);
  announceChains(shared, sealer, balancer, scheduler);
  return { pools, sealer, anchors, scheduler, balancer, schedulerListeners };
}

/** The commit hop (frontdoor/commits.ts), and the latest signed head kept for its routes. */
function sealerEvents(store: StoreParts, shared: SharedParts, log: Logger, meter: TurnMeter, hold?: CommitHold): (event: SealerEvent) => void {
  // The latest signed head moves with the released seals, not the sealed ones: with replicas a head must not
  // cover a directory the standby may not hold (its routes and proofs would show what a failover could lose).
  const released = (event: SealerEvent): void => store.heads.observe(event);
  const commits = onSealerEvent({ chains: shared.chains, seals: store.seals, probe: shared.commitSampler, log, released }, hold);
  return (event) => {
    if (event.type === 'sealed') meter.counts[TURN_COUNTS.sealedBlocks]! += event.blocks.length;
    else if (event.type !== 'head' || event.head.size <= store.seals.committedHeight + 1) store.heads.observe(event);
    commits(event);
  };
}

function createPool(inputs: ThreadInputs, lane: number, doorbell: SealerDoorbell): LanePool<PendingFrame> {
  const { config, layout, log, faults, shared, metrics, turnMeter } = inputs;
  const name = LANE_NAMES[lane]!;
  const answer = answerHashed(metrics.hashLatency[lane]!);
  return new LanePool<PendingFrame>({
    lane,
    ringBytes: config.ringBytes[name],
    threads: layout.threads[lane]!,
    counters: shared.counters,
    laneCores: shared.laneCores,
    nice: layout.nice[lane]!,
    crashAfterTasks: faults.crashWorkerAfterTasks,
    onFramesHashed: (frames, view) => {
      turnMeter.counts[TURN_COUNTS.hashedBatches]!++;
      answer(frames, view);
    },
    onHashedAdvanced: (view) => ringWhenFilling(view, doorbell),
    onWorkerError: (error, attempt) =>
      log.warn({ event: 'worker-failed', lane: name, attempt, error: error.message }, `${name} lane worker failed (attempt ${attempt}): ${error.message}`),
  });
}

/**
 * The sealer polls every few hundred ms and drains on every cut anyway; the
 * doorbell only hurries it when a ring is filling, so a quiet gateway does
 * not wake the sealer thread for every frame (sealer/control.ts).
 */
function ringWhenFilling(view: RingView, doorbell: SealerDoorbell): void {
  if (view.used() * 8 > view.size) doorbell.ring();
}

/** Started before the main thread pins itself, so the anchor thread runs on any core, not the front door's. */
async function startAnchors(config: GatewayConfig, log: Logger, metrics: GatewayMetrics, faults: FaultInjection): Promise<AnchorService | null> {
  const { rpcUrl, keyFile, ...settings } = config.anchors.ethereum;
  if (rpcUrl === null && keyFile === null) return null;
  if (rpcUrl === null || keyFile === null) {
    throw new ConfigError([
      `anchors.ethereum: ${rpcUrl === null ? 'keyFile is set but rpcUrl is not' : 'rpcUrl is set but keyFile is not'}; anchoring needs both`,
    ]);
  }
  const anchors = await AnchorService.start(config.dataDir, { rpcUrl, ...settings }, readAnchorKey(keyFile), log, {
    killAfterBumpStored: faults.killAnchorAfterBumpStored,
  });
  anchors.registerMetrics(metrics.registry);
  return anchors;
}

/**
 * The sealer learns each chain's first seq; chains restored from the store were
 * made before it existed, later ones are announced as their first frame makes them.
 */
function announceChains(shared: SharedParts, sealer: Sealer, balancer: BalancerLog, scheduler: Scheduler): void {
  for (const chain of shared.chains.all()) sealer.chain(chain.slot, chain.nextSeq);
  shared.chains.onCreate = (chain) => {
    sealer.chain(chain.slot, chain.nextSeq);
    // A pin kept in the store for a chain that had nothing sealed before the restart applies once it exists again.
    const pinned = balancer.pinOf(chain.name);
    if (pinned !== null) scheduler.pin(chain.slot, pinned);
  };
}
