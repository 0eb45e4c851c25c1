// `--expires DURATION` of `vault token create` and `vault credit grant`: one rule (expires.ts),
// luxon's ISO 8601 durations, positive and at most 100 years. Pure: parsing alone.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DateTime } from 'luxon';
import { parseCreditGrantArgs } from '../src/cli/credit.ts';
import { parseTokenArgs } from '../src/cli/token.ts';
import { CliUsageError } from '../src/cli/usage.ts';

const NOW = DateTime.fromISO('2026-12-06T12:00:00Z', { zone: 'utc' });

/** The instant each command asks for, or its refusal without the command's name. */
function token(given: string): string {
  try {
    const r = parseTokenArgs(['create', '--finance', '--expires', given], NOW);
    assert.equal(r.action, 'create');
    return NOW.plus({ seconds: r.action === 'create' ? r.expiresInSeconds! : 0 }).toISO()!;
  } catch (err) {
    if (!(err instanceof CliUsageError)) throw err;
    return err.message.replace(/^token create: /, '');
  }
}
function credit(given: string): string {
  try {
    return DateTime.fromISO(
      parseCreditGrantArgs(['--account', 'a', '--amount', '1.00', '--reason', 'r', '--expires', given], NOW).request.expires_at!,
      {
        zone: 'utc',
      },
    ).toISO()!;
  } catch (err) {
    if (!(err instanceof CliUsageError)) throw err;
    return err.message.replace(/^credit grant: /, '');
  }
}

describe('--expires DURATION: one rule for token create and credit grant', () => {
  test('P1Y, P1W, lowercase p90d, P6M, PT12H and P100Y are taken by both, as the same instant (calendar years and months)', () => {
    const cases: [string, string][] = [
      ['P1Y', '2027-12-06T12:00:00.000Z'],
      ['P1W', '2026-12-13T12:00:00.000Z'],
      ['p90d', '2027-03-06T12:00:00.000Z'],
      ['P6M', '2027-06-06T12:00:00.000Z'],
      ['PT12H', '2026-12-07T00:00:00.000Z'],
      ['P1DT30M', '2026-12-07T12:30:00.000Z'],
      ['P100Y', '2126-12-06T12:00:00.000Z'],
    ];
    for (const [given, instant] of cases) {
      assert.equal(token(given), instant, `token create --expires ${given}`);
      assert.equal(credit(given), instant, `credit grant --expires ${given}`);
    }
  });

  test('not a positive duration, or more than 100 years: both refuse it with the same words, saying what is taken', () => {
    const what = 'must be a positive ISO 8601 duration such as P90D, PT12H, P2W, P6M or P1Y (any letter case), at most P100Y';
    for (const given of ['P', 'PT0S', 'P-1D', 'P1M-40D', 'P1X', 'P 1D']) {
      const refusal = `--expires ${what}, got ${JSON.stringify(given)}`;
      assert.equal(token(given), refusal, `token create --expires ${given}`);
      assert.equal(credit(given), refusal, `credit grant --expires ${given}`);
    }
    for (const given of ['P101Y', 'P36526D', 'P100000000D']) {
      const refusal = `--expires must be at most 100 years (P100Y), got ${JSON.stringify(given)}`;
      assert.equal(token(given), refusal, `token create --expires ${given}`);
      assert.equal(credit(given), refusal, `credit grant --expires ${given}`);
    }
    // Not a duration at all: token create takes none but a duration.
    assert.equal(token('3d'), `--expires ${what}, got "3d"`);
  });
});
