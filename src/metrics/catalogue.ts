// The gateway's metrics: one prom-client registry per gateway (never the
// global one, so two gateways or a test in one process do not collide), with
// prom-client's process and Node metrics and every chainlanes metric.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { LatencyHistogram, registerLatencyHistograms, registerReadHistogram } from './latency.js';
import { LOOP_DELAY_BOUNDS, LoopDelaySampler } from './loop-delay.js';

/** How often prom-client's nodejs_eventloop_lag_* gauges sample (see the constructor). */
const NODE_LOOP_LAG_SAMPLE_MS = 1000;

/** Where the values kept elsewhere are read, at each scrape; the catalogue keeps no copy. */
export interface MetricSources {
  admission(): {
    readonly framesAccepted: number;
    readonly entriesAccepted: number;
    readonly bytesAccepted: number;
    readonly rejected: Readonly<Record<string, number>>;
  };
  seals(): {
    readonly directoryHeight: number;
    readonly blocksCommitted: number;
    readonly entriesCommitted: number;
    readonly sealFailures: number;
  };
  unsealedBytes(): number;
  /** The window of client frame ids (docs/protocol.md 4.8). */
  frameIds(): {
    readonly remembered: number;
    readonly bytes: number;
    readonly repeats: number;
    readonly evicted: number;
    readonly stripped: number;
    readonly repeatsFromStore: number;
  };
  chains(): number;
  connections(): number;
  /** The connection guard's tallies and the descriptor watch's state. */
  guard(): {
    /** By cause: connections, address, descriptors, share (busy); host, origin (forbidden). */
    readonly refused: Readonly<Record<string, number>>;
    readonly httpInFlight: number;
    readonly maxConnections: number;
    readonly descriptorsLow: boolean;
    readonly descriptorsLowEpisodes: number;
    /** Whether the port is listened on (not while descriptors are nearly gone), and times it stopped. */
    readonly listening: boolean;
    readonly listenStops: number;
  };
  /** What the front door's turns by address did (null: not kept, limits.frontDoorTurnBudgetMs null). */
  addressTurns(): {
    readonly overloadedTurns: number;
    readonly addressesBarred: number;
    readonly framesCutOff: number;
    readonly framesShed: number;
    readonly longestTurnMs: number;
  } | null;
  /**
   * The front door's turns as measured whole (defence/turn-meter.ts): null
   * when they cannot be (no native addon), and the longest turn is then the
   * share's lower bound.
   */
  frontDoorTurns?(): {
    readonly turns: number;
    readonly busySeconds: number;
    readonly cpuSeconds: number;
    readonly longestBusySeconds: number;
    /** Turns by busy time against `bounds`, non-cumulative (the last above every bound). */
    readonly buckets: readonly number[];
    readonly bounds: readonly number[];
  } | null;
  /** One per lane, in the order of the lane names the catalogue was given. */
  lanes(): readonly LaneReading[];
  /** Descriptors the process holds (null where they cannot be counted). */
  openDescriptors?(): number | null;
  /** Frames refused over a chain's fair share of its lane, by chain name (chains with none left out). */
  fairShareRefusals?(): readonly (readonly [string, number])[];
}

export interface LaneReading {
  readonly ringUsed: number;
  readonly backlog: number;
  readonly retries: number;
}

/** Values by label value, e.g. [['light', 3], …]. */
type Series = readonly (readonly [string, number])[];

/** A counter or gauge read from a source at scrape: one value, or one per value of `label`. */
type Read =
  | { type: 'counter' | 'gauge'; name: string; help: string; label?: undefined; read: () => number }
  | { type: 'counter' | 'gauge'; name: string; help: string; label: string; read: () => Series };

