import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { chunkCount, chunkedAuditPath, chunkRootsOf, rootOfChunks } from '../../src/ledger/chunks.js';
import { directoryLeafData } from '../../src/ledger/headers.js';
import { auditPath, blockRoot, leafHash, nodeHash, nodesRoot, rootFromAuditPath, treeHash, verifyAuditPath } from '../../src/ledger/merkle.js';
import { directoryLeaves, fastRoot } from '../../src/ledger/roots.js';
import { flipByte, referenceTreeHash, sha256 } from '../helpers/index.js';

interface Rfc6962Vectors {
  leavesHex: string[];
  roots: Record<string, string>;
}

const vectors = JSON.parse(readFileSync(new URL('../fixtures/rfc6962-roots.json', import.meta.url), 'utf8')) as Rfc6962Vectors;

/** Which side each sibling of PATH(m, D[n]) is on, leaf first (RFC 6962 §2.1.1 recursion). */
function sides(m: number, n: number): string {
  if (n <= 1) return '';
  let k = 1;
  while (k * 2 < n) k *= 2;
  return m < k ? sides(m, k) + 'R' : sides(m - k, n - k) + 'L';
}

function leavesOf(n: number): Buffer[] {
  return Array.from({ length: n }, () => randomBytes(32));
}

describe('tree hash', () => {
  it('matches the RFC 6962 reference roots', () => {
    const leaves = vectors.leavesHex.map((hex) => Buffer.from(hex, 'hex'));
    for (const [n, root] of Object.entries(vectors.roots)) {
      expect(treeHash(leaves.slice(0, Number(n))).toString('hex'), `n=${n}`).toBe(root);
    }
  });

  it('block roots (JS and native) equal the recursive definition for 0..70 leaves and a few big trees', () => {
    for (const n of [...Array.from({ length: 71 }, (_, i) => i), 127, 128, 129, 1000, 4097]) {
      const leaves = leavesOf(n);
      const data = Buffer.concat(leaves);
      // RFC 6962 §2.1 taken literally (recursive), as the reference for the iterative code.
      const expected = referenceTreeHash(leaves).toString('hex');
      expect(blockRoot(data, n).toString('hex'), `js n=${n}`).toBe(expected);
      expect(fastRoot(data, n).toString('hex'), `native n=${n}`).toBe(expected);
      expect(treeHash(leaves).toString('hex'), `generic n=${n}`).toBe(expected);
    }
  });

  it('hashes leaves and nodes with their RFC prefixes', () => {
    const a = randomBytes(32);
    const b = randomBytes(32);
    expect(leafHash(a)).toEqual(sha256(Buffer.concat([Buffer.from([0]), a])));
    expect(leafHash(Buffer.from('abc'))).toEqual(sha256(Buffer.from('\x00abc', 'latin1')));
    expect(nodeHash(a, b)).toEqual(sha256(Buffer.concat([Buffer.from([1]), a, b])));
    expect(() => nodeHash(a, Buffer.alloc(31))).toThrow(RangeError);
  });
});

