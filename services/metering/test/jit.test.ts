// Metering's sessions run with jit = off: on servers built with LLVM, per-batch
// statements on growing, not yet analyzed tables JIT-compiled for 70–260 ms a batch.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { eventually, freePort, startService, type RunningService, type TestDatabase } from '@vault/testkit';
import { ADMIN, AUTH, exampleLines, meteringDatabase } from './harness.ts';

describe('metering: its PostgreSQL sessions set jit = off (the real metering process)', () => {
  let db: TestDatabase | undefined;
  let metering: RunningService | undefined;
  after(async () => {
    await metering?.kill('SIGTERM');
    await db?.drop();
  });

  test('the consumer applying a batch and POST /v1/events run in sessions where jit is off, though the server default is on', {
    timeout: 120_000,
  }, async () => {
    db = await meteringDatabase();
    const own = await db.pool.query<{ jit: string }>('show jit');
    assert.equal(own.rows[0]!.jit, 'on', "the server's default, so the check below means something");
    // A trigger reads the setting inside the session that fires it.
    await db.pool.query(`
      create table public.jit_seen (what text not null, setting text not null);
      create function public.record_jit() returns trigger language plpgsql as $$
        begin insert into public.jit_seen values (tg_argv[0], current_setting('jit')); return null; end $$;
      create trigger record_jit after insert or update on metering.message_counts
        for each statement execute function public.record_jit('the consumer applying a batch');`);
    metering = await startService('metering', {
      DATABASE_URL: db.url,
      KAFKA_BROKERS: '',
      HOST: '127.0.0.1',
      ADMIN_TOKEN: ADMIN,
      METERING_PORT: String(await freePort()),
    });
    // The embedded bus's tables exist once the process listens: POST /v1/events writes its messages.
    await db.pool.query(`create trigger record_jit after insert on bus.messages
      for each statement execute function public.record_jit('POST /v1/events publishing')`);
    const posted = await fetch(`${metering.url}/v1/events`, {
      method: 'POST',
      headers: { ...AUTH, 'content-type': 'application/x-ndjson' },
      body: exampleLines('october.ndjson').join('\n'),
    });
    assert.equal(posted.status, 202, await posted.text());
    const seen = async () =>
      (await db!.pool.query<{ what: string; setting: string }>('select distinct what, setting from public.jit_seen order by what')).rows;
    await eventually('a batch applied', async () => (await seen()).length >= 2);
    assert.deepEqual(await seen(), [
      { what: 'POST /v1/events publishing', setting: 'off' },
      { what: 'the consumer applying a batch', setting: 'off' },
    ]);
  });
});
