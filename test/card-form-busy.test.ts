// The card form when the database is busy, in a real Chromium with the gateway sandbox and cc-forms
// as processes (cc-forms' statement limit 300 ms): the setup intent's post is stopped behind a lock
// on cc_forms.sessions held by the test, and the alert shows the server's busy words (cc-forms'
// `{error: {code: database_busy, message}}`), not the form's generic "could not be saved".
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { eventually } from '@vault/testkit';
import { DATABASE_BUSY_MESSAGE, FALLBACK_MESSAGE } from '../services/cc-forms/src/domain/messages.ts';
import { type CardForm, signInToCard, startCardForm, typeCard } from './card-form-fixture.ts';

const ACCOUNT = 'acct-card-busy';

let cardForm: CardForm;

before(async () => {
  cardForm = await startCardForm('card_busy', {
    INVOICING_WEB_URL: 'http://billing.example.test',
    ADMIN_TOKEN: 'card-busy-admin-token-0123456789abcdef0',
    DATABASE_STATEMENT_TIMEOUT_MS: '300',
  });
});

after(async () => {
  await cardForm?.close();
});

describe('the card form when the database is busy (Chromium)', { timeout: 180_000 }, () => {
  test("the alert shows the server's busy words (503 database_busy), not the form's generic fallback", async () => {
    const { db, ccForms, page } = cardForm;
    await signInToCard(cardForm, ACCOUNT);
    await typeCard(cardForm, '4242424242424242');

    // The sessions table locked by a session of the test's own: the post's session lookup stops at the limit.
    const holder = new pg.Client({ connectionString: db.url });
    await holder.connect();
    await holder.query('begin');
    await holder.query('lock table cc_forms.sessions in access exclusive mode');
    try {
      const started = page.waitForResponse((res) => res.url() === `${ccForms.url}/card/setup-intents`);
      await page.getByRole('button', { name: 'Save card' }).click();
      const answer = await started;
      assert.equal(answer.status(), 503);
      assert.equal(answer.headers()['retry-after'], '5');
      const alert = page.getByRole('alert');
      await eventually('the alert', async () => (await alert.innerText()).length > 0);
      assert.equal(await alert.innerText(), DATABASE_BUSY_MESSAGE);
      assert.notEqual(await alert.innerText(), FALLBACK_MESSAGE);
    } finally {
      await holder.query('rollback');
      await holder.end();
    }
  });
});
