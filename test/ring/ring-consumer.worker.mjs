// The consumer side of the two-thread ring test: plays the sealer, checking
// every frame's bytes and releasing space behind itself.
import { parentPort, workerData } from 'node:worker_threads';
import { RingView, forEachRecord } from '../../dist/src/ring/index.js';

const view = new RingView(workerData.sab);
const expected = 20_000;
let read = view.loadReleased();
let frames = 0;
let errors = 0;
while (frames < expected) {
  const hashed = view.loadHashed();
  if (hashed === read) {
    Atomics.wait(view.control, 32, hashed | 0, 1);
    continue;
  }
  forEachRecord(view, read, hashed, (at) => {
    const seq = view.firstSeq(at);
    const n = view.frameBytes(at);
    const start = view.frameStart(at);
    if (seq !== frames || n !== 16 + (seq % 200)) errors++;
    for (let i = 0; i < n; i++) if (view.u8[start + i] !== ((seq + i) & 0xff)) { errors++; break; }
    frames++;
  });
  read = hashed;
  view.storeReleased(read);
}
parentPort.postMessage({ frames, errors });
