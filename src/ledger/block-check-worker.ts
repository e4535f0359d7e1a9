// A block check thread (block-check-pool.ts): checks each block record it is
// handed (block-check.ts) and answers with the problem, if any.
import { parentPort } from 'node:worker_threads';
import { blockEntriesProblem } from './block-check.js';
import type { BlockCheckAnswer, BlockCheckJob } from './block-check-pool.js';

const port = parentPort;
if (port === null) throw new Error('block-check-worker.js runs as a worker thread of verify');
port.on('message', ({ id, at, bytes }: BlockCheckJob) => {
  const answer: BlockCheckAnswer = { id, problem: blockEntriesProblem(bytes, at) };
  port.postMessage(answer);
});
