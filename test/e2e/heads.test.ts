// Signed heads of the directory log against a real gateway (docs/protocol.md
// §13): every head it signs verifies under the key it publishes, every pair of
// its heads is consistent by its own proofs, every directory hash is in every
// head after it, and entry proofs carry their path into a head; each checked
// by the client package and by examples/verify_proof.py.
import { spawnSync } from 'node:child_process';
import { generateKeyPairSync, sign } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  headMessage,
  keyFingerprint,
  verifyConsistency,
  verifyCosignature,
  verifyEntry,
  verifyHead,
  verifyInclusion,
  type ConsistencyProofView,
  type EntryProof,
  type HeadKeyView,
  type HeadView,
  type InclusionProofView,
  type SignedHead,
} from '../../src/client/index.js';
import { encodeCosignatureMessage } from '../../src/protocol/index.js';
import { ROOT, flipHex, runCli, startGateway, tempDir, type ChildGateway } from '../helpers/index.js';

const CHAIN = 'heads-e2e';
const SCRIPT = join(ROOT, 'examples', 'verify_proof.py');

function python(args: string[], input?: unknown): { status: number | null; stdout: string } {
  const run = spawnSync('python3', [SCRIPT, ...args], { input: input === undefined ? '' : JSON.stringify(input), encoding: 'utf8', timeout: 20_000 });
  return { status: run.status, stdout: run.stdout + run.stderr };
}

async function post(gw: ChildGateway, entries: string[]): Promise<void> {
  const res = await gw.http(`/v1/chains/${CHAIN}/entries?wait=committed`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(entries),
  });
  expect(res.status).toBe(200);
}

async function answer<T>(gw: ChildGateway, path: string, status = 200): Promise<T> {
  const res = await gw.http(path);
  const body = (await res.json()) as T;
  expect({ path, status: res.status, body }).toMatchObject({ status });
  return body;
}

/** A witness key pair: the raw public key (hex) and a signer. */
function witness(): { key: string; cosign(head: SignedHead, gatewayKey: string, time?: number): Record<string, unknown> } {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const key = Buffer.from(publicKey.export({ format: 'jwk' }).x!, 'base64url').toString('hex');
  return {
    key,
    cosign: (head, gatewayKey, time = Date.now()) => ({
      witness: key,
      time,
      head: { size: head.size, time: head.time, root: head.root, signature: head.signature },
      signature: sign(null, encodeCosignatureMessage(time, headMessage(head, gatewayKey)), privateKey).toString('hex'),
    }),
  };
}

