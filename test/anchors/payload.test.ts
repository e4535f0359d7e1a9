// The anchor payload's exact bytes and the window tree against the client's independent check.
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { encodeAnchorPayload } from '../../src/anchors/payload.js';
import { WindowTree } from '../../src/anchors/window-tree.js';
import { anchorPayload, anchorProblem } from '../../src/client/anchor.js';
import type { EntryProof } from '../../src/client/verify.js';
import { leafHash, rootFromAuditPath } from '../../src/ledger/index.js';
import { referenceTreeHash } from '../helpers/index.js';

describe('anchor payload', () => {
  it('is CL1 ‖ first u64 ‖ last u64 ‖ gateway ‖ root, 83 bytes, and the client rebuilds it from a proof', () => {
    const gateway = randomBytes(32);
    const root = randomBytes(32);
    const bytes = encodeAnchorPayload({ first: 7, last: 0x1_0000_0001, gateway, root });
    expect(bytes.length).toBe(83);
    expect(bytes.subarray(0, 3).toString('ascii')).toBe('CL1');
    expect(bytes.readBigUInt64BE(3)).toBe(7n);
    expect(bytes.readBigUInt64BE(11)).toBe(0x1_0000_0001n);
    expect(bytes.subarray(19, 51)).toEqual(gateway);
    expect(bytes.subarray(51, 83)).toEqual(root);
    const fromProof = anchorPayload({
      network: 'ethereum',
      networkId: 1,
      tx: '0x' + '00'.repeat(32),
      blockNumber: 1,
      blockHash: '0x' + '00'.repeat(32),
      gateway: gateway.toString('hex'),
      window: { first: 7, last: 0x1_0000_0001, index: 0, count: 1, path: [], root: root.toString('hex') },
    });
    expect(Buffer.from(fromProof)).toEqual(bytes);
  });

  it('refuses a window that ends before it starts', () => {
    expect(() => encodeAnchorPayload({ first: 5, last: 4, gateway: randomBytes(32), root: randomBytes(32) })).toThrow(/bad window/);
  });
});

describe('window tree', () => {
  it('has the RFC 6962 root of the directory hashes, and every path checks with the client', () => {
    for (const n of [1, 2, 3, 5, 8, 13]) {
      const hashes = Array.from({ length: n }, () => randomBytes(32));
      const tree = new WindowTree(100, hashes);
      expect(tree.root).toEqual(referenceTreeHash(hashes));
      for (let i = 0; i < n; i++) {
        const anchor = {
          network: 'ethereum',
          networkId: 1,
          tx: '0x' + '11'.repeat(32),
          blockNumber: 9,
          blockHash: '0x' + '22'.repeat(32),
          gateway: '33'.repeat(32),
          window: { first: 100, last: 99 + n, index: i, count: n, path: tree.path(100 + i).map((p) => p.toString('hex')), root: tree.root.toString('hex') },
        };
        expect(anchorCheck(hashes[i]!, 100 + i, anchor)).toBeNull();
        if (n > 1) expect(anchorCheck(hashes[(i + 1) % n]!, 100 + i, anchor)).toMatch(/does not reproduce/);
      }
    }
  });
});

/** The client's anchor check of one directory hash, with the RFC 9162 path walk. */
function anchorCheck(directoryHash: Buffer, height: number, anchor: NonNullable<EntryProof['anchor']>): string | null {
  const proof = { directory: { height, hash: directoryHash.toString('hex') } } as unknown as EntryProof;
  return anchorProblem(proof, anchor, (leaf, i, n, path) => rootFromAuditPath(leafHash(leaf), i, n, path));
}
