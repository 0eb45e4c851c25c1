// The model behind the intake property (intake-property.test.ts): a plan's
// messages instantiated and sent chunk by chunk through the intake or the bus,
// what each answer and the counters must say, and the usage the valid events
// must give, checked against the real metering after each run.
import assert from 'node:assert/strict';
import { eventually } from '@vault/testkit';
import { known, type Event } from '../../../packages/contracts/test/arbitraries.ts';
import { RUN, type Door, type Entity, type Plan, type PlanItem } from './arbitraries.ts';
import { AUTH, stats, type Metering } from './harness.ts';

export const HOUR = 3_600_000;
export const REUSED = 'id: id reused with different content';

/** One message as it goes out: its exact bytes, its JSON value when it has one, its bus key. */
export interface Sent {
  item: PlanItem;
  bytes: Buffer;
  json?: unknown;
  key: string;
}

export interface Counts {
  applied: number;
  duplicates: number;
  rejected: number;
}

export type Rejection = { index: number; id: string | null; reason: string; reasons: { field: string }[] };
export type Report = { accepted: number; duplicates: number; rejected: Rejection[] };

let runs = 0;
/** A tag as long as RUN, unique to this execution (fast-check replays values while shrinking). */
export const nextTag = () =>
  `r${(runs++).toString(36).padStart(3, '0')}${Math.random().toString(36).slice(2, 5)}`.slice(0, RUN.length).padEnd(RUN.length, 'x');

/** The plan's values with RUN replaced by the run's tag, in every string. */
export function instantiate(value: unknown, tag: string): unknown {
  if (typeof value === 'string') return value.replaceAll(RUN, tag);
  if (Array.isArray(value)) return value.map((v) => instantiate(v, tag));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, instantiate(v, tag)]));
  }
  return value;
}

export function sent(item: PlanItem, tag: string): Sent {
  if (item.kind === 'invalid' && item.bytes) return { item, bytes: Buffer.from(item.bytes), key: 'garbage' };
  const json = instantiate(item.value, tag);
  const subject = (json as { subject?: unknown } | null)?.subject;
  // A publisher keys by subject; the embedded bus keeps keys as text, which cannot hold U+0000.
  const key = typeof subject === 'string' ? subject.replaceAll('\u0000', '') : 'no-subject';
  return { item, bytes: Buffer.from(JSON.stringify(json)), json, key };
}

/** A line NDJSON can carry as it is: no newline in it, no CR at its end, not blank. */
export const ndjsonSafe = (b: Buffer) => !b.includes(0x0a) && b.at(-1) !== 0x0d && b.toString('utf8').trim() !== '';

/** The door a chunk goes through: the one drawn, unless the chunk cannot take it. */
export function doorFor(chunk: Sent[], wanted: Door): Door {
  const canArray = chunk.every((s) => s.json !== undefined);
  // A body that opens with '[' is read as a JSON array, so NDJSON cannot start with one; one whose
  // first line is '{' alone and that is not JSON is one broken object (read-body.ts), refused whole.
  const first = chunk[0]!.bytes.toString('utf8').trimStart();
  const canNdjson = chunk.every((s) => ndjsonSafe(s.bytes)) && !first.startsWith('[') && first.trim() !== '{';
  if (wanted === 'array' && canArray) return 'array';
  if (wanted !== 'bus' && canNdjson) return 'ndjson';
  if (wanted === 'ndjson' && canArray) return 'array';
  return 'bus';
}

export const eventKey = (e: Event) => JSON.stringify([e['source'], e['id']]);
/**
 * "Identical content": the event as the contract reads it (unknown fields dropped, `time` as its
 * instant: metering.md, "The same instant in every form"); `known` keeps a fixed key order.
 */
export const contentOf = (e: Event) => JSON.stringify(known(typeof e['time'] === 'string' ? { ...e, time: instantOf(e['time']) } : e));

/**
 * One text per instant, as the contract says: UTC, whole seconds by Date, every fraction digit sent kept
 * (at least 3, no trailing zero past them); `t` and `z` in lower case are the same instant (RFC 3339 §5.6).
 */
function instantOf(time: string): string {
  const m = /^(\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2})(?:\.(\d+))?([Zz]|[+-]\d{2}:\d{2})$/.exec(time);
  if (!m) return time;
  const whole = new Date(Date.parse(`${m[1]}${m[3]}`)).toISOString().slice(0, 19);
  return `${whole}.${(m[2] ?? '').replace(/0+$/, '').padEnd(3, '0')}Z`;
}

