// Checks every customer page of both web apps must pass in Chromium, shared by
// their browser tests: no sideways scrolling at 375 px (a phone) nor at
// 1280 px, with a screenshot at each width, and no axe-core violation.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Page } from 'playwright-core';

/**
 * axe-core's browser build, from node_modules, evaluated in the page under test
 * (never served by an app). Through the DevTools protocol, as addScriptTag's
 * inline script would be refused by the pages' CSP, which must stay as it is.
 */
const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

export const WIDTHS = [375, 1280] as const;

export interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: { target: string[] }[];
}

/** axe.run() on the page as it is (the gateway's own iframes left out: they are the gateway's pages, not ours). */
export async function axeViolations(page: Page): Promise<AxeViolation[]> {
  if (!(await page.evaluate(() => 'axe' in window))) await page.evaluate(AXE);
  return page.evaluate(async () => {
    const axe = (window as unknown as { axe: { run(context: unknown, options: unknown): Promise<{ violations: AxeViolation[] }> } }).axe;
    const result = await axe.run(document, { iframes: false, resultTypes: ['violations'] });
    return result.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => ({ target: n.target })) }));
  });
}

/** The document scrolls no wider than the window. */
export async function assertNoSidewaysScroll(page: Page, what: string): Promise<void> {
  const { scrollWidth, innerWidth } = await page.evaluate(() => ({
    scrollWidth: document.scrollingElement!.scrollWidth,
    innerWidth: window.innerWidth,
  }));
  assert.ok(scrollWidth <= innerWidth, `${what}: scrolls sideways (${scrollWidth} px wide in a ${innerWidth} px window)`);
}

/**
 * The page at 375 and 1280 px: a full-page screenshot `<dir><name>-<width>.png`
 * at each, no sideways scrolling; then axe-core at the last width, with no violation.
 * Leaves the viewport at 1280 px.
 */
export async function checkPage(page: Page, dir: string, name: string): Promise<void> {
  const height = page.viewportSize()?.height ?? 800;
  for (const width of WIDTHS) {
    await page.setViewportSize({ width, height });
    await assertNoSidewaysScroll(page, `${name} at ${width} px`);
    await page.screenshot({ path: `${dir}${name}-${width}.png`, fullPage: true });
    if (width === 375) {
      const violations = await axeViolations(page);
      assert.deepEqual(violations, [], `${name}: axe-core violations at 375 px`);
    }
  }
  const violations = await axeViolations(page);
  assert.deepEqual(violations, [], `${name}: axe-core violations at 1280 px`);
}
