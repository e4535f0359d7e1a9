// Block and directory roots are the sealer's hot path (every entry of every
// interval is hashed twice into a tree), so they go through the native batch
// hasher; src/native falls back to pure JS by itself when the addon is missing.
// merkle.ts stays the independent JS reference that tests compare against, and
// every proof the store serves is re-checked with the JS verifier.
import { hashing } from '../native/index.js';
import type { RootFunction } from './merkle.js';

export const fastRoot: RootFunction = (leafData32, n) => hashing.merkleRoot(leafData32, n);
