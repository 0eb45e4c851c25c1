// compose's PostgreSQL must admit every session the apps may hold at once: PostgreSQL's default
// of 100 was reached by --scale metering=2 plus one vault command once requests got a pool of
// their own, and a refused session is a 503 at best, a stopped consumer or charge loop at worst.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { parse } from 'yaml';

const compose = parse(readFileSync(new URL('../docker-compose.yml', import.meta.url), 'utf8'), { merge: true }) as {
  services: Record<string, { command?: string | string[] }>;
};

/**
 * Sessions each process may hold at its peak (docs/contracts/runtime.md, requestPool row):
 * runApp's main pool 10 and request pool 10; invoicing's view pool 8 and export pool 3 too;
 * a vault command (finalize, charge, archive…) a main pool of 10.
 */
const PEAK = { metering: 20, invoicing: 31, 'cc-forms': 20, 'gateway-sandbox': 20, command: 10 };
/** The README's scaling limit (--scale metering=N, N ≤ 5), with two commands running at once. */
const WORST = 5 * PEAK.metering + PEAK.invoicing + PEAK['cc-forms'] + PEAK['gateway-sandbox'] + 2 * PEAK.command;
/** PostgreSQL keeps superuser_reserved_connections (3) of max_connections for superusers only. */
const RESERVED = 3;

describe("docker-compose.yml: PostgreSQL's max_connections", () => {
  test(`admits every app at its peak, metering scaled to 5, and two vault commands (${WORST} sessions)`, () => {
    const command = compose.services.postgres?.command;
    const words = Array.isArray(command) ? command : String(command ?? '').split(/\s+/);
    const setting = words.map((w) => /^max_connections=(\d+)$/.exec(w)).find(Boolean);
    assert.ok(setting, `postgres runs with -c max_connections=…: ${JSON.stringify(command)}`);
    assert.ok(Number(setting[1]) - RESERVED >= WORST, `max_connections=${setting[1]} leaves room for ${WORST}`);
  });
});
