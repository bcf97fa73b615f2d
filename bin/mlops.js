#!/usr/bin/env node
// The CLI is compiled by `npm install` (prepare) or `npm run build`.
import { main } from '../dist/src/cli/main.js';

process.exitCode = await main(process.argv);
