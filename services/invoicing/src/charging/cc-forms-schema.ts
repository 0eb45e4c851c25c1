// Charging reads cc-forms' published view `cc_forms.cards_on_file` (Payment preconditions), which
// cc-forms' own migration makes at cc-forms' boot. Read before it ran (compose starts the apps at
// once, a fresh deploy), every pass failed `relation "cc_forms.cards_on_file" does not exist` at
// error. Charging alone waits for it (invoices, the web UI and exports read nothing of cc-forms'):
// its passes are skipped, saying so, until the view is there (docs/contracts/invoicing.md,
// "cc-forms' schema"), and `vault charge` refuses naming the migration.
import type pg from 'pg';
import type { Logger } from '@vault/runtime';

/**
 * The last cc-forms migration that changed what charging reads (`cards_on_file`; 007: its card's
 * fingerprint, which blocks a card reported stolen however it is typed in again; 001 made it).
 * Raise it with the next one that changes the view: cc-forms-wait.test.ts fails when a later
 * migration touches it. The view's columns are checked, not its presence: an older view (no
 * fingerprint) is waited for as none, never read.
 */
export const CC_FORMS_NEEDED = '007_card_fingerprints.sql';

/** The view charging reads, as CC_FORMS_NEEDED leaves it (in the transaction that records it applied). */
const VIEW = 'cc_forms.cards_on_file';

type Queryable = pg.Pool | pg.PoolClient;

/** Whether cc-forms' published view is in this database as CC_FORMS_NEEDED leaves it: with the card's fingerprint. */
export async function ccFormsReady(db: Queryable): Promise<boolean> {
  const { rows } = await db.query<{ present: boolean }>(
    `select exists (select 1 from information_schema.columns
                     where table_schema = 'cc_forms' and table_name = 'cards_on_file' and column_name = 'fingerprint') as present`,
  );
  return rows[0]?.present === true;
}

/** cc-forms' latest applied migration, for the message; undefined when its schema is not there. */
async function ccFormsMigration(db: Queryable): Promise<string | undefined> {
  const table = await db.query<{ present: boolean }>(`select to_regclass('cc_forms.schema_migrations') is not null as present`);
  if (!table.rows[0]?.present) return undefined;
  const { rows } = await db.query<{ name: string }>(
    `select name from cc_forms.schema_migrations order by substring(name from '^[0-9]+')::int desc, name desc limit 1`,
  );
  return rows[0]?.name;
}

/** What charging reads of cc-forms' is not in this database yet: no invoice can be charged (nor found without a card). */
export class CcFormsNotReadyError extends Error {
  constructor(readonly applied: string | undefined) {
    super(
      `${applied === undefined ? "cc-forms' schema is not in this database" : `cc-forms' schema in this database is at migration ${applied}, before ${CC_FORMS_NEEDED}`}, ` +
        `and charging reads ${VIEW}, which cc-forms' migration ${CC_FORMS_NEEDED} makes: ` +
        'start cc-forms on the same DATABASE_URL (it applies its migrations at boot), or run `vault migrate`',
    );
  }
}

/** Throws CcFormsNotReadyError unless cc-forms' published view is there. */
export async function requireCcForms(db: Queryable): Promise<void> {
  if (!(await ccFormsReady(db))) throw new CcFormsNotReadyError(await ccFormsMigration(db));
}

/**
 * The charging loop's wait: `ready()` says whether a pass may run. Until the view is there it
 * logs `charging.waiting_for_cc_forms` at once and at most every `logEveryMs`, then
 * `charging.cc_forms_ready` once. At info while cc-forms may just be starting (invoices, pages
 * and exports go on); at warn once it has waited `warnAfterMs`: cc-forms on another database, or
 * not deployed, would otherwise leave every invoice uncharged with nothing above info. Once
 * there, it is not looked at again (migrations do not go back); the pass itself still requires
 * it (requireCcForms).
 */
/** How long cc-forms may take to migrate at a deploy before the wait is said at warn. */
export const WARN_AFTER_MS = 5 * 60_000;

export function ccFormsWait(
  db: Queryable,
  log: Logger,
  { logEveryMs = 30_000, warnAfterMs = WARN_AFTER_MS }: { logEveryMs?: number; warnAfterMs?: number } = {},
): { ready(): Promise<boolean> } {
  let seen = false;
  let since: number | undefined;
  let saidAt: number | undefined;
  return {
    async ready() {
      if (seen) return true;
      const waited = since === undefined ? 0 : Math.round((Date.now() - since) / 1000);
      if (await ccFormsReady(db)) {
        seen = true;
        if (since !== undefined) log.info('charging.cc_forms_ready', { migration: CC_FORMS_NEEDED, waited_s: waited });
        return true;
      }
      since ??= Date.now();
      if (saidAt === undefined || Date.now() - saidAt >= logEveryMs) {
        saidAt = Date.now();
        const applied = await ccFormsMigration(db);
        const said = Date.now() - since >= warnAfterMs ? log.warn : log.info;
        said.call(log, 'charging.waiting_for_cc_forms', {
          migration: CC_FORMS_NEEDED,
          has: applied ?? 'none',
          waited_s: waited,
          reason: new CcFormsNotReadyError(applied).message,
        });
      }
      return false;
    },
  };
}
