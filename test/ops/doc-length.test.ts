// The two pages a newcomer reads first stay readable in one sitting: the
// README says what chainlanes is and walks through it, RESULTS.md holds only
// today's tables (bench/README.md has the commands, bench/history/ the rest).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/index.js';

/** Issue #19's bound: past it, a page wants splitting, not growing. */
const MAX_LINES = 450;

describe('the pages read first', () => {
  it.each(['README.md', join('bench', 'RESULTS.md')])('%s stays under 450 lines', (page) => {
    const lines = readFileSync(join(ROOT, page), 'utf8').split('\n').length;
    expect(lines).toBeLessThan(MAX_LINES);
  });
});
