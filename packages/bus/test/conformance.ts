import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { eventually, uniqueName } from '@vault/testkit';
import type { Batch, Bus, Consumer, IncomingMessage, ReadFrom } from '../src/index.ts';

export interface BusUnderTest {
  bus: Bus;
  /** What the killed child process needs to open the same bus. */
  child: { kind: 'kafka' | 'embedded'; target: string };
  close(): Promise<void>;
}

const HOLD_CONSUMER = fileURLToPath(new URL('./fixtures/hold-consumer.ts', import.meta.url));
const LONG = { timeout: 120_000 };

/** Collects what a consumer receives, by message value. */
function collector() {
  const received: IncomingMessage[] = [];
  return {
    received,
    values: () => received.map((m) => m.value.toString()),
    eachBatch: async (batch: { messages: IncomingMessage[] }) => {
      received.push(...batch.messages);
    },
  };
}

/** The behaviour every bus adapter must have, run against a real server. */
export function busConformance(name: string, open: () => Promise<BusUnderTest>): void {
  describe(`bus conformance: ${name}`, () => {
    let sut: BusUnderTest;
    const consumers: Consumer[] = [];
    before(async () => {
      sut = await open();
    });
    after(async () => {
      await Promise.all(consumers.map((c) => c.stop()));
      await sut.close();
    });

    async function topic(partitions: number): Promise<string> {
      const t = uniqueName('conf');
      await sut.bus.ensureTopic(t, partitions);
      return t;
    }

    async function consume(t: string, groupId: string, eachBatch: (b: { messages: IncomingMessage[] }) => Promise<void>) {
      const c = await sut.bus.consume({ topic: t, groupId, eachBatch, sessionTimeoutMs: 6_000 });
      consumers.push(c);
      return c;
    }

    test('keeps the publish order of every key', LONG, async () => {
      const t = await topic(3);
      const keys = Array.from({ length: 10 }, (_, i) => `subject-${i}`);
      for (let round = 0; round < 4; round++) {
        const messages = [];
        for (let seq = round * 5 + 1; seq <= round * 5 + 5; seq++) {
          for (const key of keys) messages.push({ key, value: JSON.stringify({ key, seq }) });
        }
        await sut.bus.publish(t, messages);
      }
      const got = collector();
      await consume(t, uniqueName('g'), got.eachBatch);
      await eventually('200 messages', () => got.received.length >= 200);
      for (const key of keys) {
        const seqs = got
          .values()
          .map((v) => JSON.parse(v))
          .filter((v) => v.key === key)
          .map((v) => v.seq);
        assert.deepEqual(
          seqs,
          Array.from({ length: 20 }, (_, i) => i + 1),
          `order of ${key}`,
        );
      }
    });

    test('delivers every published message at least once', LONG, async () => {
      const t = await topic(4);
      const sent = Array.from({ length: 300 }, (_, i) => `m-${i}`);
      const publishing = Date.now();
      await sut.bus.publish(
        t,
        sent.map((v, i) => ({ key: `k-${i % 37}`, value: v })),
      );
      await new Promise((r) => setTimeout(r, 50));
      const consuming = Date.now();
      const got = collector();
      await consume(t, uniqueName('g'), got.eachBatch);
      await eventually('all 300 messages', () => new Set(got.values()).size === 300);
      // The bus's timestamp is when the message arrived, not when it was read:
      // metering judges "future" events by it.
      for (const m of got.received) {
        assert.ok(
          m.timestamp >= publishing - 1_000 && m.timestamp < consuming,
          `timestamp ${m.timestamp} between ${publishing} and ${consuming}`,
        );
      }
      assert.deepEqual([...new Set(got.values())].sort(), [...sent].sort());
    });

    test('redelivers uncommitted messages after a consumer is killed with SIGKILL', LONG, async () => {
      const t = await topic(2);
      const group = uniqueName('g');
      const sent = Array.from({ length: 20 }, (_, i) => `held-${i}`);
      await sut.bus.publish(
        t,
        sent.map((v, i) => ({ key: `k-${i}`, value: v })),
      );
      const child = spawn(process.execPath, ['--import', 'tsx', HOLD_CONSUMER], {
        env: { ...process.env, BUS_KIND: sut.child.kind, BUS_TARGET: sut.child.target, TOPIC: t, GROUP: group },
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      let output = '';
      child.stdout.on('data', (d) => (output += d));
      const exited = new Promise((r) => child.on('exit', r));
      try {
        await eventually('the doomed consumer to receive messages', () => output.includes('received held-'));
      } finally {
        child.kill('SIGKILL');
        await exited;
      }
      assert.equal(await sut.bus.lag(t, group), 20, 'nothing was committed by the killed consumer');
      const got = collector();
      await consume(t, group, got.eachBatch);
      await eventually('all 20 messages again', () => new Set(got.values()).size === 20, 60_000);
      for (const line of output.split('\n').filter((l) => l.startsWith('received '))) {
        assert.ok(got.values().includes(line.slice('received '.length)), `${line} came again`);
      }
    });

    test("shares a topic's partitions across the group's members", LONG, async () => {
      const t = await topic(4);
      const group = uniqueName('g');
      const a = collector();
      const b = collector();
      const ca = await consume(t, group, a.eachBatch);
      const cb = await consume(t, group, b.eachBatch);
      await eventually(
        'both members to own partitions',
        () => ca.assignment().length > 0 && cb.assignment().length > 0 && ca.assignment().length + cb.assignment().length === 4,
        60_000,
      );
      const owned = { a: ca.assignment(), b: cb.assignment() };
      assert.deepEqual([...owned.a, ...owned.b].sort(), [0, 1, 2, 3], 'every partition has one owner');
      await sut.bus.publish(
        t,
        Array.from({ length: 200 }, (_, i) => ({ key: `k-${i}`, value: `v-${i}` })),
      );
      await eventually('200 messages across both', () => a.received.length + b.received.length >= 200);
      assert.ok(a.received.length > 0 && b.received.length > 0, 'both members received messages');
      for (const m of a.received) assert.ok(owned.a.includes(m.partition), `a owns ${m.partition}`);
      for (const m of b.received) assert.ok(owned.b.includes(m.partition), `b owns ${m.partition}`);
    });

    test('resumes from the committed offset after a restart', LONG, async () => {
      const t = await topic(1);
      const group = uniqueName('g');
      await sut.bus.publish(
        t,
        [1, 2, 3, 4, 5].map((i) => ({ key: 'k', value: `first-${i}` })),
      );
      const first = collector();
      const c1 = await consume(t, group, first.eachBatch);
      await eventually('the first five', () => first.received.length === 5);
      await eventually('the commit', async () => (await sut.bus.lag(t, group)) === 0);
      await c1.stop();
      await sut.bus.publish(
        t,
        [1, 2, 3, 4, 5].map((i) => ({ key: 'k', value: `second-${i}` })),
      );
      assert.equal(await sut.bus.lag(t, group), 5);
      const second = collector();
      await consume(t, group, second.eachBatch);
      await eventually('the second five', () => second.received.length >= 5, 60_000);
      await new Promise((r) => setTimeout(r, 500));
      assert.deepEqual(
        second.values(),
        [1, 2, 3, 4, 5].map((i) => `second-${i}`),
      );
      assert.equal(second.received[0]?.offset, '5');
    });

    test(
      'a handler that throws gets the same messages again, from the first of its batch, in order (what came meanwhile after them), and nothing of them is committed before',
      LONG,
      async () => {
        const t = await topic(1);
        const group = uniqueName('g');
        await sut.bus.publish(
          t,
          [0, 1, 2, 3, 4, 5].map((i) => ({ key: 'k', value: `m-${i}` })),
        );
        const handled: string[] = [];
        let failed = false;
        let lagAtFailure: number | undefined;
        await sut.bus
          .consume({
            topic: t,
            groupId: group,
            maxBatchSize: 2,
            sessionTimeoutMs: 6_000,
            eachBatch: async (batch) => {
              const values = batch.messages.map((m) => m.value.toString());
              if (!failed && values.includes('m-2')) {
                failed = true;
                lagAtFailure = await sut.bus.lag(t, group);
                // More comes while it is away: none of it may be handed over before the failed batch.
                await sut.bus.publish(
                  t,
                  [6, 7, 8, 9].map((i) => ({ key: 'k', value: `m-${i}` })),
                );
                throw new Error('the database is away');
              }
              handled.push(...values);
            },
          })
          .then((c) => consumers.push(c));
        await eventually('every message handled', () => handled.includes('m-9'), 60_000);
        assert.equal(lagAtFailure, 4, 'the two handled before are committed, the failed ones not');
        assert.deepEqual(
          handled,
          [0, 1, 2, 3, 4, 5, 6, 7, 8, 9].map((i) => `m-${i}`),
        );
        await eventually('the commit', async () => (await sut.bus.lag(t, group)) === 0);
      },
    );

    test('names the log of a topic and of each batch, and gives each partition its bounds', LONG, async () => {
      const [t, other] = [await topic(3), await topic(3)];
      const log = await sut.bus.describeLog(t);
      assert.equal(log.partitions, 3);
      assert.notEqual(log.id, (await sut.bus.describeLog(other)).id, 'another topic is another log');
      assert.equal((await sut.bus.describeLog(t)).id, log.id, 'the same log keeps its identity');
      await sut.bus.publish(
        t,
        Array.from({ length: 12 }, (_, i) => ({ key: `k-${i}`, value: `v-${i}` })),
      );
      const bounds = await sut.bus.bounds(t);
      assert.deepEqual(
        bounds.map((b) => [b.partition, b.start]),
        [
          [0, '0'],
          [1, '0'],
          [2, '0'],
        ],
      );
      assert.equal(
        bounds.reduce((n, b) => n + Number(b.end), 0),
        12,
      );
      const logs = new Set<string>();
      let got = 0;
      await consume(t, uniqueName('g'), async (b) => {
        logs.add((b as Batch).log);
        got += b.messages.length;
      });
      await eventually('the 12 messages', () => got >= 12);
      assert.deepEqual([...logs], [log.id]);
    });

    test(
      'a handler answering { readFrom } commits nothing and gets the partition again from that offset; past the end, from its start',
      LONG,
      async () => {
        const t = await topic(1);
        const group = uniqueName('g');
        await sut.bus.publish(
          t,
          [0, 1, 2, 3, 4].map((i) => ({ key: 'k', value: `m-${i}` })),
        );
        const firsts: string[] = [];
        const answers: (ReadFrom | undefined)[] = [{ readFrom: '3' }, { readFrom: '1' }, { readFrom: '99' }];
        const got = collector();
        await sut.bus
          .consume({
            topic: t,
            groupId: group,
            sessionTimeoutMs: 6_000,
            eachBatch: async (b) => {
              firsts.push(b.messages[0]!.offset);
              const answer = answers.shift();
              if (answer) return answer;
              await got.eachBatch(b);
            },
          })
          .then((c) => consumers.push(c));
        await eventually('the messages from the start again', () => got.received.length >= 5);
        assert.deepEqual(firsts, ['0', '3', '1', '0']);
        assert.deepEqual(
          got.values(),
          [0, 1, 2, 3, 4].map((i) => `m-${i}`),
        );
        await eventually('the commit', async () => (await sut.bus.lag(t, group)) === 0);
      },
    );
  });
}
