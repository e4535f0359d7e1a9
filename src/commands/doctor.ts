// `chainlanes doctor`: what this machine offers the gateway, and what to change.
import { ConfigError, resolveConfig } from '../config/index.js';
import { print } from './output.js';
import { stringFlag, type CommandSpec, type ParsedArgs } from './spec.js';

const MiB = 1024 * 1024;

export const doctorCommand: CommandSpec = {
  name: 'doctor',
  forms: ['[--data DIR] [--config FILE] [--disk-seconds S] [--json]'],
  summary: 'what this machine offers the gateway, and what to change',
  description: [
    'Prints what this machine offers the gateway (cores and which are isolated, memory, file limit,',
    "native addon, the data directory's disk: 4 KiB writes with fdatasync and sequential writes for at",
    'most S seconds) and what an operator would change (deploy/README.md).',
    'Exit status: 0 when done, 2 for wrong usage or a refused config.',
  ].join('\n'),
  flags: [
    { name: 'data', value: 'DIR', help: 'the data directory whose disk is measured (default ./data)' },
    { name: 'config', value: 'FILE', help: 'the config file the gateway would use' },
    { name: 'disk-seconds', value: 'S', help: 'how long the disk test may take, more than 0 and at most 60 (default 1)' },
    { name: 'json', help: 'the report as JSON' },
  ],
  run: doctor,
};

async function doctor(args: ParsedArgs): Promise<void> {
  const seconds = stringFlag(args, 'disk-seconds') ?? '1';
  const diskSeconds = Number(seconds);
  if (!(diskSeconds > 0 && diskSeconds <= 60))
    throw new ConfigError([`flag --disk-seconds: ${JSON.stringify(seconds)} is not allowed: expected seconds, more than 0 and at most 60`]);
  const data = stringFlag(args, 'data');
  const file = stringFlag(args, 'config');
  const serveFlags = [...(data === undefined ? [] : ['--data', data]), ...(file === undefined ? [] : ['--config', file])];
  const config = resolveConfig(serveFlags, process.env);
  const { validateConfig } = await import('../config/index.js');
  const { descriptorLimit } = await import('../defence/index.js');
  const { mayRunRealtime, nativeLoaded, nativeLoadError } = await import('../native/index.js');
  const { chooseUws } = await import('../uws/index.js');
  const { examine, formatCpuList, uwsLines } = await import('../doctor/index.js');
  const { attempts, problem } = chooseUws();
  const report = examine({
    config,
    layout: validateConfig(config),
    fileLimit: descriptorLimit(),
    native: { loaded: nativeLoaded, error: nativeLoadError },
    uws: { attempts, problem },
    diskSeconds,
    realtimeAllowed: mayRunRealtime(config.scheduler.frontDoorRealtimePriority ?? 1),
  });
  if (args.flags.json === true) return print(JSON.stringify(report, null, 2));
  const mib = (n: number): string => `${Math.round(n / MiB)} MiB`;
  const { cpu, memory, disk } = report;
  const lanes = cpu.layout.lanes.map((cores, i) => `${['heavy', 'medium', 'light'][i]} ${formatCpuList(cores)}`).join(', ');
  const { packageVersion } = await import('./version.js');
  print(`chainlanes doctor ${packageVersion()}\nsees:`);
  print(
    `  cores        ${cpu.count}; isolated: ${cpu.isolated === null ? 'unknown' : cpu.isolated.length === 0 ? 'none' : formatCpuList(cpu.isolated)}; governor: ${cpu.governor ?? 'none'}`,
  );
  print(`  layout       front door ${formatCpuList(cpu.layout.frontdoor)}, sealer ${formatCpuList(cpu.layout.sealer)}, ${lanes}`);
  print(
    `  memory       ${mib(memory.totalBytes)} total, ${mib(memory.freeBytes)} free; budget ${mib(memory.budgetBytes)} (rings ${mib(memory.ringBytes)}, unsealed bound ${mib(memory.maxUnsealedBytes)})`,
  );
  print(`  file limit   ${report.fileLimit.soft ?? 'unknown'}`);
  print(`  native addon ${report.native.loaded ? 'loaded' : `NOT loaded (${report.native.error})`}`);
  const { priority, allowed } = report.realtime;
  print(
    `  front door   ${priority === null ? 'ordinary' : `real-time, priority ${priority}`}; this process ${allowed ? 'may' : 'may NOT'} make a thread real-time`,
  );
  uwsLines(report.uws).forEach((line, i) => print(`  ${i === 0 ? 'uWebSockets' : '           '}  ${line}`));
  print(
    `  disk         ${disk.dataDir}${disk.sharesRootDevice ? ' (on the root device)' : ''}: 4 KiB write + fdatasync ${disk.syncedWriteMs.toFixed(2)} ms ` +
      `(${disk.syncedWrites} in the test), sequential ${disk.sequentialMiBPerSec.toFixed(0)} MiB/s`,
  );
  print(report.changes.length === 0 ? 'would change: nothing' : 'would change:');
  for (const change of report.changes) print(`  - ${change.what}: ${change.why}.\n    how: ${change.how}`);
}
