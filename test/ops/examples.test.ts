// The examples run as a user runs them (node examples/X.mjs, importing
// `chainlanes/client` through the package's exports) against a real gateway,
// end by themselves, and are listed in the README.
import { spawnSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT, startCreditGateway } from '../helpers/index.js';

const EXAMPLES = join(ROOT, 'examples');

function runExample(file: string, args: string[], env: Record<string, string>): { status: number | null; stdout: string; stderr: string } {
  const run = spawnSync(process.execPath, [join(EXAMPLES, file), ...args], { cwd: ROOT, env: { ...process.env, ...env }, encoding: 'utf8', timeout: 20_000 });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

describe('examples/', () => {
  it('stream, verify and balance run against a gateway and exit 0 on their own', async () => {
    const gw = await startCreditGateway({ config: { ledger: { blockIntervalMs: 100 } } });
    const owner = await gw.account('example-owner');
    await gw.chain('example', owner);
    await gw.mint('example', owner, owner, 1000);
    const env = { CHAINLANES_URL: `http://127.0.0.1:${gw.port}`, CHAINLANES_KEY: owner.key };

    const stream = runExample('stream.mjs', ['example', 'alpha', 'beta'], env);
    expect(stream.stderr).toBe('');
    expect(stream.status).toBe(0);
    expect(stream.stdout).toMatch(/^accepted seq 1: SHA-256 [0-9a-f]{64}$/m);
    expect(stream.stdout).toMatch(/^committed: example seqs 0…1$/m);

    const verify = runExample('verify-entry.mjs', ['example', '1'], env);
    expect(verify.stderr).toBe('');
    expect(verify.status).toBe(0);
    expect(verify.stdout).toMatch(/^verified: example seq 1 .* is entry 1 of block 0/m);

    const balance = runExample('balance.mjs', ['example', owner.id], env);
    expect(balance.status).toBe(0);
    expect(balance.stdout.trim()).toBe(`${owner.id} holds 1000 credits of chain "example"`);

    // A proof that does not hold is reported, not printed as verified: a wrong key gets the gateway's refusal.
    const refused = runExample('verify-entry.mjs', ['example', '1'], { ...env, CHAINLANES_KEY: 'clk_wrong' });
    expect(refused.status).toBe(1);
    expect(refused.stderr).toMatch(/^401 unauthenticated: /);
  });

  it('the README links every example', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const scripts = readdirSync(EXAMPLES).filter((f) => f.endsWith('.mjs') || f.endsWith('.py'));
    expect(scripts.sort()).toEqual(['balance.mjs', 'stream.mjs', 'verify-entry.mjs', 'verify_proof.py']);
    for (const file of scripts) expect(readme, `README.md links examples/${file}`).toContain(`](examples/${file})`);
  });

  it('the package exports the client with its type declarations, and ships the CLI and examples', () => {
    const pack = spawnSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
    expect(pack.status).toBe(0);
    const files = new Set((JSON.parse(pack.stdout) as { files: { path: string }[] }[])[0]!.files.map((f) => f.path));
    const manifest = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
      exports: Record<string, { types: string; default: string }>;
      bin: Record<string, string>;
    };
    for (const target of [manifest.exports['./client']!.types, manifest.exports['./client']!.default, manifest.bin.chainlanes!]) {
      expect(files.has(target.replace(/^\.\//, '')), target).toBe(true);
    }
    for (const file of ['examples/stream.mjs', 'examples/verify-entry.mjs', 'examples/balance.mjs', 'examples/verify_proof.py'])
      expect(files.has(file), file).toBe(true);
  });
});
