// A command's own output and refusals are written plainly; the server's events
// go through the logger (src/log), which `serve` builds from the config.

export function print(text: string): void {
  process.stdout.write(text + '\n');
}

export function printError(text: string): void {
  process.stderr.write(text + '\n');
}
