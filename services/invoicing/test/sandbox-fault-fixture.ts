// The real gateway sandbox with a 500 a test can ask for, and charging's database beside it: the
// 500 is injected by the sandbox's test-only faultAfterWork switch, after the endpoint ran, so its
// work is rolled back and the 500 kept under the request's idempotency key (as Stripe keeps it for a day).
import type { TestDatabase } from '@vault/testkit';
import { type Sandbox, startSandbox } from '../../gateway-sandbox/test/harness.ts';
import { chargingDatabase } from './charging-fixture.ts';

/** Requests to a path `once` matches fail once with an injected 500 (then it is cleared). */
export type Fault = { once: RegExp | null };

export async function faultySandbox(fault: Fault): Promise<{ sb: Sandbox; db: TestDatabase }> {
  const sb = await startSandbox({
    faultAfterWork: (path) => {
      if (!fault.once?.test(path)) return;
      fault.once = null;
      throw new Error('injected fault');
    },
  });
  return { sb, db: await chargingDatabase() };
}

/** Drops the database, then closes the sandbox; either may be missing when `before` failed. */
export async function closeFaultySandbox(sb: Sandbox | undefined, db: TestDatabase | undefined): Promise<void> {
  await db?.drop();
  await sb?.close();
}
