// Reads an account's balance of a chain's credits (the admin, the chain's owner or the account itself may).
//   CHAINLANES_URL=http://127.0.0.1:9001 CHAINLANES_KEY=clk_… node examples/balance.mjs shop-42 acct_…

// One line for whatever goes wrong: the gateway's code and message, or the cause of a failed request.
process.on('uncaughtException', (error) => {
  const cause = error.cause instanceof Error ? `: ${error.cause.message}` : '';
  console.error(`balance.mjs: ${error.code ?? error.name}: ${error.message}${cause}`);
  process.exit(1);
});

const url = process.env.CHAINLANES_URL ?? 'http://127.0.0.1:9001';
const [chain = 'shop-42', account] = process.argv.slice(2);
const key = process.env.CHAINLANES_KEY;
if (account === undefined || key === undefined) {
  console.error('usage: CHAINLANES_KEY=clk_… node examples/balance.mjs CHAIN ACCOUNT_ID');
  process.exit(2);
}

const res = await fetch(new URL(`/v1/chains/${encodeURIComponent(chain)}/credits/${encodeURIComponent(account)}`, url), {
  headers: { authorization: `Bearer ${key}` },
});
const body = await res.json();
if (!res.ok) {
  console.error(`${res.status} ${body.error.code}: ${body.error.message}`);
  process.exit(1);
}
console.log(`${body.account} holds ${body.balance} credits of chain "${chain}"`);
