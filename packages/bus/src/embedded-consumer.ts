import { createHash, randomBytes } from 'node:crypto';
import pg from 'pg';
import { withSessionSettings } from '@vault/db';
import { type Batch, type BusReach, type ConsumeOptions, type Consumer, type IncomingMessage, STOP_SIGNAL_GRACE_MS } from './bus.ts';
import { ReachTracker } from './consumer-reach.ts';
import { BUS_CHANNEL, COMMIT, FETCH, INCARNATION, MEMBERS, POSITION } from './embedded-consumer-sql.ts';

/**
 * The server's side of a member's session: with its host gone without a word
 * (a power cut, a network partition), the server ends the session within about
 * a minute, and the member's locks and membership go with it; by default it
 * waited two hours, the member's partitions unread meanwhile.
 */
export const MEMBER_SESSION_SETTINGS = {
  tcp_keepalives_idle: '30',
  tcp_keepalives_interval: '10',
  tcp_keepalives_count: '3',
  tcp_user_timeout: '60000',
};

const REBALANCE_EVERY_MS = 300;
const IDLE_POLL_MS = 500;
const RETRY_MS = 500;

/** An error of the handler's (`eachBatch`): always retried, whatever it is. */
class HandlerError extends Error {
  constructor(cause: unknown) {
    super(cause instanceof Error ? cause.message : String(cause), { cause });
  }
}

/**
 * An error of the consumer's own queries that waiting cannot cure: SQLSTATE
 * class 42 (the bus's tables missing, no privilege on them). The consumer
 * stops, unhealthy; a restart of the process migrates the bus again.
 */
const isPermanent = (err: unknown) => /^42/.test(String((err as { code?: unknown } | null)?.code ?? ''));

interface Options {
  url: string;
  partitions: number;
  options: ConsumeOptions;
  log?: (event: string, fields?: Record<string, string | number>) => void;
}

/**
 * A consumer-group member of the embedded bus. Members find each other through
 * their sessions' application_name in pg_stat_activity (of their own database:
 * a server holds other databases, whose groups may carry the same names) and split partitions by
 * index; a session-level advisory lock per partition makes ownership exclusive.
 * A killed member's session ends with it, so its locks and membership vanish at
 * once, and its uncommitted batch is read again by the next owner. Fetches and
 * commits run on the session that holds the locks: a member that lost its
 * session cannot commit.
 */
export class EmbeddedConsumer implements Consumer {
  private readonly groupTag: string;
  private readonly appName: string;
  private client: pg.Client | undefined;
  /** partition → next offset to read */
  private readonly owned = new Map<number, bigint>();
  /**
   * The topic's incarnation (its log) that `owned`'s offsets belong to;
   * undefined while the topic does not exist. Fetches and commits are for it
   * only, so no offset crosses from a deleted topic into one created again.
   */
  private incarnation: string | undefined;
  private running = false;
  private crashed: string | undefined;
  private loop: Promise<void> | undefined;
  private lastRebalance = 0;
  private wake: (() => void) | undefined;
  /** When its own reads last succeeded (`reach()`): a turn of the loop that asked the log without an error. */
  private readonly reached = new ReachTracker();

  constructor(private readonly o: Options) {
    this.groupTag = createHash('sha1').update(`${o.options.groupId}\0${o.options.topic}`).digest('hex').slice(0, 12);
    const member = `${Date.now().toString(36).padStart(9, '0')}${randomBytes(4).toString('hex')}`;
    this.appName = `vbus:${this.groupTag}:${member}`;
  }

  async start(): Promise<void> {
    this.running = true;
    await this.connect();
    await this.rebalance();
    this.loop = this.run().catch((err: unknown) => this.crash(err));
  }

  assignment(): number[] {
    return [...this.owned.keys()].sort((a, b) => a - b);
  }

  isHealthy(): boolean {
    return this.running && this.crashed === undefined;
  }

  failure(): string | undefined {
    return this.crashed;
  }

  reach(): BusReach {
    return this.reached.snapshot();
  }

