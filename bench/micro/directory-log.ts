// Micro-benchmark of what a signed head adds to each seal (issue #23): the
// directory log's step (one leaf, the perfect subtrees it completes) and its
// root from the frontier of a log of 2^20 directory hashes, and the Ed25519
// signature of the head, all done inside the seal's transaction on the sealer
// thread; and, for the checking side, the client's head and consistency checks.
// Run: npm run build && node dist/bench/micro/directory-log.js
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import { Bench } from 'tinybench';
import { verifyConsistency, verifyHead } from '../../src/client/index.js';
import { headSigner } from '../../src/heads/index.js';
import { LogFrontier, LogProofs } from '../../src/ledger/index.js';
import { rowsOf, type Row } from './rows.js';

const LOG_SIZE = 2 ** 20;

export async function runDirectoryLogBench(): Promise<Row[]> {
  const nodes = new Map<number, Buffer>();
  const keyOf = (level: number, index: number): number => level * 2 ** 40 + index;
  let frontier = LogFrontier.empty;
  for (let i = 0; i < LOG_SIZE; i++) {
    const step = frontier.append(randomBytes(32));
    for (const node of step.written) nodes.set(keyOf(node.level, node.index), node.hash);
    frontier = step.next;
  }
  const proofs = new LogProofs((level, index) => nodes.get(keyOf(level, index)), LOG_SIZE);
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const key = Buffer.from(publicKey.export({ format: 'jwk' }).x!, 'base64url').toString('hex');
  const sign = headSigner(privateKey);
  const leaf = randomBytes(32);
  const head = sign(LOG_SIZE, frontier.root());
  const signed = { size: head.size, time: head.time, root: head.root.toString('hex'), signature: head.signature.toString('hex') };
  const older = { size: LOG_SIZE - 1000, root: proofs.root(LOG_SIZE - 1000).toString('hex') };
  const path = proofs.consistency(older.size, LOG_SIZE).map((p) => p.toString('hex'));
  let sink = 0;

  const bench = new Bench({ time: 400, warmupTime: 50 });
  bench.add("a seal's log step: append a directory hash at 2^20 + the new root", () => {
    const step = frontier.append(leaf);
    sink += step.next.root()[0]! + step.written.length;
  });
  bench.add("a seal's head: Ed25519 signature (node:crypto)", () => {
    sink += sign(LOG_SIZE, head.root).signature[0]!;
  });
  bench.add('consistency proof 2^20 − 1000 → 2^20 from the nodes (no store)', () => {
    sink += proofs.consistency(older.size, LOG_SIZE).length;
  });
  bench.add('client: verifyHead (Ed25519 of @noble/curves)', () => {
    sink += verifyHead(signed, key).ok ? 1 : 0;
  });
  bench.add('client: verifyConsistency 2^20 − 1000 → 2^20', () => {
    sink += verifyConsistency(older, signed, path).ok ? 1 : 0;
  });
  await bench.run();
  if (sink === 0) throw new Error('nothing was measured');
  return rowsOf(bench);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  for (const row of await runDirectoryLogBench()) console.log(`${row.name}: ${Math.round(row.nsPerOp)} ns/op`);
}
