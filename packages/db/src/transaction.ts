import type pg from 'pg';

/**
 * begin … commit around `fn` on one pooled client; rollback on any exception.
 * A connection the server ends while the client is checked out (restart, admin
 * kill) fails the next query instead of raising an uncaught 'error' event that
 * would crash the process; such a client is not returned to the pool.
 */
export async function withTransaction<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  const ignore = () => {};
  client.on('error', ignore);
  let broken = false;
  try {
    await client.query('begin');
    const result = await fn(client);
    await client.query('commit');
    return result;
  } catch (err) {
    await client.query('rollback').catch(() => {
      broken = true;
    });
    throw err;
  } finally {
    client.off('error', ignore);
    client.release(broken);
  }
}
