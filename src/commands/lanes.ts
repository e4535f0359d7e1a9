// `chainlanes lanes`: the lane table in a store, shown or replaced.
import { DEFAULT_CONFIG, readJsonFile } from '../config/index.js';
import { print, printError } from './output.js';
import { stringFlag, type CommandSpec, type ParsedArgs } from './spec.js';

export const lanesCommand: CommandSpec = {
  name: 'lanes',
  forms: ['[--data DIR] [--set FILE]'],
  summary: 'show the lane table in a store, or replace it',
  description: [
    'Prints the lane table in the store, or replaces it with the JSON in FILE (checked first: a refused',
    'table leaves the store untouched). A running gateway applies a new table within a second.',
    'Exit status: 0 when done, 2 for a refused table, wrong usage or no store.',
  ].join('\n'),
  flags: [
    { name: 'data', value: 'DIR', help: 'the store (default ./data, or CHAINLANES_DATA)' },
    { name: 'set', value: 'FILE', help: 'a lane table as JSON to store' },
  ],
  run: lanes,
};

async function lanes(args: ParsedArgs): Promise<void> {
  const dir = stringFlag(args, 'data') ?? process.env.CHAINLANES_DATA ?? DEFAULT_CONFIG.dataDir;
  const file = stringFlag(args, 'set');
  const { StoredSettings, LANE_TABLE_KEY, assertStoreExists, checkStoreFile } = await import('../ledger/index.js');
  const scheduler = await import('../scheduler/index.js');
  // Checked before the store is opened: a refused table leaves the store untouched.
  const table = file === undefined ? undefined : scheduler.validateLaneTable(readJsonFile(file, 'lane table'), `lane table ${file}`);
  assertStoreExists(dir);
  await checkStoreFile(dir);
  const settings = StoredSettings.open(dir);
  try {
    if (table === undefined) {
      const stored = settings.get(LANE_TABLE_KEY);
      print(JSON.stringify(stored ?? scheduler.DEFAULT_LANE_TABLE, null, 2));
      if (stored === null) printError('chainlanes lanes: no lane table in this store yet; the default above applies');
      return;
    }
    await settings.put(LANE_TABLE_KEY, table);
    print(`chainlanes lanes: lane table stored in ${dir}; a running gateway applies it within a second`);
  } finally {
    await settings.close();
  }
}
