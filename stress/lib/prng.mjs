// A small seeded PRNG (mulberry32) so every generated input can be replayed from its seed.

/**
 * The seed of every stress run unless one is given (`--seed N` or `STRESS_SEED=N`): a run is the
 * same inputs on every machine and every day, so a failure in CI is a failure of the code, not of
 * the seed drawn that day. Explore others by giving a seed.
 */
export const DEFAULT_SEED = 20261204;

/** mulberry32: 32-bit state, good enough spread for test input, and identical on every machine. */
export function mulberry32(seed) {
  let a = seed >>> 0;
  return function next() {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Helpers over one generator. */
export function randomSource(seed) {
  const next = mulberry32(seed);
  const int = (min, max) => min + Math.floor(next() * (max - min + 1));
  return {
    next,
    int,
    chance: (p) => next() < p,
    pick: (list) => list[Math.floor(next() * list.length)],
    bytes(length) {
      const out = Buffer.allocUnsafe(length);
      for (let i = 0; i < length; i++) out[i] = Math.floor(next() * 256);
      return out;
    },
  };
}

/** Derives an independent seed for one scenario from the run's seed, so scenarios can run alone. */
export function scenarioSeed(runSeed, scenarioNumber) {
  return (Math.imul(runSeed >>> 0, 2654435761) ^ Math.imul(scenarioNumber, 40503)) >>> 0;
}
