#!/usr/bin/env node
// The `vault` command. Our packages ship TypeScript source, so register tsx first.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../scripts/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
// A failed command has said why; a connection its error left open (a server that never
// answers) must not keep it from exiting.
if (process.exitCode !== 0) setTimeout(() => process.exit(), 2_000).unref();
