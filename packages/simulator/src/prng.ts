// A small seeded PRNG, so a simulation is the same on every machine and Node
// version (Math.random cannot be seeded). Each part of the platform (an app's
// web.1, its one-off dynos, an add-on) draws from its own named stream: what
// one part draws never shifts another's, so a longer window only adds events.

/** mulberry32: 32 bits of state, fast, and good enough for simulated traffic. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** FNV-1a of a string, then murmur3's finalizer, so similar names give unrelated seeds. */
export function hash32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

const BASE36 = '0123456789abcdefghijklmnopqrstuvwxyz';

export class Rng {
  private constructor(private readonly next: () => number) {}

  /** The stream named by `parts` (e.g. seed, window start, app, slot). */
  static stream(...parts: (string | number)[]): Rng {
    return new Rng(mulberry32(hash32(parts.join('/'))));
  }

  /** In [0, 1). */
  float(): number {
    return this.next();
  }

  /** In [min, max). */
  between(min: number, max: number): number {
    return min + (max - min) * this.next();
  }

  /** An integer in [min, max], both included. */
  int(min: number, max: number): number {
    return min + Math.floor((max - min + 1) * this.next());
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError('pick from an empty list');
    return items[Math.floor(items.length * this.next())]!;
  }

  /** One of `items`, each as likely as its weight. */
  weighted<T>(items: readonly (readonly [T, number])[]): T {
    const total = items.reduce((sum, [, w]) => sum + w, 0);
    let r = this.next() * total;
    for (const [item, w] of items) {
      r -= w;
      if (r < 0) return item;
    }
    return items[items.length - 1]![0];
  }

  /** Waiting time of a Poisson process with that mean (memoryless arrivals). */
  exponential(mean: number): number {
    return -mean * Math.log(1 - this.next());
  }

  /** `length` lowercase letters and digits. */
  token(length: number): string {
    let out = '';
    for (let i = 0; i < length; i++) out += BASE36[Math.floor(36 * this.next())];
    return out;
  }
}
