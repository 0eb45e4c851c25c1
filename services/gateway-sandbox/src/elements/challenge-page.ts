// The 3-D Secure test page, as Stripe's test mode shows one: what is being
// authenticated and two buttons, complete or fail. No inline code; a CSP that
// lets only the card form frame it, and forms post only here (and, after a
// redirect, to the merchant's return_url).

const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
const html = (value: string) => value.replace(/[&<>"']/g, (c) => ENTITIES[c]!);

/** Currencies without minor units (Stripe's list, the common ones). */
const ZERO_DECIMAL = new Set([
  'jpy',
  'krw',
  'vnd',
  'clp',
  'isk',
  'ugx',
  'xaf',
  'xof',
  'pyg',
  'rwf',
  'kmf',
  'gnf',
  'djf',
  'bif',
  'mga',
  'vuv',
  'xpf',
]);

/** `52.58 USD` from 5258 usd. */
export function shownAmount(amount: number, currency: string): string {
  const major = ZERO_DECIMAL.has(currency) ? String(amount) : (amount / 100).toFixed(2);
  return `${major} ${currency.toUpperCase()}`;
}

export function challengeCsp(cardFormOrigin: string, returnUrl: string | null): string {
  const returnOrigin = returnUrl === null ? '' : ` ${new URL(returnUrl).origin}`;
  return [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "base-uri 'none'",
    `form-action 'self'${returnOrigin}`,
    `frame-ancestors ${cardFormOrigin}`,
  ].join('; ');
}

function page(title: string, body: string, data: Record<string, string> = {}): string {
  const attrs = Object.entries(data)
    .map(([k, v]) => ` data-${k}="${html(v)}"`)
    .join('');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${html(title)}</title>
<link rel="stylesheet" href="/3d_secure/challenge.css">
</head>
<body${attrs}>
<main>
${body}
</main>
<script src="/3d_secure/challenge.js"></script>
</body>
</html>
`;
}

/** The challenge: `what` says what is authenticated ("a payment of 52.58 USD", "saving the card"). */
export function challengePage(p: { id: string; what: string; last4: string }): string {
  const action = (outcome: string) => `/3d_secure/${encodeURIComponent(p.id)}/${outcome}`;
  return page(
    '3D Secure 2 test page',
    `<h1>3D Secure 2 test page</h1>
<p>This is the payment gateway sandbox's test page for 3D Secure. A real card issuer would ask the cardholder to prove who they are here.</p>
<p>Authenticating ${html(p.what)} with the card ending in ${html(p.last4)}.</p>
<div class="actions">
<form method="post" action="${action('complete')}"><button type="submit" class="complete">Complete authentication</button></form>
<form method="post" action="${action('fail')}"><button type="submit" class="fail">Fail authentication</button></form>
</div>`,
  );
}

/** After the challenge: says how it ended and (challenge.js) tells the framing page, Stripe.js's stand-in. */
export function finishedPage(p: { id: string; outcome: 'succeeded' | 'failed' | 'abandoned'; parentOrigin: string }): string {
  const said = {
    succeeded: 'Authentication complete. You can close this window.',
    failed: 'Authentication failed. You can close this window.',
    abandoned: 'This authentication is no longer needed: the payment was confirmed again or canceled.',
  }[p.outcome];
  return page('3D Secure 2 test page', `<h1>3D Secure 2 test page</h1>\n<p role="status">${said}</p>`, {
    authentication: p.id,
    outcome: p.outcome,
    'parent-origin': p.parentOrigin,
  });
}
