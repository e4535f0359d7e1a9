// "N passed, N failed[, N skipped]" over vitest JSON reports (--reporter=json), summed.
// A missing or unreadable report, or a run that failed with no failed test (a file that
// did not load), counts as a failure.
import { readFileSync } from 'node:fs';

let passed = 0;
let failed = 0;
let skipped = 0;
for (const file of process.argv.slice(2)) {
  try {
    const r = JSON.parse(readFileSync(file, 'utf8'));
    passed += r.numPassedTests;
    failed += r.numFailedTests + (r.numFailedTests === 0 && !r.success ? Math.max(1, r.numFailedTestSuites) : 0);
    skipped += r.numPendingTests + r.numTodoTests;
  } catch {
    failed += 1;
  }
}
console.log(`${passed} passed, ${failed} failed` + (skipped ? `, ${skipped} skipped` : ''));
