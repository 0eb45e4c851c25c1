import { addTestCard, cardOnFile } from '@vault/cc-forms/cli';
import { migrate } from '@vault/db';
import { gatewayClient, gatewayConfig, gatewayTarget } from '@vault/gateway';
import { APPS } from './apps.ts';
import type { DemoContext } from './demo.ts';

/**
 * The demo's cards on file, through the card form's own steps against the
 * sandbox: the demo account pays with 4242; the second account's card is
 * declined at every charge (0341 attaches, then fails) so it ends past_due;
 * the third has no card at all; the rest pay with 4242.
 */
export async function addDemoCards(ctx: DemoContext, accounts: string[], demoAccount: string): Promise<void> {
  const target = gatewayTarget(ctx.settings);
  if (!target.sandbox) {
    ctx.log.info('demo.cards_skipped', { reason: 'the gateway is not the sandbox' });
    return;
  }
  // The sandbox started beside the demo has published its keys by now (unless they are configured).
  const config = await gatewayConfig(target, ctx.db.pool, { waitMs: 30_000 });
  // A card is checked against invoicing's blocked cards (its migration 034), and invoicing starts only after
  // this phase: its migrations now (idempotent, under its lock; metering's, whose views it reads, are in), or
  // every fresh demo saved its cards unchecked and said so at warn (card.blocked_check_unavailable).
  const invoicing = APPS.find((a) => a.name === 'invoicing')!;
  await migrate(ctx.db.pool, invoicing.schema, invoicing.migrations);
  const gateway = gatewayClient(config);
  const others = accounts.filter((a) => a !== demoAccount);
  const plan: [string, string | undefined][] = [
    [demoAccount, '4242424242424242'],
    ...others.map((a, i): [string, string | undefined] => [a, i === 0 ? '4000000000000341' : i === 1 ? undefined : '4242424242424242']),
  ];
  // A resumed load keeps the cards it already put on file (a new one would be a new payment method).
  for (const [accountId, number] of plan) {
    if (!number || (await cardOnFile(ctx.db.pool, accountId))) continue;
    const card = await addTestCard({ pool: ctx.db.pool, gateway, config, log: ctx.log }, { accountId, number });
    ctx.out(`demo: card on file for ${accountId}: ${card.brand} •••• ${card.last4}`);
  }
}
