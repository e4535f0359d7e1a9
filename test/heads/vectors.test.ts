// docs/protocol.md §15.7: the signed-head vectors are what the code makes
// (the message, the deterministic Ed25519 signatures, the log's roots and
// proofs) and what the client and examples/verify_proof.py accept.
import { spawnSync } from 'node:child_process';
import { createPrivateKey, sign } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { keyFingerprint, verifyConsistency, verifyCosignature, verifyHead, verifyInclusion, type SignedHead } from '../../src/client/index.js';
import { headSigner, rawPublicKey } from '../../src/heads/index.js';
import { LogFrontier, LogProofs } from '../../src/ledger/index.js';
import { encodeCosignatureMessage, encodeHeadMessage } from '../../src/protocol/index.js';
import { ROOT, tempDir } from '../helpers/index.js';

interface Vectors {
  key: string;
  logId: string;
  roots: Record<string, string>;
  head: SignedHead;
  message: string;
  older: SignedHead;
  consistency: { from: number; to: number; path: string[] };
  inclusion: { height: number; size: number; hash: string; path: string[] };
  cosignature: { witness: string; time: number; signature: string };
  cosignatureMessage: string;
}

const page = readFileSync(join(ROOT, 'docs', 'protocol.md'), 'utf8');
const vectors = JSON.parse(/<!-- sample-heads -->\n```json\n([\s\S]*?)\n```/.exec(page)![1]!) as Vectors;

/** An Ed25519 private key from its RFC 8032 32-byte secret. */
function keyOf(secret: string): ReturnType<typeof createPrivateKey> {
  return createPrivateKey({
    key: Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), Buffer.from(secret, 'hex')]),
    format: 'der',
    type: 'pkcs8',
  });
}

const gateway = keyOf('9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60');
const witness = keyOf('4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb');

describe('the signed-head vectors of docs/protocol.md §15.7', () => {
  const leaves = ['00', '11', '22'].map((b) => Buffer.alloc(32, Buffer.from(b, 'hex')));
  const nodes = new Map<string, Buffer>();
  let frontier = LogFrontier.empty;
  const roots = [frontier.root().toString('hex')];
  for (const leaf of leaves) {
    const step = frontier.append(leaf);
    for (const n of step.written) nodes.set(`${n.level}/${n.index}`, n.hash);
    frontier = step.next;
    roots.push(frontier.root().toString('hex'));
  }
  const proofs = new LogProofs((level, index) => nodes.get(`${level}/${index}`), 3);

  it('are what the code makes', () => {
    expect(rawPublicKey(gateway).toString('hex')).toBe(vectors.key);
    expect(keyFingerprint(vectors.key)).toBe(vectors.logId);
    expect(roots).toEqual(Object.values(vectors.roots));
    const logId = Buffer.from(vectors.logId, 'hex');
    const message = encodeHeadMessage(logId, 3, vectors.head.time, Buffer.from(roots[3]!, 'hex'));
    expect(Buffer.from(message).toString('hex')).toBe(vectors.message);
    const signed = headSigner(gateway, 0, () => vectors.head.time)(3, frontier.root());
    expect({ ...signed, root: signed.root.toString('hex'), signature: signed.signature.toString('hex') }).toEqual(vectors.head);
    expect(proofs.consistency(1, 3).map((p) => p.toString('hex'))).toEqual(vectors.consistency.path);
    expect(proofs.inclusion(1, 3).map((p) => p.toString('hex'))).toEqual(vectors.inclusion.path);
    const cosignatureMessage = encodeCosignatureMessage(vectors.cosignature.time, message);
    expect(Buffer.from(cosignatureMessage).toString('hex')).toBe(vectors.cosignatureMessage);
    expect(sign(null, cosignatureMessage, witness).toString('hex')).toBe(vectors.cosignature.signature);
    expect(rawPublicKey(witness).toString('hex')).toBe(vectors.cosignature.witness);
  });

  it('are accepted by the client, and a changed bit is not', () => {
    expect(verifyHead(vectors.head, vectors.key)).toEqual({ ok: true });
    expect(verifyHead(vectors.older, vectors.key)).toEqual({ ok: true });
    expect(verifyHead({ ...vectors.head, time: vectors.head.time + 1 }, vectors.key).ok).toBe(false);
    expect(verifyConsistency(vectors.older, vectors.head, vectors.consistency.path)).toEqual({ ok: true });
    expect(verifyInclusion(vectors.inclusion.hash, 1, vectors.head, vectors.inclusion.path)).toEqual({ ok: true });
    expect(verifyCosignature({ ...vectors.cosignature, head: vectors.head }, vectors.key, vectors.cosignature.witness)).toEqual({ ok: true });
  });

  it('are accepted by examples/verify_proof.py', () => {
    const dir = tempDir('chainlanes-head-vectors-');
    const file = (name: string, doc: unknown): string => {
      writeFileSync(join(dir, name), JSON.stringify(doc));
      return join(dir, name);
    };
    const script = join(ROOT, 'examples', 'verify_proof.py');
    const run = (args: string[]): string => spawnSync('python3', [script, ...args], { encoding: 'utf8' }).stdout;
    expect(run(['--head', file('head.json', vectors.head), '--key', vectors.key])).toBe('OK\n');
    expect(
      run(['--consistency', file('older.json', vectors.older), join(dir, 'head.json'), file('proof.json', vectors.consistency), '--key', vectors.key]),
    ).toBe('OK\n');
    expect(run(['--head', file('bad.json', { ...vectors.head, size: 4 }), '--key', vectors.key])).toMatch(/^BROKEN: the signature of the head of size 4/);
  });
});
