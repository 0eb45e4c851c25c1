// What the DATABASE_URL configuration tests share: a remote database's URL to add parameters to,
// and the one problem a refused configuration names.
import assert from 'node:assert/strict';
import { BootSettings, ConfigError, parseConfig } from '../src/index.ts';

/** A remote PostgreSQL's DATABASE_URL, without parameters. */
export const REMOTE_DATABASE_URL = 'postgres://vault:s3cret-pass@db.example.com:5432/vault';

/** The one problem of parsing `env`, as "VARIABLE: message". */
export function problem(env: Record<string, string>): string {
  try {
    parseConfig(BootSettings, env);
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    assert.equal(err.problems.length, 1, err.message);
    const [p] = err.problems;
    return `${p!.variable}: ${p!.message}`;
  }
  assert.fail(`accepted ${JSON.stringify(env)}`);
}
