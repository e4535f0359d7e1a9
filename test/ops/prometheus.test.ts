// Real scrapers: Debian's promtool checks the exposition, and a real Prometheus
// server (its own process on loopback, a temp config and data dir) scrapes the
// gateway with the admin key as Bearer token and answers through its query API.
// .ci/run installs the `prometheus` package.
import { spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MetricsText, StreamClient, freePort, registerCleanup, startCreditGateway, tempDir } from '../helpers/index.js';

const SCRAPE_WAIT_MS = 25_000;

async function gatewayWithTraffic() {
  const gw = await startCreditGateway();
  const owner = await gw.account('scraped-owner');
  await gw.chain('scraped', owner);
  const client = await StreamClient.open(gw.port, 'scraped', owner.key);
  client.send(['a', 'b', 'c']);
  await client.waitCommitted((c) => c.length === 1);
  return gw;
}

interface QueryAnswer {
  status: string;
  data: { result: { metric: Record<string, string>; value: [number, string] }[] };
}

describe('Prometheus', () => {
  it('promtool check metrics passes on /metrics', async () => {
    const gw = await gatewayWithTraffic();
    const text = await (await gw.http('/metrics', { headers: { authorization: `Bearer ${gw.adminKey}` } })).text();
    expect(MetricsText.parse(text).value('chainlanes_entries_committed_total')).toBe(3);
    const check = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8', timeout: 20_000 });
    expect(check.error).toBeUndefined();
    expect(check.stdout + check.stderr).toBe('');
    expect(check.status).toBe(0);
  });

  it('a Prometheus server scrapes the gateway with the admin key and answers queries', async () => {
    const gw = await gatewayWithTraffic();
    const dir = tempDir('chainlanes-prometheus-');
    const keyFile = join(dir, 'admin.key');
    writeFileSync(keyFile, gw.adminKey, { mode: 0o600 });
    writeFileSync(
      join(dir, 'prometheus.yml'),
      [
        'global: { scrape_interval: 1s, scrape_timeout: 1s }',
        'scrape_configs:',
        '  - job_name: chainlanes',
        '    authorization: { type: Bearer, credentials_file: ' + JSON.stringify(keyFile) + ' }',
        `    static_configs: [ { targets: [ "127.0.0.1:${gw.port}" ] } ]`,
        '',
      ].join('\n'),
    );
    const port = await freePort();
    let output = '';
    const server = spawn(
      'prometheus',
      [
        `--config.file=${join(dir, 'prometheus.yml')}`,
        `--storage.tsdb.path=${join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
        '--log.level=warn',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    server.stdout.on('data', (d: Buffer) => {
      output += d.toString();
    });
    server.stderr.on('data', (d: Buffer) => {
      output += d.toString();
    });
    const closed = new Promise((resolve) => server.once('close', resolve));
    registerCleanup(`prometheus pid ${server.pid ?? '?'}`, async () => {
      server.kill('SIGTERM');
      const timer = setTimeout(() => server.kill('SIGKILL'), 5_000);
      await closed;
      clearTimeout(timer);
    });

    const query = async (q: string): Promise<QueryAnswer['data']['result']> => {
      try {
        const res = await fetch(`http://127.0.0.1:${port}/api/v1/query?query=${encodeURIComponent(q)}`);
        const body = (await res.json()) as QueryAnswer;
        return body.status === 'success' ? body.data.result : [];
      } catch {
        return [];
      }
    };
    const valueOf = async (q: string): Promise<number | null> => {
      const [first] = await query(q);
      return first === undefined ? null : Number(first.value[1]);
    };
    await expect
      .poll(() => valueOf('up{job="chainlanes"}'), { timeout: SCRAPE_WAIT_MS, interval: 500 })
      .toBe(1)
      .catch((error: unknown) => {
        throw new Error(`Prometheus did not scrape the gateway: ${String(error)}\n${output}`);
      });
    expect(await valueOf('chainlanes_entries_committed_total{job="chainlanes"}')).toBe(3);
    expect(await valueOf('chainlanes_chains{job="chainlanes"}')).toBe(1);
    const lanes = (await query('chainlanes_lane_ring_used_bytes')).map((r) => r.metric.lane).sort();
    expect(lanes).toEqual(['heavy', 'light', 'medium']);
  }, 60_000);
});
