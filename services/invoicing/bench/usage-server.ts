// The invoicing server bench:usage measures: the real services/invoicing/src/main.ts
// in a process of its own (the load generator never shares its event loop),
// configured only through its environment, its log written to a file.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from '@vault/testkit';

export interface BenchServer {
  base: string;
  adminToken: string;
  logFile: string;
  /** The end of its log, for a failure's message. */
  tail(lines?: number): string;
  stop(): Promise<void>;
}

/** Starts invoicing on `databaseUrl` and waits until GET /health answers 200 (or fails naming why). */
export async function startInvoicing(opts: { root: string; databaseUrl: string; logFile: string; bootMs: number }): Promise<BenchServer> {
  const port = await freePort();
  const adminToken = `bench-admin-${randomBytes(24).toString('hex')}`;
  const base = `http://127.0.0.1:${port}`;
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    DATABASE_URL: opts.databaseUrl,
    ADMIN_TOKEN: adminToken,
    INVOICING_PORT: String(port),
    HOST: '127.0.0.1',
    // Configured keys and webhook secret: nothing waits for a sandbox, nothing is registered; nothing is due a charge.
    GATEWAY_URL: 'http://127.0.0.1:9',
    GATEWAY_SECRET_KEY: 'sk_test_bench_usage',
    GATEWAY_PUBLISHABLE_KEY: 'pk_test_bench_usage',
    GATEWAY_WEBHOOK_SECRET: 'whsec_bench_usage',
    // Blank: no Kafka, no SMTP, whatever a .env says.
    KAFKA_BROKERS: '',
    SMTP_URL: '',
  };
  const out = openSync(opts.logFile, 'w');
  let child: ChildProcess;
  try {
    // To profile the server: BENCH_SERVER_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof".
    const nodeArgs = (process.env.BENCH_SERVER_NODE_ARGS ?? '').split(' ').filter(Boolean);
    child = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', join(opts.root, 'services/invoicing/src/main.ts')], {
      cwd: opts.root,
      env,
      stdio: ['ignore', out, out],
    });
  } finally {
    closeSync(out);
  }
  let exited: string | undefined;
  const closed = new Promise<void>((resolve) => {
    child.on('exit', (code, signal) => {
      exited = `exited with ${code ?? signal}`;
      resolve();
    });
  });
  const tail = (lines = 15) => {
    try {
      return readFileSync(opts.logFile, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
    } catch {
      return '(no log)';
    }
  };
  const server: BenchServer = {
    base,
    adminToken,
    logFile: opts.logFile,
    tail,
    async stop() {
      if (exited) return;
      child.kill('SIGTERM');
      const killed = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await closed;
      clearTimeout(killed);
    },
  };
  const deadline = Date.now() + opts.bootMs;
  for (;;) {
    if (exited) throw new Error(`the invoicing server ${exited} before answering GET /health; its log ends:\n${tail()}`);
    const status = await fetch(`${base}/health`).then(
      (r) => r.status,
      () => 0,
    );
    if (status === 200) return server;
    if (Date.now() > deadline) {
      await server.stop();
      throw new Error(
        `the invoicing server did not answer GET /health with 200 within ${opts.bootMs / 1000} s (last: ${status}); its log ends:\n${tail()}`,
      );
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}
