import type { CreditBalance, CreditGrantRequest, CreditReversalRequest, HoldList, Invoice } from '@vault/contracts';
import type { ReversalOptions, ReversalOutcome } from './credit-reversal.ts';
import type { GrantOutcome } from './credit-store.ts';
import type { CreditLot } from '../domain/credit.ts';

/** One day of an account's usage, priced before the monthly cap: the usage chart's bar. */
export interface UsageDay {
  /** "2026-10-07" (UTC). */
  day: string;
  /** Amount accrued that day, "1.23" (USD). */
  amount: string;
}

/** How long a run waits for another run's lock: `vault finalize` without a bound, the app's schedule LOOP_LOCK_WAIT_MS. */
export interface FinalizeOptions {
  /** Default: no bound. Past it: a SessionLockTimeoutError (@vault/db), nothing done. */
  lockWaitMs?: number;
}

export interface FinalizeReport {
  period: string;
  finalized: number;
  alreadyFinalized: number;
  held: number;
  /** Sum of the totals of the invoices this run finalized. */
  total: string;
  /** Sum of the credit this run's invoices took from balances. */
  creditApplied: string;
  /** Lots whose expiry passed, written off by this run. */
  creditsExpired: number;
}

/** What the routes, the web UI and the CLI ask of invoicing; implemented in billing.ts. */
export interface Billing {
  /** "YYYY-MM" of the month billing's clock is in. */
  currentPeriod(): string;
  /** The account's draft for a month (this month by default), live up to now; a finalized month gives its invoice. */
  draft(accountId: string, periodKey?: string): Promise<Invoice>;
  /** This month's draft with running usage carried to the month's end: the projected amount. */
  projection(accountId: string): Promise<Invoice>;
  /** Usage per day of a month (this month by default), up to now. */
  usagePerDay(accountId: string, periodKey?: string): Promise<UsageDay[]>;
  /**
   * What the usage page shows of a month, in one read: the draft (or the
   * finalized invoice), the usage per day and, for the current month, the projection.
   */
  usageView(
    accountId: string,
    periodKey?: string,
  ): Promise<{
    draft: Invoice;
    days: UsageDay[];
    projection?: Invoice;
    /** Before the usage horizon: no days, they are archived. */
    archived?: boolean;
  }>;
  /** The account's finalized invoices, newest first. */
  invoices(accountId: string): Promise<Invoice[]>;
  /** One finalized invoice by id. */
  invoice(id: string): Promise<Invoice | undefined>;
  /** Accounts whose invoice for the month is held, and why; only that account's when one is given. */
  holds(periodKey: string, accountId?: string): Promise<HoldList>;
  /** Finalizes the month's due accounts that are not held; idempotent. */
  finalize(periodKey: string, opts?: FinalizeOptions): Promise<FinalizeReport>;
  /** The account's credit balance now: what its next invoices will use. */
  balance(accountId: string): Promise<CreditBalance>;
  /** The lots that balance is made of, each with what is left and when it expires. */
  balanceLots(accountId: string): Promise<CreditLot[]>;
  /** An operator's grant to the account's balance; the same id again changes nothing (GrantRefused: a bad expiry; UnknownAccount). */
  grantCredit(accountId: string, request: CreditGrantRequest): Promise<GrantOutcome>;
  /** Takes back part or all of what is left of a grant, once (ReversalRefused: no such grant, too much; LedgerBusy). */
  reverseCredit(accountId: string, grantId: string, request: CreditReversalRequest, opts?: ReversalOptions): Promise<ReversalOutcome>;
}
