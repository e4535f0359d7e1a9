// The sealer thread. It copies hashed frames out of every lane ring (freeing
// ring space), and for each cut the front door sends it builds the entry
// blocks and the directory block and commits them in one store transaction.
// Cuts are sealed strictly in order; a failed transaction is retried with
// back-off and nothing after it is sealed meanwhile, so heights never skip.
//
// The thread never dies of a failure: without it nothing accepted can become
// durable, and a store that fails (a full disk) usually comes back. Every
// entry point (messages, the doorbell loop, the retry timer) catches what it
// runs and reports it to the front door.
import { parentPort, workerData } from 'node:worker_threads';
import { RingView, forEachRecord } from '../ring/index.js';
import { THREAD_NAMES, system } from '../native/index.js';
import { openSync } from 'node:fs';
import { join } from 'node:path';
import {
  FileAnchorSink,
  Ledger,
  ReplicaError,
  STORE_DATA_FILE,
  TruncationError,
  describeStoreError,
  isLmdbCommitFailure,
  type AlongsideWrites,
  type HeadSigner,
  type SignedHeadRecord,
} from '../ledger/index.js';
import { BurnWriter } from '../credits/index.js';
import { headSigner } from '../heads/index.js';
import { DOORBELL_POLL_MS, doorbellNow, nextDoorbell, setPendingBytes } from './control.js';
import { PendingEntries, SealArena } from './pending-entries.js';
import type { Cut, SealerCommand, SealerEvent, SealerWorkerData, SignedHeadEvent } from './sealer-messages.js';

const data = workerData as SealerWorkerData;
const rings = data.rings.map((sab) => new RingView(sab));
const readPositions = rings.map((ring) => ring.loadReleased());
const control = new Int32Array(data.control);
const pending = new PendingEntries({ perChain: new Int32Array(data.chainBacklog), maxIdleBytes: data.maxIdleBacklogBytes });
const arena = new SealArena();
const cuts: Cut[] = [];
let lastReport = { message: '', at: 0 };

/** The same failure is reported at most once in this long (a ring that keeps failing to drain would flood the log). */
const REPORT_REPEAT_MS = 10_000;

// lmdb-js rejects promises of a failed commit that no caller holds (those of
// its event-turn batch). Left unhandled they kill this thread, as Node does by
// default (this was how a full disk killed the sealer); the seal that owned
// the commit reports the cause. Any other unhandled rejection is reported.
process.on('unhandledRejection', (reason) => {
  if (isLmdbCommitFailure(reason)) {
    const inner = reason.commitError;
    if (inner instanceof Promise) inner.catch(() => undefined);
    return;
  }
  report('a promise rejected with no handler', reason);
});

// Heads are signed inside each seal's transaction (ledger/log-store.ts); the
// signer is made once the store is open, since its clock starts at the last
// stored head's time.
let signer: HeadSigner | null = null;
// The file sink runs after each durable seal, off the path of `committed`
// notices; the store's own anchor record is written inside the seal.
const ledger = await Ledger.open(data.dataDir, {
  anchorSinks: data.anchorFile === null ? [] : [new FileAnchorSink(data.anchorFile)],
  // Reported to the front door, which logs it: threads have no logger of their own.
  onAnchorError: (error, record, sink) =>
    post({ type: 'anchor-failed', sink: sink.name, height: record.height, message: error instanceof Error ? error.message : String(error) }),
  directoryLog: data.heads !== null,
  ...(data.heads === null ? {} : { signHead: (size: number, root: Buffer) => signer!(size, root) }),
});
if (data.heads !== null) signer = headSigner(data.heads.privateKey, ledger.signedHead()?.time ?? 0);
/** When the newest head was signed (ms since the epoch); an unchanged head is signed again once it is heads.refreshMs old. */
let lastHeadAt = 0;
let refreshTimer: NodeJS.Timeout | null = null;
/** The store is closed (finish): nothing more is signed. */
let finished = false;
// Opened after the store, which created the file; read-only, for posix_fadvise
// only (native dropFileCache). Closed when the thread exits.
const storeFile = data.dropSealedPageCache ? openSync(join(data.dataDir, STORE_DATA_FILE), 'r') : null;
// Blocks' burns are written inside their seal's transaction (src/credits).
const burnWriter = new BurnWriter(ledger.environment);
let sealing = false;
let stopping = false;
let failures = 0;
let sealsDone = 0;
let faultsInjected = 0;
let retryTimer: NodeJS.Timeout | null = null;
let nextDrainAt = 0;
let drainTimer: NodeJS.Timeout | null = null;

system.nameThread(THREAD_NAMES.sealer);
if (data.cores.length > 0) system.pinThread(data.cores);
if (data.nice !== 0) system.setThreadNice(data.nice);

function post(event: SealerEvent): void {
  parentPort!.postMessage(event);
}

function report(where: string, error: unknown): void {
  const message = describeStoreError(error);
  const now = Date.now();
  if (message === lastReport.message && now - lastReport.at < REPORT_REPEAT_MS) return;
  lastReport = { message, at: now };
  try {
    post({ type: 'sealer-error', where, message });
  } catch {
    // The front door is gone (shutting down): nobody to tell.
  }
}

