// Issue 15: timeouts and a connection cap on every app's door (one
// createHttpApp, set by runApp from HTTP_REQUEST_TIMEOUT_MS and
// HTTP_MAX_CONNECTIONS). A body sent one byte at a time once stayed open for
// minutes. Real sockets against the apps as processes, with the timeout
// shortened to 2 s so the test runs in seconds.
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { freePort, freshDatabase, startService, type RunningService, type TestDatabase } from '@vault/testkit';

const TIMEOUT_MS = 2_000;
const MAX_CONNECTIONS = 8;
const ADMIN = 'admin-token-http-limits-0123456789abcdef';

interface Outcome {
  /** What the server sent before closing, if anything. */
  received: string;
  /** From the first byte sent to the socket's close. */
  ms: number;
}

/** Opens a socket, sends `first`, then one byte of `trickle` every 250 ms until the server closes it. */
function trickle(port: number, first: string, drip: string): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    let received = '';
    let timer: NodeJS.Timeout | undefined;
    const socket = connect(port, '127.0.0.1', () => {
      if (first) socket.write(first);
      let i = 0;
      timer = setInterval(() => {
        if (drip && !socket.destroyed) socket.write(drip[i++ % drip.length]!);
      }, 250);
    });
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => (received += chunk));
    socket.on('error', () => {}); // a reset is a close too
    socket.on('close', () => {
      clearInterval(timer);
      resolve({ received, ms: performance.now() - started });
    });
    setTimeout(() => {
      socket.destroy();
      reject(new Error(`still open after 20 s; received: ${received}`));
    }, 20_000);
  });
}

/** A connection that is open once connected; resolves when it is. */
const open = (port: number) =>
  new Promise<Socket>((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => resolve(s));
    s.on('error', reject);
  });

describe('request timeouts and a connection cap on every app (real sockets, apps as processes)', () => {
  let db: TestDatabase;
  const apps: { name: string; service: RunningService; port: number; post: string; auth: string }[] = [];

  before(async () => {
    db = await freshDatabase('http_limits');
    const common = {
      DATABASE_URL: db.url,
      HOST: '127.0.0.1',
      HTTP_REQUEST_TIMEOUT_MS: String(TIMEOUT_MS),
      HTTP_MAX_CONNECTIONS: String(MAX_CONNECTIONS),
      ADMIN_TOKEN: ADMIN,
      KAFKA_BROKERS: '',
    };
    const sandboxPort = await freePort();
    const sandbox = await startService('gateway-sandbox', { ...common, GATEWAY_PORT: String(sandboxPort) });
    // The sandbox checks keys after reading the body; metering its bearer before (a valid one here).
    apps.push({ name: 'gateway-sandbox', service: sandbox, port: sandboxPort, post: '/v1/customers', auth: 'Bearer sk_test_anything' });
    const meteringPort = await freePort();
    const metering = await startService('metering', { ...common, METERING_PORT: String(meteringPort) });
    apps.push({ name: 'metering', service: metering, port: meteringPort, post: '/v1/events', auth: `Bearer ${ADMIN}` });
  });
  after(async () => {
    await Promise.all(apps.map((a) => a.service.kill('SIGTERM')));
    await db?.drop();
  });

  test('a body trickled one byte every 250 ms gets 408 and the connection closed within the request timeout', async () => {
    for (const a of apps) {
      const head = `POST ${a.post} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: ${a.auth}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100000\r\n\r\n`;
      const outcome = await trickle(a.port, head, 'email=a');
      assert.match(outcome.received, /^HTTP\/1\.1 408 /, `${a.name}: ${outcome.received}`);
      assert.ok(outcome.ms >= TIMEOUT_MS - 100 && outcome.ms < TIMEOUT_MS + 2_000, `${a.name}: closed after ${outcome.ms.toFixed(0)} ms`);
    }
  });

  test('headers that never end, and a connection that sends nothing, are closed within the timeout too', async () => {
    for (const a of apps) {
      const headers = await trickle(a.port, 'GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n', 'X-Slow: aaaa');
      assert.ok(headers.ms < TIMEOUT_MS + 2_000, `${a.name}: slow headers closed after ${headers.ms.toFixed(0)} ms`);
      assert.doesNotMatch(headers.received, /^HTTP\/1\.1 200/, a.name);
      const silent = await trickle(a.port, '', '');
      assert.ok(silent.ms < TIMEOUT_MS + 2_000, `${a.name}: a silent connection closed after ${silent.ms.toFixed(0)} ms`);
    }
  });

  test('a request that arrives in time is served; beyond HTTP_MAX_CONNECTIONS a new connection is closed at once', async () => {
    for (const a of apps) {
      const health = await fetch(`http://127.0.0.1:${a.port}/health`);
      assert.equal(health.status, 200, a.name);
      const held: Socket[] = [];
      try {
        for (let i = 0; i < MAX_CONNECTIONS; i++) held.push(await open(a.port));
        await new Promise((r) => setTimeout(r, 100));
        const extra = await trickle(a.port, 'GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n', '');
        assert.equal(extra.received, '', `${a.name}: the connection past the cap got no answer`);
        assert.ok(extra.ms < 1_000, `${a.name}: closed after ${extra.ms.toFixed(0)} ms`);
      } finally {
        for (const s of held) s.destroy();
      }
      await new Promise((r) => setTimeout(r, 100));
      assert.equal((await fetch(`http://127.0.0.1:${a.port}/health`)).status, 200, `${a.name}: served again once they closed`);
    }
  });
});
