// HTML for server-rendered pages: one escaping rule for every interpolated
// value. No framework: template functions return Html.

const TRUSTED = Symbol('trusted markup');

/** Markup that is already safe: built by `html` (or `trusted` for an app's own constants), never from outside text. */
export class Html {
  readonly #text: string;
  constructor(token: typeof TRUSTED, text: string) {
    if (token !== TRUSTED) throw new TypeError('Html is made by the html tag only');
    this.#text = text;
  }
  toString(): string {
    return this.#text;
  }
}

const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Text made safe for element content and quoted attribute values. */
export function escapeHtml(value: unknown): string {
  return String(value).replace(/[&<>"']/g, (c) => ENTITIES[c]!);
}

export type Interpolated = Html | string | number | null | undefined | false | readonly Interpolated[];

function render(value: Interpolated): string {
  if (value === null || value === undefined || value === false) return '';
  if (value instanceof Html) return value.toString();
  if (Array.isArray(value)) return value.map(render).join('');
  return escapeHtml(value);
}

/**
 * The tagged template every page is written with: each `${value}` is escaped,
 * unless it is Html made by this same tag; arrays are joined; null, undefined
 * and false render nothing.
 */
export function html(strings: TemplateStringsArray, ...values: Interpolated[]): Html {
  let out = strings[0]!;
  values.forEach((v, i) => {
    out += render(v) + strings[i + 1]!;
  });
  return new Html(TRUSTED, out);
}

/**
 * An app's own constant markup or stylesheet, kept as written (a stylesheet's
 * quotes and `>` selectors must not be escaped). Never for text from a request,
 * the database or the gateway.
 */
export function trusted(constant: string): Html {
  return new Html(TRUSTED, constant);
}
