#!/usr/bin/env node
// The package's bin: `chainlanes COMMAND …` (src/commands/).
import { main } from './commands/index.js';

void main(process.argv.slice(2));
