// `npm start` as a newcomer runs it (`vault start`, here on a fresh database
// with --demo, which the embedded PostgreSQL implies): one line per app with
// its URL, the demo loaded, a sign-in link; the invoice UI then shows a paid
// invoice, current usage and a late event's adjustment; Ctrl-C stops every
// process; a second start keeps the data and loads nothing again.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { DateTime } from 'luxon';
import { demoWindow } from '@vault/simulator';
import { collectLines, eventually, freePort, freshDatabase, type TestDatabase } from '@vault/testkit';

const ROOT = new URL('..', import.meta.url).pathname;
const ADMIN = 'admin-token-start-demo-0123456789abcdef';

interface Tree {
  child: ChildProcess;
  lines: string[];
  exited: Promise<number | null>;
}

function startTree(env: Record<string, string>): Tree {
  const child = spawn(process.execPath, ['bin/vault.js', 'start', '--demo'], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  collectLines(child, lines);
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, lines, exited };
}

const signInLine = (lines: string[]) => lines.find((l) => /sign in to the invoice UI as \S+: http/.test(l));

/**
 * What a person does with the printed link: open it (a page asking "Sign in as
 * ACCOUNT?"), press the button (a POST with the page's form and cookie). The
 * session cookie it gives.
 */
async function confirmLink(url: URL, account: string): Promise<{ cookie: string }> {
  const opened = await fetch(url, { redirect: 'manual' });
  assert.equal(opened.status, 200);
  const page = await opened.text();
  assert.match(page, new RegExp(`<h1>Sign in as ${account}\\?</h1>`));
  const form =
    /<form method="post" action="\/signin"><input type="hidden" name="link" value="([^"]+)"><input type="hidden" name="_csrf" value="([^"]+)">/.exec(
      page,
    );
  assert.ok(form, 'the page has the sign-in form');
  const signIn = await fetch(new URL('/signin', url), {
    method: 'POST',
    redirect: 'manual',
    headers: { cookie: opened.headers.get('set-cookie')!.split(';')[0]!, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ link: form[1]!, _csrf: form[2]! }).toString(),
  });
  assert.equal(signIn.status, 303);
  assert.equal(signIn.headers.get('location'), '/invoices');
  const cookie = signIn.headers
    .getSetCookie()
    .find((c) => c.startsWith('vault_session='))!
    .split(';')[0]!;
  return { cookie };
}

