// The busy answer's words are true to what happened: a statement stopped at a limit or never sent
// changed nothing; a session the server ended while a statement ran (that statement may have been
// the commit) may have been saved, so the caller is told to check, not simply to try again.
// Which answer (page or JSON) follows the route the router matched, not the raw path: `/%761/x`
// reaches `/v1/x` and is an API call. A scope may give its JSON callers its own shape.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createHttpApp, memoryLogger, useBusyJson } from '../src/index.ts';

const BROWSER_ACCEPT = 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8';
const UNCHANGED_JSON = { error: 'the database is busy: try again in a few seconds' };
const UNKNOWN_JSON = {
  error: 'the connection to the database was lost while answering: it may or may not have been saved: check before trying again',
};

/** An error as node-postgres gives it: a message, and a SQLSTATE when the server sent one. */
const pgError = (message: string, code?: string) => Object.assign(new Error(message), code === undefined ? {} : { code });

function appThrowing(err: Error) {
  const app = createHttpApp(memoryLogger());
  const fail = async () => {
    throw err;
  };
  app.get('/invoices', fail);
  app.post('/signin', fail);
  app.get('/v1/x', fail);
  app.post('/v1/events', fail);
  return app;
}

describe('the busy answer: words true to whether anything may have been saved', () => {
  const ended: [string, Error][] = [
    ['Connection terminated unexpectedly (the statement running, perhaps the commit)', pgError('Connection terminated unexpectedly')],
    [
      '57P01 (pg_terminate_backend or a restart while the statement ran)',
      pgError('terminating connection due to administrator command', '57P01'),
    ],
    ['57P02 (a crash while the statement ran)', pgError('terminating connection because of crash of another server process', '57P02')],
  ];
  for (const [what, err] of ended) {
    test(`a session ended mid-statement, ${what}: 503 Retry-After, "may or may not have been saved: check", never "Nothing was changed"`, async () => {
      const app = appThrowing(err);
      try {
        const page = await app.inject({ method: 'POST', url: '/signin', headers: { accept: BROWSER_ACCEPT } });
        assert.equal(page.statusCode, 503);
        assert.equal(page.headers['retry-after'], '5');
        assert.equal(page.headers['content-type'], 'text/html; charset=utf-8');
        assert.match(page.body, /may or may not have been saved: check before trying again\./);
        assert.doesNotMatch(page.body, /Nothing was changed/);
        const json = await app.inject({ method: 'POST', url: '/v1/events', headers: { accept: '*/*' } });
        assert.equal(json.statusCode, 503);
        assert.equal(json.headers['retry-after'], '5');
        assert.deepEqual(json.json(), UNKNOWN_JSON);
      } finally {
        await app.close();
      }
    });
  }

  const unchanged: [string, Error][] = [
    ['57014 statement limit', pgError('canceling statement due to statement timeout', '57014')],
    ['53300 no session', pgError('sorry, too many clients already', '53300')],
    ['a pool wait run out', pgError('timeout exceeded when trying to connect')],
    ['57P03 refused before it ran', pgError('the database system is starting up', '57P03')],
    ['a session already gone, the statement never sent', pgError('Client has encountered a connection error and is not queryable')],
  ];
  for (const [what, err] of unchanged) {
    test(`${what}: 503 Retry-After, "Nothing was changed" and the JSON as before`, async () => {
      const app = appThrowing(err);
      try {
        const page = await app.inject({ method: 'GET', url: '/invoices', headers: { accept: BROWSER_ACCEPT } });
        assert.equal(page.statusCode, 503);
        assert.match(page.body, /Nothing was changed: please try again in a few seconds\./);
        const json = await app.inject({ method: 'GET', url: '/v1/x', headers: { accept: BROWSER_ACCEPT } });
        assert.equal(json.statusCode, 503);
        assert.equal(json.headers['retry-after'], '5');
        assert.deepEqual(json.json(), UNCHANGED_JSON);
      } finally {
        await app.close();
      }
    });
  }
});

describe('the busy answer: page or JSON by the route matched, not the raw path', () => {
  test('an API route reached through a percent-encoded path (/%761/x, /v%31/x, POST /%76%31/events) gets JSON, not the page', async () => {
    const app = appThrowing(pgError('canceling statement due to statement timeout', '57014'));
    try {
      for (const [method, url] of [
        ['GET', '/%761/x'],
        ['GET', '/v%31/x'],
        ['GET', '/%76%31/x?a=1'],
        ['POST', '/%76%31/events'],
      ] as const) {
        const res = await app.inject({ method, url, headers: { accept: BROWSER_ACCEPT } });
        assert.equal(res.statusCode, 503, `${method} ${url}`);
        assert.equal(res.headers['content-type'], 'application/json; charset=utf-8', `${method} ${url}`);
        assert.deepEqual(res.json(), UNCHANGED_JSON);
      }
      // A page address, encoded or not, still gets the page.
      for (const url of ['/invoices', '/%69nvoices']) {
        const res = await app.inject({ method: 'GET', url, headers: { accept: BROWSER_ACCEPT } });
        assert.equal(res.headers['content-type'], 'text/html; charset=utf-8', url);
      }
    } finally {
      await app.close();
    }
  });
});

describe("the busy answer: a scope's own JSON shape", () => {
  test('a scope that set useBusyJson answers its JSON callers in its shape, per outcome; a browser still gets the page', async () => {
    const app = createHttpApp(memoryLogger());
    let err: Error = pgError('canceling statement due to statement timeout', '57014');
    await app.register(async (scope) => {
      scope.addHook('onRequest', async (req) =>
        useBusyJson(req, (outcome) => ({ error: { code: 'database_busy', message: `shaped ${outcome}` } })),
      );
      scope.post('/card', async () => {
        throw err;
      });
    });
    try {
      const busy = await app.inject({ method: 'POST', url: '/card', headers: { accept: '*/*' } });
      assert.equal(busy.statusCode, 503);
      assert.equal(busy.headers['retry-after'], '5');
      assert.deepEqual(busy.json(), { error: { code: 'database_busy', message: 'shaped unchanged' } });
      err = pgError('Connection terminated unexpectedly');
      const lost = await app.inject({ method: 'POST', url: '/card', headers: { accept: '*/*' } });
      assert.deepEqual(lost.json(), { error: { code: 'database_busy', message: 'shaped unknown' } });
      const page = await app.inject({ method: 'POST', url: '/card', headers: { accept: BROWSER_ACCEPT } });
      assert.equal(page.headers['content-type'], 'text/html; charset=utf-8');
    } finally {
      await app.close();
    }
  });
});
