// chainlanes doctor: what it reports is what the machine says, its disk test
// is bounded and leaves nothing behind, and a low file limit gets its advice.
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, totalmem } from 'node:os';
import { describe, expect, it } from 'vitest';
import { CLI, WITHOUT_SYS_NICE, mayRunRealtime, runCli, tempDir } from '../helpers/index.js';
import { formatCpuList, parseCpuList } from '../../src/doctor/index.js';
import { REALTIME_NODE_FLAGS } from '../../src/config/index.js';
import { diskView } from '../../src/doctor/machine.js';

interface Report {
  cpu: { count: number; isolated: number[] | null; layout: { lanes: number[][] } };
  memory: { totalBytes: number; budgetBytes: number };
  fileLimit: { soft: number | null; recommended: number };
  native: { loaded: boolean; error: string | null };
  uws: { attempts: { alias: string; package: string | null; version: string | null; loaded: boolean; why: string }[]; problem: string | null };
  disk: { dataDir: string; syncedWrites: number; syncedWriteMs: number; sequentialMiBPerSec: number; seconds: number };
  realtime: { priority: number | null; allowed: boolean };
  changes: { what: string; why: string; how: string }[];
}

describe('chainlanes doctor', () => {
  it('reads kernel CPU lists both ways', () => {
    expect(parseCpuList('1-3,6\n')).toEqual([1, 2, 3, 6]);
    expect(parseCpuList('')).toEqual([]);
    expect(formatCpuList([6, 1, 2, 3, 3])).toBe('1-3,6');
  });

  it('reports the machine as it is, measures the disk and cleans up', () => {
    const data = tempDir();
    const run = runCli(['doctor', '--data', data, '--disk-seconds', '0.4', '--json']);
    expect(run.status).toBe(0);
    const report = JSON.parse(run.output) as Report;
    expect(report.cpu.count).toBe(availableParallelism());
    const isolated = readFileSync('/sys/devices/system/cpu/isolated', 'utf8');
    expect(report.cpu.isolated).toEqual(parseCpuList(isolated));
    expect(report.memory.totalBytes).toBe(totalmem());
    const limits = readFileSync('/proc/self/limits', 'utf8');
    expect(report.fileLimit.soft).toBe(Number(/^Max open files\s+(\d+)/m.exec(limits)![1]));
    expect(report.native).toEqual({ loaded: true, error: null });
    expect(report.realtime).toEqual({ priority: null, allowed: mayRunRealtime() });
    expect(report.disk.dataDir).toBe(data);
    expect(report.disk.syncedWrites).toBeGreaterThan(0);
    expect(report.disk.sequentialMiBPerSec).toBeGreaterThan(0);
    expect(report.disk.seconds).toBeGreaterThan(0);
    expect(readdirSync(data)).toEqual([]);
  });

  it.skipIf(process.getuid?.() !== 0)('says what a real-time front door needs when the process lacks it [root only]', () => {
    const dir = tempDir();
    const file = `${dir}/config.json`;
    writeFileSync(file, JSON.stringify({ scheduler: { frontDoorRealtimePriority: 2 } }));
    const run = runCli(['doctor', '--data', `${dir}/data`, '--config', file, '--disk-seconds', '0.1', '--json'], {}, WITHOUT_SYS_NICE);
    expect(run.status).toBe(0);
    const report = JSON.parse(run.output) as Report;
    expect(report.realtime).toEqual({ priority: 2, allowed: false });
    const change = report.changes.find((c) => c.what === 'let the gateway make its front door real-time');
    expect(change?.why).toMatch(/frontDoorRealtimePriority is 2, and without CAP_SYS_NICE \(or an RLIMIT_RTPRIO of at least 2\) serve refuses to start/);
    for (const flag of REALTIME_NODE_FLAGS) expect(change?.how).toContain(flag);
  });

  it('writes only while its time lasts: given none, it writes nothing and leaves nothing', () => {
    const data = tempDir();
    expect(diskView(data, 0)).toMatchObject({ dataDir: data, syncedWrites: 0 });
    expect(readdirSync(data)).toEqual([]);
  });

  it('advises a higher file limit when it is low, and the native addon when it is off', () => {
    const data = tempDir();
    const run = spawnSync('prlimit', ['--nofile=1024:1024', '--', process.execPath, CLI, 'doctor', '--data', data, '--disk-seconds', '0.2'], {
      encoding: 'utf8',
      timeout: 20_000,
      env: { ...process.env, CHAINLANES_NATIVE: '0' },
    });
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(/^ {2}file limit +1024$/m);
    expect(run.stdout).toMatch(/^ {2}native addon NOT loaded/m);
    expect(run.stdout).toMatch(/^would change:$/m);
    expect(run.stdout).toMatch(/a file limit of at least 65536: 1024 open files/);
    expect(run.stdout).toMatch(/how: LimitNOFILE=1048576/);
    expect(run.stdout).toMatch(/- build the native addon/);
  });

  it('names the uWebSockets.js build that runs, newer first, and why the other does not', () => {
    // 20.57's binaries need glibc 2.38 (Debian 13); below it 20.30 is the build that runs, on Node 20 only.
    const glibc = (process.report.getReport() as { header: { glibcVersionRuntime: string } }).header.glibcVersionRuntime;
    const [major, minor] = glibc.split('.').map(Number) as [number, number];
    const newGlibc = major > 2 || (major === 2 && minor >= 38);
    const { uws } = JSON.parse(runCli(['doctor', '--data', tempDir(), '--disk-seconds', '0.1', '--json']).output) as Report;
    expect(uws.problem).toBeNull();
    const newer = { alias: 'uws-20.57', package: '@btc-vision/uwebsockets.js', version: '20.57.0' };
    const older = { alias: 'uws-20.30', package: '@trufflesuite/uws-js-unofficial', version: '20.30.0-unofficial.0' };
    const loaded = expect.stringMatching(
      new RegExp(`^its native binary loaded \\(Node ${process.versions.node}, ABI ${process.versions.modules}, linux-x64\\)$`),
    );
    if (newGlibc) {
      expect(uws.attempts).toEqual([expect.objectContaining({ ...newer, loaded: true, why: loaded })]);
    } else {
      expect(uws.attempts).toEqual([
        expect.objectContaining({ ...newer, loaded: false, why: `its binary needs glibc 2.38, this machine has ${glibc}` }),
        expect.objectContaining({ ...older, loaded: true, why: loaded }),
      ]);
    }
    const pinned = runCli(['doctor', '--data', tempDir(), '--disk-seconds', '0.1'], { CHAINLANES_UWS: newGlibc ? 'uws-20.57' : 'uws-20.30' });
    expect(pinned.status).toBe(0);
    expect(pinned.output).toMatch(
      new RegExp(
        `^ {2}uWebSockets {2}runs on ${newGlibc ? '20\\.57\\.0 \\(uws-20\\.57 = @btc-vision' : '20\\.30\\.0-unofficial\\.0 \\(uws-20\\.30 = @trufflesuite'}`,
        'm',
      ),
    );
    expect(pinned.output).not.toMatch(newGlibc ? /uws-20\.30/ : /uws-20\.57/);
  });

  it('says when no uWebSockets.js build runs, and what to change', () => {
    const run = runCli(['doctor', '--data', tempDir(), '--disk-seconds', '0.1'], { CHAINLANES_UWS: 'uws-20.30', UWS_USE_FALLBACK: '1' });
    expect(run.status).toBe(0);
    expect(run.output).toMatch(
      /^ {2}uWebSockets {2}not 20\.30\.0-unofficial\.0 \(uws-20\.30 = @trufflesuite\/uws-js-unofficial\): UWS_USE_FALLBACK is set, and it fell back to its pure-JS shim/m,
    );
    expect(run.output).toMatch(/^ {15}NONE of them runs here: the gateway refuses to start$/m);
    expect(run.output).toMatch(
      /- a Node\.js and C library a uWebSockets\.js build runs on: .*refuses to start\.\n {4}how: Node 20 .*, or Node 22 or 24 on Debian 13/,
    );
    // The shim's own console notice is the reason above, not a line of the report.
    expect(run.output).not.toMatch(/Using µWS fallback/);
  });

  it('refuses a bad --disk-seconds with exit 2', () => {
    const run = runCli(['doctor', '--disk-seconds', 'forever']);
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(/--disk-seconds: "forever" is not allowed/);
  });
});