function catalogue(s: MetricSources, laneNames: readonly string[]): Read[] {
  const byLane = (pick: (lane: LaneReading) => number): Series => s.lanes().map((lane, i) => [laneNames[i]!, pick(lane)]);
  return [
    { type: 'counter', name: 'chainlanes_frames_accepted_total', help: 'Frames accepted.', read: () => s.admission().framesAccepted },
    { type: 'counter', name: 'chainlanes_entries_accepted_total', help: 'Entries accepted.', read: () => s.admission().entriesAccepted },
    { type: 'counter', name: 'chainlanes_bytes_accepted_total', help: 'Frame bytes accepted.', read: () => s.admission().bytesAccepted },
    { type: 'gauge', name: 'chainlanes_frame_ids_remembered', help: 'Client frame ids the window holds, all chains.', read: () => s.frameIds().remembered },
    {
      type: 'gauge',
      name: 'chainlanes_frame_ids_bytes',
      help: 'What the window of client frame ids counts against limits.maxFrameIdBytes.',
      read: () => s.frameIds().bytes,
    },
    {
      type: 'counter',
      name: 'chainlanes_frame_id_repeats_total',
      help: 'Frames sent again with a remembered id, answered without writing.',
      read: () => s.frameIds().repeats,
    },
    {
      type: 'counter',
      name: 'chainlanes_frame_ids_evicted_total',
      help: 'Client frame ids forgotten to stay within the window bounds.',
      read: () => s.frameIds().evicted,
    },
    {
      type: 'counter',
      name: 'chainlanes_frame_ids_stripped_total',
      help: 'Client frame ids whose hashes were given up for limits.maxFrameIdBytes once durable (a repeat reads them from the store).',
      read: () => s.frameIds().stripped,
    },
    {
      type: 'counter',
      name: 'chainlanes_frame_id_repeats_from_store_total',
      help: 'Repeats of stripped client frame ids, answered with hashes read from the store.',
      read: () => s.frameIds().repeatsFromStore,
    },
    {
      type: 'counter',
      name: 'chainlanes_frames_rejected_total',
      help: 'Frames rejected, by error code.',
      label: 'code',
      read: () => Object.entries(s.admission().rejected),
    },
    { type: 'counter', name: 'chainlanes_entries_committed_total', help: 'Entries made durable.', read: () => s.seals().entriesCommitted },
    { type: 'counter', name: 'chainlanes_blocks_committed_total', help: 'Entry blocks made durable.', read: () => s.seals().blocksCommitted },
    { type: 'counter', name: 'chainlanes_seal_failures_total', help: 'Failed seal transactions (retried).', read: () => s.seals().sealFailures },
    { type: 'gauge', name: 'chainlanes_directory_height', help: 'Height of the last durable directory block.', read: () => s.seals().directoryHeight },
    { type: 'gauge', name: 'chainlanes_unsealed_bytes', help: 'Bytes of accepted entries not yet durable.', read: () => s.unsealedBytes() },
    { type: 'gauge', name: 'chainlanes_chains', help: 'Chains known.', read: () => s.chains() },
    { type: 'gauge', name: 'chainlanes_connections', help: 'Open WebSocket connections.', read: () => s.connections() },
    { type: 'gauge', name: 'chainlanes_http_requests_in_flight', help: 'HTTP requests received and not yet answered.', read: () => s.guard().httpInFlight },
    {
      type: 'gauge',
      name: 'chainlanes_max_connections',
      help: 'The bound on WebSocket connections and HTTP requests in flight together (limits.maxConnections).',
      read: () => s.guard().maxConnections,
    },
    {
      type: 'counter',
      name: 'chainlanes_requests_refused_total',
      label: 'cause',
      read: () => Object.entries(s.guard().refused),
      help:
        'Connections and requests refused before any route ran, by cause: connections, address, descriptors (busy: at limits.maxConnections, ' +
        'at limits.maxConnectionsPerAddress, file descriptors low, the address barred for taking more than its share of the front door); ' +
        'host, origin (forbidden).',
    },
    {
      type: 'counter',
      name: 'chainlanes_front_door_overloaded_turns_total',
      read: () => s.addressTurns()?.overloadedTurns ?? 0,
      help: 'Event-loop turns of the front door longer than limits.frontDoorTurnBudgetMs.',
    },
    {
      type: 'counter',
      name: 'chainlanes_addresses_barred_total',
      read: () => s.addressTurns()?.addressesBarred ?? 0,
      help: 'Times a client address was barred for taking more than its fair share of an overloaded front-door turn.',
    },
    {
      type: 'counter',
      name: 'chainlanes_frames_cut_off_by_share_total',
      read: () => s.addressTurns()?.framesCutOff ?? 0,
      help: 'Frames that arrived from a barred address (their streams are cut off).',
    },
    {
      type: 'counter',
      name: 'chainlanes_frames_shed_by_share_total',
      read: () => s.addressTurns()?.framesShed ?? 0,
      help: "Frames answered busy, unread, because their address sent more than 64 frames' worth in a front-door turn that ran past its budget.",
    },
    {
      type: 'gauge',
      name: 'chainlanes_front_door_longest_turn_seconds',
      read: () => s.frontDoorTurns?.()?.longestBusySeconds ?? (s.addressTurns()?.longestTurnMs ?? 0) / 1000,
      help:
        "The longest turn of the front door's event loop since start, busy time (wall time less the time it waited for I/O). " +
        "Without the native addon: the longest turn with frames as far as the share's clock saw it (every 256 frame units), a lower bound.",
    },
    {
      type: 'counter',
      name: 'chainlanes_front_door_busy_seconds_total',
      read: () => s.frontDoorTurns?.()?.busySeconds ?? 0,
      help: "Wall time the front door's event loop was busy (its turns, less the time it waited for I/O); 0 without the native addon.",
    },
    {
      type: 'counter',
      name: 'chainlanes_front_door_cpu_seconds_total',
      read: () => s.frontDoorTurns?.()?.cpuSeconds ?? 0,
      help: 'CPU time of the front door thread in its turns; 0 without the native addon.',
    },
    ...(s.openDescriptors?.() == null
      ? []
      : [{ type: 'gauge' as const, name: 'process_open_fds', help: 'Number of open file descriptors.', read: () => s.openDescriptors?.() ?? 0 }]),
    {
      type: 'gauge',
      name: 'chainlanes_descriptors_low',
      help: '1 while file descriptors run low and new connections are refused.',
      read: () => (s.guard().descriptorsLow ? 1 : 0),
    },
    { type: 'counter', name: 'chainlanes_descriptors_low_total', help: 'Times file descriptors ran low.', read: () => s.guard().descriptorsLowEpisodes },
    {
      type: 'gauge',
      name: 'chainlanes_listening',
      read: () => (s.guard().listening ? 1 : 0),
      help: '1 while the gateway listens on its port; 0 while file descriptors are nearly gone and it has stopped accepting connections.',
    },
    {
      type: 'counter',
      name: 'chainlanes_listen_stops_total',
      help: 'Times the gateway stopped listening because file descriptors were nearly gone.',
      read: () => s.guard().listenStops,
    },
    { type: 'gauge', name: 'chainlanes_lane_ring_used_bytes', help: 'Bytes in use in each lane ring.', label: 'lane', read: () => byLane((l) => l.ringUsed) },
    {
      type: 'gauge',
      name: 'chainlanes_lane_backlog_frames',
      help: 'Frames admitted to a lane and not yet hashed.',
      label: 'lane',
      read: () => byLane((l) => l.backlog),
    },
    {
      type: 'counter',
      name: 'chainlanes_lane_worker_retries_total',
      help: 'Lane tasks run again after a worker failed.',
      label: 'lane',
      read: () => byLane((l) => l.retries),
    },
    {
      type: 'counter',
      name: 'chainlanes_fair_share_refused_total',
      label: 'chain',
      read: () => s.fairShareRefusals?.() ?? [],
      help: 'Frames refused busy because their chain was over its fair share of a contended lane, by chain.',
    },
  ];
}

