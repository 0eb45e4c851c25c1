// CC_FORMS_URL (and INVOICING_WEB_URL): one parser for every app. The gateway
// sandbox's own took a query, a fragment, a user and spaces around the address
// that invoicing refused (or, for a bare `?` or a user, put into its links), so
// one .env booted the sandbox and stopped invoicing.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { z } from 'zod';
import { ConfigError, parseConfig, webOrigin, webUrl } from '../src/variables.ts';

const Schema = z.object({ CC_FORMS_URL: webUrl });
const read = (text: string) => parseConfig(Schema, { CC_FORMS_URL: text }).CC_FORMS_URL;

describe('a web address: http(s)://host[:port][/path], without a trailing slash', () => {
  test('kept with its path, trailing slashes dropped; its origin is scheme, host and port', () => {
    for (const [text, address, origin] of [
      ['https://cards.example.com', 'https://cards.example.com', 'https://cards.example.com'],
      ['https://cards.example.com/', 'https://cards.example.com', 'https://cards.example.com'],
      ['https://Cards.Example.com:8443/pay-here//', 'https://cards.example.com:8443/pay-here', 'https://cards.example.com:8443'],
      ['http://localhost:3002', 'http://localhost:3002', 'http://localhost:3002'],
    ] as const) {
      assert.equal(read(text), address, text);
      assert.equal(webOrigin(read(text)!), origin, text);
    }
    assert.equal(read(''), undefined);
  });

  test('the values the two parsers disagreed on, and the ones neither took, are refused alike', () => {
    for (const text of [
      'https://cards.example.com/?from=mail',
      'https://cards.example.com?',
      'https://cards.example.com/#top',
      'https://user:pw@cards.example.com',
      ' https://cards.example.com',
      'https://cards.example.com\n',
      'https://cards.example.com/pay here',
      'ftp://cards.example.com',
      'javascript:alert(1)',
      'cards.example.com',
      '   ',
    ]) {
      assert.throws(
        () => read(text),
        (err: unknown) => {
          assert.ok(err instanceof ConfigError);
          assert.equal(
            err.message,
            `invalid configuration: CC_FORMS_URL: expected a web address, http(s)://host[:port][/path], without a query, fragment, user or spaces, got ${JSON.stringify(text)}`,
          );
          return true;
        },
        JSON.stringify(text),
      );
    }
  });
});
