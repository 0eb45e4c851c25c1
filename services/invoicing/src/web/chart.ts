// The usage-per-day bar chart: inline SVG, no script, readable by a screen
// reader (a title and description for the chart, a title on every bar).
import { html, type Html } from '@vault/web';
import type { UsageDay } from '../billing/types.ts';
import { money } from './html.ts';

const WIDTH = 720;
const HEIGHT = 220;
const PAD = { top: 16, right: 12, bottom: 28, left: 64 };

/** Whole cents of a decimal string ("1.23" → 123n), by string: money is never a float. */
function cents(amount: string): bigint {
  const match = /^(-?)(\d+)(?:\.(\d{1,2}))?\d*$/.exec(amount);
  if (!match) return 0n;
  const value = BigInt(match[2]!) * 100n + BigInt((match[3] ?? '0').padEnd(2, '0'));
  return match[1] ? -value : value;
}

/** "1.23" from 123n. */
function fromCents(c: bigint): string {
  const abs = c < 0n ? -c : c;
  return `${c < 0n ? '-' : ''}${abs / 100n}.${(abs % 100n).toString().padStart(2, '0')}`;
}

/** Pixels (not money): the bar's share of the plot's height. */
const scale = (c: bigint, max: bigint, span: number) => (max <= 0n || c <= 0n ? 0 : (Number((c * 10_000n) / max) / 10_000) * span);

/**
 * One bar per day; `slots` (the month's days) fixes the bars' width, so a
 * month in progress shows its days to come as room on the right.
 */
export function usageChart(days: readonly UsageDay[], currency: string, label: string, slots = days.length): Html {
  if (days.length === 0) return html`<p class="muted">No usage yet in ${label}.</p>`;
  const values = days.map((d) => cents(d.amount));
  // biome-ignore lint/complexity/useMathMinMax: the values are bigint cents, which Math.max does not take
  const max = values.reduce((m, v) => (v > m ? v : m), 0n);
  const plotW = WIDTH - PAD.left - PAD.right;
  const plotH = HEIGHT - PAD.top - PAD.bottom;
  const slot = plotW / Math.max(slots, days.length);
  const barW = Math.max(1, slot * 0.7);
  const maxLabel = money(fromCents(max), currency);
  const baseline = PAD.top + plotH;
  const bars = days.map((d, i) => {
    const h = scale(values[i]!, max, plotH);
    const x = PAD.left + i * slot + (slot - barW) / 2;
    return html`<rect class="bar" x="${x.toFixed(1)}" y="${(baseline - h).toFixed(1)}" width="${barW.toFixed(1)}" height="${h.toFixed(1)}"><title>${d.day}: ${money(d.amount, currency)}</title></rect>`;
  });
  // A day number under the first bar, every fifth one and the last, spaced so labels never crowd.
  const ticks = days.map((d, i) =>
    i % 5 === 0 || (i === days.length - 1 && i % 5 >= 2)
      ? html`<text x="${(PAD.left + i * slot + slot / 2).toFixed(1)}" y="${HEIGHT - 8}" text-anchor="middle">${Number(d.day.slice(8))}</text>`
      : '',
  );
  const total = days.reduce((sum, d) => sum + cents(d.amount), 0n);
  const totalText = money(fromCents(total), currency);
  return html`<svg class="chart" viewBox="0 0 ${WIDTH} ${HEIGHT}" role="img" aria-labelledby="usage-chart-title usage-chart-desc">
<title id="usage-chart-title">Usage per day, ${label}</title>
<desc id="usage-chart-desc">${days.length} days from ${days[0]!.day} to ${days[days.length - 1]!.day}; highest day ${maxLabel}; ${totalText} in all, priced before the monthly cap, credits and adjustments.</desc>
<line class="axis" x1="${PAD.left}" y1="${baseline}" x2="${WIDTH - PAD.right}" y2="${baseline}"/>
<line class="axis" x1="${PAD.left}" y1="${PAD.top}" x2="${PAD.left}" y2="${baseline}"/>
${
  max > 0n
    ? html`<text x="${PAD.left - 6}" y="${PAD.top + 4}" text-anchor="end">${maxLabel}</text>`
    : html`<text x="${PAD.left + plotW / 2}" y="${PAD.top + plotH / 2}" text-anchor="middle">No priced usage so far</text>`
}
<text x="${PAD.left - 6}" y="${baseline + 4}" text-anchor="end">${money('0.00', currency)}</text>
${bars}
${ticks}
</svg>`;
}
