// Phase 2: the memory the threads share — the chain table (chain → lane and
// rates), the load counters, each lane's cores — and the chains the store
// holds, restored into the chain registry before any thread starts.
import { CommitSampler } from '../dashboard/index.js';
import type { GatewayConfig } from '../config/index.js';
import { ChainRegistry } from '../frontdoor/index.js';
import { ChainTable, LANE_COUNT, LaneCores, LoadCounters } from '../ring/index.js';
import type { CoreLayout } from '../scheduler/index.js';
import type { StoreParts } from './store.js';

/** Worker slots in the load counters: lane workers plus restarts before slots are reused. */
const WORKER_SLOTS = 256;

export interface SharedParts {
  chainTable: ChainTable;
  counters: LoadCounters;
  laneCores: LaneCores;
  chains: ChainRegistry;
  /** Times a frame per chain from admission to commit (the dashboard's commit latency). */
  commitSampler: CommitSampler;
}

export function allocateShared(config: GatewayConfig, layout: CoreLayout, store: StoreParts): SharedParts {
  const { maxChains } = config.limits;
  const chainTable = ChainTable.allocate(maxChains);
  const laneCores = LaneCores.allocate(LANE_COUNT);
  layout.lanes.forEach((cores, lane) => laneCores.set(lane, cores));
  const chains = new ChainRegistry(chainTable);
  const restore = (name: string, nextSeq = 0, nextHeight = 0): void => {
    if (chains.getOrCreate(name, nextSeq, nextHeight) === undefined) throw new Error(`the store holds more chains than limits.maxChains (${maxChains})`);
  };
  for (const head of store.resume.chains) restore(head.chainName, head.nextSeq, head.nextHeight);
  // Chains created with an owner but never written hold no blocks yet; they get their slots too.
  for (const name of store.credits?.book.chains.keys() ?? []) restore(name);
  return {
    chainTable,
    laneCores,
    chains,
    counters: LoadCounters.allocate(maxChains, WORKER_SLOTS),
    commitSampler: new CommitSampler(maxChains),
  };
}
