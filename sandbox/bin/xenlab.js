#!/usr/bin/env node
// Thin entry: all logic lives in src/cli (compiled to dist/cli by `tsc -b`).
import { main } from '../dist/cli/index.js';

process.exitCode = await main(process.argv.slice(2));
