// What the archive tests share: events as publishers send them, the clock they are
// judged at, a cut after everything, and a pool that counts the rows of each statement.
import type pg from 'pg';

export const NOW = Date.parse('2026-12-01T00:00:00Z');

/** An event as its publisher sends it. */
export const event = (
  id: string,
  source: string,
  type: string,
  subject: string,
  sequence: number,
  time: string,
  data: Record<string, string>,
) => JSON.stringify({ specversion: '1.0', id, source, type, time, subject, sequence, data });
export const cutAfterNow = () => new Date(Date.now() + 60_000);

/** `pool`, the same connections, noting how many rows each statement returned (its own or its clients'). */
export function countingRows(pool: pg.Pool, seen: number[]): pg.Pool {
  const counted =
    <T extends object>(target: T) =>
    (_: T, prop: string | symbol) => {
      const value = Reflect.get(target, prop);
      if (typeof value !== 'function') return value;
      if (prop === 'query')
        return async (...args: unknown[]) => {
          const result = await (value as (...a: unknown[]) => Promise<{ rows?: unknown[] }>).apply(target, args);
          seen.push(result.rows?.length ?? 0);
          return result;
        };
      if (prop === 'connect')
        return async () => {
          const client = await (value as () => Promise<pg.PoolClient>).apply(target);
          return new Proxy(client, { get: counted(client) });
        };
      return value.bind(target);
    };
  return new Proxy(pool, { get: counted(pool) });
}
