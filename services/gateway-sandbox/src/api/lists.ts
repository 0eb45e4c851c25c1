// Stripe's list shape: {object:'list', data, has_more, url}, newest first,
// `limit` (default 10, max 100), `starting_after` / `ending_before` by id.
import { invalidRequest, noSuch } from './errors.ts';
import type { Queryable } from '../store/transaction.ts';

export interface ListQuery {
  limit?: number | undefined;
  starting_after?: string | undefined;
  ending_before?: string | undefined;
}

export interface ListObject<T> {
  object: 'list';
  data: T[];
  has_more: boolean;
  url: string;
}

export interface ListSpec<Row> {
  /** Table in schema gateway_sandbox. */
  table: string;
  /** The select list; `*` unless given. */
  columns?: string;
  /** The object's name for "No such …" when a cursor is unknown. */
  kind: string;
  /** Conditions over `$1…` of `args`. */
  where: string[];
  args: unknown[];
  url: string;
  render: (row: Row) => object | Promise<object>;
}

export async function listPage<Row extends object>(q: Queryable, spec: ListSpec<Row>, query: ListQuery): Promise<ListObject<object>> {
  const limit = query.limit ?? 10;
  const where = [...spec.where];
  const args = [...spec.args];
  const table = `gateway_sandbox.${spec.table}`;
  let ascending = false;
  // Stripe refuses the two cursors together rather than choose one.
  if (query.starting_after !== undefined && query.ending_before !== undefined) {
    throw invalidRequest('Received both starting_after and ending_before parameters. Please pass in only one.');
  }
  const cursor = query.starting_after ?? query.ending_before;
  if (cursor !== undefined) {
    const found = await q.query<{ seq: string }>(`select seq from ${table} where id = $1`, [cursor]);
    if (!found.rows[0]) throw noSuch(spec.kind, cursor, query.starting_after !== undefined ? 'starting_after' : 'ending_before');
    args.push(found.rows[0].seq);
    ascending = query.starting_after === undefined;
    where.push(ascending ? `seq > $${args.length}` : `seq < $${args.length}`);
  }
  const sql = `select ${spec.columns ?? '*'} from ${table} ${where.length ? `where ${where.join(' and ')}` : ''}
               order by seq ${ascending ? 'asc' : 'desc'} limit ${limit + 1}`;
  const { rows } = await q.query<Row>(sql, args);
  const page = rows.slice(0, limit);
  if (ascending) page.reverse();
  return { object: 'list', data: await Promise.all(page.map(spec.render)), has_more: rows.length > limit, url: spec.url };
}

/** `where`/`args` of a ListSpec for `column = value`, each value given (the others are not filtered on). */
export function equalTo(filters: Record<string, unknown>): { where: string[]; args: unknown[] } {
  const given = Object.entries(filters).filter(([, v]) => v !== undefined);
  return { where: given.map(([col], i) => `${col} = $${i + 1}`), args: given.map(([, v]) => v) };
}
