// `chainlanes doctor`: what the machine offers the gateway, and what an
// operator would change (deploy/README.md explains each change).
import { REALTIME_NODE_FLAGS, type GatewayConfig } from '../config/index.js';
import type { CoreLayout } from '../scheduler/index.js';
import type { UwsAttempt } from '../uws/index.js';
import { cpuView, diskView, formatCpuList, memoryView, type CpuView, type DiskView } from './machine.js';

export { formatCpuList, parseCpuList } from './machine.js';

export interface DoctorInput {
  config: GatewayConfig;
  layout: CoreLayout;
  /** The soft file-descriptor limit of this process, null where unknown. */
  fileLimit: number | null;
  native: { loaded: boolean; error: string | null };
  /** The uWebSockets.js builds tried, the one that loaded last (src/uws); `problem` says why none did. */
  uws: UwsView;
  /** Time bound of the disk measurement. */
  diskSeconds: number;
  /** Whether this process may make a thread real-time at the configured priority (src/native/privileges.ts). */
  realtimeAllowed: boolean;
}

export interface UwsView {
  attempts: readonly UwsAttempt[];
  problem: string | null;
}

export interface DoctorReport {
  cpu: CpuView & { layout: { frontdoor: number[]; sealer: number[]; lanes: number[][] } };
  memory: { totalBytes: number; freeBytes: number; budgetBytes: number; ringBytes: number; maxUnsealedBytes: number };
  fileLimit: { soft: number | null; recommended: number };
  native: { loaded: boolean; error: string | null };
  uws: UwsView;
  disk: DiskView;
  /** scheduler.frontDoorRealtimePriority (null: an ordinary front door), and whether serve, run as this process is, may set it. */
  realtime: { priority: number | null; allowed: boolean };
  /** What would be changed, each with why and how. */
  changes: { what: string; why: string; how: string }[];
}

/** Below it a gateway's connection cap (the limit less a reserve) is small for a public service. */
export const RECOMMENDED_FILE_LIMIT = 65_536;
/** A synced write slower than this share of the block interval makes sealing the bottleneck. */
const SYNC_SHARE_OF_INTERVAL = 0.1;
const MiB = 1024 * 1024;

export function examine(input: DoctorInput): DoctorReport {
  const { config, layout } = input;
  const ringBytes = Object.values(config.ringBytes).reduce((sum, n) => sum + n, 0);
  const report: DoctorReport = {
    cpu: { ...cpuView(), layout: { frontdoor: layout.frontdoor, sealer: layout.sealer, lanes: layout.lanes } },
    memory: { ...memoryView(), budgetBytes: config.limits.memoryBudgetBytes, ringBytes, maxUnsealedBytes: config.limits.maxUnsealedBytes },
    fileLimit: { soft: input.fileLimit, recommended: RECOMMENDED_FILE_LIMIT },
    native: input.native,
    uws: input.uws,
    disk: diskView(config.dataDir, input.diskSeconds),
    realtime: { priority: config.scheduler.frontDoorRealtimePriority, allowed: input.realtimeAllowed },
    changes: [],
  };
  report.changes = [
    ...cpuChanges(report.cpu),
    ...memoryChanges(report.memory),
    ...fileChanges(report.fileLimit),
    ...uwsChanges(report.uws),
    ...nativeChanges(report.native),
    ...realtimeChanges(report.realtime),
    ...diskChanges(report.disk, config.ledger.blockIntervalMs),
  ];
  return report;
}

function cpuChanges(cpu: DoctorReport['cpu']): DoctorReport['changes'] {
  const laneCores = [...new Set(cpu.layout.lanes.flat())].filter((c) => !cpu.layout.frontdoor.includes(c));
  const changes: DoctorReport['changes'] = [];
  if (cpu.count < 4) {
    // Too few to set any aside: the system's own work would have nowhere else to run.
  } else if (cpu.isolated === null || cpu.isolated.length === 0) {
    const list = formatCpuList(laneCores);
    changes.push({
      what: `isolate the lanes' cores ${list}`,
      why: 'other processes and interrupts on a lane core add latency to every frame it hashes',
      how:
        `kernel command line: isolcpus=${list} nohz_full=${list} rcu_nocbs=${list} (or a cpuset); keep IRQs on core 0: ` +
        'echo 1 > /proc/irq/default_smp_affinity and each /proc/irq/*/smp_affinity; see deploy/README.md',
    });
  } else {
    const outside = laneCores.filter((c) => !cpu.isolated!.includes(c));
    if (outside.length > 0) {
      changes.push({
        what: `put the lanes on the isolated cores ${formatCpuList(cpu.isolated)}`,
        why: `lane cores ${formatCpuList(outside)} are not isolated, isolated cores may sit idle`,
        how: 'set "cores" in the config file: {"frontdoor":[0],"heavy":[…],"medium":[…],"light":[…]} with the isolated cores',
      });
    }
  }
  if (cpu.governor !== null && cpu.governor !== 'performance') {
    changes.push({
      what: 'CPU frequency governor "performance"',
      why: `"${cpu.governor}" ramps the clock up late after idle moments`,
      how: 'cpupower frequency-set -g performance',
    });
  }
  return changes;
}

