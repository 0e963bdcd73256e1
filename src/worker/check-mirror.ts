// Worker mode: the worker thread's check source (what its responder evaluates). A mirror of the
// main thread's check registry (names, flags, latest outcomes), kept current by the updates the
// main thread posts. Background checks and recorded results are answered from the mirror; on-demand
// checks run where they live, on the main thread, asked by message.
//
// Worker mode exists to answer while the main thread is blocked, so no answer waits on it for
// long: a main thread that has not taken the question up within `waitMs`, or that stops running
// (its beat late by more than `waitMs`) while the checks run, is not waited for. The answer then
// uses each check's latest completed result and carries the stall verdict, which says the main
// thread did not answer (and fails past its thresholds as always); no check is failed for it.

import { recordedOutcomes, selectChecks, type CheckInfo, type CheckSource, type Freshness, type Selection } from '../checks.js';
import { evaluates, type CheckOutcome } from '../verdict.js';
import { sharedClockMs } from './shared-state.js';
import { STALL_CHECK_NAME, stallOutcome, type StallThresholds } from './stall.js';

/** How the mirror reaches the main thread. */
export interface MainThreadLink {
  /**
   * Posts an evaluation to the main thread, asked at `askedAtMs` (`sharedClockMs()`); it
   * answers through {@link CheckMirror.taken} and {@link CheckMirror.answered}.
   */
  ask(id: number, selection: Selection, freshness: Freshness, askedAtMs: number): void;
  /** The main thread's stall now, in ms: how late its beat is. */
  stallMs(): number;
}

interface Question {
  taken: boolean;
  answer(outcomes: readonly CheckOutcome[] | undefined): void;
}

/** The worker thread's mirror of the main thread's check registry. */
export class CheckMirror implements CheckSource {
  #checks = new Map<string, CheckInfo>();
  readonly #listeners = new Set<(outcome: CheckOutcome) => void>();
  readonly #questions = new Map<number, Question>();
  #nextId = 0;
  readonly #link: MainThreadLink;
  readonly #waitMs: number;
  readonly #thresholds: StallThresholds;

  constructor(checks: readonly CheckInfo[], link: MainThreadLink, waitMs: number, thresholds: StallThresholds) {
    this.replace(checks);
    this.#link = link;
    this.#waitMs = waitMs;
    this.#thresholds = thresholds;
  }

  /** The registry's checks now, in registration order (a check added or removed on the main thread). */
  replace(checks: readonly CheckInfo[]): void {
    this.#checks = new Map(checks.map((check) => [check.name, check]));
  }

  /** A run finished on the main thread: its outcome is the check's latest, and listeners hear it. */
  record(outcome: CheckOutcome): void {
    const check = this.#checks.get(outcome.name);
    if (check !== undefined) this.#checks.set(check.name, { ...check, last: outcome });
    for (const listener of this.#listeners) listener(outcome);
  }

  /** The main thread took evaluation `id` up: it is running checks for it. */
  taken(id: number): void {
    const question = this.#questions.get(id);
    if (question !== undefined) question.taken = true;
  }

  /** The main thread's outcomes for evaluation `id` (`undefined`: the check named was removed meanwhile). */
  answered(id: number, outcomes: readonly CheckOutcome[] | undefined): void {
    this.#questions.get(id)?.answer(outcomes);
  }

  get size(): number {
    return this.#checks.size;
  }

  list(): readonly CheckInfo[] {
    return [...this.#checks.values()];
  }

  onFinished(listener: (outcome: CheckOutcome) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  evaluate(selection: Selection, freshness: Freshness): readonly CheckOutcome[] | Promise<readonly CheckOutcome[]> | undefined {
    const selected = selectChecks(this.#checks, selection);
    if (selected === undefined) return undefined;
    if (freshness === 'recorded') return recordedOutcomes(selected);
    // As the registry: background checks are answered from their latest outcome, and with `reuse`
    // so is every check that has one.
    if (selected.every((check) => check.background || (freshness === 'reuse' && check.last !== undefined))) return selected.map((check) => check.last ?? noResult(check));
    return this.#ask(selection, selected, freshness);
  }

  #ask(selection: Selection, selected: readonly CheckInfo[], freshness: Freshness): Promise<readonly CheckOutcome[]> {
    const id = this.#nextId++;
    const asked = performance.now();
    // A main thread that answers has its checks settled within their timeouts: past the longest,
    // and then one more wait, something is wrong there, whatever its beat says.
    const deadline = asked + Math.max(0, ...selected.map((check) => check.timeoutMs)) + this.#thresholds.beatMs + this.#waitMs;
    return new Promise((resolve) => {
      const settle = (outcomes: readonly CheckOutcome[]) => {
        clearInterval(watch);
        this.#questions.delete(id);
        resolve(outcomes);
      };
      const question: Question = {
        taken: false,
        answer: (outcomes) => settle(outcomes ?? selected.map((check) => failure(check, 'check removed'))),
      };
      // Looked at every `waitMs`: not taken up by then, or stalled since, the main thread is not answering.
      const watch = setInterval(() => {
        if (question.taken && this.#link.stallMs() <= this.#waitMs && performance.now() < deadline) return;
        settle(this.#withoutMainThread(selection, selected, Math.round(performance.now() - asked)));
      }, this.#waitMs);
      watch.unref();
      this.#questions.set(id, question);
      this.#link.ask(id, selection, freshness, sharedClockMs());
    });
  }

  // The answer when the main thread does not answer: the latest completed results, and the stall
  // verdict with the reason (passing below the readiness threshold, failing past it).
  #withoutMainThread(selection: Selection, selected: readonly CheckInfo[], waitedMs: number): readonly CheckOutcome[] {
    const reason = `the main thread has not answered for ${waitedMs} ms`;
    const outcomes = selected.map((check) => check.last ?? failure(check, `no result yet: ${reason}`));
    if (selection.only !== undefined || selection.exclude.includes(STALL_CHECK_NAME)) return outcomes;
    const stall = stallOutcome(this.#link.stallMs(), this.#thresholds, Date.now(), `${reason}; answered from the latest results`)!;
    return evaluates(selection.endpoint, stall) ? [...outcomes, stall] : outcomes;
  }
}

function noResult(check: CheckInfo): CheckOutcome {
  return failure(check, 'no result yet');
}

function failure(check: CheckInfo, output: string): CheckOutcome {
  const { name, critical, readiness, liveness } = check;
  return { name, ok: false, critical, readiness, liveness, time: Date.now(), durationMs: 0, observedValue: undefined, observedUnit: undefined, output };
}
