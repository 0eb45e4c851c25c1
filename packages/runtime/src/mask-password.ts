// A boot error's text with DATABASE_URL's password taken out. Replacing every
// occurrence of any password garbled the text when it was short: with `a`,
// "cannot reach PostgreSQL" read "c***nnot re***ch". So the URL's userinfo form
// (`:password@`) is always masked, and the bare password only when it is long
// enough to be a secret; shorter ones are everywhere in ordinary words.

/** A password shorter than this is masked only in the URL's `user:password@` form. */
export const MASK_BARE_PASSWORD_FROM = 4;

export function maskPassword(text: string, databaseUrl: string): string {
  let url: URL;
  try {
    url = new URL(databaseUrl);
  } catch {
    return text;
  }
  const encoded = url.password;
  if (!encoded) return text;
  let password = encoded;
  try {
    password = decodeURIComponent(encoded);
  } catch {
    // As written: the configuration refuses such a URL before anything is reached.
  }
  const forms = [...new Set([encoded, password])];
  let masked = text;
  for (const form of forms) masked = masked.replaceAll(`:${form}@`, ':***@');
  for (const form of forms) if (form.length >= MASK_BARE_PASSWORD_FROM) masked = masked.replaceAll(form, '***');
  return masked;
}
