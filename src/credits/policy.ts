// A chain's policy: what writing and reading cost, in the owner's credits, and
// who may do either. The cost of an entry depends only on its length, so the
// gateway charges it at admission and `chainlanes verify` recomputes it from
// the stored block.

/** Who may write or read: the owner only, any account holding the chain's credits, or a list of accounts. */
export type Audience = 'owner' | 'any' | readonly string[];

export interface Policy {
  writePerEntry: number;
  writePerKiB: number;
  readPerEntry: number;
  writers: Audience;
  readers: Audience;
  transferable: boolean;
}

/** A new chain's policy until its owner sets one: free, and only the owner writes or reads. */
export const FREE_POLICY: Readonly<Policy> = Object.freeze({
  writePerEntry: 0,
  writePerKiB: 0,
  readPerEntry: 0,
  writers: 'owner',
  readers: 'owner',
  transferable: false,
});

/** One version of a chain's policy, in force from entry `fromSeq` on (docs/architecture.md "Credits"). */
export interface PolicyVersion {
  version: number;
  fromSeq: number;
  policy: Policy;
}

/** `writePerEntry + writePerKiB × ⌈bytes / 1024⌉`. */
export function entryCost(policy: Policy, bytes: number): number {
  return policy.writePerEntry + policy.writePerKiB * Math.ceil(bytes / 1024);
}

/**
 * The cost of entries [from, to) of a frame, whose entry i is spans[2i + 1]
 * bytes long (FrameReader's spans). A frame costs the sum of its entries.
 */
export function spanCost(policy: Policy, spans: Int32Array, from: number, to: number): number {
  let cost = policy.writePerEntry * (to - from);
  if (policy.writePerKiB === 0) return cost;
  let kib = 0;
  for (let i = from; i < to; i++) kib += Math.ceil(spans[2 * i + 1]! / 1024);
  cost += policy.writePerKiB * kib;
  return cost;
}

/**
 * The policy that priced entry `seq`: of the versions whose `fromSeq` is at
 * most `seq`, the latest one. (A version recorded after a restart may start
 * below an earlier one's `fromSeq`: entries past the restart point were never
 * committed, and the newer version is what priced the ones that replaced them.)
 */
export function policyAt(versions: readonly PolicyVersion[], seq: number): Policy {
  for (let i = versions.length - 1; i >= 0; i--) {
    const v = versions[i]!;
    if (v.fromSeq <= seq) return v.policy;
  }
  return FREE_POLICY;
}

/** Whether `account` is in `audience` of a chain owned by `owner`; `holds` says if it holds the chain's credits. */
export function inAudience(audience: Audience, owner: string, account: string, holds: boolean): boolean {
  if (audience === 'owner') return account === owner;
  if (audience === 'any') return account === owner || holds;
  return account === owner || audience.includes(account);
}
