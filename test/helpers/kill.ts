// kill -9 a process at a moment of its own telling: a fixture that prints a
// line after each step it made durable runs until it printed `atLeast`
// lines, and is then killed wherever its next step has got to.
import { spawn } from 'node:child_process';
import { registerCleanup } from './cleanup.js';

/** Runs `script` (compiled JS) with `args` until it printed `atLeast` lines, then SIGKILL; resolves with every line it printed. */
export function linesThenKill(script: string, args: readonly string[], atLeast: number): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    // Should it never print enough, the test times out and this still ends it.
    registerCleanup(`${script} pid ${child.pid ?? '?'}`, () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    });
    const lines: string[] = [];
    let buffered = '';
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.stdout.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const complete = buffered.split('\n');
      buffered = complete.pop() ?? '';
      for (const line of complete) {
        lines.push(line);
        if (lines.length === atLeast) child.kill('SIGKILL');
      }
    });
    child.on('exit', (code, signal) => (signal === 'SIGKILL' ? resolve(lines) : reject(new Error(`${script} exited ${code}: ${stderr}`))));
  });
}
