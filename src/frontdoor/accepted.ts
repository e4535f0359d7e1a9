// Hop 3 of a frame's life (docs/architecture.md, "The life of a frame"): a
// lane task has hashed a run of frames. Each frame's owner queues its
// `accepted` reply (in frame order: owners answer in the order frames came),
// and then each connection sends what it queued once, under one cork: one
// send per connection per task, not per frame.
import { performance } from 'node:perf_hooks';
import type { RingView } from '../ring/index.js';
import type { FrameOwner, PendingFrame } from './admission.js';

/** A lane's hash-latency histogram, as the metrics keep it. */
export interface LatencyObserver {
  observe(seconds: number): void;
}

/** The lane pool's onFramesHashed for one lane: answers hashed frames, observing their latency. */
export function answerHashed(latency: LatencyObserver): (frames: readonly PendingFrame[], view: RingView) => void {
  // The owners of one batch, reused from batch to batch.
  const owners = new Set<FrameOwner>();
  return (frames, view) => {
    const now = performance.now();
    for (const frame of frames) {
      latency.observe((now - frame.admittedAt) / 1000);
      // A frame with a client id leaves its hashes in the window, for a repeat's answer.
      if (frame.id !== null) frame.id.hashed(view.u8, view.hashesStart(frame.at));
      frame.owner.hashed(frame, view);
      owners.add(frame.owner);
    }
    for (const owner of owners) owner.sendHashed();
    owners.clear();
  };
}
