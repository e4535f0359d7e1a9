// A full disk, for real: the gateway's store on a small tmpfs, flooded until
// lmdb's commits fail. The sealer must survive it, say why on /healthz and in
// `busy` replies, answer everyone waiting, and seal everything accepted once
// space returns, without a restart.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StreamClient, expectContiguousCommits, runCli, sleep, startGateway, type ChildGateway, type Reply } from '../helpers/index.js';

const MiB = 1024 * 1024;
/** The tmpfs, the ballast taken from it before the gateway starts, and so the room left for the store. */
const TMPFS_BYTES = 40 * MiB;
const BALLAST_BYTES = 16 * MiB;
const COMMIT_WAIT_MS = 2_000;

/** Why the test cannot run here, or null: it mounts a tmpfs, which needs root (CI runs as root). */
function whyNoMount(): string | null {
  if (process.getuid?.() !== 0) return 'not root: mounting a tmpfs needs root';
  const probe = mkdtempSync(join(tmpdir(), 'chainlanes-mount-probe-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', probe], { stdio: 'pipe' });
    execFileSync('umount', [probe], { stdio: 'pipe' });
    return null;
  } catch (error) {
    return `mount -t tmpfs is not permitted here: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`;
  } finally {
    rmSync(probe, { recursive: true, force: true });
  }
}

const noMount = whyNoMount();
if (noMount !== null) process.stderr.write(`test/e2e/disk-faults.test.ts skipped: ${noMount}\n`);

function unmount(dir: string): void {
  try {
    execFileSync('umount', [dir], { stdio: 'pipe' });
  } catch {
    // Still busy (a process being reaped): detach it now, the kernel frees it when the last user goes.
    execFileSync('umount', ['-l', dir], { stdio: 'pipe' });
  }
}

async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined> | T | undefined): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(50);
  }
}

function acceptedEntries(replies: Reply[]): number {
  return replies.filter((r) => r.type === 'accepted').reduce((n, r) => n + (r.count as number), 0);
}

