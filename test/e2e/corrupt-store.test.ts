// A damaged store is reported, never crashed on. Before, flipped bytes in
// lmdb's meta page killed `verify` and `serve` with SIGSEGV and no message,
// and a flipped last page (the free-page list, which only a write reads) let
// `serve` start and die of SIGBUS on its first write.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { open } from 'lmdb';
import { chainIdOf } from '../../src/ledger/index.js';
import { parseLogLines, runCli, startGateway, type ChildGateway } from '../helpers/index.js';

interface Meta {
  page: 0 | 1;
  pageSize: number;
  txnid: number;
  lastPage: number;
  mainRoot: number;
}

/** lmdb's current meta (the higher transaction id of pages 0 and 1), read as lmdb-file.ts documents the layout. */
function currentMeta(file: Buffer): Meta {
  const pageSize = file.readUInt32LE(48);
  const metas = ([0, 1] as const).map((page): Meta => {
    const at = page * pageSize;
    return {
      page,
      pageSize,
      txnid: Number(file.readBigUInt64LE(at + 152)),
      lastPage: Number(file.readBigUInt64LE(at + 144)),
      mainRoot: Number(file.readBigUInt64LE(at + 136)),
    };
  });
  return metas[0]!.txnid >= metas[1]!.txnid ? metas[0]! : metas[1]!;
}

function flip(file: Buffer, at: number, length: number): void {
  for (let i = at; i < at + length; i++) file[i] = file[i]! ^ 0xff;
}

/** What `serve` did with the store: refused (its fatal start-failed line), or started. */
async function serve(dataDir: string): Promise<{ refused: Record<string, unknown>; exit: string } | { started: ChildGateway }> {
  try {
    return { started: await startGateway({ dataDir }) };
  } catch (error) {
    const text = error instanceof Error ? error.message : String(error);
    const refused = parseLogLines(text).find((l) => l.event === 'start-failed');
    if (refused === undefined) throw error;
    return { refused, exit: text.split('\n', 1)[0]! };
  }
}

