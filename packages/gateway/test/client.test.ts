// The SDK client pointed at GATEWAY_URL: it must reach the address configuration names.
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { gatewayClient } from '../src/index.ts';

/** A stub gateway on `host` answering every call with an empty list; undefined when `host` cannot be listened on. */
async function stubGateway(host: string) {
  const seen: string[] = [];
  const server = createServer((req, res) => {
    seen.push(`${req.method} ${req.url} host=${req.headers.host}`);
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ object: 'list', data: [], has_more: false, url: '/v1/customers' }));
  });
  const listening = await new Promise<boolean>((resolve) => {
    server.once('error', () => resolve(false));
    server.listen(0, host, () => resolve(true));
  });
  return listening ? { server, seen, port: (server.address() as AddressInfo).port } : undefined;
}

const ipv6 = await stubGateway('::1');
await new Promise<void>((resolve) => (ipv6 ? ipv6.server.close(() => resolve()) : resolve()));

test('a GATEWAY_URL that is an IPv6 literal ([::1]) is called at that address', {
  skip: ipv6 ? false : 'no IPv6 loopback here',
}, async () => {
  const stub = (await stubGateway('::1'))!;
  try {
    const client = gatewayClient({ url: new URL(`http://[::1]:${stub.port}`), secretKey: 'sk_test_x' }, { timeoutMs: 5_000 });
    const list = await client.customers.list();
    assert.deepEqual(list.data, []);
    assert.deepEqual(stub.seen, [`GET /v1/customers host=[::1]:${stub.port}`]);
  } finally {
    await new Promise((r) => stub.server.close(r));
  }
});
