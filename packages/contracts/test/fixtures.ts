// Shared by the tests: where the examples live, a receiver clock, and a
// valid event of each type to mutate one field at a time.
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { EventType } from '../src/index.ts';

/** The repository root: three levels up from this folder (test → contracts → packages → repo). */
export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
/** The repository's copies of the platform's examples (october.ndjson, invalid.ndjson, …). */
export const examplesDir = join(repoRoot, 'test', 'fixtures');

/** A receiver clock after the October examples, so none of them is "in the future". */
export const NOW = new Date('2026-11-01T00:00:00Z');

const DATA: Record<EventType, Record<string, unknown>> = {
  'app.owner_changed': { app_id: 'app-1', account_id: 'acct-1' },
  'dyno.started': { app_id: 'app-1', name: 'web.1', size: 'standard-1x' },
  'dyno.stopped': { app_id: 'app-1' },
  'addon.provisioned': { app_id: 'app-1', service: 'heroku-postgresql', plan: 'essential-0' },
  'addon.plan_changed': { app_id: 'app-1', plan: 'standard-0' },
  'addon.deprovisioned': { app_id: 'app-1' },
};

const SUBJECT: Record<EventType, string> = {
  'app.owner_changed': 'app-1',
  'dyno.started': 'dyno-d1',
  'dyno.stopped': 'dyno-d1',
  'addon.provisioned': 'addon-pg1',
  'addon.plan_changed': 'addon-pg1',
  'addon.deprovisioned': 'addon-pg1',
};

const SEQUENCE: Record<EventType, number> = {
  'app.owner_changed': 1,
  'dyno.started': 1,
  'dyno.stopped': 2,
  'addon.provisioned': 1,
  'addon.plan_changed': 2,
  'addon.deprovisioned': 3,
};

/** A valid decoded event of `type`; `overrides` replace envelope fields, `data` merges into data. */
export function validEvent(
  type: EventType,
  overrides: Record<string, unknown> = {},
  data: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    specversion: '1.0',
    id: 'evt-1',
    source: 'test',
    type,
    time: '2026-10-01T00:00:00Z',
    subject: SUBJECT[type],
    sequence: SEQUENCE[type],
    data: { ...DATA[type], ...data },
    ...overrides,
  };
}
