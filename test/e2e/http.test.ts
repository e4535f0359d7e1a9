// HTTP ingest and reads end to end.
import { beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { pack } from 'msgpackr';
import { open } from 'lmdb';
import { verifyEntry, type EntryProof } from '../../src/client/verify.js';
import { CLI, sha256Hex, startGateway, type ChildGateway } from '../helpers/index.js';

describe('HTTP', () => {
  let gw: ChildGateway;
  beforeAll(async () => {
    gw = await startGateway({ config: { ledger: { blockIntervalMs: 50 } } });
  });

  it('takes a JSON array of strings and answers after commit with ?wait=committed', async () => {
    const res = await gw.http('/v1/chains/web/entries?wait=committed', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(['a', 'b']),
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ chain: 'web', seq: 0, count: 2, hashes: [sha256Hex('a'), sha256Hex('b')], committed: true });
    // Committed means readable with a proof right away.
    const proof = (await gw.json('/v1/chains/web/entries/1')) as unknown as EntryProof;
    expect(Buffer.from(proof.content, 'base64').toString()).toBe('b');
    expect(verifyEntry(proof, { chain: 'web', seq: 1, hash: sha256Hex('b') })).toEqual({ ok: true });
  });

  it('takes a msgpack body the same as a WebSocket frame', async () => {
    const res = await gw.http('/v1/chains/web/entries', { method: 'POST', headers: { 'content-type': 'application/msgpack' }, body: pack(['c']) });
    expect(await res.json()).toMatchObject({ seq: 2, count: 1, hashes: [sha256Hex('c')], committed: false });
  });

  it('rejects bad bodies with a status and an error code, and uses no seq', async () => {
    const post = (body: string | Uint8Array, type: string) => gw.http('/v1/chains/web/entries', { method: 'POST', headers: { 'content-type': type }, body });
    const cases: [Response, number, string][] = [
      [await post('{"not":"an array"}', 'application/json'), 400, 'bad_frame'],
      [await post('[1, 2]', 'application/json'), 400, 'bad_frame'],
      [await post('[broken', 'application/json'), 400, 'bad_frame'],
      [await post(pack({ a: 1 }), 'application/msgpack'), 400, 'bad_frame'],
      [await post(pack([Buffer.alloc(70_000)]), 'application/msgpack'), 413, 'too_large'],
    ];
    for (const [res, status, code] of cases) {
      expect(res.status).toBe(status);
      expect(await res.json()).toMatchObject({ error: { code, message: expect.any(String) } });
    }
    expect((await gw.json('/v1/chains/web')).nextSeq).toBe(3);
  });

  it('answers unknown_chain for a chain that does not exist and not_found for what a chain does not hold', async () => {
    const cases: [string, string][] = [
      ['/v1/chains/nope', 'unknown_chain'],
      ['/v1/chains/nope/entries/0', 'unknown_chain'],
      ['/v1/chains/web/entries/999', 'not_found'],
      ['/v1/chains/web/blocks/999', 'not_found'],
      ['/v1/directory/99999', 'not_found'],
      ['/web/no-such-file.js', 'not_found'],
      ['/v2/anything', 'not_found'],
    ];
    for (const [path, code] of cases) {
      const res = await gw.http(path);
      expect(res.status, path).toBe(404);
      expect(await res.json(), path).toMatchObject({ error: { code, message: expect.any(String) } });
    }
    const route = (await (await gw.http('/nowhere')).json()) as { error: { message: string } };
    expect(route.error.message).toMatch(/no route GET \/nowhere/);
  });

  it('answers bad_request naming the parameter for a malformed path or query', async () => {
    const cases: [string, RegExp][] = [
      ['/v1/chains/web/entries/abc', /seq must be a non-negative integer, got "abc"/],
      ['/v1/chains/web/entries/-1', /seq must be a non-negative integer/],
      ['/v1/chains/web/blocks/1.5', /height must be a non-negative integer/],
      ['/v1/directory/x', /height must be a non-negative integer/],
      ['/v1/anchors?limit=lots', /limit must be a non-negative integer/],
      ['/v1/chains/bad%20name', /bad chain name/],
    ];
    for (const [path, message] of cases) {
      const res = await gw.http(path);
      expect(res.status, path).toBe(400);
      expect(await res.json(), path).toMatchObject({ error: { code: 'bad_request', message: expect.stringMatching(message) } });
    }
  });

  it('refuses a POST body whose content type is neither JSON nor msgpack, naming what it expected, and uses no seq', async () => {
    const before = (await gw.json('/v1/chains/web')).nextSeq;
    const post = (headers: Record<string, string>, query = '') => gw.http(`/v1/chains/web/entries${query}`, { method: 'POST', headers, body: pack(['x']) });
    const refused: Record<string, string>[] = [{ 'content-type': 'text/plain' }, { 'content-type': 'application/x-www-form-urlencoded' }, {}];
    for (const headers of refused) {
      const res = await post(headers);
      expect(res.status).toBe(400);
      const body = (await res.json()) as { error: { code: string; message: string } };
      expect(body.error.code).toBe('bad_request');
      expect(body.error.message).toMatch(/content-type must be application\/json .* or application\/msgpack/);
    }
    const wait = await post({ 'content-type': 'application/msgpack' }, '?wait=soon');
    expect(wait.status).toBe(400);
    expect(await wait.json()).toMatchObject({ error: { code: 'bad_request', message: expect.stringMatching(/wait must be "committed"/) } });
    expect((await gw.json('/v1/chains/web')).nextSeq).toBe(before);
    const charset = await post({ 'content-type': 'application/json; charset=utf-8' });
    expect(charset.status).toBe(400);
    expect(await charset.json()).toMatchObject({ error: { code: 'bad_frame' } });
  });

  it('serves blocks, directory blocks and anchors that link up', async () => {
    const block = await gw.json<{ hash: string; directory: number }>('/v1/chains/web/blocks/0');
    const directory = await gw.json<{ hash: string; entries: { chain: string; blockHash: string }[] }>(`/v1/directory/${block.directory}`);
    expect(directory.entries).toContainEqual(expect.objectContaining({ chain: 'web', blockHash: block.hash }));
    const anchors = await gw.json<{ anchors: { height: number; hash: string }[] }>('/v1/anchors');
    expect(anchors.anchors.find((a) => a.height === block.directory)?.hash).toBe(directory.hash);
  });
});

