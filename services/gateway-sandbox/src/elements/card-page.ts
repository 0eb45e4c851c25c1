// The card fields' iframe document: three labelled inputs, its own script and
// styles (no inline code), and a CSP that lets it talk only to this origin.

/** Any site may frame the fields (as Stripe's); the script talks only to this origin. */
export const CARD_FRAME_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "connect-src 'self'",
  "img-src 'self' data:",
  "form-action 'none'",
  "base-uri 'none'",
  'frame-ancestors *',
].join('; ');

const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
/** The two values are already checked to plain characters; escaped all the same. */
const attr = (value: string) => value.replace(/[&<>"']/g, (c) => ENTITIES[c]!);

export function cardFramePage(params: { key: string; origin: string }): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Card details</title>
<link rel="stylesheet" href="/elements/card.css">
</head>
<body data-key="${attr(params.key)}" data-parent-origin="${attr(params.origin)}">
<form id="card" novalidate>
  <div class="field">
    <label for="card-number">Card number</label>
    <input id="card-number" name="cardnumber" type="text" inputmode="numeric" autocomplete="cc-number"
      placeholder="1234 1234 1234 1234" spellcheck="false" aria-invalid="false" maxlength="23">
  </div>
  <div class="row">
    <div class="field">
      <label for="card-expiry">Expiry <span class="hint">MM / YY</span></label>
      <input id="card-expiry" name="exp-date" type="text" inputmode="numeric" autocomplete="cc-exp"
        placeholder="MM / YY" spellcheck="false" aria-invalid="false" maxlength="7">
    </div>
    <div class="field">
      <label for="card-cvc">CVC</label>
      <input id="card-cvc" name="cvc" type="text" inputmode="numeric" autocomplete="cc-csc"
        placeholder="CVC" spellcheck="false" aria-invalid="false" maxlength="4">
    </div>
  </div>
</form>
<script src="/elements/card.js"></script>
</body>
</html>
`;
}