/**
 * prom-client's Counter has no set(), so a counter's collect() resets it and
 * inc()s it to the source's total. The sources only ever grow, so the exposed
 * counter only grows, and there is no running copy to drift from them. A Gauge
 * would take set() but be typed gauge, and the counter type is what tells a
 * reader that rate() applies.
 */
const MISNAMED_DEFAULT_GAUGES = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'];
/**
 * prom-client counts open descriptors by listing /proc/self/fd on the front
 * door at every scrape: 6–12 ms with 6,000 connections, a long turn per scrape
 * under an attack. The catalogue's process_open_fds reads the count instead.
 */
const LISTING_DEFAULT_GAUGES = ['process_open_fds'];

/** prom-client's process and Node metrics (CPU, memory, event loop), sampled once a second, in `registry`. */
export function registerProcessMetrics(registry: Registry): void {
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: NODE_LOOP_LAG_SAMPLE_MS });
  // prom-client names these gauges *_total, which Prometheus keeps for
  // counters: `promtool check metrics` refuses the exposition with them.
  for (const name of [...MISNAMED_DEFAULT_GAUGES, ...LISTING_DEFAULT_GAUGES]) registry.removeSingleMetric(name);
}

function register(registry: Registry, m: Read): void {
  const common = { name: m.name, help: m.help, registers: [registry], labelNames: m.label === undefined ? [] : [m.label] };
  if (m.type === 'counter') {
    new Counter({
      ...common,
      collect() {
        this.reset();
        if (m.label === undefined) this.inc(m.read());
        else for (const [value, n] of m.read()) this.inc({ [m.label]: value }, n);
      },
    });
  } else {
    new Gauge({
      ...common,
      collect() {
        if (m.label === undefined) this.set(m.read());
        else for (const [value, n] of m.read()) this.set({ [m.label]: value }, n);
      },
    });
  }
}

