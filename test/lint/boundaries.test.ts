// The architecture is enforced by ESLint (eslint.config.js): these probes are
// the imports it must refuse, and the ones it must let through.
import { describe, expect, it } from 'vitest';
import { ESLint } from 'eslint';
import { ROOT } from '../helpers/index.js';

const eslint = new ESLint({ cwd: ROOT });

/** The messages of the import rule for `source` as if it were the file at `filePath`. */
async function importProblems(filePath: string, source: string): Promise<string[]> {
  const [result] = await eslint.lintText(source, { filePath });
  return (result?.messages ?? []).filter((m) => m.ruleId === 'no-restricted-imports' || m.ruleId === 'no-console').map((m) => m.message);
}

describe('folder boundaries', () => {
  it('refuses a deep import into another folder', async () => {
    const problems = await importProblems('src/frontdoor/probe.ts', "import { RingView } from '../ring/lane-ring.js';\nexport const x = RingView;\n");
    expect(problems).toEqual([expect.stringMatching(/only through its index\.ts/)]);
  });

  it('refuses a deep import from the composition root', async () => {
    const problems = await importProblems('src/probe.ts', "import { Sealer } from './sealer/sealer.js';\nexport const x = Sealer;\n");
    expect(problems).toEqual([expect.stringMatching(/only through its index\.ts/)]);
  });

  it('keeps every thread folder away from the front door', async () => {
    for (const folder of ['lanes', 'sealer', 'scheduler', 'ledger', 'ring', 'credits']) {
      const problems = await importProblems(`src/${folder}/probe.ts`, "import { Admission } from '../frontdoor/index.js';\nexport const x = Admission;\n");
      expect(problems, folder).toEqual([expect.stringMatching(new RegExp(`src/${folder}/ may import only`))]);
    }
  });

  it('keeps the fleet away from the front door (the gateway wires them together)', async () => {
    expect(await importProblems('src/fleet/probe.ts', "import { Admission } from '../frontdoor/index.js';\nexport const x = Admission;\n")).toEqual([
      expect.stringMatching(/src\/fleet\/ may import only/),
    ]);
    expect(await importProblems('src/fleet/probe.ts', "import { CreditBook } from '../credits/index.js';\nexport const x = CreditBook;\n")).toEqual([]);
  });

  it('refuses sideways imports the dependency table does not list', async () => {
    expect(await importProblems('src/client/probe.ts', "import { Ledger } from '../ledger/index.js';\nexport const x = Ledger;\n")).toEqual([
      expect.stringMatching(/src\/client\/ may import only protocol/),
    ]);
    expect(await importProblems('src/protocol/probe.ts', "import { hashing } from '../native/index.js';\nexport const x = hashing;\n")).toEqual([
      expect.stringMatching(/src\/protocol\/ may import only no other folder/),
    ]);
    expect(await importProblems('src/ledger/probe.ts', "import { main } from '../gateway.js';\nexport const x = main;\n")).toEqual([
      expect.stringMatching(/Only the composition root/),
    ]);
  });

  it('keeps the monitor on the client side: it checks gateways with the client, never with the ledger they run', async () => {
    expect(await importProblems('src/monitor/probe.ts', "import { LogProofs } from '../ledger/index.js';\nexport const x = LogProofs;\n")).toEqual([
      expect.stringMatching(/src\/monitor\/ may import only protocol, client/),
    ]);
    expect(await importProblems('src/monitor/probe.ts', "import { verifyHead } from '../client/index.js';\nexport const x = verifyHead;\n")).toEqual([]);
    expect(await importProblems('src/heads/probe.ts', "import { Admission } from '../frontdoor/index.js';\nexport const x = Admission;\n")).toEqual([
      expect.stringMatching(/src\/heads\/ may import only/),
    ]);
  });

  it('lets an allowed import through an index pass', async () => {
    expect(await importProblems('src/sealer/probe.ts', "import { Ledger } from '../ledger/index.js';\nexport const x = Ledger;\n")).toEqual([]);
    expect(await importProblems('src/probe.ts', "import { Sealer } from './sealer/index.js';\nexport const x = Sealer;\n")).toEqual([]);
  });

  it('lets uWebSockets.js in only through src/uws, which chooses the build', async () => {
    for (const [file, from] of [
      ['src/frontdoor/probe.ts', 'uws-20.57'],
      ['src/probe.ts', 'uws-20.30'],
      ['bench/peers/probe.ts', 'uWebSockets.js'],
    ]) {
      expect(await importProblems(file!, `import uws from '${from!}';\nexport const x = uws;\n`), file).toEqual([
        expect.stringMatching(/from src\/uws\/index\.ts/),
      ]);
    }
    expect(await importProblems('src/uws/probe.ts', "import uws from 'uws-20.57';\nexport const x = uws;\n")).toEqual([]);
    expect(await importProblems('src/frontdoor/probe.ts', "import { loadUws } from '../uws/index.js';\nexport const x = loadUws;\n")).toEqual([]);
  });

  it('refuses console calls in the server (logs go through the injected logger)', async () => {
    expect(await importProblems('src/frontdoor/probe.ts', "console.log('hello');\n")).toEqual([expect.stringMatching(/console/)]);
  });
});
