#!/usr/bin/env node
// Runs the TypeScript CLI through tsx, resolved from this package, so `npx fonana-realtime` works from anywhere.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv.slice(2), process.env);
