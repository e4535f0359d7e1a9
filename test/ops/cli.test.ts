// Every command answers --help and --version without doing its work, its help
// lists exactly the flags its parser takes, and wrong usage is said in one line.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { COMMANDS as SPECS, commandLeaves } from '../../src/commands/index.js';
import { ROOT, freePort, parseLogLines, registerCleanup, runCli, sleep, startGateway, tempDir } from '../helpers/index.js';

const manifest = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string; bin: Record<string, string> };
const COMMANDS = SPECS.map((c) => c.name);
/** Every command that runs, two-word ones (`fleet run`) as their words. */
const LEAVES = commandLeaves().filter((c) => c.ownParser !== true);

describe('chainlanes --help and --version', () => {
  it('answers both at the top level, and is the package bin', () => {
    expect(manifest.bin.chainlanes).toBe('dist/src/cli.js');
    const help = runCli(['--help']);
    expect(help.status).toBe(0);
    for (const command of COMMANDS) expect(help.output).toContain(`chainlanes ${command}`);
    const version = runCli(['--version']);
    expect(version.status).toBe(0);
    expect(version.output.trim()).toBe(`chainlanes ${manifest.version}`);
    const npx = spawnSync('npx', ['--no-install', 'chainlanes', '--version'], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
    expect(npx.stdout.trim(), npx.stderr).toBe(`chainlanes ${manifest.version}`);
  }, 90_000); // npx starts npm itself: seconds on a loaded machine

  it.each(COMMANDS)('%s --help and --version', (command) => {
    const help = runCli([command, '--help']);
    expect(help.status).toBe(0);
    expect(help.stderr).toBe('');
    // bench parses its own words and prints its own, longer help.
    const own = SPECS.find((c) => c.name === command)?.ownParser === true;
    if (own) expect(help.output).toContain(`chainlanes ${command}`);
    else expect(help.output.startsWith(`usage: chainlanes ${command}`)).toBe(true);
    const version = runCli([command, '--version']);
    expect(version.status).toBe(0);
    expect(version.output.trim()).toBe(`chainlanes ${manifest.version}`);
  });

  it('serve --help lists the TLS flags and does not start a gateway', () => {
    const data = join(tempDir(), 'store');
    const help = runCli(['serve', '--help', '--data', data]);
    expect(help.output).toMatch(/--tls-cert +CHAINLANES_TLS_CERT +tls\.certFile/);
    expect(help.output).toMatch(/--tls-key +CHAINLANES_TLS_KEY +tls\.keyFile/);
    expect(() => readFileSync(join(data, 'data.mdb'))).toThrow();
  });
});

describe('chainlanes usage', () => {
  it.each(LEAVES.map((c) => c.name))('%s --help lists every flag its parser takes, and only those', (name) => {
    const spec = LEAVES.find((c) => c.name === name)!;
    const words = name.split(' ');
    const help = runCli([...words, '--help']).output;
    expect(help.startsWith(`usage: chainlanes ${name}`)).toBe(true);
    const listed = new Set([...help.matchAll(/^ {2}--([a-z][a-z-]*)/gm)].map((m) => m[1]));
    listed.delete('help');
    listed.delete('version');
    expect([...listed].sort()).toEqual(spec.flags.map((f) => f.name).sort());
    // Every listed flag is one the parser takes: given with a value (or alone), it is never "unknown".
    for (const flag of spec.flags) {
      const given = flag.value === undefined ? [`--${flag.name}`] : [`--${flag.name}`, 'x'];
      expect(runCli([...words, ...given, '--no-such-flag']).stderr, flag.name).toMatch(/unknown flag --no-such-flag/);
    }
  });

  it('names an unknown flag and its nearest match in one line, with status 2', () => {
    const typo = runCli(['serve', '--dat', '/tmp/x']);
    expect(typo.status).toBe(2);
    expect(typo.stderr.trim()).toBe('chainlanes serve: unknown flag --dat; did you mean --data? (chainlanes serve --help lists the flags)');
    expect(runCli(['verify', '--anchor', 'http://x']).stderr).toMatch(/unknown flag --anchor; did you mean --anchors\?/);
    expect(runCli(['verify', '--zzzzzz']).stderr.trim()).toBe('chainlanes verify: unknown flag --zzzzzz (chainlanes verify --help lists the flags)');
    const none = runCli([]);
    expect(none.status).toBe(2);
    expect(none.stderr).toMatch(/^chainlanes: which command\?/);
    expect(runCli(['fleet', 'run', '--etc', 'http://x:1']).stderr.trim()).toBe(
      'chainlanes fleet run: unknown flag --etc; did you mean --etcd? (chainlanes fleet run --help lists the flags)',
    );
    const noSub = runCli(['fleet', 'statu']);
    expect(noSub.status).toBe(2);
    expect(noSub.stderr).toMatch(/chainlanes fleet: no command "statu"; did you mean status\? \(the commands are run, status, events, move, haproxy-config\)/);
    expect(runCli(['fleet', '--help']).output).toMatch(/chainlanes fleet move CHAIN GATEWAY --etcd URLS/);
    const unknown = runCli(['serv']);
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toMatch(/unknown command "serv"; the commands are serve, wait, verify/);
  });

  it('makes only the last part of a data directory, and refuses a file in its place', () => {
    const dir = tempDir();
    const deep = join(dir, 'no', 'such', 'data');
    const refused = runCli(['serve', '--port', '0', '--data', deep]);
    expect(refused.status).toBe(2);
    expect(refused.stderr).toContain(`chainlanes: data directory ${deep}: its parent ${join(dir, 'no', 'such')} does not exist; create it first`);
    expect(existsSync(join(dir, 'no'))).toBe(false);
    const file = join(dir, 'file');
    writeFileSync(file, 'x');
    const notDir = runCli(['serve', '--port', '0', '--data', file]);
    expect(notDir.status).toBe(2);
    expect(notDir.stderr).toContain(`chainlanes: data directory ${file} is a file, not a directory`);
  });

  it('keygen --out writes a new key file only its owner can read, and never overwrites one', () => {
    const file = join(tempDir(), 'admin.key');
    const made = runCli(['keygen', '--out', file]);
    expect(made.status).toBe(0);
    expect(made.output).not.toMatch(/clk_/);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const key = readFileSync(file, 'utf8');
    expect(key).toMatch(/^clk_[a-z2-7]{36}\n$/);
    const again = runCli(['keygen', '--out', file]);
    expect(again.status).toBe(2);
    expect(again.stderr).toContain(`--out ${file}: exists already`);
    expect(readFileSync(file, 'utf8')).toBe(key);
  });
});

describe('a reader that closes the pipe', () => {
  it('stops the output, not the command: no uncaught EPIPE, and the same exit status as a whole run', async () => {
    const whole = spawnSync(process.execPath, [join(ROOT, 'dist', 'src', 'cli.js'), 'doctor'], { encoding: 'utf8' });
    expect(whole.stdout.split('\n').length).toBeGreaterThan(3);
    // `chainlanes doctor | head -c 0`: the reader is gone before the first line is written.
    const child = spawn(process.execPath, [join(ROOT, 'dist', 'src', 'cli.js'), 'doctor'], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.destroy();
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const code = await new Promise<number | null>((resolve) => child.once('close', (status) => resolve(status)));
    expect(stderr).not.toMatch(/EPIPE|Unhandled/);
    expect(code).toBe(whole.status);
  });
});

describe('chainlanes wait', () => {
  it('returns once a gateway is ready, and gives up naming why when none answers', async () => {
    const gw = await startGateway();
    expect(runCli(['wait', `http://127.0.0.1:${gw.port}`])).toMatchObject({ status: 0, output: 'ready\n' });
    const nobody = await freePort();
    const gaveUp = runCli(['wait', `http://127.0.0.1:${nobody}`, '--timeout', '0.3']);
    expect(gaveUp.status).toBe(1);
    expect(gaveUp.stderr).toMatch(new RegExp(`http://127\\.0\\.0\\.1:${nobody}/readyz not ready after 0\\.3 s: .*ECONNREFUSED`));
    expect(runCli(['wait', 'ftp://x']).status).toBe(2);
  });
});

describe('a gateway started through npm', () => {
  it('stops, sealing, when npm is killed outright', async () => {
    const data = join(tempDir(), 'data');
    const npx = spawn('npx', ['--no-install', 'chainlanes', 'serve', '--port', '0', '--data', data], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    npx.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    let gatewayPid: number | undefined;
    registerCleanup('gateway under npx', () => {
      npx.kill('SIGKILL');
      if (gatewayPid !== undefined && alive(gatewayPid)) process.kill(gatewayPid, 'SIGKILL');
    });
    while (gatewayPid === undefined) {
      await sleep(100);
      gatewayPid = parseLogLines(output).find((line) => line.event === 'listening')?.pid as number | undefined;
      if (npx.exitCode !== null) throw new Error(`npx exited before the gateway listened: ${output}`);
    }
    npx.kill('SIGKILL'); // npm passes no signal on when it is killed itself
    while (alive(gatewayPid)) await sleep(100);
    expect(parseLogLines(output).map((line) => line.event)).toEqual(expect.arrayContaining(['parent-gone', 'shutdown']));
    expect(runCli(['verify', '--data', data]).status).toBe(0);
  }, 60_000);

  it('does not take npm for gone when it cannot look (no descriptor left to read /proc with)', () => {
    // A process out of descriptors, as a gateway flooded with idle sockets is for a moment: the look at npm fails
    // with EMFILE, which says nothing of npm (a gateway once shut itself down so); a process that is not there is gone.
    const script = [
      `import { closeSync, openSync } from 'node:fs';`,
      `import { processStat } from ${JSON.stringify(join(ROOT, 'dist', 'src', 'commands', 'npm-parent.js'))};`,
      `const fds = [];`,
      `try { for (;;) fds.push(openSync('/dev/null', 'r')); } catch {}`,
      `const full = processStat(process.ppid);`,
      `closeSync(fds.pop());`,
      `console.log(JSON.stringify({ full, parent: processStat(process.ppid), none: processStat(2 ** 22 + 1) }));`,
    ].join('\n');
    const run = spawnSync('prlimit', ['--nofile=64:64', '--', process.execPath, '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 20_000 });
    expect(run.status, run.stderr).toBe(0);
    const looked = JSON.parse(run.stdout) as { full: unknown; parent: unknown; none: unknown };
    expect(looked.full).toBe('unreadable');
    expect(looked.parent).toMatchObject({ parent: expect.any(Number), startTime: expect.stringMatching(/^\d+$/) });
    expect(looked.none).toBeNull();
  });
});

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