/** The id the intake reads off a bad line (at most 128 chars, U+0000 shown as U+FFFD), or null. */
export function idOf(s: Sent): string | null {
  if (s.item.kind === 'valid') return String((s.json as Event)['id']);
  try {
    const v = JSON.parse(s.bytes.toString('utf8')) as { id?: unknown } | null;
    return v !== null && typeof v === 'object' && typeof v.id === 'string' ? v.id.slice(0, 128).replaceAll('\u0000', '\uFFFD') : null;
  } catch {
    return null;
  }
}

/**
 * What a correct receiver does with the stream, message by message: the
 * first content of a key wins; the same content again is a duplicate, other
 * content a rejection; rejections are kept once per distinct bytes.
 */
export class Model {
  readonly winners = new Map<string, Event>();
  readonly counts: Counts = { applied: 0, duplicates: 0, rejected: 0 };
  /** Bytes (base64) of every kept rejection, this run's with what it must say. */
  readonly kept: Map<string, { sent: Sent; reason: 'reused' | 'invalid' }> = new Map();

  constructor(private readonly keptBefore: Set<string>) {}

  /** The intake's report for a chunk sent when everything before it is applied. */
  report(chunk: Sent[]): { accepted: number; duplicates: number; rejected: { index: number; id: string | null; expect: string }[] } {
    const seen = new Map<string, string>();
    const out = { accepted: 0, duplicates: 0, rejected: [] as { index: number; id: string | null; expect: string }[] };
    chunk.forEach((s, index) => {
      if (s.item.kind === 'invalid') {
        out.rejected.push({ index, id: idOf(s), expect: s.item.field });
        return;
      }
      const e = s.json as Event;
      const earlier = this.winners.has(eventKey(e)) ? contentOf(this.winners.get(eventKey(e))!) : seen.get(eventKey(e));
      if (earlier === undefined) {
        out.accepted++;
        seen.set(eventKey(e), contentOf(e));
      } else if (earlier === contentOf(e)) out.duplicates++;
      else out.rejected.push({ index, id: idOf(s), expect: 'reused' });
    });
    return out;
  }

  consume(s: Sent): void {
    if (s.item.kind === 'valid') {
      const e = s.json as Event;
      const winner = this.winners.get(eventKey(e));
      if (!winner) {
        this.winners.set(eventKey(e), e);
        this.counts.applied++;
        return;
      }
      if (contentOf(winner) === contentOf(e)) {
        this.counts.duplicates++;
        return;
      }
      this.reject(s, 'reused');
      return;
    }
    this.reject(s, 'invalid');
  }

  private reject(s: Sent, reason: 'reused' | 'invalid'): void {
    const b64 = s.bytes.toString('base64');
    if (this.keptBefore.has(b64) || this.kept.has(b64)) {
      this.counts.duplicates++;
      return;
    }
    this.kept.set(b64, { sent: s, reason });
    this.counts.rejected++;
  }
}

export type Stats = { events_applied: number; events_duplicate: number; events_rejected: number; consumer_lag: number };

export async function settled(m: Metering, base: Stats, c: Counts, lastRejected: number): Promise<void> {
  let last: Stats | undefined;
  await eventually(
    `stats +${c.applied} applied, +${c.duplicates} duplicate, +${c.rejected} rejected, no lag`,
    async () => {
      const s = (last = (await stats(m)) as Stats);
      return (
        s.events_applied === base.events_applied + c.applied &&
        s.events_duplicate === base.events_duplicate + c.duplicates &&
        s.events_rejected === base.events_rejected + c.rejected &&
        s.consumer_lag === 0
      );
    },
    20_000,
  ).catch(async (err: Error) => {
    const kept = (await listRejected(m, lastRejected)).map((r) => `${r.reason} <- ${r.raw.slice(0, 300)}`);
    throw new Error(
      `${err.message}; last stats ${JSON.stringify(last)} from ${JSON.stringify(base)}; kept rejections:\n${kept.join('\n')}`,
    );
  });
}

export type Listed = { id: string; raw: string; raw_base64: string | null; reason: string; reasons: { field: string }[] };

export async function listRejected(m: Metering, after: number): Promise<Listed[]> {
  const all: Listed[] = [];
  let cursor: number | string = after;
  for (;;) {
    const res: { statusCode: number; body: string; json(): unknown } = await m.http.inject({
      method: 'GET',
      url: `/v1/rejected?status=all&limit=1000&after=${cursor}`,
      headers: AUTH,
    });
    assert.equal(res.statusCode, 200, res.body);
    const page = res.json() as { rejected: Listed[]; next_after: string | null };
    all.push(...page.rejected);
    if (!page.next_after) return all;
    cursor = page.next_after;
  }
}

