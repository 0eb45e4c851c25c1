// bench:usage's HTTP client: node:http over kept-alive sockets (enough of them
// that a slow server queues requests on its side, not ours), a deadline per
// request, and a browser's sign-in through the real pages.
import http from 'node:http';

export interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export interface Client {
  get(path: string, headers?: http.OutgoingHttpHeaders): Promise<Answer>;
  post(path: string, body: string, headers?: http.OutgoingHttpHeaders): Promise<Answer>;
  close(): void;
}

/** A client of `base` (http://host:port) whose requests fail after `timeoutMs` without a full answer. */
export function httpClient(base: string, options: { timeoutMs: number; sockets: number }): Client {
  const agent = new http.Agent({ keepAlive: true, maxSockets: options.sockets, maxFreeSockets: options.sockets });
  const url = new URL(base);
  const request = (method: string, path: string, headers: http.OutgoingHttpHeaders, body?: string) =>
    new Promise<Answer>((resolve, reject) => {
      const req = http.request({ agent, host: url.hostname, port: url.port, method, path, headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          clearTimeout(timer);
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') });
        });
        res.on('error', reject);
      });
      const timer = setTimeout(() => req.destroy(new Error(`timeout after ${options.timeoutMs} ms`)), options.timeoutMs);
      req.on('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      req.end(body);
    });
  return {
    get: (path, headers = {}) => request('GET', path, headers),
    post: (path, body, headers = {}) => request('POST', path, { ...headers, 'content-length': Buffer.byteLength(body) }, body),
    close: () => agent.destroy(),
  };
}

/** `name=value` of each cookie an answer sets, as a browser sends them back. */
export function cookiesOf(answer: Answer): string[] {
  return (answer.headers['set-cookie'] ?? []).map((c) => c.split(';')[0]!);
}

/**
 * Signs in as a browser does: opens the link's confirmation page and posts its
 * form with the cookies that page set; returns the `Cookie` header of the new
 * session (what a signed-in browser sends).
 */
export async function signInThroughPages(client: Client, linkSecret: string): Promise<string> {
  const opened = await client.get(`/signin?link=${encodeURIComponent(linkSecret)}`);
  if (opened.status !== 200) throw new Error(`GET /signin answered ${opened.status}`);
  const form = /<form method="post" action="\/signin">([\s\S]*?)<\/form>/.exec(opened.body)?.[1] ?? '';
  const link = /name="link" value="([^"]+)"/.exec(form)?.[1];
  const csrf = /name="_csrf" value="([^"]+)"/.exec(form)?.[1];
  if (!link || !csrf) throw new Error('GET /signin: the page has no sign-in form');
  const posted = await client.post('/signin', new URLSearchParams({ link, _csrf: csrf }).toString(), {
    'content-type': 'application/x-www-form-urlencoded',
    cookie: cookiesOf(opened).join('; '),
  });
  if (posted.status !== 303) throw new Error(`POST /signin answered ${posted.status}`);
  const session = cookiesOf(posted).find((c) => /^(?:__Host-)?vault_session=./.test(c));
  if (!session) throw new Error('POST /signin set no session cookie');
  return session;
}

/** Why an answer to `GET /v1/accounts/:id/usage` is not the account's draft, or undefined. */
export function apiProblem(answer: Answer, accountId: string): string | undefined {
  if (answer.status !== 200) return `usage API answered ${answer.status}`;
  let draft: { account_id?: unknown; lines?: unknown };
  try {
    draft = JSON.parse(answer.body) as typeof draft;
  } catch {
    return 'usage API: the body is not JSON';
  }
  if (draft.account_id !== accountId) return `usage API: account_id ${JSON.stringify(draft.account_id)}, expected ${accountId}`;
  if (!Array.isArray(draft.lines) || draft.lines.length === 0) return `usage API: no lines for ${accountId}`;
  return undefined;
}

/** Why an answer to `GET /usage` is not the signed-in account's current usage page, or undefined. */
export function pageProblem(answer: Answer, accountId: string): string | undefined {
  if (answer.status !== 200) return `usage page answered ${answer.status}`;
  if (!answer.body.includes(`<span class="account">${accountId}</span>`)) return `usage page: not signed in as ${accountId}`;
  if (!answer.body.includes('Current usage') || !/data-total="\d+\.\d\d"/.test(answer.body)) return 'usage page: no current usage';
  return undefined;
}
