// "N passed, N failed[, N skipped]" over vitest JSON reports (--reporter=json), summed,
// after a line for each failed test (report, file:line of the failing assertion, title, the
// first line of its error):
// CI shows only the tail of what it printed, so the failures must be named at the end.
// A missing or unreadable report, or a run that failed with no failed test (a file that
// did not load), counts as a failure.
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';

const MAX_FAILURES_NAMED = 20;

let passed = 0;
let failed = 0;
let skipped = 0;
const named = [];
for (const file of process.argv.slice(2)) {
  try {
    const r = JSON.parse(readFileSync(file, 'utf8'));
    passed += r.numPassedTests;
    failed += r.numFailedTests + (r.numFailedTests === 0 && !r.success ? Math.max(1, r.numFailedTestSuites) : 0);
    skipped += r.numPendingTests + r.numTodoTests;
    named.push(...failuresOf(file, r));
  } catch {
    failed += 1;
    named.push(`${file}: no readable report`);
  }
}
for (const line of named.slice(0, MAX_FAILURES_NAMED)) console.log(`  FAILED ${line}`);
if (named.length > MAX_FAILURES_NAMED) console.log(`  … and ${named.length - MAX_FAILURES_NAMED} more`);
console.log(`${passed} passed, ${failed} failed` + (skipped ? `, ${skipped} skipped` : ''));

function failuresOf(report, r) {
  const lines = [];
  for (const suite of r.testResults ?? []) {
    const where = relative(process.cwd(), suite.name ?? '?');
    const failedTests = (suite.assertionResults ?? []).filter((t) => t.status === 'failed');
    for (const t of failedTests) {
      const message = t.failureMessages?.[0];
      lines.push(`${report} ${where}${lineIn(message, where)}: ${t.title} — ${firstLine(message)}`);
    }
    if (failedTests.length === 0 && suite.status === 'failed') lines.push(`${report} ${where}: the file failed — ${firstLine(suite.message)}`);
  }
  return lines;
}

/** ":line" of the first stack frame in the test's own file, or "" when the stack has none. */
function lineIn(message, where) {
  for (const frame of String(message ?? '').split('\n')) {
    const at = frame.indexOf(where + ':');
    if (at >= 0) return ':' + frame.slice(at + where.length + 1).split(':')[0];
  }
  return '';
}

function firstLine(text) {
  return String(text ?? '')
    .split('\n')[0]
    .slice(0, 300);
}
