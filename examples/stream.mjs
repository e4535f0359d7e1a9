// Streams entries to a chain and waits until every one is committed (durable).
//   CHAINLANES_URL=http://127.0.0.1:9001 CHAINLANES_KEY=clk_… node examples/stream.mjs shop-42 hello world
import { connect } from 'chainlanes/client';

// One line for whatever goes wrong: the gateway's code and message, or the cause of a failed request.
process.on('uncaughtException', (error) => {
  const cause = error.cause instanceof Error ? `: ${error.cause.message}` : '';
  console.error(`stream.mjs: ${error.code ?? error.name}: ${error.message}${cause}`);
  process.exit(1);
});

const url = process.env.CHAINLANES_URL ?? 'http://127.0.0.1:9001';
const [chain = 'shop-42', ...entries] = process.argv.slice(2);
if (entries.length === 0) entries.push('first entry', `written at ${new Date().toISOString()}`);

const client = await connect(url, chain, { key: process.env.CHAINLANES_KEY });
try {
  let durableUpTo = -1;
  let wake = () => {};
  client.on('committed', (n) => {
    console.log(`block ${n.height} is durable: seqs ${n.seq}…${n.seq + n.count - 1} (directory ${n.directory})`);
    durableUpTo = Math.max(durableUpTo, n.seq + n.count - 1);
    wake();
  });
  const { seq, count, hashes } = await client.submit(entries);
  hashes.forEach((hash, i) => console.log(`accepted seq ${seq + i}: SHA-256 ${Buffer.from(hash).toString('hex')}`));
  const lastSeq = seq + count - 1;
  await new Promise((resolve) => {
    wake = () => {
      if (durableUpTo >= lastSeq) resolve();
    };
    wake();
  });
  console.log(`committed: ${chain} seqs ${seq}…${lastSeq}`);
} finally {
  await client.close();
}
