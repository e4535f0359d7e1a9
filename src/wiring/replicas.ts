// Standby replicas in the running gateway (docs/replicas.md parts 3 and 4),
// for a gateway in a fleet with `fleet.replicas: 1` only: the commit hop's
// gate (every `sealed` event held until the standby's `durable`), the
// shipper that follows the standby the fleet names for this gateway, the
// standby's streams for the owners it stands by for, and what /healthz, the
// metrics and admission read. Without replicas nothing here runs.
//
// The store's half — reading seal n for shipping, storing a shipped seal in
// one transaction through the sealer — is the ledger's (branch
// replicas-ledger). It plugs in as a `ReplicaStore`; until a store provides
// one, `fleet.replicas: 1` is refused at start, naming what is missing.
import { performance } from 'node:perf_hooks';
import { Gauge, type Registry } from 'prom-client';
import { clearAlone, clearTakeover, readTakeover, recordAlone, releaseStandby, takeOverChains } from '../fleet/index.js';
import type { CommitRelease, SealedEvent } from '../frontdoor/index.js';
import { errorMessage, type Logger } from '../log/index.js';
import { decodeEntryBlockHeader, ENTRY_BLOCK_HEADER_BYTES, ReplicaError, type TruncationRequest, type TruncationResult } from '../ledger/index.js';
import { decodeChainBook, decodeChainBooks, encodeChainBook, encodeChainBooks, isRefusal } from '../credits/index.js';
import { Follower, ReplicaGate, Shipper, StandbyStreams, Takeovers, type ReplicaView, type SealSink, type SealSource } from '../replicas/index.js';
import type { Sealer } from '../sealer/index.js';
import type { FleetParts } from './fleet-parts.js';
import { continueChain, fetchExportPage } from './handoff.js';
import type { RunningParts } from './views.js';
import type { StopStack } from './stop-stack.js';
import type { StoreParts } from './store.js';
import type { ReplicaParts } from './replica-parts.js';

/**
 * The stream to the standby retries its one peer, so a short ceiling storms
 * nothing: at most one attempt a second while the standby is away, and a
 * standby back within its lease (a restart) is found within a second, not the
 * client package's 5 s, all of which the owner spends alone or answering busy.
 * (A standby stopped past its lease is fenced when it wakes, and the stream
 * opens only once it is named again: most of bench/replicas.ts's catch-up.)
 */
const STANDBY_RECONNECT = { minDelayMs: 100, maxDelayMs: 1_000 } as const;

/** The store's half of replicas (the ledger's): what the owner ships from and the standby stores into. */
export interface ReplicaStore {
  source: SealSource;
  sink: SealSink;
  /** The stored bytes of a sealed event's records (what fleet.maxUnreplicatedBytes counts). */
  sealBytes(event: SealedEvent): number;
  /** The store identity the standby's hello names. */
  identity: string;
}

/**
 * The real store's half. The owner ships only heights a `sealed` event
 * reported (`store.seals` moves on the event, before the commit hop's hold):
 * a reader thread can see a seal lmdb made visible before its fsync returned,
 * and a standby must never hold a seal its owner could still lose. The
 * standby stores through its sealer thread (lmdb has one writer), the owner's
 * store digest taken from its member record (`members/{owner}`, what the
 * adopted proofs name) and its head key from the seal message (messages.ts).
 * A chain whose older blocks the owner never sealed itself (it took the
 * chain over, or adopted it by a handoff) has them pulled from the owner's
 * export first, as a handoff pulls them: the standby's check needs each
 * block's predecessor.
 */
