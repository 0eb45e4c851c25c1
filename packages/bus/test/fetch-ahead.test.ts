// FetchAhead alone (no broker): each partition's work in the order queued,
// at most `slots` handlers at once, and what is dropped never runs while what
// runs finishes; a handler still waiting for a slot when a drop comes never runs.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DROPPED, FetchAhead } from '../src/fetch-ahead.ts';

const tick = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('FetchAhead', () => {
  test('a partition’s work runs in the order queued; queue() resolves when the work before it is done', async () => {
    const ahead = new FetchAhead(4);
    const done: string[] = [];
    const first = ahead.queue(0, async () => {
      await tick(20);
      done.push('a');
    });
    const second = ahead.queue(0, async () => {
      await tick(5);
      done.push('b');
    });
    await first;
    assert.deepEqual(done, [], 'nothing was queued before the first');
    await second;
    assert.deepEqual(done, ['a'], 'the second waits for the first');
    await ahead.idle();
    assert.deepEqual(done, ['a', 'b']);
  });

  test('at most `slots` handlers run at once, across partitions, first come first served', async () => {
    const ahead = new FetchAhead(2);
    let running = 0;
    let most = 0;
    const started: number[] = [];
    for (let p = 0; p < 6; p++) {
      void ahead.queue(p, async () => {
        await ahead.slot(async () => {
          started.push(p);
          running++;
          most = Math.max(most, running);
          await tick(10);
          running--;
        });
      });
    }
    await ahead.idle();
    assert.equal(most, 2);
    assert.deepEqual(started, [0, 1, 2, 3, 4, 5]);
  });

  test('a drop skips what is queued for the partition, lets what runs finish, and leaves other partitions and later work alone', async () => {
    const ahead = new FetchAhead(4);
    const done: string[] = [];
    void ahead.queue(0, async (current) => {
      await tick(20);
      done.push(`running, still current: ${current()}`);
    });
    void ahead.queue(0, async () => {
      done.push('queued before the drop');
    });
    void ahead.queue(1, async () => {
      done.push('another partition');
    });
    await tick(5);
    ahead.drop(0);
    void ahead.queue(0, async () => {
      done.push('queued after the drop');
    });
    await ahead.idle();
    assert.deepEqual(done, ['another partition', 'running, still current: false', 'queued after the drop']);
  });

  test('dropAll drops every partition’s queue', async () => {
    const ahead = new FetchAhead(1);
    const done: number[] = [];
    for (let p = 0; p < 3; p++) {
      void ahead.queue(p, async () => {
        await ahead.slot(async () => {
          await tick(5);
          done.push(p);
        });
      });
      void ahead.queue(p, async () => {
        done.push(10 + p);
      });
    }
    ahead.dropAll();
    await ahead.idle();
    assert.deepEqual(done, [], 'queued work starts on a later turn, after the drop');
  });

  test('work queued with the epoch read before a drop (a batch handed over before a seek) never runs; a throw does not stop the queue', async () => {
    const failures: unknown[] = [];
    const ahead = new FetchAhead(1, (_partition, err) => failures.push(err));
    const done: string[] = [];
    const before = ahead.epoch(0);
    ahead.drop(0);
    void ahead.queue(
      0,
      async () => {
        done.push('from before the drop');
      },
      before,
    );
    void ahead.queue(0, async () => {
      throw new Error('thrown');
    });
    void ahead.queue(0, async () => {
      done.push('after');
    });
    await ahead.idle();
    assert.deepEqual(done, ['after']);
    assert.equal((failures[0] as Error).message, 'thrown');
  });

  test('a handler waiting for a slot when its partition is dropped (a join while every slot is busy) never runs; the slot goes on to the next', async () => {
    const ahead = new FetchAhead(1);
    const done: string[] = [];
    let release = () => {};
    const busy = new Promise<void>((resolve) => {
      release = resolve;
    });
    void ahead.queue(0, (current) => ahead.slot(() => busy.then(() => done.push('busy')).then(() => undefined), current).then(() => {}));
    const answers: unknown[] = [];
    void ahead.queue(1, async (current) => {
      answers.push(await ahead.slot(async () => done.push('from before the join'), current));
    });
    void ahead.queue(2, async (current) => {
      answers.push(await ahead.slot(async () => done.push('partition 2, from before the join'), current));
    });
    await tick(5);
    ahead.dropAll();
    const after = ahead.queue(1, async (current) => {
      answers.push(await ahead.slot(async () => done.push('fetched after the join'), current));
    });
    release();
    await after;
    await ahead.idle();
    assert.deepEqual(done, ['busy', 'fetched after the join']);
    assert.deepEqual(answers.slice(0, 2), [DROPPED, DROPPED], 'the waiting handlers answered DROPPED, unrun');
  });

  test('dropAll drops a batch handed over before it for a partition never queued to (its epoch read, the log identity still being read)', async () => {
    const ahead = new FetchAhead(1);
    const done: string[] = [];
    const before = ahead.epoch(7);
    ahead.dropAll();
    void ahead.queue(7, async () => void done.push('handed over before the join'), before);
    void ahead.queue(7, async () => void done.push('after the join'));
    await ahead.idle();
    assert.deepEqual(done, ['after the join']);
  });

  test('a drop answers the handlers waiting for a slot at once, while the one holding it still runs (a handler that hangs holds back nothing dropped)', {
    timeout: 5_000,
  }, async () => {
    const ahead = new FetchAhead(1);
    let release = () => {};
    const hanging = ahead.slot(
      () =>
        new Promise<string>((resolve) => {
          release = () => resolve('finished');
        }),
    );
    const waiter = ahead.slot(
      async () => 'ran',
      () => ahead.epoch(3) === 0,
    );
    const keeps = ahead.slot(async () => 'ran after the hanging one');
    ahead.drop(3);
    assert.equal(await waiter, DROPPED, 'answered before the slot is free');
    release();
    assert.equal(await hanging, 'finished');
    assert.equal(await keeps, 'ran after the hanging one', 'a waiter still current keeps its place');
  });
});
