// The id `vault credit grant` derives when none is given: the same grant typed another way is the
// same id. The expiry was hashed as typed, so …00Z and …00.000Z (or the same instant in +02:00)
// were two ids and the same command, written twice, granted twice.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { derivedGrantId } from '../src/cli/credit.ts';

const grant = (expires: string | undefined, amount = '10.00') => ({
  accountId: 'acct-1',
  amount,
  currency: 'USD',
  reason: 'goodwill',
  expires,
  date: '2026-12-07',
});

describe('derivedGrantId (pure)', () => {
  test('one expiry instant written three ways, or a duration in either case, is one grant id', () => {
    const id = derivedGrantId(grant('2027-01-01T00:00:00Z'));
    assert.equal(derivedGrantId(grant('2027-01-01T00:00:00.000Z')), id);
    assert.equal(derivedGrantId(grant('2027-01-01T02:00:00+02:00')), id);
    assert.equal(derivedGrantId(grant('p90d')), derivedGrantId(grant('P90D')));
    assert.equal(derivedGrantId(grant(undefined, '010.00')), derivedGrantId(grant(undefined)));
  });

  test('another instant, amount or day is another grant', () => {
    const id = derivedGrantId(grant('2027-01-01T00:00:00Z'));
    assert.notEqual(derivedGrantId(grant('2027-01-01T00:00:01Z')), id);
    assert.notEqual(derivedGrantId(grant('2027-01-01T00:00:00Z', '10.01')), id);
    assert.notEqual(derivedGrantId({ ...grant('2027-01-01T00:00:00Z'), date: '2026-12-08' }), id);
  });
});