describe('signed heads of a gateway', () => {
  let gw: ChildGateway;
  let key: HeadKeyView;
  const witnessA = witness();
  const heads: SignedHead[] = [];

  beforeAll(async () => {
    gw = await startGateway({ config: { ledger: { blockIntervalMs: 20, maxBlockEntries: 3 }, heads: { witnesses: [witnessA.key] } } });
    key = await answer<HeadKeyView>(gw, '/v1/directory/key');
    // Seven seals of one to three blocks: directory sizes 1…7, a tree with a ragged right edge.
    for (let i = 0; i < 7; i++) {
      await post(
        gw,
        Array.from({ length: 1 + (i % 3) * 3 }, (_, k) => `entry ${i}.${k}`),
      );
      heads.push(await answer<HeadView>(gw, '/v1/directory/head'));
    }
  });

  it('publishes its Ed25519 key, in /v1/directory/key and /healthz', async () => {
    expect(key).toEqual({ algorithm: 'ed25519', key: expect.stringMatching(/^[0-9a-f]{64}$/), fingerprint: keyFingerprint(key.key) });
    const health = await answer<{ head: Record<string, unknown> }>(gw, '/healthz');
    expect(health.head).toEqual({ key: key.key, fingerprint: key.fingerprint, size: 7, time: expect.any(Number) });
  });

  it('signs a head after each seal, each verifying under its key and none under another', async () => {
    expect(heads.map((h) => h.size)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    for (const head of heads) {
      expect(verifyHead(head, key.key)).toEqual({ ok: true });
      expect(verifyHead(head, witnessA.key).ok).toBe(false);
      expect((head as HeadView).key).toBe(key.key);
    }
    // One bit of any signed field, or of the signature, and it no longer verifies.
    const head = heads[4]!;
    for (const changed of [
      { ...head, size: head.size ^ 1 },
      { ...head, size: head.size + 2 ** 40 },
      { ...head, time: head.time ^ 1 },
      { ...head, root: flipHex(head.root, 9) },
      { ...head, signature: flipHex(head.signature, 70) },
    ]) {
      expect(verifyHead(changed, key.key).ok).toBe(false);
    }
    // Earlier heads stay served by size.
    for (const h of heads)
      expect(await answer<SignedHead>(gw, `/v1/directory/head?size=${h.size}`)).toMatchObject({ size: h.size, root: h.root, key: key.key });
  });

  it('proves every pair of its heads consistent, and a changed proof or root is refused', async () => {
    for (const older of heads) {
      for (const newer of heads.filter((h) => h.size >= older.size)) {
        const proof = await answer<ConsistencyProofView>(gw, `/v1/directory/consistency?from=${older.size}&to=${newer.size}`);
        expect(proof).toMatchObject({ from: older.size, to: newer.size });
        expect(verifyConsistency(older, newer, proof.path), `${older.size} → ${newer.size}`).toEqual({ ok: true });
        if (proof.path.length > 0) {
          expect(
            verifyConsistency(
              older,
              newer,
              proof.path.map((p, i) => (i === 0 ? flipHex(p, 5) : p)),
            ).ok,
          ).toBe(false);
          expect(verifyConsistency({ ...older, root: flipHex(older.root, 3) }, newer, proof.path).ok).toBe(false);
        }
      }
    }
    // to defaults to the latest head.
    expect(await answer<ConsistencyProofView>(gw, '/v1/directory/consistency?from=3')).toMatchObject({ from: 3, to: 7 });
  });

  it('proves each directory hash in each head after it', async () => {
    for (const head of heads) {
      for (let height = 0; height < head.size; height++) {
        const proof = await answer<InclusionProofView>(gw, `/v1/directory/inclusion?height=${height}&size=${head.size}`);
        const directory = await answer<{ hash: string }>(gw, `/v1/directory/${height}`);
        expect(proof.hash).toBe(directory.hash);
        expect(verifyInclusion(proof.hash, height, head, proof.path)).toEqual({ ok: true });
        expect(verifyInclusion(flipHex(proof.hash, 1), height, head, proof.path).ok).toBe(false);
      }
    }
  });

  it('gives entry proofs their path into the latest head, or a chosen one', async () => {
    const latest = heads.at(-1)!;
    const proof = await answer<EntryProof>(gw, `/v1/chains/${CHAIN}/entries/0?head=latest`);
    expect(proof.head).toMatchObject({ size: latest.size, root: latest.root, signature: latest.signature });
    expect(verifyEntry(proof, { key: key.key })).toEqual({ ok: true });
    expect(verifyEntry(proof, { head: latest, key: key.key })).toEqual({ ok: true });
    expect(verifyEntry(proof, { key: witnessA.key }).ok).toBe(false);
    // A client holding an older head asks for its size and checks against that head alone.
    const older = heads[2]!;
    const againstOlder = await answer<EntryProof>(gw, `/v1/chains/${CHAIN}/entries/0?head=${older.size}`);
    expect(verifyEntry(againstOlder, { head: older })).toEqual({ ok: true });
    expect(verifyEntry(againstOlder, { head: latest }).ok).toBe(false);
    const tampered = structuredClone(proof);
    tampered.head!.path[0] = flipHex(tampered.head!.path[0]!, 2);
    expect(verifyEntry(tampered)).toMatchObject({ ok: false, reason: 'head path does not lead to head.root' });
    // Without ?head= the proof is as before; with a key it must have the part.
    const plain = await answer<EntryProof>(gw, `/v1/chains/${CHAIN}/entries/0`);
    expect(plain.head).toBeUndefined();
    expect(verifyEntry(plain, { key: key.key }).ok).toBe(false);
  });

  it('is checked by examples/verify_proof.py: entry proofs with a head, heads, consistency', async () => {
    const proof = await answer<EntryProof>(gw, `/v1/chains/${CHAIN}/entries/5?head=latest`);
    expect(python(['--key', key.key], proof)).toEqual({ status: 0, stdout: 'OK\n' });
    expect(python(['--key', witnessA.key], proof)).toMatchObject({
      status: 1,
      stdout: expect.stringMatching(/^BROKEN: the signature of the head of size 7 does not verify/),
    });
    // A size is bound to its root by the signature (a path may fit several sizes), so a changed size needs the key to be caught.
    const moved = structuredClone(proof);
    moved.head!.size = 6;
    expect(python(['--key', key.key], moved)).toMatchObject({
      status: 1,
      stdout: expect.stringMatching(/^BROKEN: the signature of the head of size 6 does not verify/),
    });
    moved.head!.path[0] = flipHex(moved.head!.path[0]!, 6);
    expect(python([], moved)).toMatchObject({ status: 1, stdout: expect.stringMatching(/^BROKEN: the path does not/) });
    const dir = tempDir('chainlanes-heads-py-');
    const files = (...docs: unknown[]): string[] =>
      docs.map((doc, i) => {
        const file = join(dir, `${i}-${Math.random()}.json`);
        writeDocument(file, doc);
        return file;
      });
    const [older, newer] = [heads[1]!, heads[6]!];
    const consistency = await answer<ConsistencyProofView>(gw, `/v1/directory/consistency?from=${older.size}&to=${newer.size}`);
    expect(python(['--head', ...files(newer), '--key', key.key])).toEqual({ status: 0, stdout: 'OK\n' });
    expect(python(['--consistency', ...files(older, newer, consistency), '--key', key.key])).toEqual({ status: 0, stdout: 'OK\n' });
    expect(python(['--consistency', ...files(older, { ...newer, size: newer.size + 1 }, consistency), '--key', key.key]).status).toBe(1);
    expect(python(['--consistency', ...files({ ...older, root: flipHex(older.root, 0) }, newer, consistency)]).status).toBe(1);
  });

  it('says when the Python example cannot check a signature (no cryptography package)', async () => {
    const proof = await answer<EntryProof>(gw, `/v1/chains/${CHAIN}/entries/1?head=latest`);
    const hidden = tempDir('chainlanes-no-cryptography-');
    writeDocument(join(hidden, 'cryptography', '__init__.py'), 'raise ImportError("hidden for the test")\n');
    const run = spawnSync('python3', [SCRIPT, '--key', key.key], {
      input: JSON.stringify(proof),
      encoding: 'utf8',
      env: { ...process.env, PYTHONPATH: hidden },
    });
    expect({ status: run.status, stdout: run.stdout }).toEqual({
      status: 0,
      stdout: 'OK, but the head signature was NOT checked: the Python package "cryptography" is not installed\n',
    });
  });

  it('is checked by chainlanes verify --entry, against --key or the key the gateway presents', async () => {
    const url = `http://127.0.0.1:${gw.port}/v1/chains/${CHAIN}/entries/2`;
    const presented = runCli(['verify', '--entry', url]);
    expect(presented).toMatchObject({ status: 0 });
    expect(presented.output).toMatch(
      new RegExp(
        `OK: chain "${CHAIN}" seq 2: entry → block \\d+ → directory \\d+ → head of size 7 signed by key ${key.fingerprint} \\(as the gateway presents it; pin it with --key\\)`,
      ),
    );
    const pinned = runCli(['verify', '--entry', url, '--key', key.key]);
    expect(pinned.status).toBe(0);
    expect(pinned.output).not.toMatch(/as the gateway presents it/);
    const wrong = runCli(['verify', '--entry', url, '--key', witnessA.key]);
    expect(wrong.status).toBe(1);
    expect(wrong.output).toMatch(/BROKEN: chain "heads-e2e" seq 2: the signature of the head of size 7 does not verify under key/);
    // A proof kept in a file, with its head, checked offline against the pinned key.
    const file = join(tempDir('chainlanes-entry-'), 'proof.json');
    writeFileSync(file, JSON.stringify(await answer<EntryProof>(gw, `/v1/chains/${CHAIN}/entries/2?head=3`)));
    expect(runCli(['verify', '--entry', file, '--key', key.key]).output).toMatch(/→ head of size 3 signed by key/);
    expect(runCli(['verify', '--entry', file]).output).toMatch(/→ log root of size 3 \(signature not checked: give --key\)/);
  });

  it('refuses what it cannot prove, naming why', async () => {
    const cases: [string, number, RegExp][] = [
      ['/v1/directory/head?size=8', 404, /size 8 is beyond the latest head, of size 7/],
      ['/v1/directory/head?size=x', 400, /size must be a non-negative integer/],
      ['/v1/directory/consistency?from=5&to=4', 400, /from 5 is beyond to 4/],
      ['/v1/directory/consistency?to=4', 400, /from must be a non-negative integer/],
      ['/v1/directory/consistency?from=1&to=99', 404, /to 99 is beyond the latest head/],
      ['/v1/directory/inclusion?height=7&size=7', 404, /directory 7 is not in the log of size 7/],
      ['/v1/directory/inclusion?height=-1', 400, /height must be a non-negative integer/],
      [`/v1/chains/${CHAIN}/entries/0?head=0`, 400, /is in directory 0, which is not in the log of size 0: ask for a head of size 1 or more/],
      [`/v1/chains/${CHAIN}/entries/0?head=99`, 404, /no head of size 99: the latest head is of size 7/],
      [`/v1/chains/${CHAIN}/entries/0?head=newest`, 400, /head must be "latest" or a log size/],
    ];
    for (const [path, status, message] of cases) {
      const body = await answer<{ error: { message: string } }>(gw, path, status);
      expect(body.error.message, path).toMatch(message);
    }
    // The directory block route still answers heights.
    expect(await answer<{ height: number }>(gw, '/v1/directory/3')).toMatchObject({ height: 3 });
  });

  it("keeps a configured witness's co-signature and serves it beside the head; refuses others", async () => {
    const head = await answer<HeadView>(gw, '/v1/directory/head');
    const postCosignature = (body: unknown, raw?: string): Promise<Response> =>
      gw.http('/v1/directory/cosignatures', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: raw ?? JSON.stringify(body),
      });
    const good = witnessA.cosign(head, key.key);
    const kept = await postCosignature(good);
    expect(kept.status).toBe(200);
    const served = await answer<HeadView>(gw, '/v1/directory/head');
    expect(served.cosignatures).toEqual([good]);
    expect(verifyCosignature(served.cosignatures[0]!, key.key, witnessA.key)).toEqual({ ok: true });
    expect(verifyCosignature(served.cosignatures[0]!, witnessA.key).ok).toBe(false);
    // An older co-signature does not replace a newer one.
    const older = witnessA.cosign(heads[0]!, key.key);
    expect(await (await postCosignature(older)).json()).toEqual(good);

    const refusals: [unknown, number, RegExp, string?][] = [
      [witness().cosign(head, key.key), 403, /is not one of this gateway's heads\.witnesses/],
      [{ ...good, signature: flipHex(good.signature as string, 4) }, 400, /does not verify under witness/],
      [{ ...good, head: { ...head, size: head.size - 1, cosignatures: undefined, key: undefined } }, 400, /is not signed by this gateway's key/],
      [{ ...good, witness: 'abc' }, 400, /witness must be 64 hex digits/],
      [null, 400, /the body is not JSON/, '{"witness":'],
      [null, 413, /request body exceeds 4096 bytes/, JSON.stringify({ ...good, pad: 'x'.repeat(5000) })],
    ];
    for (const [body, status, message, raw] of refusals) {
      const res = await postCosignature(body, raw);
      const answerBody = (await res.json()) as { error: { message: string } };
      expect({ status: res.status, message: answerBody.error.message }).toEqual({ status, message: expect.stringMatching(message) });
    }
    expect((await answer<HeadView>(gw, '/v1/directory/head')).cosignatures).toEqual([good]);
  });
});

describe('a gateway with heads off, and one left idle', () => {
  it('answers not_found naming heads.enabled, and entry proofs work without heads', async () => {
    const gw = await startGateway({ config: { ledger: { blockIntervalMs: 20 }, heads: { enabled: false } } });
    await post(gw, ['no heads']);
    for (const path of [
      '/v1/directory/key',
      '/v1/directory/head',
      '/v1/directory/consistency?from=0&to=1',
      '/v1/directory/inclusion?height=0',
      `/v1/chains/${CHAIN}/entries/0?head=latest`,
    ]) {
      const body = await answer<{ error: { message: string } }>(gw, path, 404);
      expect(body.error.message, path).toMatch(/heads\.enabled is false/);
    }
    expect(verifyEntry(await answer<EntryProof>(gw, `/v1/chains/${CHAIN}/entries/0`))).toEqual({ ok: true });
    expect((await answer<{ head: unknown }>(gw, '/healthz')).head).toBeNull();
  });

  it('signs its unchanged head again every heads.refreshSeconds, and builds the log of a store sealed with heads off', async () => {
    const first = await startGateway({ config: { ledger: { blockIntervalMs: 20 }, heads: { enabled: false } } });
    await post(first, ['sealed before heads']);
    await post(first, ['sealed before heads, too']);
    expect(await first.stop()).toBe(0);
    const gw = await startGateway({ dataDir: first.dataDir, config: { ledger: { blockIntervalMs: 20 }, heads: { refreshSeconds: 1 } } });
    const key = await answer<HeadKeyView>(gw, '/v1/directory/key');
    const start = await answer<HeadView>(gw, '/v1/directory/head');
    // The log was built from the two directory blocks sealed with heads off.
    expect(start.size).toBe(2);
    const inclusion = await answer<InclusionProofView>(gw, '/v1/directory/inclusion?height=0');
    expect(verifyInclusion(inclusion.hash, 0, start, inclusion.path)).toEqual({ ok: true });
    await expect.poll(async () => (await answer<HeadView>(gw, '/v1/directory/head')).time, { timeout: 10_000, interval: 200 }).toBeGreaterThan(start.time);
    const later = await answer<HeadView>(gw, '/v1/directory/head');
    expect({ size: later.size, root: later.root }).toEqual({ size: start.size, root: start.root });
    expect(verifyHead(later, key.key)).toEqual({ ok: true });
    // Sizes signed before the store had heads have no signed head; their roots are still proved.
    expect((await answer<{ error: { message: string } }>(gw, '/v1/directory/head?size=1', 404)).error.message).toMatch(/no head was signed at size 1/);
    const proof = await answer<EntryProof>(gw, `/v1/chains/${CHAIN}/entries/0?head=1`);
    expect(proof.head).toEqual({ size: 1, root: expect.stringMatching(/^[0-9a-f]{64}$/), path: [] });
    expect(verifyEntry(proof).ok).toBe(true);
    expect(verifyEntry(proof, { key: key.key })).toMatchObject({ ok: false, reason: 'the gateway signed no head of size 1' });
  });
});

function writeDocument(file: string, content: unknown): void {
  mkdirSync(join(file, '..'), { recursive: true });
  writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content));
}
