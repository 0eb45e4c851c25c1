// Issue 17: money is conserved. fast-check drives random months of usage
// (small amounts, long and open intervals), late charges and late stops,
// grants that may expire, reversals of grants (part or all of what is left,
// or more, refused), and payments, refunds and chargebacks (withdrawn,
// maybe reinstated, delivered in any order: conservation-payments.ts) through
// the real finalize, ledger and webhook code on the real PostgreSQL, and after
// every step checks, exactly, the identity of docs/contracts/invoicing.md
// ("Credits") for the account:
//   billed + balance + expired = asked + granted
// with granted = Σ grants − Σ reversed, billed = Σ subtotal − Σ carried lines, asked = Σ total of invoices not
// carried = received + refunded + disputed + owed, where received is what the
// gateway's movements left with us (paid − refunded − withdrawn + reinstated);
// and that every finalized total is ≥ 0 and is max(subtotal, 0) −
// credit_applied; and that a refund or chargeback of a month and the late
// credits to it carried after never give back more than the month charged
// ("Late credits after a refund or chargeback"). Each run has its own account
// and its own months, so runs never see each other's invoices.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Decimal } from 'decimal.js';
import fc from 'fast-check';
import { DateTime } from 'luxon';
import { memoryLogger } from '@vault/runtime';
import type { TestDatabase } from '@vault/testkit';
import { createBilling } from '../src/billing/service.ts';
import { loadPriceBook } from '../src/billing/price-book-file.ts';
import { ReversalRefused } from '../src/billing/credit-reversal.ts';
import { amountDisputedSql } from '../src/charging/dispute-sums.ts';
import { type Moved, nothingMoved, payOne, paymentArb } from './conservation-payments.ts';
import { billingDatabase, seedOwners, seedStop, seedUsage } from './seed.ts';

const RUNS = Number(process.env.CONSERVATION_RUNS ?? 200);
const MONTHS = 3;
const RUNS_PER_DATABASE = 15;
const HOUR = 3_600_000;
const prices = loadPriceBook();

const usageArb = fc.record({
  product: fc.constantFrom('dyno:basic', 'dyno:standard-1x', 'addon:heroku-redis:mini', 'dyno:performance-m'),
  startHour: fc.integer({ min: 0, max: 27 * 24 }),
  // Mostly short (small amounts), sometimes longer than a month (capped lines).
  hours: fc.oneof(fc.integer({ min: 1, max: 60 }), fc.integer({ min: 1, max: 45 * 24 })),
  open: fc.boolean(),
  // When an open interval's stop is learned late: hours after its start.
  lateStopHours: fc.option(fc.integer({ min: 1, max: 40 * 24 }), { nil: undefined }),
});
type UsagePlan = typeof usageArb extends fc.Arbitrary<infer T> ? T : never;
const monthArb = fc.record({
  usage: fc.array(usageArb, { maxLength: 3 }),
  lateCharges: fc.array(usageArb, { maxLength: 1 }),
  grants: fc.array(
    fc.record({
      cents: fc.integer({ min: 1, max: 4000 }),
      expiresInHours: fc.option(fc.integer({ min: 1, max: 60 * 24 }), { nil: undefined }),
    }),
    { maxLength: 2 },
  ),
  // A reversal of one of the run's grants so far (`pick` modulo their number): an amount, maybe more than is left, or all that is left.
  reversal: fc.option(fc.record({ pick: fc.nat(), cents: fc.option(fc.integer({ min: 1, max: 4000 }), { nil: undefined }) }), {
    nil: undefined,
  }),
  payment: fc.option(paymentArb, { nil: undefined }),
});
const planArb = fc.array(monthArb, { minLength: MONTHS, maxLength: MONTHS });

interface Figures {
  [name: string]: string;
}

