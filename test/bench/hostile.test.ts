// The hostile scenario runs end to end at a tiny size and reports what it
// measured. No speed is asserted: only the report's shape, and that no entry a
// client was told is committed is missing from the store.
import { describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { cpuGroupsUnavailable } from '../../bench/cgroup.js';
import { ROOT } from '../helpers/index.js';

const KINDS = ['unfinished', 'pipelined', 'flood', 'slow', 'squat', 'idle'];

interface Phase {
  lightP50Us: number | null;
  lightP99Us: number | null;
  floodEntriesPerSec: number;
  gateway: { peakRss: { rss: number } | null; turns: { turns: number; long: number; longest: { atMostS: number } | null } | null };
  budgeted: { cores: number | null; throttledShare: number | null } | null;
}

interface HostileReport {
  mode: string;
  hostile: {
    budgetBytes: number;
    config: { limits: Record<string, number> };
    shape: { attackCores: number | null; attackPinned: number[] | null };
    alone: Phase;
    control: Phase | null;
    attack: Phase;
    ratios: { lightP99: number | null; floodEntriesPerSec: number | null };
    kinds: { kind: string; slots: number; opened: number; attempts: number; framesSent: number }[];
    memory: { peak: { rss: number; peakRss: number } | null; samples: number };
    durability: {
      chains: { role: string; accepted: number; notified: number; stored: number | null }[];
      committedLost: number | null;
      verify: { ok: boolean; entries: number | null };
    };
    targets: { name: string; met: boolean | null }[];
  };
}

describe('npm run bench -- --scenario hostile', () => {
  it('runs every kind of hostile connection against bystanders and loses nothing committed', () => {
    const args = ['--scenario', 'hostile', '--connections', '20', '--duration', '2', '--warmup', '0.5', '--workers', '2', '--json'];
    const out = execFileSync(process.execPath, [join(ROOT, 'dist', 'bench', 'run.js'), ...args], { encoding: 'utf8', timeout: 170_000 });
    const report = JSON.parse(out) as HostileReport;
    expect(report.mode).toBe('hostile');
    const r = report.hostile;

    // The gateway ran with the scenario's explicit budget, and its memory was sampled against it.
    expect(r.config.limits.memoryBudgetBytes).toBe(r.budgetBytes);
    expect(r.memory.samples).toBeGreaterThan(0);
    expect(r.memory.peak!.rss).toBeGreaterThan(0);
    expect(r.memory.peak!.peakRss).toBeGreaterThan(0);

    // Every kind was held (20 connections each) and did something.
    expect(r.kinds.map((k) => k.kind)).toEqual(KINDS);
    for (const k of r.kinds) {
      expect(k.slots).toBe(20);
      expect(k.attempts).toBeGreaterThanOrEqual(20);
      expect(k.opened).toBeGreaterThan(0);
    }
    expect(r.kinds.find((k) => k.kind === 'flood')!.framesSent).toBeGreaterThan(0);

    // Both phases measured the bystanders; ratios and targets are reported, whatever they are.
    expect(r.alone.lightP99Us).toBeGreaterThanOrEqual(r.alone.lightP50Us!);
    expect(r.alone.floodEntriesPerSec).toBeGreaterThan(0);
    expect(r.ratios).toHaveProperty('lightP99');
    expect(r.ratios).toHaveProperty('floodEntriesPerSec');
    expect(r.targets.map((t) => t.name)).toHaveLength(5);
    expect(r.control).toBeNull();
    // The front door's turns were measured in every phase, each window's from the gateway's histogram.
    for (const p of [r.alone, r.attack]) {
      expect(p.gateway.turns!.turns).toBeGreaterThan(0);
      expect(p.gateway.turns!.long).toBeLessThanOrEqual(p.gateway.turns!.turns);
    }

    // Nothing committed is lost: the store (read after the gateway exited) holds every entry a notice covered, and verifies.
    const d = r.durability;
    expect(d.chains.map((c) => c.role)).toEqual(expect.arrayContaining(['light', 'flood']));
    for (const c of d.chains) {
      expect(c.accepted).toBeGreaterThan(0);
      expect(c.stored).toBeGreaterThanOrEqual(c.notified);
    }
    expect(d.committedLost).toBe(0);
    expect(d.verify.ok).toBe(true);
    expect(d.verify.entries).toBeGreaterThanOrEqual(d.chains.reduce((n, c) => n + c.notified, 0));
  }, 180_000);

  // Where the cpuset controller is mounted too, the group is kept on core 0 (--attack-cores).
  const pinnable = existsSync('/sys/fs/cgroup/cpuset');
  it.skipIf(cpuGroupsUnavailable() !== null)(
    "with --attack-cpu: a control phase beside a busy loop of the attack's budget, both held by a cgroup that is removed after",
    () => {
      const args = [
        '--scenario',
        'hostile',
        '--connections',
        '20',
        '--duration',
        '2',
        '--warmup',
        '0.5',
        '--workers',
        '2',
        '--attack-cpu',
        '0.3',
        ...(pinnable ? ['--attack-cores', '0'] : []),
        '--json',
      ];
      const run = spawnSync(process.execPath, [join(ROOT, 'dist', 'bench', 'run.js'), ...args], { encoding: 'utf8', timeout: 170_000 });
      expect(run.status, run.stderr).toBe(0);
      const r = (JSON.parse(run.stdout) as HostileReport).hostile;
      expect(r.shape.attackCores).toBe(0.3);
      expect(r.shape.attackPinned).toEqual(pinnable ? [0] : null);
      expect(r.control).not.toBeNull();
      expect(r.alone.budgeted).toBeNull();
      // The busy loop was held to its budget by the kernel, and the attack ran in the same group.
      const control = r.control!.budgeted!;
      expect(control.cores).toBeGreaterThan(0.1);
      expect(control.cores).toBeLessThan(0.3 * 1.25 + 0.05);
      expect(control.throttledShare).toBeGreaterThan(0);
      expect(r.attack.budgeted!.cores).toBeLessThan(0.3 * 1.25 + 0.05);
      expect(r.control!.lightP99Us).toBeGreaterThan(0);
      expect(r.targets.find((t) => /under the control/.test(t.name))).toBeDefined();
      expect(r.durability.committedLost).toBe(0);
      // Nothing of that bench's is left in the cgroup hierarchies.
      for (const root of ['/sys/fs/cgroup/cpu', '/sys/fs/cgroup/cpuacct', ...(pinnable ? ['/sys/fs/cgroup/cpuset'] : [])]) {
        expect(readdirSync(root).filter((name) => name.startsWith(`chainlanes-bench-${run.pid}-`))).toEqual([]);
      }
    },
    180_000,
  );
});