describe.skipIf(noMount !== null)(`a full disk${noMount === null ? '' : ` (skipped: ${noMount})`}`, () => {
  let mount: string;
  let gw: ChildGateway | undefined;

  beforeEach(() => {
    mount = mkdtempSync(join(tmpdir(), 'chainlanes-disk-'));
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${TMPFS_BYTES}`, 'tmpfs', mount]);
    writeFileSync(join(mount, 'ballast'), Buffer.alloc(BALLAST_BYTES, 1));
  });

  afterEach(async () => {
    await gw?.kill();
    gw = undefined;
    unmount(mount);
    rmSync(mount, { recursive: true, force: true });
  });

  it('keeps the sealer alive, answers busy with the reason, and seals everything accepted once space returns', async () => {
    const dataDir = join(mount, 'data');
    gw = await startGateway({
      dataDir,
      config: {
        // Three failures (200 + 400 ms of back-off) before trouble: time for a few writers to be accepted into the failing backlog.
        ledger: { blockIntervalMs: 50, commitWaitTimeoutMs: COMMIT_WAIT_MS, unhealthyAfterSealFailures: 3 },
        // Small, so the cut that waits for space is small too and fits once the ballast goes.
        limits: { maxUnsealedBytes: 6 * MiB },
      },
    });
    const g = gw;
    const flood = await StreamClient.open(g.port, 'flood');
    const entry = 'f'.repeat(4000);
    const frame = Array.from({ length: 16 }, () => entry);
    // Small HTTP writers waiting for their commit, accepted after the first failure: they must be answered too.
    const waits: Promise<{ status: number; body: Record<string, unknown> }>[] = [];
    const postWaiting = (): void => {
      waits.push(
        g
          .http('/v1/chains/waiter/entries?wait=committed', {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify([`w${waits.length}`]),
          })
          .then(async (res) => ({ status: res.status, body: (await res.json()) as Record<string, unknown> })),
      );
    };
    const failed = (): boolean => g.logs().some((l) => l.event === 'seal-failed');

    // Flood until lmdb's commit fails for want of space, keeping what is accepted
    // but not committed small: the writers below must find room in the backlog.
    let sent = 0;
    let accepted = 0;
    let committed = 0;
    let [repliesSeen, noticesSeen] = [0, 0];
    const floodStarted = Date.now();
    while (!failed()) {
      if (Date.now() - floodStarted > 15_000) throw new Error(`no seal failed after 15 s of flooding (${accepted} entries accepted)`);
      for (; repliesSeen < flood.replies.length; repliesSeen++)
        if (flood.replies[repliesSeen]!.type === 'accepted') accepted += flood.replies[repliesSeen]!.count as number;
      for (; noticesSeen < flood.committed.length; noticesSeen++) committed += flood.committed[noticesSeen]!.count as number;
      if (sent - flood.replies.length < 8 && (accepted - committed) * entry.length < 2 * MiB) {
        flood.send(frame);
        sent++;
      } else {
        await sleep(1);
      }
    }
    // Writers wait for their commit until seals have failed long enough to count as trouble (admission refuses them from then on).
    const health = await until('/healthz 503', 10_000, async () => {
      postWaiting();
      const res = await g.http('/healthz');
      return res.status === 503 ? ((await res.json()) as Record<string, unknown>) : undefined;
    });
    await flood.waitReplies(sent);

    // The process and its sealer thread are alive, and /healthz names the disk error.
    expect(g.process.exitCode).toBeNull();
    expect(g.process.signalCode).toBeNull();
    const diskError = /the store commit failed: (ENOSPC|EIO)\b/;
    expect(health).toMatchObject({
      status: 'degraded',
      sealer: true,
      reason: expect.stringMatching(/seals failed in a row \(last error: the store commit failed: (ENOSPC|EIO)\b/),
    });
    expect(
      g
        .logs()
        .filter((l) => l.event === 'seal-failed')
        .map((l) => l.error),
    ).toContainEqual(expect.stringMatching(diskError));
    expect(g.logs().filter((l) => l.event === 'sealer-failed' || l.event === 'sealer-error')).toEqual([]);

    // New frames, on any chain and either route, get `busy` with the reason, not `internal`.
    const before = flood.replies.length;
    flood.send(['one more']);
    const [refused] = (await flood.waitReplies(before + 1)).slice(before);
    expect(refused).toMatchObject({
      type: 'error',
      code: 'busy',
      message: expect.stringMatching(
        /^the store is failing to seal: \d+ seals failed in a row \(last error: the store commit failed: (ENOSPC|EIO)\b.*; retry later$/,
      ),
    });
    const other = await g.http('/v1/chains/newcomer/entries', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '["hello"]' });
    expect(other.status).toBe(503);
    expect(await other.json()).toMatchObject({ error: { code: 'busy', message: expect.stringMatching(/the store is failing to seal/) } });
    expect(flood.replies.filter((r) => r.type === 'error' && r.code !== 'busy')).toEqual([]);

    // Everyone waiting for a commit is answered: told after the wait timeout what
    // is pending and why, or refused `busy` once seals failed.
    const answers = await Promise.all(waits);
    for (const { status, body } of answers) {
      if (status === 200) expect(body).toMatchObject({ committed: true });
      else if (status === 503)
        expect(body).toMatchObject({ error: { code: 'busy', message: expect.stringMatching(/failing to seal|waiting to be made durable/) } });
      else {
        expect(status).toBe(500);
        expect(body).toMatchObject({
          error: {
            code: 'internal',
            message: expect.stringMatching(/not committed after 2 s.*seals failed in a row \(last error: the store commit failed: (ENOSPC|EIO)\b/),
          },
        });
      }
    }
    expect(answers.filter((a) => a.status === 500).length).toBeGreaterThan(0);
    const waiterAccepted = answers.filter((a) => a.status === 200 || a.status === 500).length;

    // Space returns: sealing resumes without a restart.
    rmSync(join(mount, 'ballast'));
    await until('/healthz 200 after space returned', 12_000, async () => ((await g.http('/healthz')).status === 200 ? true : undefined));
    const floodAccepted = acceptedEntries(flood.replies);
    const notices = await flood.waitCommitted((n) => n.reduce((sum, c) => sum + (c.count as number), 0) >= floodAccepted, 10_000);
    expectContiguousCommits(notices, floodAccepted);
    const waiter = await until('the waiters committed', 5_000, async () => {
      const view = await g.json<{ nextSeq: number; committedSeq: number }>('/v1/chains/waiter');
      return view.committedSeq === view.nextSeq ? view : undefined;
    });
    expect(waiter.nextSeq).toBe(waiterAccepted);
    // Writes are accepted again.
    flood.send(['after the disk came back']);
    expect((await flood.waitReplies(flood.replies.length + 1)).at(-1)).toMatchObject({ type: 'accepted', seq: floodAccepted });
    flood.close();

    expect(await g.stop()).toBe(0);
    const verify = runCli(['verify', '--data', dataDir]);
    expect(verify.output).toMatch(/chainlanes verify: OK: 2 chains/);
    expect(verify.status).toBe(0);
  });
});
