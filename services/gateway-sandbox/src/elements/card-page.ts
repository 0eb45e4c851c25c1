// The card fields' iframe document: three labelled inputs, its own script and
// styles (no inline code), and a CSP that lets it talk only to this origin and
// be framed only by the card form's.

/**
 * Only the card form's origin (CC_FORMS_URL) may frame the fields: a page of
 * any other site that frames them is refused by the browser. The script talks
 * only to this origin.
 */
export function cardFrameCsp(cardFormOrigin: string): string {
  return [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "connect-src 'self'",
    "img-src 'self' data:",
    "form-action 'none'",
    "base-uri 'none'",
    `frame-ancestors ${cardFormOrigin}`,
  ].join('; ');
}

const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
/** The key is checked to plain characters and the origin is configuration; escaped all the same. */
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