describe('money is conserved (fast-check over the real database)', () => {
  let db: TestDatabase;
  let run = 0;
  before(async () => {
    db = await billingDatabase();
  });
  after(() => db?.drop());

  /** The identity's terms for one account, summed by PostgreSQL (exact numerics). */
  async function figures(account: string, at: Date): Promise<Figures> {
    const { rows } = await db.pool.query<Figures>(
      `select
         (select coalesce(sum(subtotal), 0) from invoicing.invoices where account_id = $1)::text as subtotals,
         (select coalesce(sum(l.amount), 0) from invoicing.invoice_lines l join invoicing.invoices i on i.id = l.invoice_id
           where i.account_id = $1 and l.kind = 'carried')::text as carried_lines,
         (select coalesce(sum(total), 0) from invoicing.invoices where account_id = $1 and status = 'carried')::text as carried_totals,
         (select coalesce(sum(total), 0) from invoicing.invoices where account_id = $1 and status <> 'carried')::text as asked,
         (select coalesce(sum(total - amount_refunded - ${amountDisputedSql('i')}::numeric), 0) from invoicing.invoices i
           where account_id = $1 and status in ('paid', 'refunded'))::text as received,
         (select coalesce(sum(amount_refunded), 0) from invoicing.invoices where account_id = $1)::text as refunded,
         (select coalesce(sum(${amountDisputedSql('i')}::numeric), 0) from invoicing.invoices i where account_id = $1)::text as disputed,
         (select coalesce(sum(total), 0) from invoicing.invoices where account_id = $1 and status in ('finalized', 'past_due'))::text as owed,
         (select coalesce(sum(credit_applied), 0) from invoicing.invoices where account_id = $1)::text as credit_applied,
         (select coalesce(sum(greatest(-subtotal, 0)), 0) from invoicing.invoices where account_id = $1)::text as negative_subtotals,
         (select coalesce(sum(amount), 0) from invoicing.credit_entries where account_id = $1 and kind in ('grant', 'reversal'))::text as granted,
         (select coalesce(sum(amount), 0) from invoicing.credit_entries where account_id = $1 and kind = 'invoice_remainder')::text as remainders,
         (select coalesce(sum(-amount), 0) from invoicing.credit_entries where account_id = $1 and kind = 'applied')::text as applied,
         (select coalesce(sum(-amount), 0) from invoicing.credit_entries where account_id = $1 and kind = 'expired')::text
           || ' ' || (select coalesce(sum(remaining), 0) from invoicing.credit_lots where account_id = $1 and expires_at <= $2)::text as expired,
         (select count(*) from invoicing.invoices where account_id = $1 and (total < 0 or total <> greatest(subtotal, 0) - credit_applied
           or amount_refunded > total))::text as bad_invoices,
         (select count(*) from invoicing.credit_lots where account_id = $1 and remaining < 0)::text as overdrawn_lots`,
      [account, at],
    );
    return rows[0]!;
  }

  async function checkIdentity(
    account: string,
    at: DateTime,
    billing: ReturnType<typeof createBilling>,
    moved: Moved,
    step: string,
  ): Promise<void> {
    const f = await figures(account, at.toJSDate());
    const d = (s: string) => new Decimal(s);
    const [expiredRecorded, expiredPending] = f.expired!.split(' ').map(d) as [Decimal, Decimal];
    const expired = expiredRecorded.plus(expiredPending);
    const balance = d((await billing.balance(account)).credit);
    const billed = d(f.subtotals!).minus(f.carried_lines!);
    const ctx = `${step}: ${JSON.stringify({ ...f, balance: balance.toFixed(2) })}`;
    assert.equal(f.bad_invoices, '0', `every total ≥ 0, = max(subtotal, 0) − credit_applied, refunds ≤ total; ${ctx}`);
    assert.equal(f.overdrawn_lots, '0', `no lot is drawn below zero; ${ctx}`);
    assert.ok(d(f.carried_lines!).equals(f.carried_totals!), `each carried total appears once as a carried line; ${ctx}`);
    // What the gateway moved, from the test's own record of it (minor units: USD cents).
    const cents = (n: number) => new Decimal(n).div(100);
    const kept = cents(moved.paid - moved.refunded - moved.withdrawn + moved.reinstated);
    const model = `gateway moved ${JSON.stringify(moved)} cents`;
    assert.ok(d(f.received!).equals(kept), `received = paid − refunded − withdrawn + reinstated at the gateway; ${model}; ${ctx}`);
    assert.ok(d(f.refunded!).equals(cents(moved.refunded)), `refunded = the gateway's refunds; ${model}; ${ctx}`);
    assert.ok(d(f.disputed!).equals(cents(moved.withdrawn - moved.reinstated)), `disputed = withdrawn − reinstated; ${model}; ${ctx}`);
    assert.ok(
      d(f.asked!).equals(d(f.received!).plus(f.refunded!).plus(f.disputed!).plus(f.owed!)),
      `asked = received + refunded + disputed + owed; ${ctx}`,
    );
    assert.ok(
      billed.plus(balance).plus(expired).equals(d(f.asked!).plus(f.granted!)),
      `billed + balance + expired = asked + granted; ${ctx}`,
    );
    assert.ok(d(f.credit_applied!).equals(f.applied!), `the invoices' credit_applied is the ledger's applied entries; ${ctx}`);
    assert.ok(d(f.negative_subtotals!).equals(f.remainders!), `a negative subtotal is a remainder in the ledger; ${ctx}`);
    assert.ok(balance.gte(0), ctx);
  }

  /**
   * A month refunded or charged back (by payOne) is credited late, on an invoice finalized after
   * that, only while it still keeps what it charged: those credits are none, or the month charges
   * now (its usage lines and every adjustment to it) at least what was given back of its invoice.
   * `givenBack`: each such invoice, with the account's invoice numbers before the payment.
   */
  async function checkGivenBack(givenBack: ReadonlyMap<string, readonly string[]>, step: string): Promise<void> {
    for (const [id, before] of givenBack) {
      const { rows } = await db.pool.query<Figures>(
        `select i.period, i.amount_refunded::text as refunded, ${amountDisputedSql('i')} as disputed,
                (select coalesce(sum(l.amount), 0) from invoicing.invoices j join invoicing.invoice_lines l on l.invoice_id = j.id
                  where j.account_id = i.account_id
                    and ((j.id = i.id and l.kind in ('dyno', 'addon')) or (l.kind = 'adjustment' and l.adjusts = i.period)))::text as charged,
                (select coalesce(sum(-l.amount), 0) from invoicing.invoices j join invoicing.invoice_lines l on l.invoice_id = j.id
                  where j.account_id = i.account_id and l.kind = 'adjustment' and l.adjusts = i.period and l.amount < 0
                    and j.number <> all($2::text[]))::text as credited_after
           from invoicing.invoices i where i.id = $1`,
        [id, before],
      );
      const f = rows[0]!;
      const back = new Decimal(f.refunded!).plus(f.disputed!);
      assert.ok(
        new Decimal(f.credited_after!).isZero() || new Decimal(f.charged!).gte(back),
        `a late credit after a refund or chargeback never gives back more than the month charged; ${step}: ${JSON.stringify(f)}`,
      );
    }
  }

  test(`over ${RUNS} random runs of ${MONTHS} months, billed + balance + expired = asked + granted after every step, and no finalized total is negative`, async () => {
    await fc.assert(
      fc.asyncProperty(planArb, async (plan) => {
        run += 1;
        // A fresh database every RUNS_PER_DATABASE runs: finalize looks for late usage among
        // everything learned lately, which in a test minutes long is every run's usage.
        if (run % RUNS_PER_DATABASE === 0) {
          await db.drop();
          db = await billingDatabase();
        }
        const account = `cons-${run}`;
        const app = `cons-app-${run}`;
        // Months of their own: run n starts in 2001 + 4n months.
        const first = DateTime.utc(2001, 1, 1).plus({ months: (MONTHS + 1) * run });
        const month = (m: number) => first.plus({ months: m });
        let clock = first;
        const billing = createBilling({ pool: db.pool, prices, graceHours: 72, now: () => clock });
        const moved = nothingMoved();
        const givenBack = new Map<string, string[]>();
        const gateway = { pool: db.pool, log: memoryLogger(), nowMs: () => clock.toMillis() };
        await seedOwners(db.pool, [{ app, account, from: first.toISO()! }]);
        const open: { key: string; from: number; lateStopHours?: number }[] = [];
        const grantIds: string[] = [];
        let key = 0;
        const seed = async (m: number, u: readonly UsagePlan[]) => {
          for (const x of u) {
            key += 1;
            const from = month(m).toMillis() + x.startHour * HOUR;
            const product = x.product;
            const kind = product.startsWith('dyno:') ? ('dyno' as const) : ('addon' as const);
            const span = { app, kind, key: `k${key}`, product, from: new Date(from).toISOString() };
            if (x.open) {
              await seedUsage(db.pool, [span]);
              open.push({ key: `k${key}`, from, lateStopHours: x.lateStopHours });
            } else {
              await seedUsage(db.pool, [{ ...span, to: new Date(from + x.hours * HOUR).toISOString() }]);
            }
          }
        };
        for (let m = 0; m < MONTHS; m++) await seed(m, plan[m]!.usage);
        /** Reverses `cents` (all that is left when undefined) of a grant: taken as the ledger says what is left, else refused. */
        const reverseOne = async (grantId: string, cents: number | undefined) => {
          const { rows } = await db.pool.query<{ left: string; reversed: boolean }>(
            `select case when l.expires_at <= $2 then 0 else l.remaining end::text as left,
                    exists (select 1 from invoicing.credit_entries r where r.lot_id = l.id and r.kind = 'reversal') as reversed
               from invoicing.credit_lots l join invoicing.credit_entries g on g.id = l.id where g.grant_id = $1`,
            [grantId, clock.toJSDate()],
          );
          const { left, reversed } = rows[0]!;
          const amount = cents === undefined ? undefined : new Decimal(cents).div(100).toFixed(2);
          const asked = { reason: 'property', ...(amount === undefined ? {} : { amount }) };
          const tooMuch = new Decimal(left).lte(0) || (amount !== undefined && new Decimal(amount).gt(left));
          try {
            const r = await billing.reverseCredit(account, grantId, asked);
            assert.ok(reversed ? r.outcome !== 'created' : r.outcome === 'created' && !tooMuch, `${grantId}: ${r.outcome}, ${left} left`);
            if (!reversed) assert.equal(r.reversal.amount, amount ?? new Decimal(left).toFixed(2));
          } catch (err) {
            if (!(err instanceof ReversalRefused)) throw err;
            assert.ok(!reversed && tooMuch && err.field === 'amount', `${grantId}: refused ${err.message}, ${left} left`);
          }
        };

        for (let s = 1; s <= MONTHS + 1; s++) {
          clock = month(s).plus({ days: 4 });
          await billing.finalize(month(s - 1).toFormat('yyyy-MM'));
          await checkIdentity(account, clock, billing, moved, `run ${run} after finalizing month ${s - 1}`);
          await checkGivenBack(givenBack, `run ${run} after finalizing month ${s - 1}`);
          const step = plan[s - 1];
          if (!step || s === MONTHS + 1) continue;
          // Late news of finalized months: a charge in the month just finalized, and stops of open intervals.
          await seed(s - 1, step.lateCharges);
          for (const o of open.filter((x) => x.lateStopHours !== undefined)) {
            await seedStop(db.pool, app, o.key, new Date(o.from + o.lateStopHours! * HOUR).toISOString());
          }
          open.splice(0, open.length, ...open.filter((x) => x.lateStopHours === undefined));
          for (const [i, g] of step.grants.entries()) {
            const expires = g.expiresInHours === undefined ? {} : { expires_at: clock.plus({ hours: g.expiresInHours }).toISO()! };
            const amount = new Decimal(g.cents).div(100).toFixed(2);
            const granted = await billing.grantCredit(account, { id: `g-${run}-${s}-${i}`, amount, reason: 'property', ...expires });
            assert.equal(granted.outcome, 'created');
            grantIds.push(`g-${run}-${s}-${i}`);
          }
          if (step.reversal && grantIds.length > 0) await reverseOne(grantIds[step.reversal.pick % grantIds.length]!, step.reversal.cents);
          if (step.payment) {
            const numbers = async () =>
              (await db.pool.query<{ number: string }>('select number from invoicing.invoices where account_id = $1', [account])).rows.map(
                (r) => r.number,
              );
            const before = await numbers();
            await payOne(gateway, account, step.payment, moved);
            const { rows } = await db.pool.query<{ id: string }>(
              `select i.id from invoicing.invoices i where i.account_id = $1
                  and (i.amount_refunded > 0 or exists (select 1 from invoicing.invoice_disputes d where d.invoice_id = i.id))`,
              [account],
            );
            for (const r of rows) if (!givenBack.has(r.id)) givenBack.set(r.id, before);
          }
          await checkIdentity(account, clock, billing, moved, `run ${run} after the late news, grants and payment of step ${s}`);
        }
        // What still runs stops after the run's last finalized month, so later runs' months never bill it.
        for (const o of open) await seedStop(db.pool, app, o.key, month(MONTHS + 1).toISO()!);
      }),
      { numRuns: RUNS },
    );
  });
});
