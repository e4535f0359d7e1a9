// A command's own output and refusals are written plainly; the server's events
// go through the logger (src/log), which `serve` builds from the config.

/** Set once whoever read this process's output went away (`chainlanes verify … | head -1`). */
let outputClosed = false;
let watching = false;

export function print(text: string): void {
  watchOutput();
  if (!outputClosed) process.stdout.write(text + '\n');
}

export function printError(text: string): void {
  process.stderr.write(text + '\n');
}

/**
 * A reader that closed the pipe (EPIPE) stops the output, not the command: it
 * finishes, and its exit status still says how (verify's 1 for a broken store).
 * Without this, Node raised the write's error as an uncaught exception.
 */
function watchOutput(): void {
  if (watching) return;
  watching = true;
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') throw error;
    outputClosed = true;
  });
}
