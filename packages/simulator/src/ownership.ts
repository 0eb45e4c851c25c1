// Who owns the apps. Apps are the platform's only lasting subjects: each is
// created at PLATFORM_START for its home account, and every week one of them
// is lent into or out of the demo account for a few days and then given back,
// so the accounts keep their shape however long the platform runs. Every
// window carries each app's whole history (its sequence starts at 1).
import { DAY, HOUR, stream, wholeSeconds, type Simulation } from './app-activity.ts';
import { PLATFORM_START_MS } from './platform-time.ts';

export interface OwnedApp {
  id: string;
  /** The account that creates it and always gets it back. */
  home: string;
}

export interface OwnerChange {
  app: string;
  from: string;
  to: string;
  ms: number;
}

const WEEK = 7 * DAY;

/**
 * The apps' creation and every loan that starts before `untilMs`. A loan
 * starts 12 to 36 hours into its week and lasts 2 to 3 days, so any six days
 * hold an owner change. `lendIn` are the apps that may go to the demo account,
 * `lendOut` the demo account's apps that may leave it (never the late host's
 * or the showcase's: the demo needs them at home).
 */
export function runOwnership(
  sim: Simulation,
  apps: readonly OwnedApp[],
  o: { demoAccount: string; others: readonly string[]; lendIn: readonly OwnedApp[]; lendOut: readonly OwnedApp[]; untilMs: number },
): OwnerChange[] {
  for (const app of apps) sim.log.ownerChanged(PLATFORM_START_MS, app.id, app.home);
  const changes: OwnerChange[] = [];
  for (let week = 0, start = PLATFORM_START_MS; start < o.untilMs; week++, start += WEEK) {
    const rng = stream(sim, 'loan', week);
    const intoDemo = o.lendOut.length === 0 || rng.chance(0.5);
    const app = rng.pick(intoDemo ? o.lendIn : o.lendOut);
    const borrower = intoDemo ? o.demoAccount : rng.pick(o.others);
    const lent = wholeSeconds(start + rng.between(12 * HOUR, 36 * HOUR));
    const back = wholeSeconds(lent + rng.between(2 * DAY, 3 * DAY));
    sim.log.ownerChanged(lent, app.id, borrower);
    sim.log.ownerChanged(back, app.id, app.home);
    changes.push({ app: app.id, from: app.home, to: borrower, ms: lent }, { app: app.id, from: borrower, to: app.home, ms: back });
  }
  return changes;
}
