// Fetches an entry with its proof and checks it here, from the entry's bytes up
// to the directory block hash (the value that gets anchored).
//   CHAINLANES_URL=http://127.0.0.1:9001 CHAINLANES_KEY=clk_… node examples/verify-entry.mjs shop-42 0
import { verifyEntry } from 'chainlanes/client';

// One line for whatever goes wrong: the gateway's code and message, or the cause of a failed request.
process.on('uncaughtException', (error) => {
  const cause = error.cause instanceof Error ? `: ${error.cause.message}` : '';
  console.error(`verify-entry.mjs: ${error.code ?? error.name}: ${error.message}${cause}`);
  process.exit(1);
});

const url = process.env.CHAINLANES_URL ?? 'http://127.0.0.1:9001';
const [chain = 'shop-42', seq = '0'] = process.argv.slice(2);
const key = process.env.CHAINLANES_KEY;

const res = await fetch(new URL(`/v1/chains/${encodeURIComponent(chain)}/entries/${seq}`, url), {
  headers: key === undefined ? {} : { authorization: `Bearer ${key}` },
});
const proof = await res.json();
if (!res.ok) {
  console.error(`${res.status} ${proof.error.code}: ${proof.error.message}`);
  process.exit(1);
}
const result = verifyEntry(proof, { chain, seq: Number(seq) });
if (!result.ok) {
  console.error(`NOT verified: ${result.reason}`);
  process.exit(1);
}
console.log(`verified: ${chain} seq ${proof.seq} (hash ${proof.hash}) is entry ${proof.index} of block ${proof.height} (root ${proof.root})`);
console.log(
  proof.directory === undefined
    ? 'its directory block is not sealed yet: retry to check it up to the directory hash'
    : `and block ${proof.height} is in directory block ${proof.directory.height}, hash ${proof.directory.hash}`,
);
