// The directory log's tree and proofs (src/ledger/directory-log.ts) against
// RFC 6962 taken literally, against the published Certificate Transparency
// vectors, and checked by three verifiers: the ledger's own, the client's
// (src/client, written separately) and examples/verify_proof.py.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LogFrontier, LogProofs, verifyConsistency as ledgerConsistency } from '../../src/ledger/index.js';
import { leafHash, verifyAuditPath } from '../../src/ledger/merkle.js';
import { rootFromPath, runWalk } from '../../src/client/tree.js';
import { verifyConsistency, verifyInclusion } from '../../src/client/index.js';
import { ROOT, prng, referenceTreeHash, tempDir } from '../helpers/index.js';

interface LogVectors {
  leavesHex: string[];
  roots: string[];
  inclusionProofs: { leaf: number; size: number; proof: string[] }[];
  consistencyProofs: { size1: number; size2: number; proof: string[] }[];
}

const vectors = JSON.parse(readFileSync(new URL('../fixtures/rfc6962-log-proofs.json', import.meta.url), 'utf8')) as LogVectors;

/** A log over `leaves` built by appending to the frontier; its nodes kept in a map, as the store keeps them in lmdb. */
function memoryLog(leaves: readonly Uint8Array[]): { proofs: LogProofs; frontiers: LogFrontier[]; nodes: Map<string, Buffer> } {
  const nodes = new Map<string, Buffer>();
  const frontiers = [LogFrontier.empty];
  for (const leaf of leaves) {
    const step = frontiers.at(-1)!.append(leaf);
    for (const n of step.written) nodes.set(`${n.level}/${n.index}`, n.hash);
    frontiers.push(step.next);
  }
  return { proofs: new LogProofs((level, index) => nodes.get(`${level}/${index}`), leaves.length), frontiers, nodes };
}

/** RFC 6962 §2.1.1 PATH(m, D[lo:hi]), recursive as written. */
function referencePath(m: number, leaves: readonly Uint8Array[], lo: number, hi: number): Buffer[] {
  const n = hi - lo;
  if (n === 1) return [];
  let k = 1;
  while (k * 2 < n) k *= 2;
  return m < k
    ? [...referencePath(m, leaves, lo, lo + k), referenceTreeHash(leaves, lo + k, hi)]
    : [...referencePath(m - k, leaves, lo + k, hi), referenceTreeHash(leaves, lo, lo + k)];
}

/** RFC 6962 §2.1.2 SUBPROOF(m, D[lo:hi], b), recursive as written. */
function referenceSubproof(m: number, leaves: readonly Uint8Array[], lo: number, hi: number, b: boolean): Buffer[] {
  const n = hi - lo;
  if (m === n) return b ? [] : [referenceTreeHash(leaves, lo, hi)];
  let k = 1;
  while (k * 2 < n) k *= 2;
  return m <= k
    ? [...referenceSubproof(m, leaves, lo, lo + k, b), referenceTreeHash(leaves, lo + k, hi)]
    : [...referenceSubproof(m - k, leaves, lo + k, hi, false), referenceTreeHash(leaves, lo, lo + k)];
}

const hex = (nodes: readonly Uint8Array[]): string[] => nodes.map((n) => Buffer.from(n).toString('hex'));

/** One bit of a hex string flipped. */
function flipBit(text: string, bit: number): string {
  const bytes = Buffer.from(text, 'hex');
  bytes[bit >> 3]! ^= 1 << (bit & 7);
  return bytes.toString('hex');
}

/**
 * Cases for the tree verifiers: valid ones, and each with one bit changed in a
 * path node, a root or a hash (or the index moved). A size is not among them: a
 * path proves the same root for every size whose tree has the same shape along
 * it (an inclusion path for 3 in 6 also fits 3 in 7), so what binds a size to a
 * root is the head's signature. The signed cases below change sizes.
 */
interface ConsistencyCase {
  kind: 'consistency';
  size1: number;
  size2: number;
  root1: string;
  root2: string;
  path: string[];
  valid: boolean;
}
interface InclusionCase {
  kind: 'inclusion';
  hash: string;
  index: number;
  size: number;
  path: string[];
  root: string;
  valid: boolean;
}
type Case = ConsistencyCase | InclusionCase;

