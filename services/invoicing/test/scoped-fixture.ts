// Support for the scoped holds and late-usage tests: a small month of
// ownership, usage, sequence gaps and finalized invoices written where
// metering and invoicing keep them, and the comparison of each account's
// scoped statements with the unscoped ones (what finalize runs).
import assert from 'node:assert/strict';
import type pg from 'pg';
import { GAPS, GAPS_SCOPED, readHolds, UNOWNED, UNOWNED_SCOPED } from '../src/billing/holds.ts';
import { LATE_CANDIDATES, LATE_CANDIDATES_SCOPED, lateCandidates } from '../src/billing/late-usage.ts';
import { LATE_MARGIN_INTERVAL } from '../src/billing/sql.ts';
import { accountView } from '../src/billing/account-drafts.ts';
import { computeDrafts } from '../src/billing/compute-drafts.ts';
import { readDailyUsage } from '../src/billing/line-usage.ts';
import { loadPriceBook } from '../src/billing/price-book-file.ts';
import { publicInvoice } from '../src/domain/invoice.ts';
import { parsePeriod } from '../src/domain/period.ts';

export interface Fixture {
  /** `to` null: still owned. */
  owners: { app: string; account: string; from: string; to: string | null; learnedAt: string }[];
  /** `to` null: still running. */
  usage: { app: string; from: string; to: string | null; learnedAt: string }[];
  /**
   * A finalized invoice of a month (`2026-08`), with a line per charged app and
   * an adjustment line per earlier month and app it adjusts.
   */
  invoices: { account: string; period: string; finalizedAt: string; apps: string[]; adjusts?: { period: string; app: string }[] }[];
  gaps: { app: string; unreliableFrom: string | null }[];
  /** Spans metering's events made empty (metering migration 022), at an instant. */
  vanished?: { app: string; at: string; learnedAt: string }[];
}

/** Empties what a fixture writes, so each property run starts from nothing. */
export async function clearFixture(pool: pg.Pool): Promise<void> {
  await pool.query(
    `truncate metering.usage_intervals, metering.app_ownership, metering.subject_gaps, metering.usage_changes, metering.vanished_spans,
              invoicing.usage_days, invoicing.usage_months, invoicing.invoice_lines, invoicing.invoice_apps, invoicing.adjusted_apps,
              invoicing.invoices cascade`,
  );
}

/** Writes a fixture, one statement per table; every row says when metering learned it. */
export async function writeFixture(pool: pg.Pool, fx: Fixture): Promise<void> {
  await pool.query(
    `insert into metering.app_ownership (app_id, account_id, during, learned_at)
     select x.app, x.account, tstzrange(x."from", x."to", '[)'), x.learned
       from jsonb_to_recordset($1::jsonb) as x(app text, account text, "from" timestamptz, "to" timestamptz, learned timestamptz)`,
    [JSON.stringify(fx.owners.map((o) => ({ ...o, learned: o.learnedAt })))],
  );
  await pool.query(
    `insert into metering.usage_intervals (subject, kind, app_id, key, product, during, learned_at)
     select 'fx-' || x.n, 'dyno', x.app, 'web.' || x.n, 'dyno:basic', tstzrange(x."from", x."to", '[)'), x.learned
       from jsonb_to_recordset($1::jsonb) as x(n int, app text, "from" timestamptz, "to" timestamptz, learned timestamptz)`,
    [JSON.stringify(fx.usage.map((u, n) => ({ ...u, n, learned: u.learnedAt })))],
  );
  await pool.query(
    `insert into metering.subject_gaps (subject, app_id, missing_sequence, unreliable_from)
     select 'fx-gap-' || x.n, x.app, 2, x."from"
       from jsonb_to_recordset($1::jsonb) as x(n int, app text, "from" timestamptz)`,
    [JSON.stringify(fx.gaps.map((g, n) => ({ n, app: g.app, from: g.unreliableFrom })))],
  );
  await pool.query(
    `insert into metering.vanished_spans (subject, kind, app_id, at, learned_at)
     select 'fx-gone-' || x.n, 'dyno', x.app, x.at, x.learned
       from jsonb_to_recordset($1::jsonb) as x(n int, app text, at timestamptz, learned timestamptz)`,
    [JSON.stringify((fx.vanished ?? []).map((v, n) => ({ n, app: v.app, at: v.at, learned: v.learnedAt })))],
  );
  await pool.query(
    `insert into invoicing.invoices (id, account_id, period, period_start, period_end, number, currency, total, finalized_at)
     select 'inv-' || x.period || '-' || x.account, x.account, x.period, (x.period || '-01T00:00:00Z')::timestamptz,
            (x.period || '-01T00:00:00Z')::timestamptz + interval '1 month', x.period || '-' || x.account, 'usd', 0, x.fin
       from jsonb_to_recordset($1::jsonb) as x(account text, period text, fin timestamptz)`,
    [JSON.stringify(fx.invoices.map((i) => ({ account: i.account, period: i.period, fin: i.finalizedAt })))],
  );
  await pool.query('select invoicing.ensure_lines_month(m) from (select distinct left(number, 7) as m from invoicing.invoices) months');
  await pool.query(
    `insert into invoicing.invoice_lines (invoice_number, invoice_id, position, app_id, kind, key, product, quantity, unit_price, amount,
                                          description, adjusts, ms)
     select x.period || '-' || x.account, 'inv-' || x.period || '-' || x.account, x.position, x.app,
            case when x.adjusts is null then 'dyno' else 'adjustment' end, 'web.1', 'dyno:basic', 1, 1, 1, 'web.1', x.adjusts, 1000
       from jsonb_to_recordset($1::jsonb) as x(account text, period text, position int, app text, adjusts text)`,
    [
      JSON.stringify(
        fx.invoices.flatMap((i) =>
          [...i.apps.map((app) => ({ app, adjusts: null })), ...(i.adjusts ?? []).map((a) => ({ app: a.app, adjusts: a.period }))].map(
            (line, p) => ({ account: i.account, period: i.period, position: p + 1, ...line }),
          ),
        ),
      ),
    ],
  );
}

