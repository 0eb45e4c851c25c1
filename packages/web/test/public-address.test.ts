// Whether an app answers over https: by the request, or by its configured public
// address (TLS ended at a proxy TRUST_PROXY does not name); and the boot warning.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isHttpsAddress, overHttps, warnUntrustedProxy } from '../src/public-address.ts';

describe('https by the request or by the public address', () => {
  test('an https address, or a request over https, is https; http and unset go by the request', () => {
    assert.equal(isHttpsAddress('https://billing.example.com'), true);
    assert.equal(isHttpsAddress('http://localhost:3000'), false);
    assert.equal(isHttpsAddress(undefined), false);
    assert.equal(overHttps({ protocol: 'http' }, 'https://billing.example.com'), true);
    assert.equal(overHttps({ protocol: 'https' }, undefined), true);
    assert.equal(overHttps({ protocol: 'http' }, 'http://localhost:3000'), false);
    assert.equal(overHttps({ protocol: 'http' }, undefined), false);
  });

  test('the warning: only for an https address with TRUST_PROXY unset (false), naming TRUST_PROXY', () => {
    const lines: [string, Record<string, string> | undefined][] = [];
    const log = { warn: (event: string, fields?: Record<string, string>) => lines.push([event, fields]) };
    const address = { variable: 'CC_FORMS_URL', url: 'https://cards.example.com' };
    assert.equal(warnUntrustedProxy(log, address, true), false);
    assert.equal(warnUntrustedProxy(log, address, ['10.0.0.0/8']), false);
    assert.equal(warnUntrustedProxy(log, { variable: 'CC_FORMS_URL', url: 'http://localhost:3002' }, false), false);
    assert.equal(warnUntrustedProxy(log, { variable: 'CC_FORMS_URL', url: undefined }, false), false);
    assert.equal(lines.length, 0);
    assert.equal(warnUntrustedProxy(log, address, false), true);
    assert.equal(lines[0]![0], 'web.proxy_untrusted');
    assert.equal(lines[0]![1]!.variable, 'TRUST_PROXY');
    assert.match(lines[0]![1]!.hint!, /^CC_FORMS_URL is https but TRUST_PROXY is unset/);
  });
});
