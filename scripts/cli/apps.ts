import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { METERING_NODE_FLAGS } from '@vault/metering/node-flags';
import { UsageError } from './command.ts';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface AppEntry {
  name: string;
  /** The app's PostgreSQL schema. */
  schema: string;
  migrations: string;
  main: string;
  /** Node's own flags for the app's process. */
  nodeFlags: readonly string[];
}

const app = (name: string, nodeFlags: readonly string[] = []): AppEntry => ({
  name,
  schema: name.replace(/-/g, '_'),
  migrations: join(ROOT, 'services', name, 'migrations'),
  main: join(ROOT, 'services', name, 'src', 'main.ts'),
  nodeFlags,
});

/** The Procfile's processes, in start order (the gateway before its clients). */
export const APPS: AppEntry[] = [app('gateway-sandbox'), app('metering', METERING_NODE_FLAGS), app('invoicing'), app('cc-forms')];

/** Schemas migrated by `vault migrate`: every app's, and the embedded bus's. */
export const MIGRATION_TARGETS = [{ schema: 'bus', migrations: join(ROOT, 'packages', 'bus', 'migrations') }, ...APPS];

export function pickApps(names: string[]): AppEntry[] {
  if (names.length === 0) return APPS;
  return names.map((n, i) => {
    const found = APPS.find((a) => a.name === n);
    if (!found) throw new UsageError(`unknown app ${n}; apps: ${APPS.map((a) => a.name).join(', ')}`);
    // Twice would be two processes on one port (and counted as the four apps of the demo).
    if (names.indexOf(n) !== i) throw new UsageError(`app ${n} given twice`);
    return found;
  });
}

export { UsageError };