function memoryChanges(memory: DoctorReport['memory']): DoctorReport['changes'] {
  if (memory.budgetBytes <= memory.freeBytes) return [];
  return [
    {
      what: `a memory budget within the ${Math.floor(memory.freeBytes / MiB)} MiB free`,
      why: `limits.memoryBudgetBytes is ${Math.floor(memory.budgetBytes / MiB)} MiB; when clients fill it the machine swaps or the OOM killer ends the gateway`,
      how: 'lower limits.memoryBudgetBytes and limits.maxUnsealedBytes (and ringBytes) in the config, or free memory',
    },
  ];
}

function fileChanges(limit: DoctorReport['fileLimit']): DoctorReport['changes'] {
  if (limit.soft === null || limit.soft >= limit.recommended) return [];
  return [
    {
      what: `a file limit of at least ${limit.recommended}`,
      why: `${limit.soft} open files caps connections at about ${Math.floor(limit.soft * 0.9)}`,
      how: 'LimitNOFILE=1048576 in the systemd unit (deploy/chainlanes.service), or ulimit -n 1048576 before starting',
    },
  ];
}

function uwsChanges(uws: UwsView): DoctorReport['changes'] {
  if (uws.problem === null) return [];
  return [
    {
      what: 'a Node.js and C library a uWebSockets.js build runs on',
      why: 'no uWebSockets.js build runs here (its lines above say why), so `chainlanes serve` refuses to start',
      how: 'Node 20 (any glibc ≥ 2.27), or Node 22 or 24 on Debian 13 / Ubuntu 24.04 (glibc ≥ 2.38); then npm ci',
    },
  ];
}

/** The report's uWS lines: the build that runs and why, and why each one before it does not. */
export function uwsLines(uws: UwsView): string[] {
  const name = (a: UwsAttempt): string => `${a.version ?? '(not installed)'} (${a.alias}${a.package === null ? '' : ` = ${a.package}`})`;
  // The one that runs first, then the ones that do not.
  const lines = [...uws.attempts].sort((a, b) => Number(b.loaded) - Number(a.loaded)).map((a) => `${a.loaded ? 'runs on' : 'not'} ${name(a)}: ${a.why}`);
  if (uws.problem !== null && uws.attempts.length === 0) lines.push(`NONE: ${uws.problem}`);
  else if (uws.problem !== null) lines.push('NONE of them runs here: the gateway refuses to start');
  return lines;
}

function realtimeChanges(realtime: DoctorReport['realtime']): DoctorReport['changes'] {
  if (realtime.priority === null || realtime.allowed) return [];
  return [
    {
      what: 'let the gateway make its front door real-time',
      why: `scheduler.frontDoorRealtimePriority is ${realtime.priority}, and without CAP_SYS_NICE (or an RLIMIT_RTPRIO of at least ${realtime.priority}) serve refuses to start`,
      how:
        `run it as root, or give node the capability (setcap cap_sys_nice+ep "$(readlink -f "$(command -v node)")"), or in its systemd unit ` +
        `AmbientCapabilities=CAP_SYS_NICE or LimitRTPRIO=${realtime.priority}; start node with ${REALTIME_NODE_FLAGS.join(' ')}; see deploy/README.md`,
    },
  ];
}

function nativeChanges(native: DoctorReport['native']): DoctorReport['changes'] {
  if (native.loaded) return [];
  return [
    {
      what: 'build the native addon',
      why: `without it hashing runs in JavaScript and threads are not pinned (${native.error ?? 'not loaded'})`,
      how: 'install make, g++ and python3, then npm rebuild chainlanes (or node-gyp rebuild --directory native in a checkout)',
    },
  ];
}

function diskChanges(disk: DiskView, blockIntervalMs: number): DoctorReport['changes'] {
  const changes: DoctorReport['changes'] = [];
  if (disk.sharesRootDevice) {
    changes.push({
      what: 'the data directory on a disk of its own',
      why: `${disk.dataDir} is on the root file system's device: logs and other writers there delay every seal's fdatasync`,
      how: 'mount a dedicated disk (ext4 or xfs, noatime) and point --data at it',
    });
  }
  if (disk.syncedWriteMs > blockIntervalMs * SYNC_SHARE_OF_INTERVAL) {
    changes.push({
      what: 'a disk with faster synced writes',
      why: `a 4 KiB write with fdatasync takes ${disk.syncedWriteMs.toFixed(2)} ms, over ${SYNC_SHARE_OF_INTERVAL * 100} % of ledger.blockIntervalMs (${blockIntervalMs} ms)`,
      how: 'an NVMe disk with power-loss protection, or a longer ledger.blockIntervalMs',
    });
  }
  return changes;
}