/**
 * Copies every record before each ring's `hashed` cursor, then releases the
 * space. A record of a chain the front door has not announced yet (its
 * message is still on the way) stops that ring until the announcement comes.
 */
function drainRings(): void {
  if (drainHeld()) return;
  rings.forEach((ring, lane) => {
    const pos = forEachRecord(ring, readPositions[lane]!, ring.loadHashed(), (at) => pending.copyRecord(ring, at));
    if (pos === readPositions[lane]) return;
    readPositions[lane] = pos;
    ring.storeReleased(pos);
  });
  setPendingBytes(control, pending.bytes);
}

/**
 * Tests only (CHAINLANES_TEST_FAULTS sealerDrainEveryMs): at most one drain per
 * that many ms, so a small ring fills for certain; the held drain runs when it is due.
 */
function drainHeld(): boolean {
  const every = data.sealFaults.drainEveryMs;
  if (every === 0) return false;
  const now = Date.now();
  if (now >= nextDrainAt) {
    nextDrainAt = now + every;
    return false;
  }
  drainTimer ??= setTimeout(() => {
    drainTimer = null;
    step();
  }, nextDrainAt - now);
  return true;
}

function ready(cut: Cut): boolean {
  return cut.blocks.every((b) => pending.covers(b.slot, b.firstSeq, b.endSeq));
}

/** Seals the oldest cut; the caller made sure it is ready and nothing else is sealing. */
async function sealNext(cut: Cut): Promise<void> {
  try {
    arena.reset();
    const blocks = cut.blocks.map((b) => ({
      chainName: b.chainName,
      firstSeq: b.firstSeq,
      count: b.endSeq - b.firstSeq,
      prepared: pending.buildBlock(b.slot, b.firstSeq, b.endSeq, arena),
      ...(b.frameIds === undefined ? {} : { frameIds: b.frameIds }),
    }));
    const result = await ledger.seal({ blocks, sealedAt: cut.sealedAt }, alongside(cut, injectedFault()));
    // The front door never sends an empty cut, so every seal has a directory block.
    if (result.directory === null) throw new Error('a seal of a non-empty cut returned no directory block');
    const directory = result.directory;
    cuts.shift();
    failures = 0;
    sealsDone++;
    for (const b of cut.blocks) pending.release(b.slot, b.endSeq);
    setPendingBytes(control, pending.bytes);
    // The seal is on disk, so its pages are clean and the kernel may drop them: the next seal reuses them warm.
    if (storeFile !== null) system.dropFileCache(storeFile);
    const { head, ...sealed } = directory;
    post({
      type: 'sealed',
      directory: head === undefined ? sealed : { ...sealed, head: headEvent(head) },
      blocks: result.blocks.map((b, i) => ({ ...b, slot: cut.blocks[i]!.slot })),
    });
  } catch (error) {
    failures++;
    const retryInMs = Math.min(5000, 100 * 2 ** Math.min(failures, 6));
    post({ type: 'seal-failed', message: describeStoreError(error), attempt: failures, retryInMs });
    retryTimer = setTimeout(() => {
      retryTimer = null;
      step();
    }, retryInMs);
  }
}

function headEvent(head: SignedHeadRecord): SignedHeadEvent {
  lastHeadAt = head.time;
  return { size: head.size, time: head.time, root: head.root, signature: head.signature };
}

/**
 * While nothing is sealed, the present head is signed again every
 * heads.refreshMs, so its time says the gateway stands by it now (a monitor
 * calls a head older than its --max-age stale). One timer, re-armed for what is
 * left when a seal signed a head meanwhile: no work per seal.
 */
function armHeadRefresh(): void {
  const refreshMs = data.heads?.refreshMs;
  if (refreshMs === undefined || finished) return;
  const wait = Math.max(0, lastHeadAt + refreshMs - Date.now());
  refreshTimer = setTimeout(() => {
    refreshTimer = null;
    if (Date.now() - lastHeadAt < refreshMs) return armHeadRefresh();
    ledger
      .signHead()
      .then(
        (head) => {
          if (head !== null) post({ type: 'head', head: headEvent(head) });
        },
        (error: unknown) => report('signing the present head again', error),
      )
      .finally(armHeadRefresh);
  }, wait);
}

/** What the seal transaction of `cut` writes beside its blocks: the blocks' burns, and any injected fault. */
function alongside(cut: Cut, fault: AlongsideWrites | undefined): AlongsideWrites | undefined {
  if (!cut.blocks.some((b) => b.burns !== undefined)) return fault;
  return (sealed) => {
    fault?.(sealed);
    burnWriter.write(
      sealed.directory!.height,
      cut.blocks.map((b, i) => ({
        chainName: b.chainName,
        height: sealed.blocks[i]!.height,
        firstSeq: b.firstSeq,
        count: b.endSeq - b.firstSeq,
        burns: b.burns ?? [],
      })),
    );
  };
}

