// The invoice pages' html helpers: escaping, and money from decimal strings.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { escapeHtml, html } from '@vault/web';
import { money } from '../src/web/html.ts';
import type { WebWorld } from './web-fixture.ts';

let _world: WebWorld;

describe('html helpers', () => {
  test('every interpolated value is escaped; markup made by html is kept', () => {
    const name = `<script>alert("x")</script>&'`;
    assert.equal(html`<p title="${name}">${name}</p>`.toString(), `<p title="${escapeHtml(name)}">${escapeHtml(name)}</p>`);
    assert.equal(escapeHtml(name), '&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&#39;');
    assert.equal(html`<ul>${['a<', 'b'].map((x) => html`<li>${x}</li>`)}</ul>`.toString(), '<ul><li>a&lt;</li><li>b</li></ul>');
  });

  test('money is shown from decimal strings: $25.00, -$3.61 for a credit, thousands grouped, no price as a dash', () => {
    const cases: [string | null, string][] = [
      ['25.00', '$25.00'],
      ['0.00', '$0.00'],
      ['-3.61', '-$3.61'],
      ['1234567.05', '$1,234,567.05'],
      ['123.45', '$123.45'],
      [null, '—'],
    ];
    for (const [amount, shown] of cases) assert.equal(money(amount), shown);
    assert.equal(money('25.00', 'EUR'), 'EUR 25.00');
    assert.throws(() => money('25.5'), /not a money amount/);
  });
});
