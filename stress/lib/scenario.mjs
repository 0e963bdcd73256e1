// What every scenario shares: a failure list that keeps the first few messages of each kind,
// and the end-of-scenario checks on the probe process (no uncaught error, no stderr output).

export class Findings {
  #byKind = new Map();

  /** Records a failure; `kind` groups repeats so one bug does not flood the report. */
  fail(kind, detail) {
    const entry = this.#byKind.get(kind) ?? { count: 0, examples: [] };
    entry.count++;
    if (entry.examples.length < 3 && detail !== undefined) entry.examples.push(detail);
    this.#byKind.set(kind, entry);
  }

  check(condition, kind, detail) {
    if (!condition) this.fail(kind, typeof detail === 'function' ? detail() : detail);
    return condition;
  }

  get ok() {
    return this.#byKind.size === 0;
  }

  list() {
    return [...this.#byKind].map(([kind, { count, examples }]) => `${kind} (${count}×)${examples.length ? `: ${examples.map((e) => JSON.stringify(e)).join('; ')}` : ''}`);
  }
}

/** Fails when the probe process threw, left a rejection unhandled, warned, or wrote to stderr. */
export function checkProcessClean(findings, probe, stats, { allowLoggedErrors = false } = {}) {
  findings.check(probe.exited() === undefined, 'probe process exited', () => probe.exited());
  findings.check(stats.uncaught === 0, 'uncaught exception in the probe process', () => stats.firstProblems);
  findings.check(stats.unhandled === 0, 'unhandled rejection in the probe process', () => stats.firstProblems);
  findings.check(stats.warnings === 0, 'process warning in the probe process', () => stats.firstProblems);
  if (!allowLoggedErrors) findings.check(stats.loggedErrors === 0, 'probe logged an error', () => stats.firstProblems);
  findings.check(probe.stderr() === '', 'probe process wrote to stderr', () => probe.stderr().slice(0, 300));
}

/** Waits until `read()` returns at most `target`, for up to `timeoutMs`; returns the last value read. */
export async function settle(read, target, timeoutMs = 3000) {
  const until = Date.now() + timeoutMs;
  let value = await read();
  while (value > target && Date.now() < until) {
    await new Promise((resolve) => setTimeout(resolve, 25));
    value = await read();
  }
  return value;
}
