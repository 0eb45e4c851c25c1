// Sign out pressed on an invoice page whose session is already over (the tab
// left open past its 12 hours, or signed out elsewhere): the browser has no
// cookie, or one naming a session that is over. Nothing is left to protect, so
// the answer is the signed-out page, not "This form has expired … nothing was
// changed" (which reads as "still signed in"). A live session still needs the
// page's token.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { ACCOUNT_A, webClient, webWorld, type WebWorld } from './web-fixture.ts';

let world: WebWorld;
before(async () => {
  world = await webWorld();
});
after(async () => {
  await world?.close();
});
const { get, signIn } = webClient(() => world);
const hashOf = (id: string) => createHash('sha256').update(id).digest('hex');

const signOut = (cookie: string | undefined, payload = '_csrf=stale-page-token') =>
  world.http.inject({
    method: 'POST',
    url: '/signout',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...(cookie ? { cookie } : {}) },
    payload,
  });

function assertSignedOutPage(res: Awaited<ReturnType<typeof signOut>>, what: string) {
  assert.equal(res.statusCode, 303, `${what}: ${res.body}`);
  assert.equal(res.headers.location, '/', what);
  assert.match(String(res.headers['set-cookie']), /^vault_session=; Path=\/; HttpOnly; SameSite=Lax; Max-Age=0$/, what);
}

describe('signing out of the invoice pages once the session is over', () => {
  test('no cookie at all (the browser dropped it with the session): the signed-out page, with or without a token', async () => {
    assertSignedOutPage(await signOut(undefined), 'a stale token');
    assertSignedOutPage(await signOut(undefined, ''), 'no token');
  });

  test('a cookie naming a session that expired, or one already ended: the signed-out page, and nothing else is touched', async () => {
    const expired = await signIn(ACCOUNT_A);
    const live = await signIn(ACCOUNT_A);
    await world.db.pool.query(`update invoicing.sessions set expires_at = now() - interval '1 minute' where hash = $1`, [hashOf(expired)]);
    assertSignedOutPage(await signOut(`vault_session=${expired}`), 'expired');
    const ended = await signIn(ACCOUNT_A);
    await world.db.pool.query('delete from invoicing.sessions where hash = $1', [hashOf(ended)]);
    assertSignedOutPage(await signOut(`vault_session=${ended}`, ''), 'ended');
    assert.equal((await get('/invoices', live)).statusCode, 200, 'another session lives on');
  });

  test('a live session without its token is still refused (403) and stays signed in', async () => {
    const id = await signIn(ACCOUNT_A);
    const refused = await signOut(`vault_session=${id}`);
    assert.equal(refused.statusCode, 403);
    assert.match(refused.body, /security token/);
    assert.equal(refused.headers['set-cookie'], undefined);
    assert.equal((await get('/invoices', id)).statusCode, 200, 'still signed in');
  });
});