const rowKeys = (rows: readonly object[]) =>
  rows.map((r) => JSON.stringify(r, (_k, v: unknown) => (Array.isArray(v) ? [...v].sort() : v))).sort();

export interface Compared {
  holds: number;
  unowned: number;
  gaps: number;
  late: number;
}

/**
 * For each account alone (and for all of them at once), the scoped
 * statements give what today's statements give: the same rows as the
 * unscoped ones for those accounts, and row for row what the old statements
 * gave with the accounts as a parameter. Returns what was compared, so a test
 * can tell its fixtures exercised every kind of row.
 */
export async function assertScopedEqualsUnscoped(
  pool: pg.Pool,
  accounts: readonly string[],
  window: { from: Date; to: Date },
  before: Date,
): Promise<Compared> {
  const all = await readHolds(pool, window);
  const allLate = (await pool.query(LATE_CANDIDATES, [before, null, LATE_MARGIN_INTERVAL])).rows;
  const seen: Compared = { holds: 0, unowned: 0, gaps: 0, late: 0 };
  for (const scope of [...accounts.map((a) => [a]), [...accounts]]) {
    const label = scope.join(',');
    const holds = await readHolds(pool, { ...window, accounts: scope });
    assert.deepEqual(
      rowKeys(holds),
      rowKeys(all.filter((h) => h.account_id !== null && scope.includes(h.account_id))),
      `holds of ${label}`,
    );
    const late = await lateCandidates(pool, before, scope, LATE_MARGIN_INTERVAL);
    assert.deepEqual(rowKeys(late), rowKeys(allLate.filter((c) => scope.includes(c.account_id))), `late candidates of ${label}`);
    const params = [window.from, window.to, scope];
    for (const [old, scoped, p] of [
      [GAPS, GAPS_SCOPED, params],
      [UNOWNED, UNOWNED_SCOPED, params],
      [LATE_CANDIDATES, LATE_CANDIDATES_SCOPED, [before, scope, LATE_MARGIN_INTERVAL]],
    ] as const) {
      const [was, now] = await Promise.all([pool.query(old, [...p]), pool.query(scoped, [...p])]);
      assert.deepEqual(rowKeys(now.rows), rowKeys(was.rows), `${label}: ${old === GAPS ? 'GAPS' : old === UNOWNED ? 'UNOWNED' : 'LATE'}`);
    }
    if (scope.length === 1) {
      seen.holds += holds.length;
      seen.unowned += holds.filter((h) => h.reason === 'unowned').length;
      seen.gaps += holds.filter((h) => h.reason === 'gap').length;
      seen.late += late.length;
    }
  }
  return seen;
}

/**
 * Each account's view from one composed read (accountView: the aggregates,
 * the scoped statements, credit) equals what the live statements give:
 * computeDrafts for its draft, for its projection up to the month's end
 * (lines and totals: the page's projection keeps the draft's holds), and
 * readDailyUsage for its days.
 */
export async function assertViewEqualsLive(pool: pg.Pool, accounts: readonly string[], until: Date, creditAt: Date): Promise<void> {
  const period = parsePeriod('2026-10');
  const prices = loadPriceBook();
  const days: { from: Date; to: Date }[] = [];
  for (let d = period.start.toMillis(); d < until.getTime(); d += 86_400_000) {
    days.push({ from: new Date(d), to: new Date(Math.min(d + 86_400_000, until.getTime())) });
  }
  for (const account of accounts) {
    const view = await accountView(pool, prices, { account, period, until, creditAt, projection: true, days: true });
    const live = async (to: Date) =>
      (await computeDrafts(pool, prices, { period, until: to, accounts: [account], adjustments: true, creditAt })).drafts.get(account)!;
    assert.deepEqual(publicInvoice(view.draft), publicInvoice(await live(until)), `draft of ${account}`);
    const projected = publicInvoice(await live(period.end.toJSDate()));
    assert.deepEqual({ ...publicInvoice(view.projection!), holds: [] }, { ...projected, holds: [] }, `projection of ${account}`);
    const liveDays = await readDailyUsage(pool, account, days);
    assert.deepEqual(rowKeys(view.days!), rowKeys(liveDays), `days of ${account}`);
  }
}