describe('a corrupt store', () => {
  let good: string;
  const copies: string[] = [];

  /** A copy of the good store, damaged by `damage` (data.mdb's bytes, in place). */
  function copyOf(damage: (file: Buffer, meta: Meta) => void): string {
    const dir = mkdtempSync(join(tmpdir(), 'chainlanes-corrupt-'));
    copies.push(dir);
    cpSync(good, dir, { recursive: true });
    const path = join(dir, 'data.mdb');
    const file = readFileSync(path);
    damage(file, currentMeta(file));
    writeFileSync(path, file);
    return dir;
  }

  function expectVerifyCorrupt(dir: string, why: RegExp): string {
    const run = runCli(['verify', '--data', dir]);
    expect(run.signal).toBeNull();
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(/^chainlanes verify: BROKEN: /);
    expect(run.stderr).toMatch(why);
    return run.stderr;
  }

  async function expectServeRefused(dir: string, why: RegExp): Promise<void> {
    const outcome = await serve(dir);
    if ('started' in outcome) {
      await outcome.started.kill();
      throw new Error(`serve started on a corrupt store ${dir}`);
    }
    expect(outcome.exit).toMatch(/exited with 1 before listening/);
    expect(outcome.refused).toMatchObject({ level: 60, error: expect.stringMatching(why) });
  }

  beforeAll(async () => {
    const gw = await startGateway({ config: { ledger: { blockIntervalMs: 50 } } });
    for (let i = 0; i < 5; i++) {
      const body = JSON.stringify(Array.from({ length: 40 }, (_, j) => `entry ${i}.${j} ${'x'.repeat(j * 10)}`));
      const res = await gw.http(`/v1/chains/c${i % 2}/entries?wait=committed`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      expect(res.status).toBe(200);
    }
    expect(await gw.stop()).toBe(0);
    good = mkdtempSync(join(tmpdir(), 'chainlanes-good-'));
    cpSync(gw.dataDir, good, { recursive: true });
    expect(runCli(['verify', '--data', good]).output).toMatch(/OK: 2 chains, 5 entry blocks, 200 entries, 5 directory blocks/);
  });

  afterAll(() => {
    for (const dir of [good, ...copies]) rmSync(dir, { recursive: true, force: true });
  });

  it.each([
    ['the magic of meta page 0', (file: Buffer) => flip(file, 24, 4), /corrupt lmdb meta page 0: magic 0x41103f21/],
    [
      'the last page number of the current meta',
      (file: Buffer, meta: Meta) => flip(file, meta.page * meta.pageSize + 144, 8),
      /corrupt lmdb meta page [01]: the last page number is \d+, beyond any file/,
    ],
    ['the header and start of meta page 1', (file: Buffer, meta: Meta) => flip(file, meta.pageSize, 200), /corrupt lmdb meta page 1: page flags/],
    [
      'the transaction id of the current meta',
      (file: Buffer, meta: Meta) => flip(file, meta.page * meta.pageSize + 152, 1),
      /corrupt lmdb meta pages: transaction ids \d+ \(page 0\) and \d+ \(page 1\) are not consecutive/,
    ],
  ])('flipped bytes in lmdb meta pages (%s): verify says corrupt, serve refuses, neither crashes', async (_what, damage, why) => {
    const dir = copyOf(damage);
    const corrupt = new RegExp(`the store in ${dir} is corrupt: ${why.source}`);
    expectVerifyCorrupt(dir, corrupt);
    await expectServeRefused(dir, corrupt);
  });

  it('a flipped last page (the free-page list, read only by writes): verify reports it, serve refuses instead of dying of SIGBUS on its first write', async () => {
    let lastPage = -1;
    const dir = copyOf((file, meta) => {
      lastPage = meta.lastPage;
      flip(file, meta.lastPage * meta.pageSize, meta.pageSize);
    });
    // After a clean stop following five seals, the last page written is the
    // free-page list's root: lmdb's commit saves that list last.
    const damage = new RegExp(
      `the store in ${dir} is corrupt: corrupt lmdb page ${lastPage} in the free-page list \\(transaction \\d+\\): its header says page \\d+`,
    );
    expectVerifyCorrupt(dir, damage);
    await expectServeRefused(dir, damage);
  });

  it('damage lmdb crashes on while reading: the crash is isolated in a child process and reported', async () => {
    const dir = copyOf((file, meta) => flip(file, meta.mainRoot * meta.pageSize, 64));
    const crashed = new RegExp(`the store in ${dir} is corrupt: lmdb (crashed while [a-z ]+ \\(SIG[A-Z]+\\)|cannot read it: MDB_)`);
    expectVerifyCorrupt(dir, crashed);
    await expectServeRefused(dir, crashed);
  });

  it('start-up refuses heads that do not match the last seal, naming them', async () => {
    // A sound lmdb file whose ledger is not: chain c0's last block rewritten with one header byte changed.
    const dir = copyOf(() => undefined);
    const env = open({ path: dir, maxDbs: 32 });
    const blocks = env.openDB<Buffer, Buffer>({ name: 'ledger.blocks', encoding: 'binary', keyEncoding: 'binary' });
    const c0 = chainIdOf('c0');
    const [last] = [...blocks.getRange({ start: Buffer.concat([c0, Buffer.alloc(8, 0xff)]), end: c0, reverse: true, limit: 1 })];
    const damaged = Buffer.from(last!.value);
    damaged[1 + 100] = damaged[1 + 100]! ^ 0x01;
    await blocks.put(last!.key, damaged);
    await env.close();
    const height = Number(last!.key.readBigUInt64BE(32));
    await expectServeRefused(
      dir,
      new RegExp(`^the store in ${dir} is corrupt: chain "c0" block ${height}: its hash differs from the one directory \\d+ lists$`),
    );
    expectVerifyCorrupt(dir, new RegExp(`chain "c0" block ${height}: block hash differs from the one directory \\d+ lists`));
  });
});
