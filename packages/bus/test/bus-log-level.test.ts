// The apps log the bus's events at the level its name says: a failure, a
// crash, a hole in a fetch, a dropped commit or a topic made again is a warning an operator can
// alert on, not an info line among the bus's routine ones.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import { busEventLevel } from '../src/index.ts';

const SRC = new URL('../src/', import.meta.url);

test('every bus event the bus logs has the level its name says; problems are warn, routine is info', () => {
  const events = new Set<string>();
  for (const file of readdirSync(SRC)) {
    for (const m of readFileSync(new URL(file, SRC), 'utf8').matchAll(/log\?\.\('(bus\.[a-z_]+)'/g)) events.add(m[1]!);
  }
  const warn = [...events].filter((e) => busEventLevel(e) === 'warn').sort();
  const info = [...events].filter((e) => busEventLevel(e) === 'info').sort();
  assert.deepEqual(warn, [
    'bus.batch_failed',
    'bus.commit_dropped',
    'bus.commit_failed',
    'bus.consumer_crash',
    'bus.consumer_error',
    'bus.empty_range_failed',
    'bus.fetch_gap',
    'bus.handle_failed',
    'bus.publish_failed',
    'bus.seek_failed',
    'bus.topic_created_again',
    'bus.trim_failed',
  ]);
  assert.ok(info.includes('bus.joined') && info.includes('bus.trimmed'), info.join(' '));
});
