// The README's walkthroughs, run as a user runs them: on a fresh copy of the
// repository (the files git would hand over), every ```sh block pasted whole,
// in order, into one shell — `npm install` included. A block marked
// `<!-- readme-test: skip (why) -->` is not run (it installs system packages
// or makes the clone). Each `# …` line right after a command is the output the
// README promises: it must appear in that block's output (`…` stands for
// anything, and an account id for any account id).
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT, registerCleanup } from '../helpers/index.js';

const SKIP = /^<!-- readme-test: skip \((.+)\) -->$/;
/** npm install, the native build and TypeScript, then three gateways and anvil: minutes, not seconds. */
const WALKTHROUGH_TIMEOUT_MS = 12 * 60_000;

interface Block {
  /** The line of the README where the block's code starts. */
  line: number;
  code: string;
  skipped: string | null;
}

function shellBlocks(readme: string): Block[] {
  const lines = readme.split('\n');
  const blocks: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (lines[i] !== '```sh') continue;
    const end = lines.indexOf('```', i + 1);
    const skipped = SKIP.exec(lines[i - 1] ?? '')?.[1] ?? null;
    blocks.push({ line: i + 2, code: lines.slice(i + 1, end).join('\n'), skipped });
    i = end;
  }
  return blocks;
}

/** The promised output of a block: the comment lines right after a command (or after another such line). */
function promisedLines(code: string): string[] {
  const promised: string[] = [];
  let followsCommand = false;
  for (const line of code.split('\n')) {
    if (line.startsWith('# ')) {
      if (followsCommand) promised.push(line.slice(2));
      continue;
    }
    followsCommand = line.trim() !== '';
  }
  return promised;
}

function asPattern(promised: string): RegExp {
  const escaped = promised.trim().replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(escaped.replaceAll('…', '.*').replace(/acct_[a-z2-7]{16}/g, 'acct_[a-z2-7]{16}'));
}

/**
 * The repository as a fresh clone would have it: tracked files and new ones git
 * does not ignore. Removed in the background afterwards: the node_modules the
 * walkthrough installs take longer to delete than a hook may run.
 */
function freshCopy(): string {
  const top = mkdtempSync(join(tmpdir(), 'chainlanes-readme-'));
  registerCleanup(`the README's copy ${top}`, () => spawn('rm', ['-rf', top], { detached: true, stdio: 'ignore' }).unref());
  const dir = join(top, 'chainlanes');
  const listed = spawnSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: ROOT, encoding: 'utf8' });
  if (listed.status !== 0 || typeof listed.stdout !== 'string') {
    // No git here (CI's Debian 13 root gets a copy of the tree without .git):
    // the tree itself, less what a build or an install made.
    cpSync(ROOT, dir, { recursive: true, dereference: false, filter: (path) => !BUILT_HERE.has(relative(ROOT, path)) });
    return dir;
  }
  for (const file of listed.stdout.split('\0').filter((f) => f !== '')) {
    mkdirSync(dirname(join(dir, file)), { recursive: true });
    cpSync(join(ROOT, file), join(dir, file), { errorOnExist: false, force: true, dereference: false });
  }
  return dir;
}

/** What a fresh clone does not have: the install, the builds, git's own folder. */
const BUILT_HERE = new Set(['node_modules', 'dist', join('native', 'build'), '.git', join('.ci', 'vitest-report.json')]);

describe('README.md', () => {
  it(
    'runs as written, block after block in one shell, on a fresh copy, with the output it shows',
    async () => {
      const blocks = shellBlocks(readFileSync(join(ROOT, 'README.md'), 'utf8'));
      expect(blocks.filter((b) => b.skipped !== null).map((b) => b.skipped)).toEqual(['installs system packages and makes the clone the test runs in']);
      const run = blocks.filter((b) => b.skipped === null);
      const dir = freshCopy();
      // Each block's output is framed by markers, so a promise is looked for in its own block only.
      // One pipe for both streams, as a terminal shows them: a line on stderr stays in its block (two pipes are read in whatever order).
      const script = ['set -eo pipefail', 'exec 2>&1', ...run.flatMap((b, i) => [`echo "::block ${i}::"`, b.code]), 'echo "::end::"'].join('\n');
      writeFileSync(join(dir, '.readme-walkthrough.sh'), script);
      const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME, LANG: 'C.UTF-8', npm_config_cache: process.env.npm_config_cache };
      const shell = spawn('bash', ['.readme-walkthrough.sh'], { cwd: dir, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
      // Whatever the walkthrough left running (a gateway, anvil) goes with its process group.
      registerCleanup('the README walkthrough', () => {
        try {
          process.kill(-shell.pid!, 'SIGKILL');
        } catch {
          // Already gone.
        }
      });
      let output = '';
      shell.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
      shell.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
      const status = await new Promise<number | null>((resolve) => shell.once('close', resolve));
      const lastBlock = [...output.matchAll(/::block (\d+)::/g)].at(-1)?.[1];
      const failedAt = lastBlock === undefined ? 'before the first block' : `in the block at README.md line ${run[Number(lastBlock)]!.line}`;
      expect(status, `the walkthrough stopped ${failedAt}:\n${output.slice(-4000)}`).toBe(0);
      expect(output).toContain('::end::');
      run.forEach((block, i) => {
        const segment = output.split(`::block ${i}::`)[1]!.split(/::block \d+::|::end::/)[0]!;
        const lines = segment.split('\n').map((l) => l.trim());
        for (const promised of promisedLines(block.code)) {
          const pattern = asPattern(promised);
          expect(
            lines.some((l) => pattern.test(l)),
            `README.md line ${block.line}…: "${promised}" not in its output:\n${segment.slice(-3000)}`,
          ).toBe(true);
        }
      });
    },
    WALKTHROUGH_TIMEOUT_MS,
  );
});
