// Every command answers --help and --version without doing its work.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT, runCli, tempDir } from '../helpers/index.js';

const manifest = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string; bin: Record<string, string> };
const COMMANDS = ['serve', 'verify', 'lanes', 'keygen', 'doctor', 'bench'];

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
    // bench prints its own, longer help.
    expect(help.output.startsWith(command === 'bench' ? 'chainlanes bench' : `usage: chainlanes ${command}`)).toBe(true);
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
