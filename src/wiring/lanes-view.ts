// The lanes as GET /v1/lanes and the dashboard show them.
import { lanesView, type ChainFilter } from '../http/index.js';
import type { CoreLayout } from '../scheduler/index.js';
import type { SharedParts } from './shared.js';
import type { ThreadParts } from './threads.js';

/** The lanes as `GET /v1/lanes` and the dashboard show them: cores, capacity, placed demand, and why each chain is where it is. */
export function lanesNow(
  parts: { layout: CoreLayout; shared: SharedParts; threads: ThreadParts },
  frontdoorCores: readonly number[] | undefined,
  listed?: ChainFilter,
): unknown {
  const { threads, shared } = parts;
  return lanesView({
    layout: parts.layout,
    frontdoorCores,
    laneTable: threads.balancer.table,
    pools: threads.pools,
    laneCores: shared.laneCores,
    chains: shared.chains,
    balance: threads.balancer.balance,
    why: (slot) => threads.balancer.why(slot),
    listed,
  });
}