function consistencyCases(proofs: LogProofs, m: number, n: number, random: () => number): ConsistencyCase[] {
  const good: ConsistencyCase = {
    kind: 'consistency',
    size1: m,
    size2: n,
    root1: proofs.root(m).toString('hex'),
    root2: proofs.root(n).toString('hex'),
    path: hex(proofs.consistency(m, n)),
    valid: true,
  };
  const bad: ConsistencyCase[] = [];
  good.path.forEach((node, i) => bad.push({ ...good, path: good.path.map((p, j) => (j === i ? flipBit(node, Math.floor(random() * 256)) : p)), valid: false }));
  const bit = Math.floor(random() * 256);
  bad.push({ ...good, root1: flipBit(good.root1, bit), valid: false }, { ...good, root2: flipBit(good.root2, bit), valid: false });
  return [good, ...bad];
}

function inclusionCases(proofs: LogProofs, leaves: readonly Uint8Array[], index: number, size: number, random: () => number): InclusionCase[] {
  const good: InclusionCase = {
    kind: 'inclusion',
    hash: Buffer.from(leaves[index]!).toString('hex'),
    index,
    size,
    path: hex(proofs.inclusion(index, size)),
    root: proofs.root(size).toString('hex'),
    valid: true,
  };
  const bad: InclusionCase[] = good.path.map((node, i) => ({
    ...good,
    path: good.path.map((p, j) => (j === i ? flipBit(node, Math.floor(random() * 256)) : p)),
    valid: false,
  }));
  bad.push(
    { ...good, hash: flipBit(good.hash, Math.floor(random() * 256)), valid: false },
    { ...good, root: flipBit(good.root, Math.floor(random() * 256)), valid: false },
  );
  if ((index ^ 1) < size) bad.push({ ...good, index: index ^ 1, valid: false });
  return [good, ...bad];
}

/** Every case through the ledger's and the client's verifiers; returns the ones that disagree with `valid`. */
function wrongInNode(cases: readonly Case[]): Case[] {
  return cases.filter((c) => {
    if (c.kind === 'consistency') {
      const ledger = ledgerConsistency(
        c.size1,
        c.size2,
        Buffer.from(c.root1, 'hex'),
        Buffer.from(c.root2, 'hex'),
        c.path.map((p) => Buffer.from(p, 'hex')),
      );
      const client = verifyConsistency({ size: c.size1, root: c.root1 }, { size: c.size2, root: c.root2 }, c.path).ok;
      return ledger !== c.valid || client !== c.valid;
    }
    return verifyInclusion(c.hash, c.index, { size: c.size, root: c.root }, c.path).ok !== c.valid;
  });
}

function wrongInPython(cases: readonly Case[]): { checked: number; wrong: Case[] } {
  const file = join(tempDir('chainlanes-log-cases-'), 'cases.json');
  writeFileSync(file, JSON.stringify(cases));
  const run = spawnSync('python3', [join(ROOT, 'test', 'fixtures', 'log_proofs.py'), file], { encoding: 'utf8', timeout: 120_000 });
  if (run.status !== 0) throw new Error(`python3 failed: ${run.stderr}`);
  return JSON.parse(run.stdout) as { checked: number; wrong: Case[] };
}

describe('the log tree', () => {
  it('gives the RFC 6962 root at every size from its frontier, and writes every perfect subtree once', () => {
    const leaves = Array.from({ length: 200 }, () => randomBytes(32));
    const { frontiers, nodes } = memoryLog(leaves);
    frontiers.forEach((f, n) => expect(f.root().toString('hex'), `size ${n}`).toBe(referenceTreeHash(leaves, 0, n).toString('hex')));
    // Level L holds floor(200 / 2^L) nodes; each is the root of its leaves.
    let expected = 0;
    for (let level = 0; 2 ** level <= 200; level++) expected += Math.floor(200 / 2 ** level);
    expect(nodes.size).toBe(expected);
    expect(nodes.get('3/5')).toEqual(referenceTreeHash(leaves, 40, 48));
  });

  it('loads the frontier of any size back from stored nodes, and appends on from there', () => {
    const leaves = Array.from({ length: 77 }, () => randomBytes(32));
    const { frontiers, nodes } = memoryLog(leaves);
    const source = (level: number, index: number): Buffer | undefined => nodes.get(`${level}/${index}`);
    for (const n of [0, 1, 2, 3, 31, 32, 33, 64, 76]) {
      const loaded = LogFrontier.load(n, source);
      expect(loaded.root()).toEqual(frontiers[n]!.root());
      expect(loaded.append(leaves[n]!).next.root()).toEqual(frontiers[n + 1]!.root());
    }
    expect(() => LogFrontier.load(78, source)).toThrow(/node \(1, 38\) of a log of 78 is missing/);
  });

  it('matches the published RFC 6962 roots', () => {
    const leaves = vectors.leavesHex.map((h) => Buffer.from(h, 'hex'));
    const { proofs } = memoryLog(leaves);
    vectors.roots.forEach((root, i) => expect(proofs.root(i + 1).toString('hex')).toBe(root));
  });
});

