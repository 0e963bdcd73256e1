// Wall-clock bounds that hold on a loaded machine (this one is shared): a bound is measured against
// a plain timer started alongside the operation, never a fixed number of milliseconds, so that a
// slow or stalled event loop delays the yardstick as much as what it measures.

/**
 * A plain `ms` timer started now. Resolves to how long it really took to fire, in ms: how late this
 * event loop runs timers right now. Start it just before the operation it measures, with the
 * operation's own timeout, and bound the operation by what it resolves to plus a margin for the
 * work that follows the timeout (`answeredMs < (await control) + 100`).
 */
export function controlTimer(ms) {
  const began = performance.now();
  return new Promise((resolve) => setTimeout(() => resolve(performance.now() - began), ms));
}
