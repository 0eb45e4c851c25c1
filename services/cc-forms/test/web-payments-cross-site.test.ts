// Another site navigating a signed-in browser to the authenticate-and-pay page
// (the session cookie is SameSite=Lax, so a top-level GET carries it), in
// process over a real database and a fake gateway: it spends none of the
// account's gateway lookups and asks the gateway nothing; the page's own button,
// and every navigation that is not cross-site, opens the payment as before.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { GATEWAY_LOOKUPS_PER_MINUTE } from '../src/domain/rate-limit.ts';
import { customerWithCard, intentFor } from './payment-fixture.ts';
import { accountToken, handOverLink, SESSION_COOKIE, signIn, world, type Browser, type World } from './world.ts';

let w: World;
let gatewayReads = 0;
before(async () => {
  w = await world();
  // Counts the PaymentIntent reads cc-forms makes with the secret key.
  const read = w.gateway.paymentIntent.bind(w.gateway);
  w.gateway.paymentIntent = async (id) => {
    gatewayReads++;
    return read(id);
  };
});
after(async () => {
  await w?.close();
});

/** Signs in with a card on file and a PaymentIntent of the account's invoice waiting for authentication. */
async function customerWithPayment(accountId: string): Promise<{ b: Browser; token: string; pi: string }> {
  const { b, token, customerId, pm } = await customerWithCard(w, accountId);
  const pi = intentFor(w, accountId, customerId, pm, 'requires_action').id;
  // Saving the card took a lookup of the same budget: a fresh minute.
  await w.db.pool.query('delete from cc_forms.gateway_lookups where account_id = $1', [accountId]);
  return { b, token, pi };
}

/** A top-level navigation with the browser's cookie, as a page of `site` starts it. */
const navigate = (url: string, session: string, site: 'cross-site' | 'same-origin' | 'none') =>
  w.http.inject({
    method: 'GET',
    url,
    headers: { cookie: `${SESSION_COOKIE}=${session}`, 'sec-fetch-site': site, 'sec-fetch-mode': 'navigate' },
  });

const lookups = async (accountId: string) =>
  (await w.db.pool.query('select 1 from cc_forms.gateway_lookups where account_id = $1', [accountId])).rowCount;

/** The continue page's form: a GET of the same payment, from this site. */
const continueForm = (body: string) =>
  /<form method="get" action="(\/payments\/pi_\w+)"><button type="submit" class="primary">Continue to the payment<\/button><\/form>/.exec(
    body,
  )?.[1];

describe('another site navigating a signed-in browser to /payments/<id> (Sec-Fetch-Site: cross-site)', () => {
  test('spends none of the account’s gateway lookups and asks the gateway nothing, made-up ids or its own: a page whose button continues from this site; the payment page still opens', async () => {
    const { b, pi } = await customerWithPayment('acct-cross-site');
    const before = gatewayReads;
    for (let i = 0; i <= GATEWAY_LOOKUPS_PER_MINUTE; i++) {
      const forged = await navigate(`/payments/pi_forged${i}`, b.session, 'cross-site');
      assert.equal(forged.statusCode, 200, `forged navigation ${i + 1}`);
      assert.equal(continueForm(forged.body), `/payments/pi_forged${i}`);
    }
    const own = await navigate(`/payments/${pi}`, b.session, 'cross-site');
    assert.equal(own.statusCode, 200);
    assert.match(own.body, /<h1>Continue to your payment<\/h1>/);
    assert.equal(continueForm(own.body), `/payments/${pi}`);
    assert.doesNotMatch(own.body, /2026-10-000007|52\.58|_secret_|pay\.js/, 'nothing of the payment, no script');
    assert.equal(gatewayReads - before, 0, 'no PaymentIntent read');
    assert.equal(await lookups('acct-cross-site'), 0, 'no lookup counted');
    assert.match(w.log.lines.join('\n'), /event=web\.payment_cross_site account_id=acct-cross-site/);

    // The customer's own navigations: the button (same-origin), a bookmark or typed address (none).
    for (const site of ['same-origin', 'none'] as const) {
      const page = await navigate(`/payments/${pi}?`, b.session, site);
      assert.equal(page.statusCode, 200, site);
      assert.match(page.body, /<h1>Pay invoice 2026-10-000007<\/h1>/);
    }
    const start = await b.postJson(`/payments/${pi}/start`, {});
    assert.equal(start.statusCode, 200);
    assert.match(start.json().client_secret, new RegExp(`^${pi}_secret_`));
    assert.equal(gatewayReads - before, 3);
  });

  test('the hand-over from invoice pages on another site, already signed in here: it goes straight on to the continue page, whose button opens the payment', async () => {
    const { b, token, pi } = await customerWithPayment('acct-cross-site-hand-over');
    const { link } = await handOverLink(w, token);
    // The redirect chain started on the invoice pages' site: every step of it is cross-site.
    const handed = await navigate(
      `/signin?link=${encodeURIComponent(link)}&next=${encodeURIComponent(`/payments/${pi}`)}`,
      b.session,
      'cross-site',
    );
    assert.deepEqual([handed.statusCode, handed.headers.location], [303, `/payments/${pi}`]);
    const landed = await navigate(`/payments/${pi}`, b.session, 'cross-site');
    assert.equal(landed.statusCode, 200);
    const action = continueForm(landed.body)!;
    const page = await navigate(`${action}?`, b.session, 'same-origin');
    assert.equal(page.statusCode, 200);
    assert.match(page.body, /<button type="submit" id="pay-submit">Authenticate and pay \$52\.58<\/button>/);
  });

  test('signed out, it is the sign-in redirect as ever; a malformed id is the 404 page: neither asks the gateway', async () => {
    const before = gatewayReads;
    const signedOut = await w.http.inject({ method: 'GET', url: '/payments/pi_abc', headers: { 'sec-fetch-site': 'cross-site' } });
    assert.deepEqual([signedOut.statusCode, signedOut.headers.location], [303, '/']);
    const b = await signIn(w, await accountToken(w, 'acct-cross-site-malformed'));
    assert.equal((await navigate('/payments/not-an-intent', b.session, 'cross-site')).statusCode, 404);
    assert.equal(gatewayReads - before, 0);
  });
});
