// The lanes as GET /v1/lanes and the dashboard show them, and the scheduler's
// moves on the dashboard's live feed.
import type { DashboardFeed } from '../dashboard/index.js';
import type { ChainRegistry } from '../frontdoor/index.js';
import { lanesView, type ChainFilter } from '../http/index.js';
import { LANE_NAMES } from '../ring/index.js';
import type { CoreLayout, SchedulerEvent } from '../scheduler/index.js';
import type { SharedParts } from './shared.js';
import type { ThreadParts } from './threads.js';

/** The lanes as `GET /v1/lanes` and the dashboard show them: cores, capacity, placed demand, and why each chain is where it is. */
export function lanesNow(parts: { layout: CoreLayout; shared: SharedParts; threads: ThreadParts }, frontdoorCores: readonly number[] | undefined, listed?: ChainFilter): unknown {
  const { threads, shared } = parts;
  return lanesView({
    layout: parts.layout, frontdoorCores, laneTable: threads.balancer.table, pools: threads.pools, laneCores: shared.laneCores, chains: shared.chains,
    balance: threads.balancer.balance, why: (slot) => threads.balancer.why(slot), listed,
  });
}

/** Chain and core moves, as they happen, for the dashboard's live feed. */
export function showOnDashboard(event: SchedulerEvent, chains: ChainRegistry, dashboard: DashboardFeed): void {
  if (event.type === 'lane-change') {
    const chain = chains.at(event.slot)?.name;
    const [from, to] = [LANE_NAMES[event.from], LANE_NAMES[event.to]];
    if (chain === undefined || from === undefined || to === undefined) return;
    dashboard.event({ type: 'chain-move', at: Date.now(), chain, from, to, entriesPerSec: Math.round(event.entriesPerSec) });
  } else if (event.type === 'cores') {
    const lanes = Object.fromEntries(event.lanes.map((cores, i) => [LANE_NAMES[i], cores]));
    const utilisation = Object.fromEntries(event.utilisation.map((u, i) => [LANE_NAMES[i], Number(u.toFixed(2))]));
    dashboard.event({ type: 'cores', at: Date.now(), lanes, utilisation });
  }
}
