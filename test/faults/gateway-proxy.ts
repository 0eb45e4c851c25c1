// A fault-injecting HTTP proxy in front of the gateway sandbox, where
// invoicing's GATEWAY_URL points. Modes:
// - pass: forwards every request and its answer;
// - fail: answers 500, every other request after forwarding it (the gateway
//   acted, its answer is lost), the others without forwarding;
// - hold: forwards the request, then keeps the gateway's answer until the
//   client gives up (its timeout) or the mode changes back to pass.
import { createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type ProxyMode = 'pass' | 'fail' | 'hold';

export interface ProxyStats {
  forwarded: number;
  /** 500s sent without the gateway seeing the request. */
  failedUnsent: number;
  /** 500s sent after the gateway acted on the request. */
  failedAfterEffect: number;
  /** Requests whose answer was held. */
  held: number;
  /** Held answers the client stopped waiting for, and how long it had waited (ms). */
  abandoned: number[];
  /** Held answers delivered when the mode went back to pass. */
  released: number;
}

export interface GatewayProxy {
  url: string;
  setMode(mode: ProxyMode): void;
  /** Runs `action` once, as the first request `matches` accepts is forwarded (say, to kill the gateway while it works on it). */
  onceForwarded(matches: (method: string, path: string) => boolean, action: () => void): void;
  stats: ProxyStats;
  close(): Promise<void>;
}

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

const STRIPE_500 = JSON.stringify({ error: { type: 'api_error', message: 'An unknown error occurred (injected by the fault proxy).' } });

export async function startGatewayProxy(upstream: string): Promise<GatewayProxy> {
  const target = new URL(upstream);
  let mode: ProxyMode = 'pass';
  let failures = 0;
  const stats: ProxyStats = { forwarded: 0, failedUnsent: 0, failedAfterEffect: 0, held: 0, abandoned: [], released: 0 };
  const holding = new Set<{ res: ServerResponse; answer: Answer }>();

  let hook: { matches: (method: string, path: string) => boolean; action: () => void } | undefined;
  const forward = (req: IncomingMessage, body: Buffer): Promise<Answer> =>
    new Promise((resolve, reject) => {
      stats.forwarded++;
      if (hook?.matches(req.method ?? '', req.url ?? '')) {
        const { action } = hook;
        hook = undefined;
        setImmediate(action);
      }
      const out = request(
        { host: target.hostname, port: target.port, path: req.url, method: req.method, headers: { ...req.headers, host: target.host } },
        (answer) => {
          const chunks: Buffer[] = [];
          answer.on('data', (c: Buffer) => chunks.push(c));
          answer.on('end', () => resolve({ status: answer.statusCode ?? 502, headers: answer.headers, body: Buffer.concat(chunks) }));
          answer.on('error', reject);
        },
      );
      out.on('error', reject);
      out.end(body);
    });

  const send = (res: ServerResponse, a: Answer) => {
    const headers = { ...a.headers };
    delete headers['transfer-encoding'];
    delete headers.connection;
    res.writeHead(a.status, { ...headers, 'content-length': String(a.body.length) });
    res.end(a.body);
  };
  const fail = (res: ServerResponse) =>
    res.writeHead(500, { 'content-type': 'application/json', 'request-id': 'req_fault_proxy' }).end(STRIPE_500);

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const started = Date.now();
      void (async () => {
        try {
          if (mode === 'fail') {
            if (failures++ % 2 === 0) {
              stats.failedUnsent++;
              return fail(res);
            }
            await forward(req, body);
            stats.failedAfterEffect++;
            return fail(res);
          }
          const holdIt = mode === 'hold';
          const answer = await forward(req, body);
          if (!holdIt || mode === 'pass') return send(res, answer);
          stats.held++;
          if (res.destroyed) return void stats.abandoned.push(Date.now() - started);
          const entry = { res, answer };
          holding.add(entry);
          res.on('close', () => {
            if (holding.delete(entry)) stats.abandoned.push(Date.now() - started);
          });
        } catch {
          // The gateway itself is down: what a client sees from a broken upstream.
          if (!res.headersSent) res.writeHead(502, { 'content-type': 'application/json' }).end(STRIPE_500);
        }
      })();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    stats,
    onceForwarded(matches, action) {
      hook = { matches, action };
    },
    setMode(m) {
      mode = m;
      if (m !== 'hold') {
        for (const entry of holding) {
          holding.delete(entry);
          if (!entry.res.destroyed) {
            stats.released++;
            send(entry.res, entry.answer);
          }
        }
      }
    },
    async close() {
      for (const entry of holding) entry.res.destroy();
      holding.clear();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