export function storeReplicas(store: StoreParts, fleet: FleetParts, sealer: () => Sealer, adminKey: string | null, log: Logger): ReplicaStore {
  const headKey = store.heads.publicKeyHex;
  return {
    identity: fleet.self.key,
    sealBytes: (event) => event.blocks.reduce((bytes, block) => bytes + block.recordBytes, 0),
    source: {
      highest: () => store.seals.directoryHeight,
      read: async (height) => {
        const { seal, sealedHeight } = await store.readers.seal(height);
        if (seal === null) throw new Error(`seal ${height} is not in the store (it holds seals up to ${sealedHeight})`);
        return { ...seal, headKey, credits: booksOfSeal(store, seal.blocks, height, log) };
      },
    },
    sink: {
      position: (owner) => store.ledger.replicaPosition(owner).acked,
      replicate: async (owner, messages) => {
        const member = fleet.node.members.get(owner);
        if (member === undefined) throw new Error(`gateway "${owner}" is not a member of the fleet (members/${owner}): its store is not known`);
        // One batch names one head key (the ledger pins the first it is given); a seal naming another waits for the next batch.
        const ownerHeadKey = messages[0]?.headKey ?? null;
        const batch = messages.slice(
          0,
          prefixLength(messages, (m) => m.headKey === ownerHeadKey),
        );
        await pullOlderBlocks(
          store,
          sealer(),
          { id: owner, url: member.value.url, adminKey },
          batch.flatMap((m) => m.blocks),
        );
        const seals = batch.map(({ directory, head, blocks, frameIds, credits, superseded }) => ({
          directory,
          head,
          blocks,
          frameIds,
          books: credits === null ? [] : shippedBooks(owner, credits),
          ...(superseded === undefined ? {} : { superseded }),
        }));
        // The seals came off the stream in memory of their own (replica-routes.ts): handed to the sealer, not copied.
        return sealer().replicateSeals({ id: owner, key: member.value.store, headKey: ownerHeadKey }, seals, true);
      },
    },
  };
}

/**
 * Each chain of a shipped seal whose first block here starts above what this
 * store holds of it: the blocks between, from the owner's export, adopted
 * (checked as a handoff's). Nothing is pulled for a chain the store is level
 * with (every chain the owner sealed from its start); a block whose header
 * does not decode is left to the seal's own check to refuse.
 */
async function pullOlderBlocks(
  store: StoreParts,
  sealer: Sealer,
  owner: { id: string; url: string; adminKey: string | null },
  blocks: readonly { chain: string; record: Uint8Array }[],
): Promise<void> {
  const seen = new Set<string>();
  for (const { chain, record } of blocks) {
    if (seen.has(chain)) continue;
    seen.add(chain);
    const wanted = blockHeight(record);
    if (wanted === null) continue;
    let next = store.ledger.chainNextHeight(chain);
    while (next < wanted) {
      const page = await fetchExportPage(owner.url, chain, next, owner.adminKey);
      if (isRefusal(page)) throw new Error(`the older blocks of chain "${chain}" from gateway "${owner.id}": ${page.message}`);
      const older = page.blocks.filter((b) => (blockHeight(b.record) ?? wanted) < wanted);
      if (older.length === 0) throw new Error(`gateway "${owner.id}" exported no block of chain "${chain}" from height ${next} (its seal starts at ${wanted})`);
      next = (await sealer.adopt(chain, older)).nextHeight;
    }
  }
}

/** How many of `items`, from the first, pass `test`. */
function prefixLength<T>(items: readonly T[], test: (item: T) => boolean): number {
  const first = items.findIndex((item) => !test(item));
  return first < 0 ? items.length : first;
}

/** The height in a block record's header (version ‖ header ‖ …), or null when it does not decode. */
function blockHeight(record: Uint8Array): number | null {
  try {
    return decodeEntryBlockHeader(record.subarray(1, 1 + ENTRY_BLOCK_HEADER_BYTES)).height;
  } catch {
    return null;
  }
}

/** How often the lost clock is looked at (going alone happens there) and the named standby followed. */
const CHECK_MS = 250;
/** Blocks one seal may list on a replica stream (a seal lists a block per chain sealed in it). */
const MAX_BLOCKS_PER_SEAL = 1_000_000;

/** The replica phase as the gateway holds it: the parts, and the step run once every part runs. */
export interface ReplicaPhase extends ReplicaParts {
  /**
   * Takeovers of the owners this gateway stands by for begin (docs/replicas.md
   * part 5); resolves once a takeover of this gateway's own chains, if etcd
   * names one, has been truncated here (part 6), before the gateway listens.
   */
  connect(parts: RunningParts): Promise<void>;
}

