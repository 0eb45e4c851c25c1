// What the tests of metering's HTTP doors send: a valid event, its binary-mode headers, and
// readBody over a string or bytes.
import { readBody } from '../src/intake/read-body.ts';

let serial = 0;
export const event = (subject = `dyno-doors-${++serial}`, id = `evt-${subject}`) => ({
  specversion: '1.0',
  id,
  source: 'dyno-manager',
  type: 'dyno.started',
  time: '2026-10-01T00:00:00Z',
  subject,
  sequence: 1,
  data: { app_id: 'app-doors', name: 'web.1', size: 'standard-1x' },
});
/** A binary-mode event's headers; values are what Node hands the route (each byte one latin1 char). */
export const binaryHeaders = (subject: string): Record<string, string> => {
  const e = event(subject, `evt-doors-${++serial}`);
  return {
    'content-type': 'application/json',
    ...Object.fromEntries(
      ['specversion', 'id', 'source', 'type', 'time', 'subject'].map((k) => [`ce-${k}`, String(e[k as keyof typeof e])]),
    ),
    'ce-sequence': '1',
  };
};
export const read = (headers: Record<string, string>, body: string | Buffer) => readBody(headers, Buffer.from(body));
/** A pretty-printed event with one comma missing, as a person edits one by hand. */
export const brokenPretty = () => JSON.stringify(event(), null, 2).replace('"dyno-manager",', '"dyno-manager"');
