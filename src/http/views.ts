// What the read-side routes show of the running gateway (/v1/chains, /v1/lanes,
// /healthz), built from the state the front door already holds. Views only:
// nothing here changes anything.
import { LANE_NAMES, type ChainTable, type LaneCores } from '../ring/index.js';
import type { LanePool } from '../lanes/index.js';
import type { CoreLayout, LaneBalance, LaneTable } from '../scheduler/index.js';
import type { ChainRegistry, ChainState, SealProgress } from '../frontdoor/index.js';

/** `GET /v1/chains/{name}` and each item of `GET /v1/chains`. */
export function chainView(chain: ChainState, table: ChainTable): Record<string, unknown> {
  const slot = chain.slot;
  return {
    name: chain.name,
    chainId: chain.chainIdHex,
    lane: LANE_NAMES[table.lane(slot)],
    entriesPerSec: round(table.entriesPerSec(slot)),
    bytesPerSec: round(table.bytesPerSec(slot)),
    share: round(table.share(slot), 4),
    nextSeq: chain.nextSeq,
    committedSeq: chain.committedSeq,
    height: chain.nextHeight - 1,
  };
}

export interface LanesState {
  layout: CoreLayout;
  /** The cores the front door runs on now (front-door-cores.ts); default: the layout's. */
  frontdoorCores?: readonly number[];
  laneTable: LaneTable;
  pools: readonly LanePool<unknown>[];
  laneCores: LaneCores;
  chains: ChainRegistry;
  /** The scheduler's last balance (capacity, placed demand), null before the first. */
  balance?: { lanes: readonly LaneBalance[]; headroom: number } | null;
  /** Why each chain (by slot) is where it is: "table", "pinned", "placement: …". */
  why?: (slot: number) => string;
  /** The chains the one asking may see listed (listings.ts); by default all. */
  listed?: (chainName: string) => boolean;
}

/** A lane's capacity, placed demand and headroom, as GET /v1/lanes shows them. */
function balanceView(balance: LaneBalance, headroom: number): Record<string, unknown> {
  return {
    capacity: {
      entriesPerSec: Math.round(balance.capacity.entriesPerSec),
      bytesPerSec: Math.round(balance.capacity.bytesPerSec),
      correction: round(balance.correction, 3),
    },
    // Significant digits, not decimals: a light lane's load is often 1e-5 of its capacity.
    demand: { entriesPerSec: round(balance.demand.entriesPerSec), bytesPerSec: round(balance.demand.bytesPerSec), load: Number(balance.load.toPrecision(4)) },
    headroom: { limit: headroom, room: Number((headroom - balance.load).toPrecision(4)) },
  };
}

/** `GET /v1/lanes`: cores, workers, ring use and the chains in each lane. */
export function lanesView(state: LanesState): Record<string, unknown> {
  const { layout, chains } = state;
  const listed = state.listed ?? (() => true);
  // Unlisted chains count in the lanes' load and use, but are not named.
  const laneOfChain = chains.all().map((c) => (listed(c.name) ? chains.table.lane(c.slot) : -1));
  return {
    cpuCount: layout.cpuCount,
    frontdoor: { cores: state.frontdoorCores ?? layout.frontdoor, pinned: layout.frontdoor, quiet: layout.frontdoorQuiet },
    sealer: { cores: layout.sealer },
    laneTable: state.laneTable,
    lanes: state.pools.map((pool, lane) => ({
      name: pool.name,
      cores: state.laneCores.cores(lane),
      workers: pool.threads,
      ...pool.stats(),
      ...(state.balance?.lanes[lane] === undefined ? {} : balanceView(state.balance.lanes[lane], state.balance.headroom)),
      chains: chains
        .all()
        .filter((_, i) => laneOfChain[i] === lane)
        .map((c) => c.name),
      ...(state.why === undefined
        ? {}
        : {
            placement: chains
              .all()
              .filter((_, i) => laneOfChain[i] === lane)
              .map((c) => ({
                chain: c.name,
                why: state.why!(c.slot),
                entriesPerSec: round(chains.table.entriesPerSec(c.slot)),
                bytesPerSec: round(chains.table.bytesPerSec(c.slot)),
              })),
          }),
    })),
  };
}

export interface HealthState {
  trouble: string | null;
  sealerAlive: boolean;
  native: boolean;
  nativeError: string | null;
  chains: number;
  connections: number;
  seals: SealProgress;
  startedAt: number;
}

/** `GET /healthz`: 200 with status ok, or 503 with status degraded and the reason. */
export function healthView(state: HealthState): Record<string, unknown> {
  const { seals } = state;
  return {
    status: state.trouble === null ? 'ok' : 'degraded',
    reason: state.trouble,
    native: state.native,
    nativeError: state.nativeError,
    uws: 'native',
    sealer: state.sealerAlive,
    chains: state.chains,
    connections: state.connections,
    directoryHeight: seals.directoryHeight,
    sealFailures: seals.sealFailures,
    sealFailuresInRow: seals.sealFailuresInRow,
    lastSealError: seals.lastSealError,
    uptimeSec: Math.round((Date.now() - state.startedAt) / 1000),
  };
}

function round(value: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}
