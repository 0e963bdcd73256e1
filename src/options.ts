// Validation at the door: every public entry checks its arguments here and fails with a
// ProbeArgumentError that names the argument and shows the value, before anything is changed.

import { ProbeArgumentError } from './errors.js';
import { isServiceState, type ServiceState } from './state.js';

/** An IP address or a host name (`'localhost'`), or 4 (IPv4) or 16 (IPv6) byte values as in the crate's `[0u8, 0, 0, 0]`. */
export type AddressInput = string | readonly number[];

// RFC 1123 host names: at most 253 characters (a fully qualified name may add a final dot) in
// dot-separated labels of 1 to 63 letters, digits and hyphens, neither starting nor ending with a
// hyphen. The last label is never all digits (RFC 1123 2.1): `999.0.0.1` is a bad address, not a name.
const HOST_NAME = /^(?=.{1,253}\.?$)(?!(?:.*\.)?\d+\.?$)(?:[a-z\d](?:[a-z\d-]{0,61}[a-z\d])?\.)*[a-z\d](?:[a-z\d-]{0,61}[a-z\d])?\.?$/i;

/**
 * Turns an address argument into what `listen()` takes: an IP literal, or a host name, which
 * node:net looks up when the server listens. Throws naming the bad value.
 */
export function toHost(address: unknown, argument: string): string {
  if (typeof address === 'string') {
    const host = address.startsWith('[') && address.endsWith(']') ? address.slice(1, -1) : address;
    // node:net (and its streams) loads here, not at import: a host is checked when a probe is made.
    if (process.getBuiltinModule('node:net').isIP(host) !== 0 || HOST_NAME.test(address)) return host;
    throw new ProbeArgumentError(argument, 'an IPv4 or IPv6 address or a host name', address);
  }
  if (Array.isArray(address) && (address.length === 4 || address.length === 16) && address.every(isByte)) {
    if (address.length === 4) return address.join('.');
    const groups: string[] = [];
    for (let i = 0; i < 16; i += 2) groups.push(((address[i] << 8) | address[i + 1]).toString(16));
    return compressIPv6(groups);
  }
  throw new ProbeArgumentError(argument, 'an IPv4 or IPv6 address or a host name, or an array of 4 or 16 byte values', address);
}

function isByte(value: unknown): value is number {
  return Number.isInteger(value) && (value as number) >= 0 && (value as number) <= 255;
}

// RFC 5952: the longest run of two or more zero groups becomes `::`.
function compressIPv6(groups: string[]): string {
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < groups.length; ) {
    if (groups[i] !== '0') {
      i++;
      continue;
    }
    let j = i;
    while (j < groups.length && groups[j] === '0') j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  if (bestStart === -1) return groups.join(':');
  return `${groups.slice(0, bestStart).join(':')}::${groups.slice(bestStart + bestLength).join(':')}`;
}

/** Checks a TCP port: an integer from 0 (any free port) to 65535. */
export function toPort(port: unknown, argument: string): number {
  return toInteger(port, argument, 0, 65535);
}

/** Checks a state word. */
export function toState(state: unknown, argument: string): ServiceState {
  if (isServiceState(state)) return state;
  throw new ProbeArgumentError(argument, "one of 'UP', 'READY', 'DRAINING', 'DOWN'", state);
}

// setTimeout fires at once past 2^31 - 1 ms (and warns): a longer duration is a mistake, never "forever".
/** The longest duration a node timer can wait, in ms (2^31 - 1). Every duration option stops here. */
export const TIMER_MAX_MS = 2_147_483_647;

/**
 * Checks a whole number (a count, a size): a safe integer from `min` (default 1) to `max`
 * (default `Number.MAX_SAFE_INTEGER`).
 */
export function toInteger(value: unknown, argument: string, min = 1, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= min && value <= max) return value;
  throw new ProbeArgumentError(argument, `an integer from ${min} to ${max}`, value);
}

/** Checks a positive whole number (a count or a size), at most `max`. */
export function toPositiveInteger(value: unknown, argument: string, max = Number.MAX_SAFE_INTEGER): number {
  return toInteger(value, argument, 1, max);
}

/**
 * Checks a duration in milliseconds: an integer from `min` (1, or 0 where "no delay" makes sense)
 * to {@link TIMER_MAX_MS}.
 */
export function toDuration(value: unknown, argument: string, min: 0 | 1 = 1): number {
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= min && value <= TIMER_MAX_MS) return value;
  throw new ProbeArgumentError(argument, `an integer number of milliseconds from ${min} to ${TIMER_MAX_MS}`, value);
}

/** Checks a positive finite number (a threshold that may have a fraction, such as 12.5 ms). */
export function toPositiveNumber(value: unknown, argument: string): number {
  if (typeof value === 'number' && Number.isFinite(value) && value > 0) return value;
  throw new ProbeArgumentError(argument, 'a positive number', value);
}

/** Checks a ratio: a number above 0 and at most 1. */
export function toRatio(value: unknown, argument: string): number {
  if (typeof value === 'number' && value > 0 && value <= 1) return value;
  throw new ProbeArgumentError(argument, 'a number above 0 and at most 1', value);
}

/** Checks a boolean option. */
export function toBoolean(value: unknown, argument: string): boolean {
  if (typeof value === 'boolean') return value;
  throw new ProbeArgumentError(argument, 'true or false', value);
}

/** Checks a function argument. */
export function toFunction<F extends (...args: never[]) => unknown>(value: unknown, argument: string): F {
  if (typeof value === 'function') return value as F;
  throw new ProbeArgumentError(argument, 'a function', value);
}

/** Checks a mount prefix: `''`, or a path that starts with `/` and does not end with one (`/internal/health`). */
export function toPrefix(prefix: unknown, argument: string): string {
  if (typeof prefix === 'string' && (prefix === '' || (prefix.charCodeAt(0) === 47 && !prefix.endsWith('/') && !/[?#\s]/.test(prefix)))) {
    return prefix;
  }
  throw new ProbeArgumentError(argument, "'' or a path such as '/internal/health' (leading slash, no trailing slash)", prefix);
}

/** Checks that an options argument is a plain object (or absent) and has no unknown keys. */
export function toOptions<T extends object>(options: unknown, argument: string, known: readonly string[]): Partial<T> {
  if (options === undefined) return {};
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new ProbeArgumentError(argument, 'an object', options);
  }
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) throw new ProbeArgumentError(`${argument}.${key}`, `one of the known options (${known.join(', ')})`, key);
  }
  return options as Partial<T>;
}
