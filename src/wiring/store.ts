// Phase 1: the data directory, its lock, and everything kept in it — the
// ledger, the credit tables, the stored settings (lane table, pins, decisions),
// and the reader threads that serve reads from it.
import { ADMIN_KEY_ENV, Credits, creditHoldings, type CreditHoldings } from '../credits/index.js';
import { ConfigError, type GatewayConfig } from '../config/index.js';
import { SealProgress } from '../frontdoor/index.js';
import { LANE_TABLE_KEY, Ledger, LedgerReaders, StoreLock, StoredSettings, prepareDataDir, probeStore, type LedgerHeads } from '../ledger/index.js';
import { validateLaneTable, type LaneTable } from '../scheduler/index.js';
import { GatewayHeads } from './heads.js';
import type { StopStack } from './stop-stack.js';

export interface StoreParts {
  /** Read-only on this thread: the sealer thread writes it. */
  ledger: Ledger;
  /** Where each chain and the directory resume (the ledger's heads). */
  resume: LedgerHeads;
  /** How sealing goes, from the directory height the store holds. */
  seals: SealProgress;
  /** Signed heads of the directory log: the key (kept in the store), the latest head, its routes. */
  heads: GatewayHeads;
  /** Accounts, keys and credits in authenticated mode; null in open mode. */
  credits: Credits | null;
  /** Settings kept in the store: the lane table, pins, the last decisions. */
  settings: StoredSettings;
  /** The lane table the scheduler starts with: the store's, seeded from the config on a new store. */
  laneTable: LaneTable;
  readers: LedgerReaders;
  /** From the ledger's opening to its closing (GET /readyz). */
  readonly isOpen: () => boolean;
}

export async function openStore(config: GatewayConfig, adminKey: string | null, stops: StopStack): Promise<StoreParts> {
  prepareDataDir(config.dataDir);
  const lock = StoreLock.acquire(config.dataDir);
  stops.push('the store lock', () => lock.release());
  // Before anything opens the store in this process: a damaged lmdb file
  // crashes the process that reads it (store-probe.ts).
  await probeStore(config.dataDir);
  const ledger = await Ledger.open(config.dataDir, { readOnly: true });
  let open = true;
  stops.push('the ledger', async () => {
    open = false;
    await ledger.close();
  });
  const resume = ledger.heads();
  const seals = new SealProgress(resume.directory.nextHeight - 1, config.ledger.unhealthyAfterSealFailures);
  // Before the sealer starts: a refused signing key stops the start.
  const signedHeads = await GatewayHeads.open(ledger.environment, config);
  const credits =
    adminKey === null ? refuseOpenModeOnPricedStore(config.dataDir, creditHoldings(ledger.environment)) : await openCredits(ledger, resume, seals, adminKey);
  const settings = StoredSettings.open(config.dataDir);
  stops.push('the stored settings', () => settings.close());
  const laneTable = await loadLaneTable(settings, config);
  const readers = new LedgerReaders(config.dataDir, config.ledger.readerThreads);
  stops.push('the ledger readers', () => readers.close());
  return { ledger, resume, seals, heads: signedHeads, credits, settings, laneTable, readers, isOpen: () => open };
}

function openCredits(ledger: Ledger, resume: LedgerHeads, seals: SealProgress, adminKey: string): Promise<Credits> {
  const nextSeq = new Map(resume.chains.map((head) => [head.chainName, head.nextSeq]));
  return Credits.open(ledger.environment, {
    adminKey,
    nextSeqOf: (name) => nextSeq.get(name) ?? 0,
    nextDirectoryHeight: () => seals.directoryHeight + 1,
  });
}

/**
 * A store that has held accounts or owned chains starts only authenticated:
 * in open mode its priced chains would be written free, and `verify` would
 * find blocks whose burns do not pay for their entries. No flag overrides it.
 */
function refuseOpenModeOnPricedStore(dataDir: string, holdings: CreditHoldings | null): null {
  if (holdings === null) return null;
  const chains =
    holdings.chainCount === 0
      ? 'no chains'
      : `${holdings.chainCount} owned chain${holdings.chainCount === 1 ? '' : 's'} (${holdings.chains.map((name) => JSON.stringify(name)).join(', ')}` +
        `${holdings.chainCount > holdings.chains.length ? ', …' : ''})`;
  throw new ConfigError([
    `the store ${dataDir} is priced: it holds ${holdings.accounts} account${holdings.accounts === 1 ? '' : 's'} and ${chains}, ` +
      `so it starts only with an admin key (${ADMIN_KEY_ENV} or auth.adminKeyFile / --admin-key-file). ` +
      'In open mode its chains would be written free and its credits would no longer verify; no flag changes that',
  ]);
}

/** The lane table lives in the store; a new store takes the configured one. */
async function loadLaneTable(settings: StoredSettings, config: GatewayConfig): Promise<LaneTable> {
  const stored = settings.get(LANE_TABLE_KEY);
  if (stored === null) {
    await settings.put(LANE_TABLE_KEY, config.scheduler.laneTable);
    return config.scheduler.laneTable;
  }
  try {
    return validateLaneTable(stored, `the lane table in the store ${config.dataDir}`);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    throw new ConfigError([...error.problems, 'replace the lane table with `chainlanes lanes --data DIR --set FILE`']);
  }
}
