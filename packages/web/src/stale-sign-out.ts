// Sign out pressed on a page whose session has already ended (a tab left open
// past the session's hours, or past a hand-over's end): the browser dropped the
// cookie, or it names a session that is over. There is nothing left to protect,
// so no CSRF token is asked for: the answer is the signed-out page, not "This
// form has expired … nothing was changed", which reads as "still signed in".
import type { CookieReply, CookieRequest, SessionCookie } from './session-cookie.ts';

/**
 * When the request names no live session: clears its cookie, answers 303 to
 * `/`, and returns true. A live session returns false: its sign-out still
 * needs the page's token.
 */
export async function signOutWithoutSession(session: SessionCookie, req: CookieRequest, reply: CookieReply): Promise<boolean> {
  if ((await session.current(req)) !== undefined) return false;
  // Closes nothing live (the id, if any, names a session that is over) and forgets the cookie.
  await session.signOut(req, reply);
  reply.redirect('/', 303);
  return true;
}