describe('`vault start` on an empty database: the demo, the invoice UI, Ctrl-C', () => {
  let db: TestDatabase;
  let env: Record<string, string>;
  let ports: Record<string, number>;
  let tree: Tree | undefined;
  const finalizable = demoWindow(DateTime.utc(), 72).finalizable;

  before(async () => {
    db = await freshDatabase('start_demo');
    const [invoicing, metering, ccForms, gateway] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
    ports = { invoicing, metering, ccForms, gateway };
    env = {
      DATABASE_URL: db.url,
      VAULT_HOME: mkdtempSync(join(tmpdir(), 'vault-demo-')),
      ADMIN_TOKEN: ADMIN,
      INVOICING_PORT: String(invoicing),
      METERING_PORT: String(metering),
      CC_FORMS_PORT: String(ccForms),
      GATEWAY_PORT: String(gateway),
      INVOICING_URL: `http://localhost:${invoicing}`,
    };
  });
  after(async () => {
    if (tree && tree.child.exitCode === null) {
      tree.child.kill('SIGINT');
      await tree.exited;
    }
    await db?.drop();
  });

  test('one line per app with its URL, then the demo loads and a sign-in link for the demo account is printed', async (t) => {
    const started = performance.now();
    tree = startTree(env);
    await eventually('the sign-in link', () => signInLine(tree!.lines) !== undefined || tree!.child.exitCode !== null, 150_000);
    assert.ok(signInLine(tree.lines), tree.lines.join('\n'));
    t.diagnostic(`demo ready ${((performance.now() - started) / 1000).toFixed(1)} s after start`);
    for (const [app, port] of [
      ['gateway-sandbox', ports.gateway],
      ['metering', ports.metering],
      ['invoicing', ports.invoicing],
      ['cc-forms', ports.ccForms],
    ] as const) {
      assert.ok(
        tree.lines.some((l) => l.startsWith('vault ') && l.includes(` ${app} `) && l.includes(`http://localhost:${port}`)),
        `a line gives ${app}'s URL`,
      );
    }
    assert.ok(!tree.lines.some((l) => /demo\.failed|at=error/.test(l)), tree.lines.filter((l) => /at=error/.test(l)).join('\n'));
    // A newcomer's first start says nothing alarming (the demo's cards were saved unchecked, at warn, while
    // invoicing's migrations, started last, were not in).
    assert.deepEqual(
      tree.lines.filter((l) => /\bat=warn\b/.test(l)),
      [],
    );
  });

  test("the sign-in link opens the invoice UI: a paid invoice for the finalized month, current usage with a late event's adjustment", async () => {
    const [, account, link] = /sign in to the invoice UI as (\S+): (\S+)/.exec(signInLine(tree!.lines)!)!;
    const url = new URL(link!);
    const { cookie } = await confirmLink(url, account!);
    const used = await fetch(url, { redirect: 'manual' });
    assert.equal(used.status, 401, 'the link works once');
    const page = async (path: string) => {
      const res = await fetch(new URL(path, url), { headers: { cookie } });
      assert.equal(res.status, 200, path);
      return res.text();
    };
    const list = await page('/invoices');
    assert.match(list, new RegExp(finalizable));
    assert.match(list, /paid/i);

    const api = await fetch(`http://localhost:${ports.invoicing}/v1/accounts/${account}/invoices`, {
      headers: { authorization: `Bearer ${ADMIN}` },
    });
    const { invoices } = (await api.json()) as { invoices: { period: string; status: string; total: string }[] };
    const month = invoices.find((i) => i.period === finalizable);
    assert.equal(month?.status, 'paid', JSON.stringify(invoices));
    assert.ok(Number(month.total) > 0);

    const usage = await fetch(`http://localhost:${ports.invoicing}/v1/accounts/${account}/usage`, {
      headers: { authorization: `Bearer ${ADMIN}` },
    });
    const draft = (await usage.json()) as { status: string; lines: { kind: string; adjusts?: string }[] };
    assert.equal(draft.status, 'draft');
    assert.ok(
      draft.lines.some((l) => l.kind === 'dyno'),
      'current usage has dynos',
    );
    assert.ok(
      draft.lines.some((l) => l.kind === 'adjustment' && l.adjusts === finalizable),
      'the late event adjusts the finalized month',
    );
    assert.match(await page('/usage'), /Credit for|adjust/i);
  });

  test('GET /v1/notices holds a notice for every finalized, paid and past-due invoice of the demo', async () => {
    const notices: { id: string; type: string; data: { invoice_id?: string } }[] = [];
    for (let after = '0'; ; ) {
      const res = await fetch(`http://localhost:${ports.invoicing}/v1/notices?after=${after}&limit=1000`, {
        headers: { authorization: `Bearer ${ADMIN}` },
      });
      assert.equal(res.status, 200);
      const page = (await res.json()) as { notices: typeof notices; next_after: string | null };
      if (page.next_after === null) break;
      notices.push(...page.notices);
      after = page.next_after;
    }
    const told = new Set(notices.map((n) => `${n.type} ${n.data.invoice_id}`));
    const { rows } = await db.pool.query<{ id: string; status: string }>('select id, status from invoicing.invoices');
    assert.ok(rows.some((r) => r.status === 'paid') && rows.some((r) => r.status === 'past_due'), JSON.stringify(rows));
    for (const invoice of rows) {
      assert.ok(told.has(`invoice.finalized ${invoice.id}`), `${invoice.id} finalized is told`);
      if (invoice.status === 'paid') assert.ok(told.has(`invoice.paid ${invoice.id}`), `${invoice.id} paid is told`);
      if (invoice.status === 'past_due') assert.ok(told.has(`invoice.past_due ${invoice.id}`), `${invoice.id} past due is told`);
    }
  });

  test('Ctrl-C stops every app and the tree exits 0', async () => {
    tree!.child.kill('SIGINT');
    assert.equal(await tree!.exited, 0);
    for (const port of Object.values(ports)) {
      await assert.rejects(fetch(`http://localhost:${port}/health`), `nothing listens on ${port} any more`);
    }
  });

  test('a second start keeps the data and loads no demo again; its sign-in link works', async () => {
    const before = await db.pool.query<{ n: string }>('select count(*)::text as n from metering.events');
    tree = startTree(env);
    await eventually('the sign-in link', () => signInLine(tree!.lines) !== undefined || tree!.child.exitCode !== null, 90_000);
    assert.ok(signInLine(tree.lines), tree.lines.join('\n'));
    assert.ok(!tree.lines.some((l) => l.includes('event=demo.step')), 'no demo step ran');
    const [, account, link] = /sign in to the invoice UI as (\S+): (\S+)/.exec(signInLine(tree.lines)!)!;
    const { cookie } = await confirmLink(new URL(link!), account!);
    assert.equal((await fetch(new URL('/invoices', link), { headers: { cookie } })).status, 200, 'a fresh link: it signs in');
    const after = await db.pool.query<{ n: string }>('select count(*)::text as n from metering.events');
    assert.equal(after.rows[0]!.n, before.rows[0]!.n);
    tree.child.kill('SIGINT');
    assert.equal(await tree.exited, 0);
  });
});
