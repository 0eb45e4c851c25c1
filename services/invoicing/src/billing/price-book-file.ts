import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { PriceBook } from '@vault/contracts';

/** The price book the project ships (a copy of shared/spec/price-book.json). */
export const DEFAULT_PRICE_BOOK = fileURLToPath(new URL('../../data/price-book.json', import.meta.url));

const READ_ERRORS: Record<string, string> = {
  ENOENT: 'no such file',
  EACCES: 'permission denied',
  EISDIR: 'a directory, not a file',
};

/** A price book that cannot be used: names PRICE_BOOK, the variable that points at it. */
export class PriceBookError extends Error {
  readonly variable = 'PRICE_BOOK';
}

/** Reads and checks a price book file (`PRICE_BOOK`, else the default); the error names the file and the field. */
export function loadPriceBook(path: string = DEFAULT_PRICE_BOOK): PriceBook {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new PriceBookError(`price book ${path}: ${READ_ERRORS[code ?? ''] ?? (err as Error).message}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new PriceBookError(`price book ${path}: not JSON (${(err as Error).message})`);
  }
  const parsed = PriceBook.safeParse(value);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new PriceBookError(`price book ${path}: ${issues.join('; ')}`);
  }
  return parsed.data;
}
