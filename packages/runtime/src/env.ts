import { existsSync } from 'node:fs';
import { resolve } from 'node:path';

/**
 * Reads `.env` into process.env when the file exists. Variables already in the
 * environment win: the real environment is the configuration, `.env` only
 * fills in for development.
 */
export function loadDotEnv(path = resolve(process.cwd(), '.env')): boolean {
  if (!existsSync(path)) return false;
  process.loadEnvFile(path);
  return true;
}