export function startReplicas(
  store: StoreParts,
  sealer: () => Sealer,
  fleet: FleetParts | null,
  adminKey: string | null,
  log: Logger,
  stops: StopStack,
): ReplicaPhase | null {
  if (fleet === null || fleet.settings.replicas === 0) return null;
  const naming = fleet.node.standbys!;
  const replicaStore = storeReplicas(store, fleet, sealer, adminKey, log);
  const { settings } = fleet;
  const me = settings.gatewayId;
  // One bound for a seal message, the seals in flight on a stream, and what a standby queues per owner.
  const maxMessageBytes = Math.min(settings.maxUnreplicatedBytes, 0xffff_ffff);
  const gate = new ReplicaGate<{ event: SealedEvent; release: CommitRelease }>(
    {
      whenStandbyLost: settings.whenStandbyLost,
      lostAfterMs: settings.standbyLostAfterMs,
      maxUnreplicatedBytes: settings.maxUnreplicatedBytes,
      release: ({ event, release }, alone) => release(event, alone),
      goAlone: async (from) => {
        await recordAlone(fleet.node.client, fleet.node.keys, fleet.node.member, from);
        log.warn(
          { event: 'replica-alone', from },
          `standby lost: going on alone from seal ${from} (fleet.whenStandbyLost: alone; replica/${me} says so in etcd)`,
        );
      },
      inStep: () => {
        log.info({ event: 'replica-in-step' }, 'the standby holds every seal again: committed waits for it again');
        clearAlone(fleet.node.client, fleet.node.keys, me).catch((error: unknown) =>
          log.warn({ event: 'replica-alone-clear-failed', error: errorMessage(error) }, `could not delete replica/${me}: ${errorMessage(error)}`),
        );
      },
    },
    performance.now(),
  );
  const shipper = new Shipper({
    owner: me,
    source: replicaStore.source,
    adminKey,
    reconnect: STANDBY_RECONNECT,
    maxInFlightBytes: maxMessageBytes,
    onDurable: (height) => gate.durable(height, performance.now()),
    onState: (state, detail) => log[state === 'shipping' ? 'info' : 'warn']({ event: 'replica-stream', state, detail }, `replica stream ${state}: ${detail}`),
  });
  const follow = (): void => {
    const named = naming.standbyOf(me);
    const url = named === null ? undefined : fleet.node.members.get(named.standby)?.value.url;
    gate.standby(named?.standby ?? null, performance.now());
    shipper.follow(named === null || url === undefined ? null : { id: named.standby, url });
  };
  naming.onChange(follow);
  const timer = setInterval(() => gate.check(performance.now()), CHECK_MS);
  timer.unref();
  follow();
  const streams: StandbyStreams = new StandbyStreams({
    store: replicaStore.identity,
    sink: replicaStore.sink,
    // An owner being taken over ships nothing more here: its chains go on from what is held.
    standsBy: (owner): boolean => naming.standbyOf(owner)?.standby === me && !takeovers.isTaking(owner),
    maxBlocks: MAX_BLOCKS_PER_SEAL,
    maxQueuedBytes: maxMessageBytes,
    onEnd: (owner, code, message) => {
      if (code !== null) log.warn({ event: 'replica-refused', owner, code, error: message }, `refused the replica stream of "${owner}": ${message}`);
    },
  });
  let running: RunningParts | null = null;
  const { client, keys, member } = fleet.node;
  const takeovers: Takeovers = new Takeovers({
    me,
    standingBy: () => [...naming.table.entries].filter(([, e]) => e.value.standby === me).map(([owner, e]) => ({ owner, revision: e.createRevision })),
    isMember: (owner) => fleet.node.members.get(owner) !== undefined,
    chainsOf: (owner) => [...fleet.node.table.entries].filter(([, e]) => e.value.gateway === owner).map(([name, e]) => ({ name, token: e.modRevision })),
    endStream: (owner): Promise<void> => streams.end(owner),
    acked: (owner) => store.ledger.replicaPosition(owner).acked,
    prepare: (chain) => goOnFromHeld(running!, chain),
    transfer: (request) => takeOverChains(client, keys, { ...request, me: member, batch: settings.claimBatch }),
    openBooks: (owner, chains) => openTakenBooks(running!, owner, chains, log),
    won: (chain, token) => fleet.node.table.applyLocal(chain, { gateway: me, since: Date.now() }, token, token),
    release: (owner, revision) => releaseStandby(client, keys, owner, revision),
    log,
  });
  const follower = new Follower({
    me,
    readTakeover: () => readTakeover(client, keys, me),
    notYet: () => unsealedElsewhere(running!, (chain) => fleet.node.table.entries.get(chain)?.value.gateway === me),
    truncate: (request) => truncateTail(running!, gate, request, log),
    clear: (revision) => clearTakeover(client, keys, me, revision),
    log,
  });
  stops.push('the replica stream', () => {
    clearInterval(timer);
    shipper.stop();
    takeovers.stop();
    follower.stop();
  });
  return {
    gate,
    shipper,
    streams,
    maxMessageBytes,
    hold: (event, release) => {
      try {
        gate.hold(event.directory.height, replicaStore.sealBytes(event), { event, release }, performance.now());
      } catch (error) {
        log.error({ event: 'replica-gate-error', error: errorMessage(error) }, `the replica gate refused a seal: ${errorMessage(error)}`);
      }
      shipper.sealed();
    },
    busy: (now) => gate.busy(now),
    connect: async (parts) => {
      running = parts;
      naming.onChange(() => takeovers.check());
      takeovers.check();
      // Back in the fleet after its lease expired (a partition healed): a takeover may have happened meanwhile.
      member.onJoin(() => follower.recheck());
      await follower.check();
    },
    health: () => ({
      ...wallClock(gate.view(performance.now())),
      stream: shipper.state,
      detail: shipper.detail,
      standingBy: naming.standingBy(),
      streaming: streams.owners(),
    }),
  };
}

