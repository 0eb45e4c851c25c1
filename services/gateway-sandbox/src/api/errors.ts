// Stripe's error shape: `{error: {type, code?, decline_code?, message, param?,
// doc_url?, payment_intent?, setup_intent?, payment_method?, charge?}}` with
// the HTTP status the SDK maps to its error classes (400/404 invalid request,
// 401 authentication, 402 card, 403 permission, 409 conflict, 5xx api).
import type { z } from 'zod';
import type { CardFailure } from '../domain/test-cards.ts';

export type ErrorType = 'invalid_request_error' | 'card_error' | 'idempotency_error' | 'api_error';

export interface ErrorBody {
  type: ErrorType;
  message: string;
  code?: string;
  decline_code?: string;
  param?: string;
  doc_url?: string;
  [extra: string]: unknown;
}

/** An answer of the API that is an error; thrown by handlers, sent by the app. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly body: ErrorBody,
  ) {
    super(body.message);
    this.name = 'ApiError';
  }

  toJSON(): { error: ErrorBody } {
    return { error: this.body };
  }
}

const docUrl = (code: string) => `https://stripe.com/docs/error-codes/${code.replace(/_/g, '-')}`;

export function invalidRequest(message: string, extra: Omit<Partial<ErrorBody>, 'type' | 'message'> = {}, status = 400): ApiError {
  const body: ErrorBody = { type: 'invalid_request_error', message, ...extra };
  if (body.code && !body.doc_url) body.doc_url = docUrl(body.code);
  return new ApiError(status, body);
}

/** Stripe's 404 for a path it does not have (the SDK's paymentIntents.search included, here). */
export function unrecognizedUrl(method: string, path: string): ApiError {
  return invalidRequest(
    `Unrecognized request URL (${method}: ${path}). Please see https://stripe.com/docs or we can help at https://support.stripe.com/.`,
    {},
    404,
  );
}

/** 404 `resource_missing`: "No such payment_intent: 'pi_…'". */
export function noSuch(kind: string, id: string, param = 'id'): ApiError {
  return invalidRequest(`No such ${kind}: '${id}'`, { code: 'resource_missing', param }, 404);
}

/** 402 card_error, with the objects Stripe attaches (payment_intent, setup_intent, charge…). */
export function cardError(failure: CardFailure & { param?: string }, attached: Record<string, unknown> = {}): ApiError {
  const body: ErrorBody = { type: 'card_error', code: failure.code, message: failure.message, doc_url: docUrl(failure.code), ...attached };
  if (failure.decline_code) body.decline_code = failure.decline_code;
  if (failure.param) body.param = failure.param;
  return new ApiError(402, body);
}

/** 400 `<kind>_unexpected_state`, carrying the object as Stripe does. */
export function unexpectedState(kind: 'payment_intent' | 'setup_intent', message: string, object: Record<string, unknown>): ApiError {
  return invalidRequest(message, { code: `${kind}_unexpected_state`, [kind]: object });
}

/** 401: no key, or a key the sandbox does not know (shown masked, as Stripe does). */
export function authenticationError(key: string | undefined): ApiError {
  if (key === undefined || key === '') {
    return invalidRequest(
      "You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See https://stripe.com/docs/api#authentication for details, or we can help at https://support.stripe.com/.",
      {},
      401,
    );
  }
  return invalidRequest(`Invalid API Key provided: ${maskKey(key)}`, { code: 'api_key_invalid' }, 401);
}

/** `sk_test_****andbox`: the prefix and the last four characters, as Stripe shows a key. */
export function maskKey(key: string): string {
  const prefix = /^(sk|pk|rk)_(test|live)_/.exec(key)?.[0] ?? '';
  return `${prefix}${'*'.repeat(Math.max(key.length - prefix.length - 4, 4))}${key.slice(-4)}`;
}

/** 403: a publishable key on a route only a secret key may use. */
export function publishableKeyRefused(): ApiError {
  return invalidRequest(
    'This API call cannot be made with a publishable API key. Please use a secret API key. You can find a list of your API keys at https://dashboard.stripe.com/account/apikeys.',
    {},
    403,
  );
}

/**
 * A card number sent with the secret key: Stripe refuses raw card data from
 * servers unless the account was approved for it (402, invalid_request_error).
 */
export function rawCardDataRefused(): ApiError {
  return invalidRequest(
    'Sending credit card numbers directly to the Stripe API is generally unsafe. We suggest you use test tokens that map to the test card you are using, see https://stripe.com/docs/testing. To enable testing raw card data APIs, see https://support.stripe.com/questions/enabling-access-to-raw-card-data-apis.',
    {},
    402,
  );
}

/** Stripe's 500: `api_error`, naming the request (app.ts's error handler; a stored 500 in idempotency.ts). */
export function serverErrorBody(requestId: string): { error: ErrorBody } {
  return { error: { type: 'api_error', message: `An unknown error occurred on our end (request ${requestId}). Please try again.` } };
}

/** `card[number]` from ['card', 'number']: Stripe names params in form notation. */
export function paramName(path: readonly PropertyKey[]): string {
  const [first, ...rest] = path.map(String);
  return `${first ?? ''}${rest.map((p) => `[${p}]`).join('')}`;
}

/** The first zod issue as Stripe's 400: missing, unknown or invalid, naming the param. */
export function paramError(error: z.ZodError, input: unknown): ApiError {
  const at = (path: readonly PropertyKey[]) =>
    path.reduce<unknown>((v, k) => (v && typeof v === 'object' ? (v as Record<PropertyKey, unknown>)[k] : undefined), input);
  const missing = (i: z.core.$ZodIssue) => i.code !== 'unrecognized_keys' && at(i.path) === undefined;
  // Stripe names an unknown parameter first, then a missing one, then a bad value.
  const rank = (i: z.core.$ZodIssue) => (i.code === 'unrecognized_keys' ? 0 : missing(i) ? 1 : 2);
  const issue = [...error.issues].sort((a, b) => rank(a) - rank(b))[0]!;
  if (issue.code === 'unrecognized_keys') {
    const param = paramName([...issue.path, issue.keys[0]!]);
    return invalidRequest(`Received unknown parameter: ${param}`, { code: 'parameter_unknown', param });
  }
  const param = paramName(issue.path);
  if (missing(issue)) {
    return invalidRequest(`Missing required param: ${param}.`, { code: 'parameter_missing', param });
  }
  return invalidRequest(`Invalid ${param}: ${issue.message}`, { code: 'parameter_invalid', param });
}