describe('proofs against the published vectors (transparency-dev/merkle, Certificate Transparency)', () => {
  const leaves = vectors.leavesHex.map((h) => Buffer.from(h, 'hex'));
  const { proofs } = memoryLog(leaves);

  it.each(vectors.inclusionProofs)('inclusion of leaf $leaf in $size: built equal, verified, corruptions refused', ({ leaf, size, proof }) => {
    expect(hex(proofs.inclusion(leaf - 1, size))).toEqual(proof);
    const root = { size, root: vectors.roots[size - 1]! };
    const leafData = leaves[leaf - 1]!;
    expect(verifyAuditPathHex(leafData, leaf - 1, size, proof, root.root)).toBe(true);
    for (let i = 0; i < proof.length; i++)
      expect(
        verifyAuditPathHex(
          leafData,
          leaf - 1,
          size,
          proof.map((p, j) => (j === i ? flipBit(p, 3) : p)),
          root.root,
        ),
      ).toBe(false);
    expect(verifyAuditPathHex(leafData, leaf, size, proof, root.root)).toBe(false);
    expect(verifyAuditPathHex(leafData, leaf - 1, size * 2, proof, root.root)).toBe(false);
  });

  it.each(vectors.consistencyProofs)('consistency $size1 → $size2: built equal, verified by both, corruptions refused', ({ size1, size2, proof }) => {
    expect(hex(proofs.consistency(size1, size2))).toEqual(proof);
    const [root1, root2] = [vectors.roots[size1 - 1]!, vectors.roots[size2 - 1]!];
    const holds = (m: number, n: number, r1: string, r2: string, path: string[]): boolean => {
      const client = verifyConsistency({ size: m, root: r1 }, { size: n, root: r2 }, path).ok;
      const ledger = ledgerConsistency(
        m,
        n,
        Buffer.from(r1, 'hex'),
        Buffer.from(r2, 'hex'),
        path.map((p) => Buffer.from(p, 'hex')),
      );
      expect(ledger, `ledger and client agree on ${m} → ${n}`).toBe(client);
      return client;
    };
    expect(holds(size1, size2, root1, root2, proof)).toBe(true);
    if (proof.length === 0) return;
    // The corruptions of the Go test (corruptConsistencyProof).
    const someHash = 'abacaba000000000000000000000000000000000000000000060061e00123456';
    const probes: [number, number, string, string, string[]][] = [
      [size1 - 1, size2, root1, root2, proof],
      [size1 + 1, size2, root1, root2, proof],
      [size1 ^ 2, size2, root1, root2, proof],
      [size1, size2 * 2, root1, root2, proof],
      [size1, Math.floor(size2 / 2), root1, root2, proof],
      [size1, size2, someHash, root2, proof],
      [size1, size2, root1, someHash, proof],
      [size1, size2, root2, root1, proof],
      [size1, size2, root1, root2, []],
      [size1, size2, root1, root2, [...proof, root1]],
      [size1, size2, root1, root2, [...proof, root2]],
      [size1, size2, root1, root2, [root1, ...proof]],
      [size1, size2, root1, root2, [root2, ...proof]],
      [size1, size2, root1, root2, [proof[0]!, ...proof]],
      [size1, size2, root1, root2, proof.slice(0, -1)],
      ...proof.map((_, i): [number, number, string, string, string[]] => [size1, size2, root1, root2, proof.map((p, j) => (j === i ? flipBit(p, 4) : p))]),
    ];
    for (const [m, n, r1, r2, path] of probes) expect(holds(m, n, r1, r2, path), `${m} → ${n} [${path.length}]`).toBe(false);
  });
});

