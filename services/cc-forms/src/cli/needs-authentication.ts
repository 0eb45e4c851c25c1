// A test card that needs 3-D Secure on setup (4000002500003155, …) stops at `requires_action`: only the
// cardholder, in the card form's browser page, can complete the challenge. The browser's refusal ("please
// try again") would send the operator round in circles, so the command names the card form instead.
import type { CcFormsSettings } from '../config.ts';

/** The card form's address, as invoicing links to it: CC_FORMS_URL, else http://localhost:CC_FORMS_PORT. */
export function cardFormAddress(settings: Pick<CcFormsSettings, 'CC_FORMS_URL' | 'CC_FORMS_PORT'>): string {
  return (settings.CC_FORMS_URL ?? `http://localhost:${settings.CC_FORMS_PORT}`).replace(/\/$/, '');
}

/** What `vault card add` says of such a card: why it cannot, that nothing was saved, and the way that can. */
export function needsAuthenticationMessage(accountId: string, cardFormUrl: string | undefined): string {
  const where = cardFormUrl ? `${cardFormUrl}/signin?link=…` : "the card form's address (CC_FORMS_URL)";
  return (
    'card add: this card needs 3-D Secure authentication, which only the card form in a browser can complete, ' +
    'not the command line. Nothing was saved. To add it, run `vault token create --account ' +
    `${accountId}\`, open the sign-in link it prints on the card form (${where}) and enter the card there.`
  );
}