describe('audit paths', () => {
  it('verify for every index of trees of 1..70 leaves, and fail when tampered', () => {
    let wrongSizesThatFailed = 0;
    for (let n = 1; n <= 70; n++) {
      const leaves = leavesOf(n);
      const data = Buffer.concat(leaves);
      const root = blockRoot(data, n);
      for (let index = 0; index < n; index++) {
        const leaf = leafHash(leaves[index] as Buffer);
        const path = auditPath(data, n, index);
        const at = `n=${n} index=${index}`;
        expect(path.length, at).toBe(sides(index, n).length);
        expect(auditPath(data, n, index, fastRoot), at).toEqual(path);
        expect(verifyAuditPath(leaf, index, n, path, root), at).toBe(true);

        path.forEach((_, i) => {
          const flipped = path.map((p) => Buffer.from(p));
          flipByte(flipped[i] as Buffer, i % 32);
          expect(verifyAuditPath(leaf, index, n, flipped, root), `${at} flipped path[${i}]`).toBe(false);
        });
        if (n > 1) expect(verifyAuditPath(leaf, (index + 1) % n, n, path, root), `${at} wrong index`).toBe(false);
        expect(verifyAuditPath(leaf, n, n, path, root), `${at} index = size`).toBe(false);
        expect(verifyAuditPath(leaf, index, 0, path, root), `${at} size 0`).toBe(false);
        expect(verifyAuditPath(leaf, index, n, [...path, root], root), `${at} extra element`).toBe(false);
        if (path.length > 0) expect(verifyAuditPath(leaf, index, n, path.slice(1), root), `${at} short path`).toBe(false);

        // A path fixes the shape of the tree around its leaf, not the size itself: sizes
        // giving the same sides (e.g. index 0 of 3 and of 4) legitimately verify. Every
        // other wrong size must fail.
        for (let size = index + 1; size <= n + 8; size++) {
          if (size === n) continue;
          const sameShape = sides(index, size) === sides(index, n);
          const verified = verifyAuditPath(leaf, index, size, path, root);
          expect(verified, `${at} size=${size}`).toBe(sameShape);
          if (!verified) wrongSizesThatFailed++;
        }
      }
    }
    expect(wrongSizesThatFailed).toBeGreaterThan(10_000);
  });

  it('rejects impossible inputs instead of throwing', () => {
    const data = Buffer.concat(leavesOf(5));
    const path = auditPath(data, 5, 2);
    const leaf = leafHash(data.subarray(64, 96));
    expect(rootFromAuditPath(leaf, -1, 5, path)).toBeNull();
    expect(rootFromAuditPath(leaf, 2, 5, [...path.slice(0, 1), Buffer.alloc(31)])).toBeNull();
    expect(rootFromAuditPath(leaf.subarray(1), 2, 5, path)).toBeNull();
    expect(verifyAuditPath(leaf, 2, 5, path, Buffer.alloc(31))).toBe(false);
    expect(() => auditPath(data, 5, 5)).toThrow(RangeError);
    expect(() => auditPath(data, 6, 0)).toThrow(RangeError);
  });
});

describe('block trees in chunks of 256 leaves', () => {
  it('give the same root and the same audit paths as the whole tree', () => {
    for (const n of [1, 2, 255, 256, 257, 511, 512, 513, 768, 1000, 4097]) {
      const data = Buffer.concat(leavesOf(n));
      const chunkRoots = chunkRootsOf(data, n, fastRoot);
      expect(chunkRoots.length, `n=${n}`).toBe(chunkCount(n) * 32);
      expect(chunkRoots, `n=${n} js chunks`).toEqual(chunkRootsOf(data, n, blockRoot));
      expect(rootOfChunks(chunkRoots, chunkCount(n)), `n=${n}`).toEqual(blockRoot(data, n));
      for (const index of new Set([0, 1, 254, 255, 256, 257, Math.floor(n / 2), n - 2, n - 1].filter((i) => i >= 0 && i < n))) {
        expect(chunkedAuditPath(data, n, index, chunkRoots, fastRoot), `n=${n} index=${index}`).toEqual(auditPath(data, n, index));
      }
    }
  });

  it('nodesRoot folds nodes without a leaf prefix', () => {
    const [a, b, c] = leavesOf(3) as [Buffer, Buffer, Buffer];
    expect(nodesRoot(a, 1)).toEqual(a);
    expect(nodesRoot(Buffer.concat([a, b, c]), 3)).toEqual(nodeHash(nodeHash(a, b), c));
    expect(() => nodesRoot(Buffer.alloc(0), 0)).toThrow(RangeError);
  });
});

describe('directory leaves', () => {
  it('are SHA-256(chainId ‖ blockHash) per entry, natively batched', () => {
    const entries = Array.from({ length: 37 }, (_, height) => ({ chainId: randomBytes(32), height, blockHash: randomBytes(32) }));
    const expected = Buffer.concat(entries.map((e) => directoryLeafData(e.chainId, e.blockHash)));
    expect(directoryLeaves(entries)).toEqual(expected);
    expect(directoryLeaves([])).toEqual(Buffer.alloc(0));
  });
});