export const exactBytes = (r: Listed) => r.raw_base64 ?? Buffer.from(r.raw, 'utf8').toString('base64');

export async function post(m: Metering, door: 'array' | 'ndjson', chunk: Sent[]) {
  const payload =
    door === 'array'
      ? JSON.stringify(chunk.map((s) => s.json))
      : Buffer.concat(chunk.flatMap((s, i) => (i === 0 ? [s.bytes] : [Buffer.from('\n'), s.bytes])));
  return m.http.inject({
    method: 'POST',
    url: '/v1/events',
    headers: { ...AUTH, 'content-type': door === 'array' ? 'application/json' : 'application/x-ndjson' },
    payload,
  });
}

export function assertReport(got: Report, chunk: Sent[], expected: ReturnType<Model['report']> | undefined, where: string): void {
  assert.equal(got.accepted + got.duplicates + got.rejected.length, chunk.length, `${where}: every line is accounted for`);
  const byIndex = new Map(got.rejected.map((r) => [r.index, r]));
  // Whatever is in flight, a bad line is always refused, by index, naming its field.
  chunk.forEach((s, index) => {
    if (s.item.kind !== 'invalid') return;
    const r = byIndex.get(index);
    assert.ok(r, `${where}: line ${index} (${s.item.what}) is refused`);
    assert.ok(
      r.reasons.some((x) => x.field === (s.item as { field: string }).field),
      `${where}: line ${index} (${s.item.what}) names ${(s.item as { field: string }).field || 'the message'}: ${r.reason}`,
    );
    assert.equal(r.id, idOf(s), `${where}: line ${index} keeps its id`);
  });
  if (!expected) return;
  assert.equal(got.accepted, expected.accepted, `${where}: accepted`);
  assert.equal(got.duplicates, expected.duplicates, `${where}: duplicates`);
  assert.deepEqual(
    got.rejected.map((r) => [r.index, r.id]),
    expected.rejected.map((r) => [r.index, r.id]),
    `${where}: refused lines`,
  );
  for (const e of expected.rejected.filter((x) => x.expect === 'reused')) {
    assert.equal(byIndex.get(e.index)?.reason, REUSED, `${where}: line ${e.index} is an id reused with other content`);
  }
}

export type Interval = [subject: string, kind: string, app: string, key: string, product: string, from: number, to: number | null];
export type Span = [app: string, account: string, from: number, to: number | null];

/** Usage and ownership as metering must derive them from the winning copy of each entity's events. */
export function expectedUsage(entities: Entity[], winners: Map<string, Event>, tag: string) {
  const intervals: Interval[] = [];
  const spans: Span[] = [];
  for (const entity of entities) {
    const events = entity.events.map((e) => winners.get(eventKey(instantiate(e, tag) as Event))!);
    const at = (i: number) => (events[i] ? Date.parse(String(events[i]['time'])) : null);
    const data = (i: number) => events[i]!['data'] as Record<string, string>;
    const subject = String(instantiate(entity.subject, tag));
    events.forEach((e, i) => {
      const type = e['type'];
      if (type === 'dyno.started')
        intervals.push([subject, 'dyno', data(i)['app_id']!, data(i)['name']!, `dyno:${data(i)['size']}`, at(i)!, at(i + 1)]);
      if (type === 'addon.provisioned' || type === 'addon.plan_changed') {
        intervals.push([
          subject,
          'addon',
          data(i)['app_id']!,
          subject,
          `addon:${data(0)['service']}:${data(i)['plan']}`,
          at(i)!,
          at(i + 1),
        ]);
      }
      if (type === 'app.owner_changed') spans.push([subject, data(i)['account_id']!, at(i)!, at(i + 1)]);
    });
  }
  const order = (a: unknown[], b: unknown[]) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1);
  return { intervals: intervals.sort(order), spans: spans.sort(order) };
}

