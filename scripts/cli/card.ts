import { migrate } from '@vault/db';
import { addTestCard, CardCliError, cardFormAddress, CardUsageError, CC_FORMS_MIGRATIONS, parseTestCardArgs } from '@vault/cc-forms/cli';
import { gatewayClient, gatewayConfig, gatewayTarget, SandboxKeysMissing } from '@vault/gateway';
import { parseCommand, pickSubcommand, UsageError, usageOf } from './command.ts';
import { cliLog, cliSettings, openCliDatabase } from './settings.ts';
import { cardSpec } from './card-spec.ts';

/**
 * `vault card add --account ID [--test-card NUMBER]`: puts one of the sandbox's
 * test cards (4242… by default) on file for the account, as the card form
 * would. The sandbox must be running; a real gateway is refused.
 */
export async function cardCommand(args: string[]): Promise<number> {
  const sub = pickSubcommand(cardSpec, args);
  parseCommand(sub.spec, sub.args);
  let parsed;
  try {
    parsed = parseTestCardArgs(args);
  } catch (err) {
    throw err instanceof CardUsageError ? new UsageError(err.message, usageOf(sub.spec)) : err;
  }
  const settings = cliSettings({ apps: ['cc-forms'] });
  const target = gatewayTarget(settings);
  const db = await openCliDatabase(settings);
  try {
    // The configured keys, else the sandbox's own, from its database (it must have started once).
    const config = await gatewayConfig(target, db.pool);
    await migrate(db.pool, 'cc_forms', CC_FORMS_MIGRATIONS);
    const deps = { pool: db.pool, gateway: gatewayClient(config), config, log: cliLog, cardFormUrl: cardFormAddress(settings) };
    const card = await addTestCard(deps, parsed);
    console.log(`card on file for ${parsed.accountId}: ${card.brand} •••• ${card.last4} (${card.paymentMethodId})`);
    return 0;
  } catch (err) {
    if (err instanceof SandboxKeysMissing) {
      console.error(`vault: card add: ${err.message}`);
      return 1;
    }
    if (!(err instanceof CardCliError)) throw err;
    console.error(`vault: ${err.message}`);
    return 1;
  } finally {
    await db.close();
  }
}