export class GatewayMetrics {
  readonly registry = new Registry();
  /** Per lane, in the order of the lane names: the front door observes each frame into its lane's. */
  readonly hashLatency: readonly LatencyHistogram[];
  private readonly loopDelay: LoopDelaySampler;

  private readonly laneNames: readonly string[];
  private reading = false;

  /** The histograms the front door observes into exist from here; the values kept elsewhere are read once `readFrom` says where. */
  constructor(laneNames: readonly string[]) {
    this.laneNames = laneNames;
    this.hashLatency = laneNames.map(() => new LatencyHistogram());
    registerLatencyHistograms(
      this.registry,
      'chainlanes_hash_latency_seconds',
      'From admission of a frame to its hashes being ready, by lane.',
      'lane',
      laneNames,
      this.hashLatency,
    );
    this.loopDelay = new LoopDelaySampler(
      new Histogram({
        name: 'chainlanes_event_loop_delay_seconds',
        help: 'How late the front door thread ran its event loop, by a timer probe (a frame waits that long to be read).',
        buckets: [...LOOP_DELAY_BOUNDS],
        registers: [this.registry],
      }),
    );
    // prom-client's own loop-lag gauges run a perf_hooks monitor whose timer
    // fires every `eventLoopMonitoringPrecision` ms: at its default of 10 that
    // woke an idle front door 100 times a second, two thirds of all its
    // wake-ups. chainlanes_event_loop_delay_seconds is the front door's
    // measure; the nodejs_eventloop_lag_* gauges are kept, sampled once a second.
    registerProcessMetrics(this.registry);
  }

  /** Registers every chainlanes metric, read from `sources` at each scrape. Once. */
  readFrom(sources: MetricSources): void {
    if (this.reading) throw new Error('the metrics already read from their sources');
    this.reading = true;
    for (const m of catalogue(sources, this.laneNames)) register(this.registry, m);
    registerReadHistogram(
      this.registry,
      'chainlanes_front_door_turn_seconds',
      "Turns of the front door's event loop by busy time (wall time less the time it waited for I/O): what a frame arriving in one may wait. " +
        'No series without the native addon.',
      sources.frontDoorTurns?.()?.bounds ?? [],
      () => {
        const turns = sources.frontDoorTurns?.() ?? null;
        return turns === null ? null : { counts: turns.buckets, sum: turns.busySeconds };
      },
    );
  }

  start(): void {
    this.loopDelay.start();
  }

  stop(): void {
    this.loopDelay.stop();
  }
}
