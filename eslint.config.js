import js from '@eslint/js';
import tseslint from 'typescript-eslint';

// The architecture, as imports (README "Where things live"): each folder of src/
// is one concept whose index.ts is its only entrance, and may import only the
// folders listed here. Threads' folders (lanes, sealer, scheduler, ledger) never
// reach the front door; protocol, log and validation depend on nothing. The
// sealer writes burns with the blocks (credits), and the front door keeps the book.
const FOLDER_DEPENDENCIES = {
  protocol: [],
  log: [],
  validation: [],
  metrics: [],
  native: [],
  ring: ['protocol', 'native'],
  client: ['protocol'],
  ledger: ['protocol', 'native', 'validation'],
  lanes: ['protocol', 'ring', 'native'],
  credits: ['protocol', 'ledger', 'validation'],
  heads: ['protocol', 'ledger', 'validation'],
  sealer: ['protocol', 'ring', 'native', 'ledger', 'credits', 'heads'],
  scheduler: ['ring', 'native', 'ledger', 'validation'],
  config: ['ring', 'scheduler', 'log', 'validation', 'fleet', 'protocol'],
  uws: ['protocol'],
  defence: ['protocol', 'log', 'uws', 'native'],
  frontdoor: ['protocol', 'ring', 'native', 'lanes', 'sealer', 'ledger', 'scheduler', 'log', 'credits', 'uws', 'defence'],
  balancer: ['ring', 'scheduler', 'ledger', 'log', 'frontdoor'],
  http: ['protocol', 'ring', 'lanes', 'sealer', 'ledger', 'scheduler', 'log', 'credits', 'uws', 'defence', 'frontdoor'],
  dashboard: ['protocol', 'ring', 'scheduler', 'log', 'credits', 'uws', 'defence', 'frontdoor'],
  anchors: ['protocol', 'ledger', 'native', 'log', 'validation'],
  doctor: ['config', 'scheduler', 'uws'],
  // The fleet (etcd, HAProxy) never reaches into the front door: the gateway wires them (docs/fleet.md).
  fleet: ['protocol', 'log', 'validation', 'credits', 'scheduler'],
  // Standby replicas: the shipping stream and the commit gate; the store's half is the ledger's, the pairs the fleet's.
  replicas: ['protocol', 'client', 'ledger', 'log', 'fleet'],
  // A witness of other gateways: it checks them with the client's code, never the ledger's.
  monitor: ['protocol', 'client', 'validation', 'metrics', 'log'],
};
const FOLDERS = Object.keys(FOLDER_DEPENDENCIES);

const throughIndex = (prefix) => ({
  regex: `^${prefix}[a-z-]+/(?!index\\.js$)`,
  message: "Import another folder of src/ only through its index.ts: it is the folder's public face.",
});

// The uWS builds are loaded, typed and told apart in src/uws/ only (src/uws/index.ts).
const uwsThroughItsFolder = {
  regex: '^(uWebSockets\\.js|uws-\\d+\\.\\d+)(/|$)',
  message: 'Load uWebSockets.js and take its types from src/uws/index.ts: it chooses the build that runs here.',
};

const folderBoundaries = FOLDERS.map((folder) => {
  const forbidden = FOLDERS.filter((other) => other !== folder && !FOLDER_DEPENDENCIES[folder].includes(other));
  return {
    files: [`src/${folder}/**/*.ts`],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            throughIndex('\\.\\./'),
            {
              regex: `^\\.\\./(${forbidden.join('|')})/`,
              message: `src/${folder}/ may import only ${FOLDER_DEPENDENCIES[folder].join(', ') || 'no other folder of src/'} (eslint.config.js FOLDER_DEPENDENCIES).`,
            },
            { regex: '^\\.\\./(gateway|cli)\\.js$', message: 'Only the composition root (gateway.ts, cli.ts) wires folders together; nothing imports it.' },
            ...(folder === 'uws' ? [] : [uwsThroughItsFolder]),
          ],
        },
      ],
    },
  };
});

export default tseslint.config(
  { ignores: ['dist/', 'native/build/', 'node_modules/', 'data/', 'coverage/', '.scratch/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: {
        process: 'readonly',
        console: 'readonly',
        Buffer: 'readonly',
        URL: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
        setInterval: 'readonly',
        clearInterval: 'readonly',
        setImmediate: 'readonly',
        SharedArrayBuffer: 'readonly',
        Atomics: 'readonly',
        performance: 'readonly',
        TextEncoder: 'readonly',
        TextDecoder: 'readonly',
        queueMicrotask: 'readonly',
        structuredClone: 'readonly',
        AbortController: 'readonly',
        fetch: 'readonly',
        WebSocket: 'readonly',
      },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  ...folderBoundaries,
  {
    // The composition root sits beside the folders and may use any of them, through their index.
    files: ['src/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [throughIndex('\\./'), uwsThroughItsFolder] }] },
  },
  {
    files: ['bench/**/*.ts', 'test/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [uwsThroughItsFolder] }] },
  },
  {
    // The command line (src/commands/) and the gateway's phases (src/wiring/) belong to the composition
    // root: they may use any folder, through its index, and the command line the gateway itself.
    files: ['src/commands/**/*.ts', 'src/wiring/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [throughIndex('\\.\\./')] }] },
  },
  {
    // The server logs through the injected logger (src/log); a console call would bypass levels and format.
    files: ['src/**/*.ts'],
    ignores: ['src/client/**'],
    rules: { 'no-console': 'error' },
  },
  {
    // The dashboard page (web/): plain ES modules the browser runs as served, so browser globals only.
    files: ['web/**/*.js'],
    languageOptions: {
      sourceType: 'module',
      globals: {
        window: 'readonly',
        document: 'readonly',
        location: 'readonly',
        sessionStorage: 'readonly',
        atob: 'readonly',
        btoa: 'readonly',
        crypto: 'readonly',
        globalThis: 'readonly',
      },
    },
  },
);
