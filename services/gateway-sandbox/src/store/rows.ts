// A resource's rows by id, the same for every table: read (locked FOR NO KEY
// UPDATE when the transaction will change it), required (Stripe's 404 otherwise),
// and partially updated.
import type { QueryResultRow } from 'pg';
import { noSuch } from '../api/errors.ts';
import type { Queryable } from './transaction.ts';

export interface RowsById<Row> {
  find(q: Queryable, id: string, forUpdate?: boolean): Promise<Row | undefined>;
  /** The row, or "No such <kind>: '<id>'" (404) naming `param`. */
  require(q: Queryable, id: string, param?: string, forUpdate?: boolean): Promise<Row>;
  /** Sets the given columns (objects and arrays as JSON) and returns the new row. */
  update(q: Queryable, id: string, set: Partial<Row>): Promise<Row>;
}

/** `table` in schema gateway_sandbox; `kind` as Stripe names it in "No such …". */
export function rowsById<Row extends QueryResultRow>(table: string, kind: string): RowsById<Row> {
  const name = `gateway_sandbox.${table}`;
  // NO KEY UPDATE, not UPDATE: ids never change, and a plain FOR UPDATE would
  // conflict with the KEY SHARE lock a foreign key takes, so a request that
  // inserts a row referring to this one and then locks it (create with
  // confirm=true: the intent, then its card) would deadlock with a second such request.
  const find = async (q: Queryable, id: string, forUpdate = false) =>
    (await q.query<Row>(`select * from ${name} where id = $1${forUpdate ? ' for no key update' : ''}`, [id])).rows[0];
  return {
    find,
    async require(q, id, param = 'id', forUpdate = false) {
      const row = await find(q, id, forUpdate);
      if (!row) throw noSuch(kind, id, param);
      return row;
    },
    async update(q, id, set) {
      const cols = Object.keys(set);
      const values = Object.values(set).map((v) => (v !== null && typeof v === 'object' ? JSON.stringify(v) : v));
      const { rows } = await q.query<Row>(
        `update ${name} set ${cols.map((c, i) => `${c} = $${i + 2}`).join(', ')} where id = $1 returning *`,
        [id, ...values],
      );
      return rows[0]!;
    },
  };
}
