// etcd and the per-frame path (issue #21 "Numbers"), against a real etcd
// (Debian's etcd-server, started here on tmpfs and ephemeral ports):
// - the gate's per-frame question (FleetGate.check on an owned chain): time per
//   call and the etcd requests made meanwhile (the claim: zero);
// - new-chain claims per second, by burst size: a burst rides in one
//   transaction per 100 names (ClaimBatcher), against one claim at a time.
// Run: npm run build && node dist/bench/fleet-claims.js [--chains 20000] [--json]
import { parseArgs } from 'node:util';
import { startEtcd } from './fleet-etcd.js';
import { pino } from 'pino';
import { FleetNode, GatewayFleetSchema } from '../src/fleet/index.js';

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { chains: { type: 'string', default: '20000' }, json: { type: 'boolean', default: false } } });
  const total = Number(values.chains);
  const etcd = await startEtcd();
  const settings = GatewayFleetSchema.parse({ etcd: { endpoints: [etcd.url], prefix: '/bench/' }, gatewayId: 'bench', advertiseUrl: 'http://127.0.0.1:9001' });
  const node = await FleetNode.start({ settings, store: 'bench', capacity: { entriesPerSec: 1e6, bytesPerSec: 1e9 }, log: pino({ level: 'silent' }) });
  const out: Record<string, unknown> = {};
  try {
    // The per-frame question.
    if ((await node.claims.claim('hot')).won !== true) throw new Error('claim failed');
    // Twice: reading the clock itself, and given the clock read admission makes for each frame anyway (its admittedAt).
    const calls = 10_000_000;
    const before = node.client.requests;
    let admitted = 0;
    let started = process.hrtime.bigint();
    for (let i = 0; i < calls; i++) if (node.gate.check('hot').kind === 'admit') admitted++;
    const ownClock = Number(process.hrtime.bigint() - started) / calls;
    started = process.hrtime.bigint();
    const now = performance.now();
    for (let i = 0; i < calls; i++) if (node.gate.check('hot', now).kind === 'admit') admitted++;
    const givenClock = Number(process.hrtime.bigint() - started) / calls;
    started = process.hrtime.bigint();
    for (let i = 0; i < calls; i++) if (performance.now() < 0) admitted++;
    const clock = Number(process.hrtime.bigint() - started) / calls;
    out.gate = {
      calls,
      nsPerCall: Number(ownClock.toFixed(1)),
      nsPerCallGivenNow: Number(givenClock.toFixed(1)),
      nsPerClockRead: Number(clock.toFixed(1)),
      admitted,
      etcdRequestsDuring: node.client.requests - before,
    };

    // Claims by burst size.
    const rows: { burst: number; claimsPerSec: number; transactions: number; msPerBurst: number }[] = [];
    let n = 0;
    for (const burst of [1, 10, 100, 1000]) {
      const bursts = Math.max(1, Math.floor(total / 4 / burst));
      const tx = node.claims.transactions;
      const t0 = performance.now();
      for (let b = 0; b < bursts; b++) {
        const names = Array.from({ length: burst }, () => `c-${n++}`);
        const outcomes = await Promise.all(names.map((name) => node.claims.claim(name)));
        if (outcomes.some((o) => o.won !== true)) throw new Error('a claim failed');
      }
      const ms = performance.now() - t0;
      rows.push({
        burst,
        claimsPerSec: Math.round((bursts * burst) / (ms / 1000)),
        transactions: (node.claims.transactions - tx) / bursts,
        msPerBurst: Number((ms / bursts).toFixed(2)),
      });
    }
    out.claims = rows;
  } finally {
    await node.stop();
    await etcd.stop();
  }
  if (values.json) return void process.stdout.write(JSON.stringify(out, null, 2) + '\n');
  const gate = out.gate as {
    calls: number;
    nsPerCall: number;
    nsPerCallGivenNow: number;
    nsPerClockRead: number;
    admitted: number;
    etcdRequestsDuring: number;
  };
  process.stdout.write(
    `gate.check on an owned chain, ${gate.calls} calls each: ${gate.nsPerCall} ns reading the clock itself, ${gate.nsPerCallGivenNow} ns given admission's clock read ` +
      `(one performance.now() alone: ${gate.nsPerClockRead} ns); admitted ${gate.admitted} of ${2 * gate.calls}; etcd requests meanwhile: ${gate.etcdRequestsDuring}\n\n`,
  );
  process.stdout.write('| new chains per burst | claims/s | transactions per burst | ms per burst |\n|---|---|---|---|\n');
  for (const r of out.claims as { burst: number; claimsPerSec: number; transactions: number; msPerBurst: number }[]) {
    process.stdout.write(`| ${r.burst} | ${r.claimsPerSec} | ${r.transactions} | ${r.msPerBurst} |\n`);
  }
}

await main();