/**
 * RFC 9162 §2.1.3.2 for leaf data of any length (the vectors' leaves), by both
 * the ledger's path check and the client's walk; they must agree.
 */
function verifyAuditPathHex(leafData: Uint8Array, index: number, size: number, path: string[], root: string): boolean {
  const nodes = path.map((p) => Buffer.from(p, 'hex'));
  const ledger = verifyAuditPath(leafHash(leafData), index, size, nodes, Buffer.from(root, 'hex'));
  const walked = runWalk(rootFromPath(leafHash(leafData), index, size, nodes));
  const client = walked !== null && Buffer.from(walked).toString('hex') === root;
  expect(ledger, 'ledger and client agree').toBe(client);
  return client;
}

describe('proofs of every pair of sizes', () => {
  const random = prng(23);
  const leaves = Array.from({ length: 64 }, () => randomBytes(32));
  const { proofs } = memoryLog(leaves);
  const cases: Case[] = [];
  for (let n = 1; n <= 64; n++) {
    for (let m = 1; m <= n; m++) cases.push(...consistencyCases(proofs, m, n, random));
    for (let i = 0; i < n; i++) cases.push(...inclusionCases(proofs, leaves, i, n, random));
  }

  it('are the RFC 6962 PATH and PROOF for 1 ≤ m ≤ n ≤ 64', () => {
    for (let n = 1; n <= 64; n++) {
      for (let m = 1; m <= n; m++) expect(hex(proofs.consistency(m, n)), `${m} → ${n}`).toEqual(hex(referenceSubproof(m, leaves, 0, n, true)));
      for (let i = 0; i < n; i++) expect(hex(proofs.inclusion(i, n)), `${i} in ${n}`).toEqual(hex(referencePath(i, leaves, 0, n)));
    }
  });

  it('verify with the ledger and the client, and a one-bit change anywhere is refused', () => {
    expect(cases.filter((c) => c.valid).length).toBe(2080 + 2080);
    expect(cases.filter((c) => !c.valid).length).toBeGreaterThan(10_000);
    expect(wrongInNode(cases)).toEqual([]);
  });

  it('verify with examples/verify_proof.py, which refuses the same changes', () => {
    expect(wrongInPython(cases)).toEqual({ checked: cases.length, wrong: [] });
  });
});

describe('proofs of random pairs of sizes up to 10,000', () => {
  const random = prng(9162);
  const leaves = Array.from({ length: 10_000 }, () => randomBytes(32));
  const { proofs } = memoryLog(leaves);
  const pairs = Array.from({ length: 300 }, () => {
    const n = 1 + Math.floor(random() * 10_000);
    return [1 + Math.floor(random() * n), n] as const;
  });
  const cases = pairs.flatMap(([m, n]) => [...consistencyCases(proofs, m, n, random), ...inclusionCases(proofs, leaves, m - 1, n, random)]);

  it('equal the RFC recursion (a sample) and verify everywhere, one-bit changes refused', () => {
    for (const [m, n] of pairs.slice(0, 12)) {
      expect(hex(proofs.consistency(m, n))).toEqual(hex(referenceSubproof(m, leaves, 0, n, true)));
      expect(hex(proofs.inclusion(m - 1, n))).toEqual(hex(referencePath(m - 1, leaves, 0, n)));
    }
    expect(wrongInNode(cases)).toEqual([]);
    expect(wrongInPython(cases)).toEqual({ checked: cases.length, wrong: [] });
  });

  it('are at most 2·⌈log2 n⌉ hashes', () => {
    for (const [m, n] of pairs) expect(proofs.consistency(m, n).length).toBeLessThanOrEqual(2 * Math.ceil(Math.log2(n)));
  });

  it('refuse sizes beyond the log, a reversed pair, and a height outside the size', () => {
    expect(() => proofs.consistency(5, 10_001)).toThrow(/beyond the log's 10000/);
    expect(() => proofs.consistency(6, 5)).toThrow(/from 6 must be from 0 to 5/);
    expect(() => proofs.inclusion(5, 5)).toThrow(/height 5 is not in a log of 5/);
    expect(proofs.consistency(0, 9)).toEqual([]);
    expect(proofs.consistency(9, 9)).toEqual([]);
  });
});
