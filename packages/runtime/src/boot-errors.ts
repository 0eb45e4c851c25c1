// Every way an app can fail to boot, as one logfmt line naming the variable at
// fault and what is wrong with it: never a stack trace, never a password.
import { ConfigError } from './config.ts';
import type { Logger } from './log.ts';
import { maskPassword } from './mask-password.ts';

/** A boot step failed because of what a variable points at: a database that does not answer, a port in use. */
export class BootError extends Error {
  constructor(
    readonly variable: string,
    problem: string,
  ) {
    super(`${variable}: ${problem}`);
    this.name = 'BootError';
  }
}

/** Rejects with "no answer within N s" unless `promise` settles first. */
export function within<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(Object.assign(new Error(`no answer within ${ms / 1000} s`), { code: 'TIMEOUT' })), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * `config.invalid` for a ConfigError; `boot.failed` otherwise, with `variable=`
 * when the error names one (a BootError, or any error with a `variable`
 * property, such as the bus's when Kafka cannot be reached).
 */
export function reportBootFailure(log: Logger, err: unknown): void {
  if (err instanceof ConfigError) {
    log.error('config.invalid', err);
    return;
  }
  const variable = (err as { variable?: unknown } | null)?.variable;
  log.error('boot.failed', err, typeof variable === 'string' ? { variable } : {});
}

/** `host:port` of a postgres:// URL, for messages (never the password). */
export function databaseTarget(url: string): string {
  const u = new URL(url);
  return `${u.hostname || u.searchParams.get('host') || 'localhost'}:${u.port || 5432}`;
}

/** Why a connection or query failed, in words: the OS's code or PostgreSQL's message. */
export function describeConnectError(err: unknown): string {
  const e = err as { code?: string; hostname?: string; message?: string } | null;
  switch (e?.code) {
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `host${e.hostname ? ` ${e.hostname}` : ''} does not resolve (getaddrinfo ${e.code})`;
    case 'ECONNREFUSED':
      return 'connection refused';
    case 'ECONNRESET':
      return 'connection reset';
    case 'ETIMEDOUT':
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return `unreachable (${e.code})`;
    default:
      return e?.message ?? String(err);
  }
}

interface DatabaseSettings {
  DATABASE_URL?: string | undefined;
  VAULT_HOME: string;
  EMBEDDED_PG_PORT: number;
}

/** A failure to open or reach the database, naming DATABASE_URL and the host:port. */
export function databaseBootError(err: unknown, settings: DatabaseSettings): BootError {
  const url = settings.DATABASE_URL;
  if (!url) {
    const where = `port ${settings.EMBEDDED_PG_PORT} (EMBEDDED_PG_PORT), under ${settings.VAULT_HOME}/postgres (VAULT_HOME)`;
    return new BootError('DATABASE_URL', `unset, and the embedded PostgreSQL on ${where} did not start: ${describeConnectError(err)}`);
  }
  const problem = `cannot reach PostgreSQL at ${databaseTarget(url)}: ${describeConnectError(err)}`;
  return new BootError('DATABASE_URL', maskPassword(problem, url));
}

/** A failure to listen, naming the port's variable (or HOST, when the address is the problem). */
export function listenBootError(err: unknown, variable: string, port: number, host: string): unknown {
  switch ((err as { code?: string } | null)?.code) {
    case 'EADDRINUSE':
      return new BootError(variable, `port ${port} is already in use on ${host}`);
    case 'EACCES':
      return new BootError(variable, `no permission to listen on port ${port}`);
    case 'EADDRNOTAVAIL':
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new BootError('HOST', `cannot listen on ${host}: not an address of this machine`);
    default:
      return err;
  }
}
