// The standby's takeover of a dead owner's chains in etcd (docs/replicas.md
// part 5): every chain `chains/{name}` names the owner g moves to this gateway
// by a transaction on the chain's fencing token (its mod revision, as the
// standby's mirror has it), in batches of `claimBatch`, each batch under one
// outer condition that makes a takeover safe:
//   - `members/{g}` absent: g's lease expired in etcd, after g stopped
//     admitting by its own clock (the fleet's fencing argument);
//   - `standby/{g}` is this gateway's claim (its create revision): g's seals
//     were shipped here, not elsewhere;
//   - `replica/{g}` absent: g never went on alone (a standby must not take
//     over from an owner that reported `committed` without it);
//   - this gateway's own member key is on its lease.
// The first batch also writes `takeover/{g} = {by, acked, at}` (the returning
// owner reads it to truncate what was never acknowledged). A chain whose token
// moved (a handoff, a claim elsewhere) is left where it went, and said so.
import { cmp, type EtcdClient, type LeaseId, type ResponseOp, type Revision, type Txn } from './etcd.js';
import { decodeOwner, encode, isInvalid, jsonObjectOf, type Decoded, type FleetKeys, type OwnerRecord } from './keys.js';

/** `takeover/{g}`. */
export interface TakeoverRecord {
  /** The gateway that took g's chains. */
  by: string;
  /** The highest seal of g it held (acked(g)): g's seals above it were never reported committed. */
  acked: number;
  /** ms since the epoch. */
  at: number;
}

export interface TakeoverRequest {
  owner: string;
  me: { readonly id: string; readonly lease: LeaseId | null };
  /** The create revision of `standby/{owner}` naming this gateway. */
  standbyRevision: Revision;
  /** g's chains and their tokens. */
  chains: readonly { name: string; token: Revision }[];
  acked: number;
  /** Chains per transaction (fleet.claimBatch; etcd takes 128 operations a transaction by default). */
  batch: number;
}

export type TakeoverOutcome =
  /** The outer condition held: `won` moved here (at `token`), `lost` had moved elsewhere. */
  | { taken: true; won: { name: string; token: Revision }[]; lost: { name: string; why: string }[] }
  /** The outer condition failed: nothing moved (of this batch on), and why. */
  | { taken: false; why: string; won: { name: string; token: Revision }[] };

export async function takeOverChains(client: EtcdClient, keys: FleetKeys, request: TakeoverRequest): Promise<TakeoverOutcome> {
  const { owner, me } = request;
  const won: { name: string; token: Revision }[] = [];
  const lost: { name: string; why: string }[] = [];
  const record: TakeoverRecord = { by: me.id, acked: request.acked, at: Date.now() };
  // At least one transaction, even for an owner with no chains: the takeover record is written by the first.
  for (let from = 0, first = true; first || from < request.chains.length; first = false) {
    const lease = me.lease;
    if (lease === null) return { taken: false, why: 'this gateway is not a live member of the fleet (no lease)', won };
    const chains = request.chains.slice(from, from + Math.max(1, request.batch - (first ? 1 : 0)));
    from += chains.length;
    const value = encode({ gateway: me.id, since: Date.now() } satisfies OwnerRecord);
    const txn: Txn = {
      compare: [
        cmp.version(keys.member(owner), '=', 0),
        cmp.create(keys.standby(owner), '=', request.standbyRevision),
        cmp.version(keys.replica(owner), '=', 0),
        cmp.lease(keys.member(me.id), '=', lease),
      ],
      success: [
        ...(first ? [{ put: { key: keys.takeover(owner), value: encode(record) } }] : []),
        ...chains.map(({ name, token }) => {
          const key = keys.chain(name);
          return { txn: { compare: [cmp.mod(key, '=', token)], success: [{ put: { key, value } }], failure: [{ range: { key } }] } };
        }),
      ],
      failure: [{ range: { key: keys.member(owner) } }, { range: { key: keys.standby(owner) } }, { range: { key: keys.replica(owner) } }],
    };
    const result = await client.txn(txn);
    if (!result.succeeded) return { taken: false, why: refusedBecause(result.responses, owner, me.id, request.standbyRevision), won };
    const subs = first ? result.responses.slice(1) : result.responses;
    chains.forEach(({ name }, i) => {
      const sub = subs[i];
      if (sub?.kind === 'txn' && sub.txn.succeeded) return won.push({ name, token: result.revision });
      const kv = sub?.kind === 'txn' && sub.txn.responses[0]?.kind === 'range' ? sub.txn.responses[0].range.kvs[0] : undefined;
      const held = kv === undefined ? null : decodeOwner(kv.value);
      lost.push({
        name,
        why: held === null ? 'it has no owner in etcd' : isInvalid(held) ? 'its owner record is unreadable' : `it is owned by ${held.gateway} now`,
      });
    });
  }
  return { taken: true, won, lost };
}

function refusedBecause(responses: readonly ResponseOp[], owner: string, me: string, standbyRevision: Revision): string {
  const [member, standby, replica] = responses.map((r) => (r.kind === 'range' ? r.range.kvs[0] : undefined));
  if (member !== undefined) return `gateway "${owner}" is a live member again (members/${owner})`;
  if (standby?.createRevision !== standbyRevision) return `standby/${owner} no longer names this gateway (${me})`;
  if (replica !== undefined)
    return `gateway "${owner}" went on without its standby (replica/${owner}): taking over would lose what it committed alone; the operator decides`;
  return "this gateway's lease is no longer the one on its member key";
}

/** `takeover/{g}` as etcd holds it, with its mod revision (the truncation's fencing token); null when there is none. */
export async function readTakeover(
  client: EtcdClient,
  keys: FleetKeys,
  owner: string,
): Promise<{ record: Decoded<TakeoverRecord>; revision: Revision } | null> {
  const kv = (await client.range(keys.takeover(owner))).kvs[0];
  return kv === undefined ? null : { record: decodeTakeover(kv.value), revision: kv.modRevision };
}

/**
 * Deletes `takeover/{g}` once g has truncated what it names, only if it is
 * still the record read (a newer takeover is left for the next look).
 */
export async function clearTakeover(client: EtcdClient, keys: FleetKeys, owner: string, revision: Revision): Promise<boolean> {
  const key = keys.takeover(owner);
  return (await client.txn({ compare: [cmp.mod(key, '=', revision)], success: [{ delete: { key } }], failure: [] })).succeeded;
}

export function decodeTakeover(bytes: Buffer): Decoded<TakeoverRecord> {
  const v = jsonObjectOf(bytes);
  if (typeof v === 'string') return { invalid: v };
  const { by, acked, at } = v;
  if (typeof by !== 'string' || by.length === 0) return { invalid: 'by: the gateway that took the chains' };
  if (!Number.isSafeInteger(acked) || (acked as number) < -1) return { invalid: 'acked: a directory height, or -1' };
  if (typeof at !== 'number' || !Number.isFinite(at)) return { invalid: 'at: ms since the epoch' };
  return { by, acked: acked as number, at };
}
