// GET /v1/notices pages by position as a number (R1 finding 1): past 9 notices, a text order ("1", "10", …, "2")
// made a reader following next_after skip notices for good and read others twice.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { withTransaction } from '@vault/db';
import { NoticeList } from '@vault/contracts';
import { createHttpApp, memoryLogger, requireBearer } from '@vault/runtime';
import { freshDatabase, type TestDatabase } from '@vault/testkit';
import { invoicingVerifier } from '../src/access/tokens.ts';
import { ensureInvoicingSchema } from '../src/cli/migrations.ts';
import { accountNotice } from '../src/notices/notice.ts';
import { recordNotices } from '../src/notices/outbox.ts';
import { noticeRoutes } from '../src/notices/routes.ts';

const ADMIN = 'notices-paging-admin-token-0123456789';
const COUNT = 130; // past the default limit of 100, and past 9, 99 and 100 where text and number orders part

describe('notices: GET /v1/notices pages in number order', () => {
  let db: TestDatabase;
  let http: FastifyInstance;
  /** The notices' ids as written: positions 1..COUNT, in this order (one transaction, numbered by seq). */
  const written = Array.from({ length: COUNT }, (_, i) => `account.suspended:acct-${i + 1}:1`);

  /** Every notice from after=0, page by page, with the cursor each page handed out. */
  const readAll = async (limit?: number) => {
    const ids: string[] = [];
    const cursors: string[] = [];
    let cursor = '0';
    for (let pages = 0; pages <= COUNT; pages++) {
      const url = `/v1/notices?after=${cursor}${limit === undefined ? '' : `&limit=${limit}`}`;
      const res = await http.inject({ method: 'GET', url, headers: { authorization: `Bearer ${ADMIN}` } });
      assert.equal(res.statusCode, 200, res.body);
      const page = NoticeList.parse(res.json());
      if (page.next_after === null) return { ids, cursors };
      ids.push(...page.notices.map((n) => n.id));
      cursors.push(page.next_after);
      cursor = page.next_after;
    }
    assert.fail('the pages never ended');
  };

  before(async () => {
    db = await freshDatabase('notices_paging');
    await ensureInvoicingSchema(db.pool);
    http = createHttpApp(memoryLogger());
    requireBearer(http, invoicingVerifier(db.pool, ADMIN), { reach: {} });
    noticeRoutes(http, { pool: db.pool });
    await http.ready();
    const at = new Date('2026-11-05T00:00:00Z');
    await withTransaction(db.pool, (client) =>
      recordNotices(
        client,
        written.map((_, i) => accountNotice('account.suspended', `acct-${i + 1}`, 1, at)),
      ),
    );
  });
  after(async () => {
    await http?.close();
    await db?.drop();
  });

  for (const limit of [3, 10]) {
    test(`pages of ${limit} from after=0 read every notice once, oldest first, each page's cursor its last position`, async () => {
      const { ids, cursors } = await readAll(limit);
      assert.deepEqual(ids, written, 'exactly the notices 1..N, in order, none lost, none twice');
      const expected = Array.from({ length: Math.ceil(COUNT / limit) }, (_, i) => String(Math.min((i + 1) * limit, COUNT)));
      assert.deepEqual(cursors, expected);
    });
  }

  test('the default limit (100) over 130 notices: the first 100 by number, then the other 30', async () => {
    const { ids, cursors } = await readAll();
    assert.deepEqual(ids, written);
    assert.deepEqual(cursors, ['100', String(COUNT)]);
  });
});
