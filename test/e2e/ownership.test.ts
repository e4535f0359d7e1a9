// One gateway per store and per port: a second one refuses to start, naming
// the holder, and the store's lock never outlives its holder.
import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, runCli, startGateway, tempDir } from '../helpers/index.js';

describe('one gateway per store', () => {
  it('refuses a second gateway on the same store, naming the holder pid, and keeps the first one serving', async () => {
    const dir = tempDir();
    const first = await startGateway({ dataDir: dir });
    const second = runCli(['serve', '--port', '0', '--data', dir]);
    expect(second.status).toBe(1);
    expect(second.output).toMatch(new RegExp(`the store in ${dir} is in use by the gateway with pid ${first.process.pid}`));
    expect(second.output).not.toMatch(/listening on/);
    const res = await first.http('/v1/chains/still/entries?wait=committed', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(['ok']),
    });
    expect(res.status).toBe(200);
    expect((await first.json('/healthz')).status).toBe('ok');
  });

  it('refuses a second gateway in the same process, and takes the store once the first has stopped', () => {
    const dir = tempDir();
    const script = `
      const { Gateway } = await import(${JSON.stringify(join(ROOT, 'dist', 'src', 'gateway.js'))});
      const quiet = { info() {}, warn() {} };
      const config = (await import(${JSON.stringify(join(ROOT, 'dist', 'src', 'config', 'index.js'))})).defaultConfig();
      Object.assign(config, { port: 0, dataDir: ${JSON.stringify(dir)} });
      const first = await Gateway.start(config, { log: quiet });
      try {
        await Gateway.start(config, { log: quiet });
        console.log('second: started');
      } catch (error) {
        console.log('second: ' + error.message);
      }
      await first.stop();
      const third = await Gateway.start(config, { log: quiet });
      console.log('third: started');
      await third.stop();
      process.exit(0);
    `;
    // A file, not --input-type=module -e: worker threads inherit execArgv and would choke on it.
    const file = join(tempDir(), 'two-gateways.mjs');
    writeFileSync(file, script);
    const out = execFileSync(process.execPath, [file], { encoding: 'utf8', timeout: 30_000 });
    expect(out).toMatch(new RegExp(`second: the store in ${dir} is in use by another gateway in this process \\(pid \\d+\\)`));
    expect(out).toMatch(/third: started/);
  });

  it('does not leave a stale lock behind a gateway killed with SIGKILL', async () => {
    const dir = tempDir();
    const first = await startGateway({ dataDir: dir });
    await first.kill();
    const again = await startGateway({ dataDir: dir });
    expect((await again.json('/healthz')).status).toBe('ok');
  });

  it('without the native addon, locks with a pid file and takes it over from a dead holder', async () => {
    const dir = tempDir();
    const env = { CHAINLANES_NATIVE: '0' };
    const first = await startGateway({ dataDir: dir, env });
    const refused = runCli(['serve', '--port', '0', '--data', dir], env);
    expect(refused.status).toBe(1);
    expect(refused.output).toMatch(new RegExp(`in use by the gateway with pid ${first.process.pid}`));
    await first.kill();
    expect(existsSync(join(dir, 'gateway.lock'))).toBe(true);
    const again = await startGateway({ dataDir: dir, env });
    expect((await again.json('/healthz')).status).toBe('ok');
    await again.stop();
    expect(existsSync(join(dir, 'gateway.lock'))).toBe(false);
  });
});

describe('one gateway per port', () => {
  it('refuses a port another gateway listens on, with the errno', async () => {
    const first = await startGateway({ dataDir: tempDir() });
    const second = runCli(['serve', '--port', String(first.port), '--data', tempDir()]);
    expect(second.status).toBe(1);
    expect(second.output).toMatch(new RegExp(`cannot listen on 127\\.0\\.0\\.1:${first.port}: EADDRINUSE`));
    expect((await first.json('/healthz')).status).toBe('ok');
  });
});
