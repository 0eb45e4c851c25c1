#!/usr/bin/env node
// The `vault` command. Our packages ship TypeScript source, so register tsx first.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../scripts/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
