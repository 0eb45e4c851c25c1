// bench:usage's world: this month's usage so far, a token per account (the
// real issueToken), signed-in sessions through the real sign-in pages, and the
// wait for invoicing's aggregate job to fold the queued changes in.
import type { DateTime } from 'luxon';
import type pg from 'pg';
import { createSignInLink } from '../src/access/sign-in-links.ts';
import { issueToken } from '../src/access/tokens.ts';
import { generateMonth, type BenchShape, type MonthWindow } from './data.ts';
import { signInThroughPages, type Client } from './usage-http.ts';

export const accountId = (n: number) => `acct-${String(n).padStart(6, '0')}`;

/** This month from its first instant up to now: the slots spread over it, the last still running. */
export function thisMonthSoFar(now: DateTime): MonthWindow {
  const start = now.toUTC().startOf('month');
  const spanSeconds = Math.floor(now.diff(start, 'seconds').seconds);
  if (spanSeconds < 60) throw new Error(`the month began ${spanSeconds} s ago: run the bench a minute later`);
  return {
    ownedFrom: start.toISO()!,
    firstSlot: start.toISO()!,
    span: `${spanSeconds} seconds`,
    learnedAt: now.toUTC().toISO()!,
    until: now.toUTC().toISO()!,
  };
}

export async function seedThisMonth(pool: pg.Pool, shape: BenchShape, now: DateTime) {
  return generateMonth(pool, shape, thisMonthSoFar(now));
}

/** Runs `work` over `items`, `width` at a time. */
async function inParallel<T, R>(items: readonly T[], width: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < items.length; i = next++) results[i] = await work(items[i]!);
  };
  await Promise.all(Array.from({ length: Math.min(width, items.length) }, worker));
  return results;
}

export interface Credentials {
  /** Account n's bearer token at index n - 1. */
  tokens: string[];
  /** The signed-in sample: which account, and the Cookie header its browser sends. */
  sessions: { accountId: string; cookie: string }[];
}

/**
 * An account token for each of the `accounts`; for `sessions` of them, picked
 * by `random`, a sign-in link made with that token and confirmed through the pages.
 */
export async function credentials(
  pool: pg.Pool,
  client: Client,
  accounts: number,
  sessions: number,
  random: () => number,
): Promise<Credentials> {
  const numbers = Array.from({ length: accounts }, (_, i) => i + 1);
  const issued = await inParallel(numbers, 8, (n) => issueToken(pool, { kind: 'account', accountId: accountId(n) }));
  const sample = new Set<number>();
  while (sample.size < Math.min(sessions, accounts)) sample.add(1 + Math.floor(random() * accounts));
  const signedIn = await inParallel([...sample], 4, async (n) => {
    const link = await createSignInLink(pool, { accountId: accountId(n), tokenId: issued[n - 1]!.id });
    return { accountId: accountId(n), cookie: await signInThroughPages(client, link) };
  });
  return { tokens: issued.map((t) => t.token), sessions: signedIn };
}

/**
 * Waits until metering.usage_changes is empty (invoicing's aggregate job has
 * folded every change in), reporting progress every `everyMs`; the seconds it took.
 */
export async function awaitAggregates(
  pool: pg.Pool,
  options: { timeoutMs: number; everyMs: number; say(line: string): void },
): Promise<number> {
  const t0 = performance.now();
  let lastSaid = t0;
  for (;;) {
    const { rows } = await pool.query<{ n: string }>('select count(*) as n from metering.usage_changes');
    const waiting = Number(rows[0]!.n);
    const elapsed = performance.now() - t0;
    if (waiting === 0) return elapsed / 1000;
    if (elapsed > options.timeoutMs) {
      throw new Error(
        `the aggregates were not built within ${options.timeoutMs / 1000} s: ${waiting} changes still queued in metering.usage_changes ` +
          '(is invoicing’s aggregate job running? --no-wait-aggregates measures without waiting)',
      );
    }
    if (performance.now() - lastSaid >= options.everyMs) {
      options.say(`bench: aggregates: ${waiting.toLocaleString('en')} changes queued after ${(elapsed / 1000).toFixed(0)} s…`);
      lastSaid = performance.now();
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}
