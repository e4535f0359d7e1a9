// chainlanes doctor: what it reports is what the machine says, its disk test
// is bounded and leaves nothing behind, and a low file limit gets its advice.
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { availableParallelism, totalmem } from 'node:os';
import { describe, expect, it } from 'vitest';
import { CLI, runCli, tempDir } from '../helpers/index.js';
import { formatCpuList, parseCpuList } from '../../src/doctor/index.js';
import { diskView } from '../../src/doctor/machine.js';

interface Report {
  cpu: { count: number; isolated: number[] | null; layout: { lanes: number[][] } };
  memory: { totalBytes: number; budgetBytes: number };
  fileLimit: { soft: number | null; recommended: number };
  native: { loaded: boolean; error: string | null };
  disk: { dataDir: string; syncedWrites: number; syncedWriteMs: number; sequentialMiBPerSec: number; seconds: number };
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
    expect(report.disk.dataDir).toBe(data);
    expect(report.disk.syncedWrites).toBeGreaterThan(0);
    expect(report.disk.sequentialMiBPerSec).toBeGreaterThan(0);
    expect(report.disk.seconds).toBeGreaterThan(0);
    expect(readdirSync(data)).toEqual([]);
  });

  it('writes only while its time lasts: given none, it writes nothing and leaves nothing', () => {
    const data = tempDir();
    expect(diskView(data, 0)).toMatchObject({ dataDir: data, syncedWrites: 0 });
    expect(readdirSync(data)).toEqual([]);
  });

  it('advises a higher file limit when it is low, and the native addon when it is off', () => {
    const data = tempDir();
    const run = spawnSync('prlimit', ['--nofile=1024:1024', '--', process.execPath, CLI, 'doctor', '--data', data, '--disk-seconds', '0.2'], {
      encoding: 'utf8', timeout: 20_000, env: { ...process.env, CHAINLANES_NATIVE: '0' },
    });
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(/^ {2}file limit +1024$/m);
    expect(run.stdout).toMatch(/^ {2}native addon NOT loaded/m);
    expect(run.stdout).toMatch(/^would change:$/m);
    expect(run.stdout).toMatch(/a file limit of at least 65536: 1024 open files/);
    expect(run.stdout).toMatch(/how: LimitNOFILE=1048576/);
    expect(run.stdout).toMatch(/- build the native addon/);
  });

  it('refuses a bad --disk-seconds with exit 2', () => {
    const run = runCli(['doctor', '--disk-seconds', 'forever']);
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(/--disk-seconds: "forever" is not allowed/);
  });
});
