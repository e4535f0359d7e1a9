// A vitest setup file (vitest.config.ts): runs in every test file before its tests.
import { installCleanupHooks } from './cleanup.js';

installCleanupHooks();
