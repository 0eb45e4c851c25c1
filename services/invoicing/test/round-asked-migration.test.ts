// Migration 035 (round_asked_at, asked_round) over rows asked before it: the
// 3-D Secure window (decide.ts) counts from the round's first ask, so an
// invoice whose PaymentIntent card testing burnt before the upgrade gets the
// round's earliest ask told (its notice), not its latest; a row still waiting
// without one gets its latest ask; a row whose current round never asked
// (a new card's, scheduled) or that is paid gets none.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { TestDatabase } from '@vault/testkit';
import { invoiceNotice } from '../src/notices/notice.ts';
import { recordNotices } from '../src/notices/outbox.ts';
import { ROUND_ASKED_AT_SQL } from '../src/charging/round-ask.ts';
import { databaseBeforeMigration } from './seed.ts';

const T1 = new Date('2026-11-05T10:00:00Z');
const T2 = new Date('2026-11-08T11:00:00Z');
const T3 = new Date('2026-11-11T12:00:00Z');

describe('migration 035 over rows asked before it', () => {
  let db: TestDatabase;
  let older: Awaited<ReturnType<typeof databaseBeforeMigration>> | undefined;

  before(async () => {
    older = await databaseBeforeMigration('round_asked', '035');
    db = older.db;
    const rows: [string, string, number, number, Date | null][] = [
      // id, state, attempts, round_start, action_required_at
      ['inv-burnt', 'action_required', 3, 0, T3], // asked at 1, 2 and 3 (burnt twice): first ask T1
      ['inv-new-card', 'action_required', 3, 2, T3], // asked at 1 with the old card, at 3 with the new: T3
      ['inv-untold', 'action_required', 1, 0, T2], // no notice found: its latest ask
      ['inv-revoked', 'scheduled', 1, 0, T1], // burnt, waiting for the hour: its round asked at T1
      ['inv-next-round', 'scheduled', 1, 1, T1], // a new card's round in flight: it never asked
      ['inv-paid', 'paid', 1, 0, T1],
    ];
    for (const [id, state, attempts, roundStart, askedAt] of rows) {
      await db.pool.query(
        `insert into invoicing.invoices (id, account_id, period, period_start, period_end, number, currency, total, status)
         values ($1, 'acct-' || $1, '2026-10', '2026-10-01', '2026-11-01', $1, 'USD', 52.58, 'finalized')`,
        [id],
      );
      await db.pool.query(
        `insert into invoicing.charges (invoice_id, state, attempts, round_start, last_attempt_at, next_attempt_at, action_required_at)
         values ($1, $2, $3, $4, $5, case when $2 = 'scheduled' then $5::timestamptz end, $5)`,
        [id, state, attempts, roundStart, askedAt],
      );
    }
    const facts = (id: string) => ({
      id,
      accountId: `acct-${id}`,
      number: id,
      period: '2026-10',
      currency: 'USD',
      total: '52.58',
      status: 'action_required',
    });
    const asked = (id: string, at: Date, attempt: number) => invoiceNotice('invoice.action_required', facts(id), at, { attempt }, attempt);
    const client = await db.pool.connect();
    try {
      await recordNotices(client, [
        asked('inv-burnt', T1, 1),
        asked('inv-burnt', T2, 2),
        asked('inv-burnt', T3, 3),
        asked('inv-new-card', T1, 1),
        asked('inv-new-card', T3, 3),
        asked('inv-revoked', T1, 1),
        asked('inv-next-round', T1, 1),
        asked('inv-paid', T1, 1),
      ]);
    } finally {
      client.release();
    }
    await older.migrateRest();
  });
  after(async () => {
    await older?.drop();
  });

  test('each row’s current round’s first ask', async () => {
    const { rows } = await db.pool.query<{ invoice_id: string; at: Date | null }>(
      `select c.invoice_id, ${ROUND_ASKED_AT_SQL} as at from invoicing.charges c order by c.invoice_id`,
    );
    assert.deepEqual(Object.fromEntries(rows.map((r) => [r.invoice_id, r.at?.toISOString() ?? null])), {
      'inv-burnt': T1.toISOString(),
      'inv-new-card': T3.toISOString(),
      'inv-next-round': null,
      'inv-paid': null,
      'inv-revoked': T1.toISOString(),
      'inv-untold': T2.toISOString(),
    });
  });
});
