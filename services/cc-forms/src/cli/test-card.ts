// `vault card add --account ID --test-card NUMBER`: the card form's own two
// server steps with the browser's confirmation done server side. Only against
// the sandbox; the number goes with the publishable key, as the card iframe
// sends it (the sandbox, like Stripe, refuses raw numbers from the secret key,
// and a real card must never pass through a command line).
import { parseArgs } from 'node:util';
import type pg from 'pg';
import { Id } from '@vault/contracts';
import { gatewayClient, Stripe, type Gateway, type GatewayConfig } from '@vault/gateway';
import type { Logger } from '@vault/runtime';
import { finishCardSetup, startCardSetup } from '../cards/service.ts';
import type { CardOnFile } from '../domain/card.ts';
import { sdkCardGateway } from '../cards/gateway.ts';
import { needsAuthenticationMessage } from './needs-authentication.ts';

/** A mistake in the command line (exit 2 with the usage). */
export class CardUsageError extends Error {}
/** The card was not put on file (exit 1). */
export class CardCliError extends Error {}

export interface TestCardArgs {
  accountId: string;
  number: string;
}

const TEST_NUMBER = /^\d{12,19}$/;

export function parseTestCardArgs(args: string[]): TestCardArgs {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      strict: true,
      options: { account: { type: 'string' }, 'test-card': { type: 'string' } },
    });
  } catch (err) {
    throw new CardUsageError(`card: ${(err as Error).message}`);
  }
  const [action, ...extra] = parsed.positionals;
  if (action !== 'add')
    throw new CardUsageError(`card: ${action === undefined ? 'what to do? only' : `unknown action ${action}; only`} add`);
  if (extra.length > 0) throw new CardUsageError(`card: unexpected argument ${extra[0]}`);
  if (parsed.values.account === undefined) throw new CardUsageError('card add: --account ID is required');
  const id = Id.safeParse(parsed.values.account);
  if (!id.success) throw new CardUsageError('card add: --account must be 1 to 128 characters');
  const number = (parsed.values['test-card'] ?? '4242424242424242').replace(/[\s-]/g, '');
  if (!TEST_NUMBER.test(number)) throw new CardUsageError('card add: --test-card must be a sandbox test card number (12 to 19 digits)');
  return { accountId: id.data, number };
}

export interface TestCardDeps {
  pool: pg.Pool;
  gateway: Gateway;
  config: Pick<GatewayConfig, 'url' | 'secretKey' | 'publishableKey' | 'sandbox'>;
  log: Logger;
  /** Where customers open the card form (cardFormAddress), named when a card needs the browser. */
  cardFormUrl?: string;
}

/** Puts a sandbox test card on file for the account, exactly as the form's finish step stores it. */
export async function addTestCard(deps: TestCardDeps, { accountId, number }: TestCardArgs): Promise<CardOnFile> {
  // The sandbox is any gateway but Stripe's API; a live key is refused whatever the address.
  if (!deps.config.sandbox || /^(sk|rk)_live_/.test(deps.config.secretKey)) {
    throw new CardCliError('card add: test cards go only to the sandbox gateway; customers add real cards in the card form');
  }
  // The operator's tool, to the sandbox only: neither customer limit applies.
  const unlimited = Number.MAX_SAFE_INTEGER;
  const cardDeps = {
    pool: deps.pool,
    gateway: sdkCardGateway(deps.gateway),
    log: deps.log,
    attemptsPerHour: unlimited,
    lookupsPerMinute: unlimited,
  };
  const started = await startCardSetup(cardDeps, accountId);
  if (started.kind !== 'started') throw new CardCliError(`card add: ${started.message}`);
  try {
    const browser = gatewayClient({ url: deps.config.url, secretKey: deps.config.publishableKey });
    const pm = await browser.paymentMethods.create({ type: 'card', card: { number, exp_month: 12, exp_year: 2034, cvc: '123' } });
    await deps.gateway.setupIntents.confirm(started.setupIntentId, { payment_method: pm.id });
  } catch (err) {
    // A declined test card is the gateway's answer, not a crash: say what it said.
    if (err instanceof Stripe.errors.StripeCardError) throw new CardCliError(`card add: the gateway declined the card: ${err.message}`);
    throw err;
  }
  const finished = await finishCardSetup(cardDeps, accountId, started.setupIntentId);
  // The gateway waits for the cardholder's challenge: no retry here can answer it.
  if (finished.kind === 'refused' && 'reason' in finished && finished.reason === 'status_requires_action') {
    throw new CardCliError(needsAuthenticationMessage(accountId, deps.cardFormUrl));
  }
  if (finished.kind !== 'saved') throw new CardCliError(`card add: ${finished.message}`);
  return finished.card;
}