/** A chain taken over goes on in the front door from the blocks replicated here, its frame-id window rebuilt from their ids. */
function goOnFromHeld(parts: RunningParts, chain: string): string | null {
  const held = parts.store.ledger.chain(chain);
  const refusal = continueChain(parts, chain, held?.nextSeq ?? 0, held?.nextHeight ?? 0);
  if (refusal !== null) return refusal.message;
  const state = parts.shared.chains.get(chain)!;
  parts.intake.admission.frameIds.restoreChains([state], (name, limit, maxBytes) => parts.store.ledger.recentFrameIds(name, limit, maxBytes));
  return null;
}

/** The credit books a seal carried, each as the store keeps it; books that are not books refuse the seal (nothing of it is stored). */
function shippedBooks(owner: string, credits: Uint8Array): { chain: string; book: Uint8Array }[] {
  try {
    return decodeChainBooks(credits).map(({ chain, book }) => ({ chain, book: encodeChainBook(book) }));
  } catch (error) {
    throw new ReplicaError(`seal of gateway ${JSON.stringify(owner)}: ${errorMessage(error)}`);
  }
}

/** What the books a seal carries may take of its message: past it they wait for a later seal of their chains. */
const MAX_BOOK_BYTES_PER_SEAL = 1 << 20;

/** Authenticated mode: the books of the seal's chains go with it, so a takeover opens their credits (null: none). */
function booksOfSeal(store: StoreParts, blocks: readonly { chain: string }[], height: number, log: Logger): Uint8Array | null {
  const books = store.credits?.booksOf(blocks.map((block) => block.chain)) ?? [];
  if (books.length === 0) return null;
  const bytes = encodeChainBooks(books);
  if (bytes.byteLength <= MAX_BOOK_BYTES_PER_SEAL) return bytes;
  log.warn(
    { event: 'replica-books-too-large', height, bytes: bytes.byteLength, chains: books.length },
    `the credit books of seal ${height} (${bytes.byteLength} bytes) do not go with it; a later seal of their chains carries them`,
  );
  return null;
}

/**
 * The chains taken over from `owner` get their credit books from the last
 * ones it shipped here (authenticated mode; docs/replicas.md part 5), each
 * with an opening record naming `owner`, as a handoff opens a chain. A chain
 * with no book here (written in open mode, or never shipped with one) is
 * logged: it serves reads and refuses writes until its owner creates it again.
 */