  async commit(partition: number, offset: string): Promise<void> {
    const { groupId: group, topic } = this.o.options;
    // Only into the log this member reads: an offset of a deleted topic means nothing in one created again.
    const { rowCount } = await this.requireClient().query(COMMIT, [group, topic, partition, offset, this.incarnation ?? null]);
    if (rowCount === 0) this.o.log?.('bus.commit_dropped', { group, topic, partition, offset, reason: 'topic deleted since read' });
  }

  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.wake?.();
    await this.loop;
    await this.disconnect();
  }

  private async run(): Promise<void> {
    while (this.running) {
      try {
        if (!this.client) await this.connect();
        if (Date.now() - this.lastRebalance >= REBALANCE_EVERY_MS) await this.rebalance();
        const worked = await this.pollOnce();
        this.reached.answered();
        if (!worked) await this.idle(IDLE_POLL_MS);
      } catch (err) {
        if (!(err instanceof HandlerError) && isPermanent(err)) return this.crash(err);
        const error = (err as Error).message;
        // The handler's failure is not the log's: its reads before it succeeded.
        if (err instanceof HandlerError) this.reached.answered();
        else this.reached.failed(error);
        const group = this.o.options.groupId;
        if (await this.stopped()) this.o.log?.('bus.consumer_interrupted', { error, group, reason: 'the app is stopping' });
        else this.o.log?.('bus.consumer_error', { error, group });
        await this.disconnect();
        await this.idle(RETRY_MS);
      }
    }
  }

  /**
   * Whether a failure is a stop's: stop() called, or the app asked to stop (`options.stopping`).
   * A terminal's Ctrl-C reaches the embedded PostgreSQL too, which may end our session before
   * the app's own handler has run: a failure first gives the signal a moment (stop() ends it).
   */
  private async stopped(): Promise<boolean> {
    const asked = () => !this.running || this.o.options.stopping?.() === true;
    if (!asked()) await this.idle(STOP_SIGNAL_GRACE_MS);
    return asked();
  }

  /** The loop has ended with an error: let go of the partitions, and stay unhealthy. */
  private async crash(err: unknown): Promise<void> {
    this.crashed = err instanceof Error ? err.message : String(err);
    this.o.log?.('bus.consumer_crash', { error: this.crashed, group: this.o.options.groupId, restart: 'false' });
    await this.disconnect();
  }

  private async connect(): Promise<void> {
    const client = new pg.Client({
      connectionString: withSessionSettings(this.o.url, MEMBER_SESSION_SETTINGS),
      application_name: this.appName,
      connectionTimeoutMillis: 10_000,
      // Our side: a server gone without a word is noticed too.
      keepAlive: true,
    });
    client.on('error', () => {}); // surfaced by the next query, which the loop handles
    client.on('notification', (n) => {
      if (n.payload === this.o.options.topic) this.wake?.();
    });
    await client.connect();
    await client.query(`listen ${BUS_CHANNEL}`);
    // The group reads the topic from now on: trimming keeps what it has not committed past.
    await client.query('insert into bus.groups (topic, group_id) values ($1, $2) on conflict do nothing', [
      this.o.options.topic,
      this.o.options.groupId,
    ]);
    this.client = client;
    this.owned.clear();
    this.lastRebalance = 0;
  }

  private async disconnect(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    this.owned.clear();
    await client?.end().catch(() => {});
  }

  private requireClient(): pg.Client {
    if (!this.client) throw new Error('embedded bus consumer is not connected');
    return this.client;
  }

  private lockKey(partition: number): string {
    return `${this.groupTag}/${partition}`;
  }

  /** Takes this member's share of partitions and lets go of the rest. */
  private async rebalance(): Promise<void> {
    const client = this.requireClient();
    this.lastRebalance = Date.now();
    const { groupId: group, topic } = this.o.options;
    const incarnation = (await client.query<{ incarnation: string }>(INCARNATION, [topic])).rows[0]?.incarnation;
    if (incarnation !== this.incarnation) {
      // The topic was deleted (and maybe created again): positions in the old
      // log mean nothing in the new one, so every partition is taken again
      // from the group's offsets there (none yet: from the start).
      for (const partition of [...this.owned.keys()]) await this.letGo(client, partition);
      if (this.incarnation !== undefined) this.o.log?.('bus.topic_changed', { group, topic, exists: String(!!incarnation) });
      this.incarnation = incarnation;
    }
    if (incarnation === undefined) return;
    const { rows } = await client.query<{ application_name: string }>(MEMBERS, [`vbus:${this.groupTag}:%`]);
    const members = rows.map((r) => r.application_name);
    const index = members.indexOf(this.appName);
    const share = (p: number) => index >= 0 && p % members.length === index;
    for (const partition of [...this.owned.keys()]) {
      if (!share(partition)) await this.letGo(client, partition);
    }
    for (let partition = 0; partition < this.o.partitions; partition++) {
      if (!share(partition) || this.owned.has(partition)) continue;
      const { rows: locked } = await client.query<{ ok: boolean }>(`select pg_try_advisory_lock(hashtextextended($1, 0)) as ok`, [
        this.lockKey(partition),
      ]);
      if (!locked[0]?.ok) continue; // the previous owner is finishing its batch
      const { rows: committed } = await client.query<{ next_offset: string }>(POSITION, [group, topic, partition, incarnation]);
      // No row: deleted since the check above, and the next rebalance sees it.
      if (committed[0]) this.owned.set(partition, BigInt(committed[0].next_offset));
      else await this.letGo(client, partition);
    }
  }

  private async letGo(client: pg.Client, partition: number): Promise<void> {
    await client.query('select pg_advisory_unlock(hashtextextended($1, 0))', [this.lockKey(partition)]);
    this.owned.delete(partition);
  }

  /** One batch from each owned partition that has messages; true if any had. */
  private async pollOnce(): Promise<boolean> {
    const client = this.requireClient();
    const { topic, maxBatchSize = 500, autoCommit = true } = this.o.options;
    let worked = false;
    for (const [partition, position] of [...this.owned]) {
      if (!this.running) break;
      // Only the log the position belongs to: a topic created again is read once rebalance has taken it again.
      const at = [topic, partition, position.toString(), maxBatchSize, this.incarnation ?? null];
      const { rows: fetched } = await client.query<{ offset: string; key: string; value: Buffer; ts: string; high: string; log: string }>(
        FETCH,
        at,
      );
      if (fetched.length === 0) continue;
      worked = true;
      const dense = denseRun(fetched);
      if (dense < fetched.length) {
        const expected = (BigInt(fetched[0]!.offset) + BigInt(dense)).toString();
        const got = fetched[dense]!.offset;
        this.o.log?.('bus.fetch_gap', { group: this.o.options.groupId, topic, partition, expected, got, 'count#bus.fetch_gaps': 1 });
      }
      // Never a batch with a hole: it ends before it, and the next fetch starts there.
      const rows = dense < fetched.length ? fetched.slice(0, dense) : fetched;
      const messages: IncomingMessage[] = rows.map((r) => ({
        topic,
        partition,
        offset: r.offset,
        key: r.key,
        value: r.value,
        timestamp: Number(r.ts),
      }));
      const batch: Batch = { topic, partition, messages, highWatermark: rows[0]!.high, log: rows[0]!.log };
      let answer;
      try {
        // The handler's time is its own (a long batch), not the log's silence.
        answer = await this.reached.during(() => this.o.options.eachBatch(batch));
      } catch (err) {
        throw new HandlerError(err);
      }
      if (answer) {
        // Past the end: from the start, as for a committed offset (see rebalance).
        const from = BigInt(answer.readFrom);
        this.owned.set(partition, from <= BigInt(rows[0]!.high) ? from : 0n);
        continue;
      }
      const next = (BigInt(rows[rows.length - 1]!.offset) + 1n).toString();
      if (autoCommit) await this.commit(partition, next);
      this.owned.set(partition, BigInt(next));
    }
    return worked;
  }

  private idle(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wake = done;
    });
  }
}

/**
 * How many of `rows` (in offset order) run from the first with no offset
 * missing. Offsets are dense in a partition, so a hole inside one fetch is a
 * read that raced the log's maintenance (rows moved under it) or rows deleted
 * by hand: the next fetch from the hole gets what it missed, or starts past
 * what is gone, as after a trim (metering's own check at a batch's start,
 * log-position.ts, sees that).
 */
function denseRun(rows: readonly { offset: string }[]): number {
  const first = BigInt(rows[0]?.offset ?? 0);
  for (let i = 1; i < rows.length; i++) if (BigInt(rows[i]!.offset) !== first + BigInt(i)) return i;
  return rows.length;
}
