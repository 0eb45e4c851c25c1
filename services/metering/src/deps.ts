// What metering's routes need, built by main.ts (or a test) and handed to
// app.ts, which passes it on. Routes import their types from here or their
// feature, never from app.ts.
import type pg from 'pg';
import type { Bus } from '@vault/bus';
import type { Logger } from '@vault/runtime';

export interface MeteringAppDeps {
  pool: pg.Pool;
  /** The main (unlimited) pool, for the intake's statements after a durable publish (IntakeDeps.afterPublishPool). */
  afterPublishPool?: pg.Pool;
  bus: Bus;
  topic: string;
  adminToken: string;
  /** Where a missing invoicing.publisher_tokens is said, once. */
  log?: Logger;
  /** The consumer group whose lag `GET /v1/stats` reports. */
  groupId: string;
}
