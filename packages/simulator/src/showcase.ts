// The demo's showcase: each month the demo's second app gets a Papertrail
// add-on that changes plan and is destroyed again within the month, so the
// demo's month shows an add-on's whole life.
import { addonId, DAY, stream, wholeSeconds, type Simulation } from './app-activity.ts';
import type { Month } from './platform-time.ts';

export function runShowcase(sim: Simulation, month: Month, app: string): void {
  const rng = stream(sim, 'showcase', month.label);
  const addon = addonId(sim, rng, 'papertrail', 'showcase', month.label);
  sim.log.addonProvisioned(wholeSeconds(month.start + rng.between(1, 4) * DAY), addon, app, 'papertrail', 'choklad');
  sim.log.addonPlanChanged(wholeSeconds(month.start + rng.between(8, 14) * DAY), addon, app, 'fixa');
  sim.log.addonDeprovisioned(wholeSeconds(month.start + rng.between(18, 25) * DAY), addon, app);
}
