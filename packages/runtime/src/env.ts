import { existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';

/**
 * Reads `.env` into process.env when the file exists. Variables already in the
 * environment win: the real environment is the configuration, `.env` only
 * fills in for development.
 */
export function loadDotEnv(path = resolve(process.cwd(), '.env')): boolean {
  if (!existsSync(path)) return false;
  // One line naming the file, never a stack: a directory, a file we may not read.
  const refuse = (why: string) => new Error(`.env (${path}) cannot be read: ${why}`);
  if (statSync(path).isDirectory()) throw refuse('it is a directory, not a file');
  try {
    process.loadEnvFile(path);
  } catch (err) {
    throw refuse((err as NodeJS.ErrnoException).code === 'EACCES' ? 'permission denied' : (err as Error).message);
  }
  return true;
}
