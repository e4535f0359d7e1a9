// `GET /` and the dashboard's files (docs/protocol.md "Dashboard"). Every file
// is read once at start into memory, from a fixed list of folders, so a request
// is a lookup of its exact path in a map: no path from the network ever
// reaches the file system (no traversal, no symlink surprises), and the total
// held is bounded. The page runs as plain ES modules: web/ itself, the client's
// compiled client (dist/src/client, dist/src/protocol), @noble/hashes' ESM
// build, @noble/curves' Ed25519 and msgpackr's browser build, so the page checks proofs (and a page can
// stream entries) with the very code Node clients use; and uPlot's ES module for
// the charts. Nothing comes from another origin: the page works offline.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, extname, join } from 'node:path';
import { packageRoot } from '../paths.js';
import type { HttpRoutes } from '../defence/index.js';
import type { HttpResponse, HttpRequest } from '../uws/index.js';
import { sendBytes, sendError } from '../uws/index.js';

export const STATIC_LIMITS = {
  maxFileBytes: 1024 * 1024,
  maxTotalBytes: 16 * 1024 * 1024,
} as const;

/** The only types served; a file of another extension is not served at all. */
const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.json': 'application/json',
};

interface StaticFile {
  body: Buffer;
  type: string;
  etag: string;
  cache: string;
}

/** The browser build of msgpackr (its package's "browser" export and what that imports), for the client in a page. */
const MSGPACKR_FILES = ['index.js', 'pack.js', 'unpack.js', 'iterators.js', 'scan.js'];
/** @noble/curves' Ed25519 and what it imports: the client checks signed heads with it (src/client/heads.ts). */
const NOBLE_CURVES_FILES = ['ed25519.js'];
const NOBLE_CURVES_ABSTRACT_FILES = ['curve.js', 'edwards.js', 'hash-to-curve.js', 'modular.js', 'montgomery.js', 'utils.js'];
/** uPlot, the page's charts: its ES module and its style sheet (the package's dist/). */
const UPLOT_FILES = ['uPlot.esm.js', 'uPlot.min.css'];

/** URL prefix → folder, and the files served from it (default: all the folder's own files, not sub-folders). */
function folders(): [prefix: string, dir: string, only?: readonly string[]][] {
  const root = packageRoot();
  const require = createRequire(import.meta.url);
  const noble = join(dirname(require.resolve('@noble/hashes/sha2')), 'esm');
  const curves = join(dirname(require.resolve('@noble/curves/ed25519')), 'esm');
  const msgpackr = packageDir(require.resolve('msgpackr'), 'msgpackr');
  const uplot = join(packageDir(require.resolve('uplot'), 'uplot'), 'dist');
  return [
    ['/web/', join(root, 'web')],
    ['/lib/src/client/', join(root, 'dist', 'src', 'client')],
    ['/lib/src/protocol/', join(root, 'dist', 'src', 'protocol')],
    ['/lib/noble-hashes/', noble],
    ['/lib/noble-curves/', curves, NOBLE_CURVES_FILES],
    ['/lib/noble-curves/abstract/', join(curves, 'abstract'), NOBLE_CURVES_ABSTRACT_FILES],
    ['/lib/msgpackr/', msgpackr, MSGPACKR_FILES],
    ['/lib/uplot/', uplot, UPLOT_FILES],
  ];
}

/** The folder of package `name` holding `file` (its package.json is not always exported, so it is found by walking up). */
function packageDir(file: string, name: string): string {
  for (let dir = dirname(file); dir !== dirname(dir); dir = dirname(dir)) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest) && (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === name) return dir;
  }
  throw new Error(`cannot find the folder of the package ${name} above ${file}`);
}

export class StaticFiles {
  private readonly files = new Map<string, StaticFile>();
  private bytes = 0;
  /** The Content-Security-Policy of the page: its inline import map allowed by hash, nothing else inline. */
  readonly policy: string;

  constructor() {
    for (const [prefix, dir, only] of folders()) this.load(prefix, dir, only);
    const index = this.files.get('/web/index.html');
    if (index === undefined) throw new Error(`the dashboard page web/index.html is missing under ${packageRoot()}`);
    // The root serves the page itself, never cached without a check, so a new version shows at once.
    this.files.set('/', { ...index, cache: 'no-cache' });
    const importMap = /<script type="importmap">([\s\S]*?)<\/script>/.exec(index.body.toString('utf8'))?.[1] ?? '';
    const mapHash = createHash('sha256').update(importMap).digest('base64');
    this.policy = `default-src 'self'; script-src 'self' 'sha256-${mapHash}'; connect-src 'self'; img-src 'self' data:; style-src 'self'; frame-ancestors 'none'; base-uri 'none'`;
  }

  get size(): number {
    return this.files.size;
  }

  private load(prefix: string, dir: string, only?: readonly string[]): void {
    if (!existsSync(dir)) return; // dist/ before the first build: the page says what is missing
    for (const name of only ?? readdirSync(dir).sort()) {
      const type = CONTENT_TYPES[extname(name)];
      const path = join(dir, name);
      if (type === undefined || !statSync(path).isFile()) continue;
      const size = statSync(path).size;
      if (size > STATIC_LIMITS.maxFileBytes) throw new Error(`${path} is ${size} bytes, above the ${STATIC_LIMITS.maxFileBytes} a dashboard file may have`);
      this.bytes += size;
      if (this.bytes > STATIC_LIMITS.maxTotalBytes) throw new Error(`the dashboard's files pass ${STATIC_LIMITS.maxTotalBytes} bytes at ${path}`);
      const body = readFileSync(path);
      const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`;
      this.files.set(prefix + name, { body, type, etag, cache: 'no-cache' });
    }
  }

  /** Registers `GET /` and one route per folder; an unknown name under them is a 404. */
  routes(app: HttpRoutes): void {
    app.get('/', (res, req) => this.serve(res, req, '/'));
    for (const [prefix] of folders()) app.get(`${prefix}*`, (res, req) => this.serve(res, req, req.getUrl()));
  }

  private serve(res: HttpResponse, req: HttpRequest, path: string): void {
    const file = this.files.get(path);
    if (file === undefined) return sendError(res, 'not_found', `no dashboard file ${JSON.stringify(path)}`);
    const headers: [string, string][] = [
      ['etag', file.etag],
      ['cache-control', file.cache],
      ['x-content-type-options', 'nosniff'],
    ];
    if (file.type.startsWith('text/html')) headers.push(['content-security-policy', this.policy], ['referrer-policy', 'no-referrer']);
    if (req.getHeader('if-none-match') === file.etag) return sendBytes(res, '304 Not Modified', file.type, null, headers);
    sendBytes(res, '200 OK', file.type, file.body, headers);
  }
}
