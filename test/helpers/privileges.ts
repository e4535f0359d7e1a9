// What this test process may do to the scheduler: the gateway's own check.
export { mayRunRealtime } from '../../src/native/index.js';