/**
 * Tests only (CHAINLANES_TEST_FAULTS failSeal*): a write inside the seal's store
 * transaction that throws, so the real transaction aborts as a failed disk
 * write would.
 */
function injectedFault(): (() => void) | undefined {
  const { after, attempts } = data.sealFaults;
  if (sealsDone < after || faultsInjected >= attempts) return undefined;
  return () => {
    faultsInjected++;
    throw new Error(`injected seal failure ${faultsInjected} of ${attempts} (CHAINLANES_TEST_FAULTS failSealAttempts)`);
  };
}

/**
 * Drains the rings and starts sealing if it is not running. Never waits for a
 * seal: the rings must keep draining while a store transaction is on disk.
 * Never throws: every caller is an entry point of the thread.
 */
function step(): void {
  try {
    drainRings();
  } catch (error) {
    report('draining the lane rings', error);
  }
  if (!sealing) sealReadyCuts().catch((error: unknown) => report('sealing', error));
}

/** Seals cuts in order for as long as the oldest one has all its entries. */
async function sealReadyCuts(): Promise<void> {
  sealing = true;
  try {
    while (cuts.length > 0 && retryTimer === null && ready(cuts[0]!)) await sealNext(cuts[0]!);
  } finally {
    sealing = false;
  }
  if (stopping && cuts.length === 0 && retryTimer === null) await finish();
}

async function finish(): Promise<void> {
  stopping = false;
  finished = true;
  if (refreshTimer !== null) clearTimeout(refreshTimer);
  if (drainTimer !== null) clearTimeout(drainTimer);
  let error: string | undefined;
  try {
    await ledger.close();
  } catch (closeError) {
    error = describeStoreError(closeError);
  }
  post(error === undefined ? { type: 'stopped' } : { type: 'stopped', error });
  parentPort!.close();
  process.exit(0);
}

/** Stores adopted blocks in the ledger's queue, between seals; the answer goes back by id. */
function adopt(command: Extract<SealerCommand, { type: 'adopt' }>): void {
  ledger.adopt(command.chain, command.blocks).then(
    (head) => post({ type: 'adopted', id: command.id, head: { nextHeight: head.nextHeight, nextSeq: head.nextSeq, lastBlockHash: head.lastBlockHash } }),
    (error: unknown) => post({ type: 'adopted', id: command.id, error: describeStoreError(error) }),
  );
}

/** Stores shipped seals in the ledger's queue, between seals; the answer goes back by id. */
function replicate(command: Extract<SealerCommand, { type: 'replicate' }>): void {
  ledger.replicateSeals(command.owner, command.seals).then(
    ({ acked, refused }) => post({ type: 'replicated', id: command.id, acked, ...(refused === undefined ? {} : { refusal: refused.message }) }),
    (error: unknown) => post({ type: 'replicated', id: command.id, error: describeStoreError(error), refused: error instanceof ReplicaError }),
  );
}

/**
 * The returning owner's truncation in the ledger's queue, the burns of what it
 * removes given back in its transaction; then each truncated chain's backlog
 * restarts at its new head. The answer goes back by id.
 */
function truncate(command: Extract<SealerCommand, { type: 'truncate' }>): void {
  const refund = burnWriter.refunder();
  ledger.truncateUnreplicated(command.request, refund === undefined ? undefined : (removed, why) => refund(removed, why)).then(
    (result) => {
      const slots = new Map(command.slots);
      for (const chain of result.chains) {
        const slot = slots.get(chain.chain);
        if (slot !== undefined && !pending.rewind(slot, chain.head.nextSeq))
          report(
            'truncating',
            new Error(`chain ${JSON.stringify(chain.chain)} holds entries not yet sealed: its backlog does not restart at seq ${chain.head.nextSeq}`),
          );
      }
      post({ type: 'truncated', id: command.id, result });
    },
    (error: unknown) => post({ type: 'truncated', id: command.id, error: describeStoreError(error), refused: error instanceof TruncationError }),
  );
}

/** Drains whenever the doorbell rings (the front door rings it when a ring is filling), and every DOORBELL_POLL_MS without it. */
async function watchDoorbell(): Promise<void> {
  let seen = doorbellNow(control);
  for (;;) {
    try {
      seen = await nextDoorbell(control, seen);
    } catch (error) {
      report('waiting for the doorbell', error);
      await new Promise((resolve) => setTimeout(resolve, DOORBELL_POLL_MS));
    }
    step();
  }
}

parentPort!.on('message', (command: SealerCommand) => {
  try {
    if (command.type === 'cut') cuts.push(command.cut);
    else if (command.type === 'chain') pending.register(command.slot, command.nextSeq);
    else if (command.type === 'adopt') adopt(command);
    else if (command.type === 'replicate') replicate(command);
    else if (command.type === 'truncate') truncate(command);
    else stopping = true;
  } catch (error) {
    report(`handling a ${command.type} message`, error);
  }
  step();
});

// A head of the present size at the present time, so the front door has one to serve from the start.
const startHead = await ledger.signHead();
post({ type: 'ready', head: startHead === null ? null : headEvent(startHead) });
armHeadRefresh();
void watchDoorbell();
