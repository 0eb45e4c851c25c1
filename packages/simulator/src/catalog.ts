// What the simulated platform runs: dyno sizes and add-on plans, every one of
// them priced in the default price book (an unpriced product would hold the
// invoice), weighted the way a real fleet leans toward the small ones.

type Weighted<T> = readonly (readonly [T, number])[];

export const WEB_SIZES: Weighted<string> = [
  ['basic', 3],
  ['standard-1x', 4],
  ['standard-2x', 3],
  ['performance-m', 1.5],
  ['performance-l', 0.5],
];

export const WORKER_SIZES: Weighted<string> = [
  ['standard-1x', 3],
  ['standard-2x', 2],
  ['performance-m', 1],
];

export const ONE_OFF_SIZES: Weighted<string> = [
  ['standard-1x', 4],
  ['standard-2x', 2],
  ['performance-l', 0.5],
];

/** The one-off dyno whose stop arrives late: big enough that the credit shows. */
export const LATE_ONE_OFF_SIZE = 'performance-m';

export interface AddonService {
  service: string;
  /** Heroku names an add-on `<prefix>-<word>-<number>`. */
  prefix: string;
  /** Cheapest first: a plan change is mostly an upgrade to the next one. */
  plans: readonly string[];
  /** Share of apps that have one from the start. */
  share: number;
}

export const ADDON_SERVICES: readonly AddonService[] = [
  {
    service: 'heroku-postgresql',
    prefix: 'postgresql',
    plans: ['essential-0', 'essential-1', 'essential-2', 'standard-0', 'standard-2', 'premium-0'],
    share: 0.75,
  },
  { service: 'heroku-redis', prefix: 'redis', plans: ['mini', 'premium-0'], share: 0.35 },
  { service: 'papertrail', prefix: 'papertrail', plans: ['choklad', 'fixa'], share: 0.4 },
  { service: 'scheduler', prefix: 'scheduler', plans: ['standard'], share: 0.3 },
];

export function addonService(service: string): AddonService {
  const found = ADDON_SERVICES.find((s) => s.service === service);
  if (!found) throw new RangeError(`no add-on service ${service} in the catalog`);
  return found;
}

/** Words for Heroku-style names (`frozen-meadow-4821`). */
export const ADJECTIVES = [
  'ancient',
  'autumn',
  'billowing',
  'bitter',
  'black',
  'blue',
  'bold',
  'brave',
  'calm',
  'cool',
  'crimson',
  'curly',
  'damp',
  'dark',
  'dry',
  'eager',
  'fierce',
  'floating',
  'fresh',
  'frosty',
  'gentle',
  'glacial',
  'hidden',
  'icy',
  'lively',
  'misty',
  'morning',
  'polar',
  'quiet',
  'rapid',
  'rugged',
  'shielded',
  'silent',
  'sleepy',
  'solid',
  'still',
  'sunny',
  'tranquil',
  'vast',
  'young',
] as const;

export const NOUNS = [
  'bastion',
  'beach',
  'brook',
  'butte',
  'canyon',
  'cliffs',
  'cove',
  'dawn',
  'depths',
  'dusk',
  'escarpment',
  'falls',
  'fjord',
  'forest',
  'garden',
  'glade',
  'harbor',
  'island',
  'lake',
  'meadow',
  'mesa',
  'mountain',
  'ocean',
  'peak',
  'plains',
  'reef',
  'retreat',
  'ridge',
  'river',
  'savannah',
  'sea',
  'shore',
  'sierra',
  'springs',
  'stream',
  'temple',
  'thicket',
  'tundra',
  'valley',
  'waters',
] as const;
