// Strong customer authentication (3-D Secure) in test mode: whether a card
// must be authenticated for a confirmation, and Stripe's errors when it is
// not or when the cardholder fails the challenge. Pure: no I/O.
import type { CardBehaviour, CardFailure } from './test-cards.ts';

/** How a card is being used: saved (SetupIntent), paid with the customer present, or charged without them. */
export type UseOfCard = 'setup' | 'on_session' | 'off_session';

/**
 * `proceed`: no authentication needed; `challenge`: the cardholder must
 * authenticate (requires_action); `refuse`: off-session, nobody can
 * authenticate, so the payment fails with authentication_required.
 */
export type AuthenticationDecision = 'proceed' | 'challenge' | 'refuse';

/** `setUp`: the card was saved for off-session use after authenticating (a SetupIntent, or setup_future_usage). */
export function authenticationDecision(behaviour: CardBehaviour, use: UseOfCard, setUp: boolean): AuthenticationDecision {
  if (behaviour !== 'authenticate_unless_set_up' && behaviour !== 'authenticate_always') return 'proceed';
  if (use !== 'off_session') return 'challenge';
  return behaviour === 'authenticate_unless_set_up' && setUp ? 'proceed' : 'refuse';
}

/** The 402 of an off-session confirm that needs the cardholder (Stripe's code and decline code). */
export const AUTHENTICATION_REQUIRED: CardFailure = {
  code: 'authentication_required',
  decline_code: 'authentication_required',
  message: 'Your card was declined. This transaction requires authentication.',
};

/** `last_payment_error` / `last_setup_error` when the cardholder fails (or abandons) the challenge. */
export function authenticationFailure(kind: 'payment_intent' | 'setup_intent'): {
  type: 'invalid_request_error';
  code: string;
  message: string;
} {
  return kind === 'payment_intent'
    ? {
        type: 'invalid_request_error',
        code: 'payment_intent_authentication_failure',
        message:
          'The provided PaymentMethod has failed authentication. You can provide payment_method_data or a new PaymentMethod to attempt to fulfill this PaymentIntent again.',
      }
    : {
        type: 'invalid_request_error',
        code: 'setup_intent_authentication_failure',
        message:
          'The latest attempt to set up the payment method has failed because authentication failed. You can provide payment_method_data or a new PaymentMethod to attempt to set up the payment method again.',
      };
}
