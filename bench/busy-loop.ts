// The hostile scenario's control: a process that only burns CPU, put in the
// same CPU budget (a cgroup, bench/cgroup.ts) as the attack will be, so the
// bystanders are measured once beside something that takes exactly what the
// attack may take, and then beside the attack. It spins in slices and looks at
// its events between them, so it ends when the bench does (its IPC channel
// closing), not only when it is killed.
const SLICE_MS = 5;

function spin(): void {
  const until = performance.now() + SLICE_MS;
  while (performance.now() < until) {
    // burn
  }
  setImmediate(spin);
}

process.on('disconnect', () => process.exit(0));
process.on('message', (msg: { type?: string }) => {
  if (msg.type === 'stop') process.exit(0);
});
spin();
