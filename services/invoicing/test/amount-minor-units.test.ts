// The gateway's integer amounts read back as amounts: what a stray payment, a refund or a dispute
// in any currency is said as. KWD is counted in thousandths: 2500 fils were said as "25.00 KWD".
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { fromMinorUnits } from '../src/charging/amount.ts';

describe('fromMinorUnits (pure)', () => {
  test('cents, whole units and thousandths, each by its currency (any case)', () => {
    assert.equal(fromMinorUnits(5258, 'usd'), '52.58');
    assert.equal(fromMinorUnits(2500, 'JPY'), '2500.00');
    assert.equal(fromMinorUnits(2500, 'kwd'), '2.500');
    assert.equal(fromMinorUnits(1, 'BHD'), '0.001');
    assert.equal(fromMinorUnits(0, 'eur'), '0.00');
  });
});