describe('chainlanes verify', () => {
  it('passes a good store and names the first break in a damaged one', async () => {
    const gw = await startGateway({ config: { ledger: { blockIntervalMs: 50 } } });
    await gw.http('/v1/chains/audit/entries?wait=committed', {
      method: 'POST',
      body: JSON.stringify(['x', 'y', 'z']),
      headers: { 'content-type': 'application/json' },
    });
    expect(await gw.stop()).toBe(0);
    expect(execFileSync(process.execPath, [CLI, 'verify', '--data', gw.dataDir], { encoding: 'utf8' })).toMatch(/OK: 1 chains, 1 entry blocks, 3 entries/);
    // Flip one content byte of the stored block, behind the gateway's back.
    const db = open({ path: gw.dataDir, maxDbs: 32 }).openDB({ name: 'ledger.blocks', encoding: 'binary', keyEncoding: 'binary' });
    for (const { key, value } of db.getRange({})) {
      const damaged = Buffer.from(value as Buffer);
      damaged[damaged.length - 1]! ^= 0xff;
      await db.put(key, damaged);
    }
    await db.close();
    const run = spawnSync(process.execPath, [CLI, 'verify', '--data', gw.dataDir], { encoding: 'utf8' });
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(/BROKEN: chain "audit" block 0 seq 2: entry hash does not match its content/);
    // A gateway on the damaged store refuses to serve the proof it cannot verify, and keeps serving the rest.
    const again = await startGateway({ dataDir: gw.dataDir });
    const res = await again.http('/v1/chains/audit/entries/2');
    expect(res.status).toBe(500);
    expect(await res.json()).toMatchObject({ error: { code: 'internal', message: expect.stringMatching(/audit/) } });
    expect((await again.http('/healthz')).status).toBe(200);
  });
});