export async function actualUsage(m: Metering, subjects: string[]) {
  const ms = (d: Date | null) => (d === null ? null : d.getTime());
  const u = await m.db.pool.query<{
    subject: string;
    kind: string;
    app_id: string;
    key: string;
    product: string;
    lo: Date;
    hi: Date | null;
  }>(
    `select subject, kind, app_id, key, product, lower(during) as lo, upper(during) as hi
       from metering.usage_intervals where subject = any($1::text[])`,
    [subjects],
  );
  const o = await m.db.pool.query<{ app_id: string; account_id: string; lo: Date; hi: Date | null }>(
    `select app_id, account_id, lower(during) as lo, upper(during) as hi from metering.app_ownership where app_id = any($1::text[])`,
    [subjects],
  );
  const gaps = await m.db.pool.query(`select subject from metering.subject_gaps where subject = any($1::text[])`, [subjects]);
  const order = (a: unknown[], b: unknown[]) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1);
  return {
    intervals: u.rows.map((r): Interval => [r.subject, r.kind, r.app_id, r.key, r.product, ms(r.lo)!, ms(r.hi)]).sort(order),
    spans: o.rows.map((r): Span => [r.app_id, r.account_id, ms(r.lo)!, ms(r.hi)]).sort(order),
    gaps: gaps.rows,
  };
}

/** One run: the plan sent chunk by chunk, then every promise checked against the model. */
export async function run(m: Metering, p: Plan): Promise<void> {
  const tag = nextTag();
  const base = (await stats(m)) as Stats;
  const before = await listRejected(m, 0);
  const lastBefore = before.reduce((max, r) => Math.max(max, Number(r.id)), 0);
  const model = new Model(new Set(before.map(exactBytes)));

  const messages = p.items.map((item) => sent(item, tag));
  const bounds = [0, ...p.cuts, messages.length];
  for (let c = 0; c + 1 < bounds.length; c++) {
    const chunk = messages.slice(bounds[c], bounds[c + 1]);
    const door = doorFor(chunk, p.doors[c] ?? 'bus');
    const where = `chunk ${c} (${door}, ${chunk.length} lines)`;
    const expected = p.settle ? model.report(chunk) : undefined;
    if (door === 'bus') {
      await m.bus.publish(
        m.topic,
        chunk.map((s) => ({ key: s.key, value: s.bytes })),
      );
    } else {
      const res = await post(m, door, chunk);
      assert.equal(res.statusCode, 202, `${where}: ${res.body}`);
      assertReport(res.json() as Report, chunk, expected, where);
    }
    for (const s of chunk) model.consume(s);
    if (p.settle) await settled(m, base, model.counts, lastBefore);
  }
  await settled(m, base, model.counts, lastBefore);

  // Each valid event stored exactly once, with the content of the first copy sent.
  const stored = await m.db.pool.query<{
    source: string;
    id: string;
    type: string;
    subject: string;
    sequence: string;
    time: Date;
    data: object;
  }>(`select source, id, type, subject, sequence::text, time, data from metering.events where starts_with(id, $1)`, [tag]);
  assert.equal(stored.rows.length, model.winners.size, 'one stored event per (source, id)');
  for (const row of stored.rows) {
    const winner = model.winners.get(JSON.stringify([row.source, row.id]));
    assert.ok(winner, `stored ${row.source}/${row.id} was sent`);
    const k = known(winner);
    assert.deepEqual(
      [row.type, row.subject, row.sequence, row.time.getTime(), row.data],
      [k['type'], k['subject'], String(k['sequence']), Date.parse(String(k['time'])), k['data']],
      `${row.source}/${row.id} holds the first content sent`,
    );
  }

  // Every bad message kept whole, once, with a reason naming its field.
  const listed = (await listRejected(m, lastBefore)).filter((r) => Number(r.id) > lastBefore);
  assert.equal(listed.length, model.kept.size, 'one kept rejection per distinct bad message');
  const byBytes = new Map(listed.map((r) => [exactBytes(r), r]));
  for (const [b64, { sent: s, reason }] of model.kept) {
    const r = byBytes.get(b64);
    const what = s.item.kind === 'invalid' ? s.item.what : `re-use of ${String((s.json as Event)['id'])}`;
    assert.ok(r, `${what} is kept exactly as received`);
    if (reason === 'reused') assert.equal(r.reason, REUSED, what);
    else {
      const field = (s.item as { field: string }).field;
      assert.ok(
        r.reasons.some((x) => x.field === field),
        `${what}: a kept reason names ${field || 'the message'}; got ${r.reason}`,
      );
    }
  }

  // Usage is what the valid events say, whatever came beside them.
  const subjects = p.entities.map((e) => String(instantiate(e.subject, tag)));
  const want = expectedUsage(p.entities, model.winners, tag);
  const got = await actualUsage(m, subjects);
  assert.deepEqual(got.intervals, want.intervals, 'usage intervals');
  assert.deepEqual(got.spans, want.spans, 'app ownership');
  assert.deepEqual(got.gaps, [], 'no subject has a gap');
}
