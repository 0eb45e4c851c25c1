// An account as invoicing knows it: its standing (suspended or not, and the
// invoices past due) and its billing contact, where the customer's emails go.
// Admin only: neither route is in INVOICING_REACH, so other tokens are refused
// before these run.
import type { FastifyInstance } from 'fastify';
import type pg from 'pg';
import { z } from 'zod';
import { AccountContactRequest, AccountStanding } from '@vault/contracts';
import { carryable } from '../billing/credit-store.ts';
import { minimumChargeAmount } from '../charging/amount.ts';
import type { InvoicingDeps } from '../deps.ts';

const AccountParams = z.object({ account_id: z.string().min(1).max(128) });

/**
 * The account's standing and contact; undefined when invoicing knows nothing of it. `minimum`:
 * the gateway's smallest charge ("0.50"), below which finalize carries an invoice: such an
 * invoice is `to_carry`, never `past_due`, as the standing review reads it (standing.ts).
 */
export async function readAccount(db: pg.Pool | pg.PoolClient, accountId: string, minimum: string): Promise<AccountStanding | undefined> {
  const { rows } = await db.query<{
    suspended_at: Date | null;
    reinstated_at: Date | null;
    email: string | null;
    known: boolean;
  }>(
    `select s.suspended_at, s.reinstated_at, k.email,
            (s.account_id is not null or k.account_id is not null
             or exists (select 1 from invoicing.invoices i where i.account_id = $1)) as known
       from (select $1::text as account_id) a
       left join invoicing.account_standing s on s.account_id = a.account_id
       left join invoicing.account_contacts k on k.account_id = a.account_id`,
    [accountId],
  );
  const r = rows[0]!;
  if (!r.known) return undefined;
  // One rule with the standing review and finalize (`carryable`): a past-due invoice it carries is not past due.
  const owed = await db.query<{ invoice_id: string; number: string; total: string; since: Date | null; carry: boolean }>(
    `select i.id as invoice_id, i.number, i.total::text as total, c.past_due_at as since, ${carryable('$2')} as carry
       from invoicing.invoices i left join invoicing.charges c on c.invoice_id = i.id
      where i.account_id = $1 and (i.status = 'past_due' or ${carryable('$2')})
      order by c.past_due_at nulls last, i.number`,
    [accountId, minimum],
  );
  const entry = ({ carry: _, ...p }: (typeof owed.rows)[number]) => ({ ...p, since: p.since?.toISOString() ?? null });
  return {
    account_id: accountId,
    standing: r.suspended_at ? 'suspended' : 'active',
    suspended_at: r.suspended_at?.toISOString() ?? null,
    reinstated_at: r.reinstated_at?.toISOString() ?? null,
    past_due: owed.rows.filter((p) => !p.carry).map(entry),
    to_carry: owed.rows.filter((p) => p.carry).map(entry),
    email: r.email,
  };
}

/** The billing contact of an account, or undefined. */
export async function contactOf(db: pg.Pool | pg.PoolClient, accountId: string): Promise<string | undefined> {
  const { rows } = await db.query<{ email: string }>('select email from invoicing.account_contacts where account_id = $1', [accountId]);
  return rows[0]?.email;
}

export function accountRoutes(app: FastifyInstance, { pool, log, prices }: Pick<InvoicingDeps, 'pool' | 'log' | 'prices'>): void {
  // The minimum finalize carries below, as the standing review reads it (main.ts).
  const minimum = minimumChargeAmount(prices.currency);
  app.get('/v1/accounts/:account_id', async (req, reply) => {
    const params = AccountParams.safeParse(req.params);
    const account = params.success ? await readAccount(pool, params.data.account_id, minimum) : undefined;
    if (!account) return reply.code(404).send({ error: 'not found' });
    return AccountStanding.parse(account);
  });

  app.put('/v1/accounts/:account_id/contact', async (req, reply) => {
    const params = AccountParams.safeParse(req.params);
    if (!params.success) return reply.code(404).send({ error: 'not found' });
    const body = AccountContactRequest.safeParse(req.body ?? {});
    if (!body.success) {
      const fields = body.error.issues.map((i) => ({
        field: i.path.join('.') || ('keys' in i ? (i.keys as string[]).join(',') : 'body'),
        message: i.message,
      }));
      return reply.code(400).send({ error: `invalid body: ${fields.map((f) => `${f.field}: ${f.message}`).join('; ')}`, fields });
    }
    const accountId = params.data.account_id;
    await pool.query(
      `insert into invoicing.account_contacts (account_id, email) values ($1, $2)
       on conflict (account_id) do update set email = excluded.email, updated_at = now()`,
      [accountId, body.data.email],
    );
    // The address is the customer's: it is not logged.
    log.info('account.contact_set', { account_id: accountId, 'count#accounts.contact_set': 1 });
    return { account_id: accountId, email: body.data.email };
  });
}
