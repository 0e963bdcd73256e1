// Pure: a verdict → the status, header list and body bytes of the response. Every response the
// probe writes comes from here, so the standalone server and `probe.handle()` send the same bytes.

import { SERVICE_STATES, type ServiceState } from './state.js';
import { checkStatus, roundMs, type CheckOutcome, type DetailedVerdict, type Verdict } from './verdict.js';

/** A response ready to write: `headers` is a flat `[name, value, name, value, …]` list. */
export interface RenderedResponse {
  readonly status: number;
  readonly headers: readonly string[];
  readonly body: Buffer;
}

export const TEXT_CONTENT_TYPE = 'text/plain; charset=utf-8';

// Headers on every response: a probe answer is never cacheable (a stale READY from a proxy cache
// would be worse than none) and never sniffed as anything but what it says.
const COMMON_HEADERS: readonly string[] = Object.freeze(['Cache-Control', 'no-store', 'X-Content-Type-Options', 'nosniff']);

/** Builds a response from a status, a content type and a body. */
export function renderResponse(status: number, contentType: string, body: string | Buffer, extraHeaders: readonly string[] = []): RenderedResponse {
  const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  const headers = Object.freeze([
    'Content-Type',
    contentType,
    'Content-Length',
    String(bytes.length),
    ...COMMON_HEADERS,
    ...extraHeaders,
  ]);
  return Object.freeze({ status, headers, body: bytes });
}

/** The plain-text answer of a probe endpoint: the state word, no trailing newline (as the crate). */
export function renderStateText(status: number, word: ServiceState): RenderedResponse {
  return renderResponse(status, TEXT_CONTENT_TYPE, word);
}

/** The HTTP status of a verdict: 200 when the endpoint passes, 503 when it does not. */
export function statusOf(verdict: Verdict): 200 | 503 {
  return verdict.pass ? 200 : 503;
}

// Every plain answer there can be (4 state words × pass/fail), built once: the hot path only looks
// one up.
const STATE_TEXT = Object.fromEntries(
  SERVICE_STATES.map((word) => [word, { pass: renderStateText(200, word), fail: renderStateText(503, word) }]),
) as Record<ServiceState, { pass: RenderedResponse; fail: RenderedResponse }>;

/** The precomputed plain-text answer of a verdict (its state word): two property reads, no allocation. */
export function stateText(verdict: Verdict): RenderedResponse {
  const answers = STATE_TEXT[verdict.word];
  return verdict.pass ? answers.pass : answers.fail;
}

/** 404 for paths that are not the probe's. A fixed body: no response ever echoes request input. */
export const NOT_FOUND: RenderedResponse = renderResponse(404, TEXT_CONTENT_TYPE, 'Not found');

/** 405 for methods other than GET and HEAD (RFC 9110 §15.5.6 requires `Allow`). */
export const METHOD_NOT_ALLOWED: RenderedResponse = renderResponse(405, TEXT_CONTENT_TYPE, 'Method not allowed', ['Allow', 'GET, HEAD']);

/**
 * 400 for an HTTP/1.1 request without `Host` (RFC 9112 §3.2 requires it). Answered by the probe
 * itself rather than by node:http, whose own 400 lacks the headers every probe response carries.
 */
export const BAD_REQUEST: RenderedResponse = renderResponse(400, TEXT_CONTENT_TYPE, 'Bad Request', ['Connection', 'close']);

/**
 * 408 for a request head that did not arrive within `headersTimeoutMs`. Like the other refusals of
 * a request the server could not read (400, 431), its body is the reason phrase.
 */
export const REQUEST_TIMEOUT: RenderedResponse = renderResponse(408, TEXT_CONTENT_TYPE, 'Request Timeout', ['Connection', 'close']);

/** 431 for a request head larger than `maxHeaderSize`. */
export const HEADERS_TOO_LARGE: RenderedResponse = renderResponse(431, TEXT_CONTENT_TYPE, 'Request Header Fields Too Large', ['Connection', 'close']);

/**
 * 417 for an `Expect` other than `100-continue` (RFC 9110 §10.1.1), instead of node:http's own
 * bare 417 without the probe's headers. The connection is closed: a body may follow that the probe
 * will not read.
 */
export const EXPECTATION_FAILED: RenderedResponse = renderResponse(417, TEXT_CONTENT_TYPE, 'Expectation failed', ['Connection', 'close']);

/**
 * The same response with `Connection: close` added: used while the probe stops, and when a
 * request carries a body the probe will not read.
 */
export function withConnectionClose(response: RenderedResponse): RenderedResponse {
  return { status: response.status, headers: [...response.headers, 'Connection', 'close'], body: response.body };
}

/** The media type of the JSON form (IETF draft "Health Check Response Format for HTTP APIs"). */
export const HEALTH_JSON_CONTENT_TYPE = 'application/health+json';

const WITHHELD = 'reason withheld';

/** One verbose line: `[+]name ok`, `[+]name warn: reason`, `[-]name failed: reason`. */
export function renderCheckLine(outcome: CheckOutcome, exposeDetails: boolean): string {
  if (outcome.ok) return `[+]${outcome.name} ok`;
  const reason = exposeDetails && outcome.output !== undefined ? outcome.output : WITHHELD;
  return outcome.critical ? `[-]${outcome.name} failed: ${reason}` : `[+]${outcome.name} warn: ${reason}`;
}

/**
 * The `?verbose` text: one line per evaluated check, then the state word as the last line
 * (a one-check path has no state line). Every line ends with a newline.
 */
export function renderVerboseText(verdict: DetailedVerdict, exposeDetails: boolean): string {
  let text = '';
  for (const outcome of verdict.checks) text += `${renderCheckLine(outcome, exposeDetails)}\n`;
  return verdict.single ? text : `${text}${verdict.word}\n`;
}

/** The body of the JSON form: `status`, `state` and `checks` keyed by name, each an array of one result. */
export function renderHealthJson(verdict: DetailedVerdict, exposeDetails: boolean): string {
  const checks: Record<string, unknown[]> = {};
  for (const outcome of verdict.checks) {
    const entry: Record<string, unknown> = { status: checkStatus(outcome) };
    if (outcome.observedValue !== undefined) entry['observedValue'] = outcome.observedValue;
    if (outcome.observedUnit !== undefined) entry['observedUnit'] = outcome.observedUnit;
    entry['time'] = new Date(outcome.time).toISOString();
    entry['durationMs'] = roundMs(outcome.durationMs);
    if (exposeDetails && outcome.output !== undefined) entry['output'] = outcome.output;
    checks[outcome.name] = [entry];
  }
  return `${JSON.stringify({ status: verdict.health, state: verdict.word, checks }, null, 2)}\n`;
}

/**
 * The response for a verdict with check results. The plain form (no `?verbose`, not JSON, not one
 * check) is the same precomputed state-word answer as without checks.
 */
export function renderDetailed(verdict: DetailedVerdict, format: 'text' | 'json', verbose: boolean, exposeDetails: boolean): RenderedResponse {
  if (format === 'json') return renderResponse(statusOf(verdict), HEALTH_JSON_CONTENT_TYPE, renderHealthJson(verdict, exposeDetails));
  if (verbose || verdict.single) return renderResponse(statusOf(verdict), TEXT_CONTENT_TYPE, renderVerboseText(verdict, exposeDetails));
  return stateText(verdict);
}
