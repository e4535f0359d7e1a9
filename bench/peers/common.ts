// What both peer gateways share with chainlanes' protocol v1 and with each other:
// the stream route, chain-name rules, the start-up line the bench waits for.
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

/** Chain names are 1–128 bytes of [A-Za-z0-9._~-] once URL-decoded (protocol v1). */
const CHAIN_NAME = /^[A-Za-z0-9._~-]{1,128}$/;

/**
 * The chain named by a `/v1/chains/{name}/stream` request path, or undefined when
 * the path is not a stream route or the name breaks the rules.
 */
export function chainFromPath(pathWithQuery: string): string | undefined {
  const path = pathWithQuery.split('?', 1)[0] ?? '';
  const m = /^\/v1\/chains\/([^/]+)\/stream$/.exec(path);
  if (m === null || m[1] === undefined) return undefined;
  let name: string;
  try {
    name = decodeURIComponent(m[1]);
  } catch {
    return undefined;
  }
  return CHAIN_NAME.test(name) ? name : undefined;
}

/** Frames larger than this get `too_large`, as a real gateway would bound its work per frame. */
export const MAX_FRAME_BYTES = 4 * 1024 * 1024;

/** The line the bench (and a human) reads to learn the port: same shape as chainlanes'. */
export function listeningLine(name: string, host: string, port: number): string {
  return `${name} listening on http://${host}:${port}`;
}

/** `--port N` and `--host H` from argv; port 0 asks the OS for a free one. */
export function parsePeerArgs(argv: readonly string[]): { port: number; host: string } {
  let port = 0;
  let host = '127.0.0.1';
  for (let i = 0; i < argv.length; i++) {
    const next = argv[i + 1];
    if (argv[i] === '--port' && next !== undefined) port = Number(next);
    if (argv[i] === '--host' && next !== undefined) host = next;
  }
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`bad --port ${port}`);
  return { port, host };
}

/** True when the module at `moduleUrl` is the script node was started with. */
export function isMain(moduleUrl: string): boolean {
  const script = process.argv[1];
  return script !== undefined && pathToFileURL(resolve(script)).href === moduleUrl;
}