async function openTakenBooks(parts: RunningParts, owner: string, chains: string[], log: Logger): Promise<void> {
  const credits = parts.store.credits;
  if (credits === null) return;
  for (const chain of chains) {
    const bytes = parts.store.ledger.replicaBook(owner, chain);
    const book = bytes === null ? null : decodeChainBook(bytes);
    if (book === null) {
      log.warn({ event: 'replica-takeover-no-book', owner, chain }, `chain "${chain}" taken over from "${owner}" has no credit book here`);
      continue;
    }
    try {
      await credits.openChain(chain, owner, book, parts.shared.chains.get(chain)?.nextSeq ?? 0);
    } catch (error) {
      log.error(
        { event: 'replica-takeover-book', owner, chain, error: errorMessage(error) },
        `chain "${chain}": its credit book did not open: ${errorMessage(error)}`,
      );
    }
  }
}

/** A chain not owned here that still has entries not sealed here (a truncation waits for them), or null. */
function unsealedElsewhere(parts: RunningParts, ownedHere: (chain: string) => boolean): string | null {
  for (const state of parts.shared.chains.all()) {
    if (ownedHere(state.name)) continue;
    if (state.hasOpenBlock || parts.threads.sealer.chainPendingBytes(state.slot) > 0) return `chain "${state.name}" has entries not sealed yet`;
  }
  return null;
}

/**
 * The returning owner's truncation (docs/replicas.md part 6): the commit
 * hop's held notices of the gone seals dropped (never sent), the store's tail
 * removed with its burns given back (the sealer's backlog of each chain
 * restarting at its new head), then the front door's chain heads, its
 * frame-id window and the credits' balances moved back with it.
 */
async function truncateTail(parts: RunningParts, gate: ReplicaGate<unknown>, request: TruncationRequest, log: Logger): Promise<TruncationResult> {
  gate.truncated(request.after);
  const slots = parts.shared.chains.all().map((state): [string, number] => [state.name, state.slot]);
  const result = await parts.threads.sealer.truncateUnreplicated(request, slots);
  for (const chain of result.chains) {
    const state = parts.shared.chains.get(chain.chain);
    if (state === undefined) continue;
    if (!state.rewindTo(chain.head.nextSeq, chain.head.nextHeight))
      log.error(
        { event: 'replica-truncate-front-door', chain: chain.chain },
        `chain "${chain.chain}" has an open block: its head here stays at seq ${state.nextSeq}`,
      );
    parts.intake.admission.frameIds.forgetFrom(state.slot, chain.head.nextSeq);
  }
  try {
    parts.store.credits?.reloadBalances(result.chains.map((c) => c.chain));
  } catch (error) {
    log.error({ event: 'replica-truncate-credits', error: errorMessage(error) }, `the refunded balances are not in the book yet: ${errorMessage(error)}`);
  }
  return result;
}

/** The view with `since` as ms since the epoch (the gate counts on the monotonic clock). */
function wallClock(view: ReplicaView): ReplicaView {
  return view.since === null ? view : { ...view, since: Math.round(Date.now() - (performance.now() - view.since)) };
}

/** `chainlanes_fleet_replica_*` (docs/protocol.md §14), read at each scrape. */
export function registerReplicaMetrics(replicas: ReplicaParts | null, registry: Registry): void {
  if (replicas === null) return;
  const gauge = (name: string, help: string, read: () => number): void => {
    const metric: Gauge = new Gauge({ name, help, registers: [registry], collect: () => metric.set(read()) });
  };
  gauge(
    'chainlanes_fleet_replica_behind_seals',
    'Seals made here that the standby has not acknowledged durable.',
    () => replicas.gate.view(performance.now()).behind,
  );
  gauge('chainlanes_fleet_replica_lost', '1 while the standby is lost (no acknowledgement, or none named, for fleet.standbyLostAfterMs), or alone.', () => {
    const state = replicas.gate.view(performance.now()).state;
    return Number(state === 'lost' || state === 'alone');
  });
  gauge(
    'chainlanes_fleet_replica_held_bytes',
    "Bytes of seals whose committed notices wait for the standby's acknowledgement.",
    () => replicas.gate.view(performance.now()).heldBytes,
  );
}
