// Pure: request line (method, target) and Accept header → which probe endpoint, in which format,
// with which options. Knows nothing of checks or sockets.

import { ProbeArgumentError } from './errors.js';
import { toOptions } from './options.js';

/** The probe endpoints. `health` answers `/health` and `/live` (and `/` on the standalone server) by default. */
export type Endpoint = 'health' | 'ready' | 'started';

/** Response body format. */
export type Format = 'text' | 'json';

/** A request the probe answers with a verdict. */
export interface ProbeRoute {
  readonly kind: 'probe';
  readonly endpoint: Endpoint;
  /** `/ready/<name>`, `/health/<name>`: evaluate this one check alone. */
  readonly check: string | undefined;
  /** `?verbose`: one line per check. */
  readonly verbose: boolean;
  /** `?exclude=name`, repeatable: checks to skip for this request. */
  readonly exclude: readonly string[];
  readonly format: Format;
}

/** Exposition format of `/metrics`: Prometheus text 0.0.4, or OpenMetrics 1.0 when asked for. */
export type MetricsFormat = 'prometheus' | 'openmetrics';

/** `Content-Type` of the Prometheus text exposition format. */
export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** `Content-Type` of OpenMetrics 1.0 text. */
export const OPENMETRICS_CONTENT_TYPE = 'application/openmetrics-text; version=1.0.0; charset=utf-8';

/** `GET /metrics` (only when the probe was created with `metrics: true`). */
export interface MetricsRoute {
  readonly kind: 'metrics';
  readonly format: MetricsFormat;
}

/** A request the probe answers with a fixed error. */
export interface ErrorRoute {
  readonly kind: 'not-found' | 'method-not-allowed';
  /**
   * Whether the path is one of the probe's. `probe.handle()` leaves requests for paths it does not
   * own to the host server, whatever their method.
   */
  readonly owned: boolean;
}

export type Route = ProbeRoute | MetricsRoute | ErrorRoute;

/**
 * The paths of each endpoint (option `paths` of `createProbe`). Each given endpoint replaces its
 * defaults; give several paths to alias (`health: ['/health', '/livez', '/healthz']`). No path may
 * repeat or nest in another, defaults included.
 */
export interface ProbePaths {
  /** Default `['/health', '/live']`. */
  health?: string | readonly string[];
  /** Default `'/ready'`. */
  ready?: string | readonly string[];
  /** Default `'/started'`. */
  started?: string | readonly string[];
}

/**
 * A probe's compiled path table: built once (by {@link compilePaths}), then read on every request.
 * `answersRoot`: whether a bare `/` is the health endpoint. The standalone server and a mount under
 * a prefix answer it; a mount without a prefix never does, as `/` is then the host app's own.
 */
export interface PathTable {
  readonly endpointByPath: ReadonlyMap<string, Endpoint>;
  /** `/<base>/` → endpoint, for `/<base>/<check name>`: the health and ready paths. */
  readonly endpointByCheckBase: ReadonlyMap<string, Endpoint>;
  readonly answersRoot: boolean;
  /** Whether `/metrics` is served (`createProbe({ metrics: true })`); when not, it is not the probe's path. */
  readonly metrics: boolean;
}

const METRICS_PATH = '/metrics';
const DEFAULT_PATHS: Readonly<Record<Endpoint, readonly string[]>> = { health: ['/health', '/live'], ready: ['/ready'], started: ['/started'] };
const ENDPOINTS: readonly Endpoint[] = ['health', 'ready', 'started'];

// Paths are matched exactly, with at most one trailing slash, and never decoded or normalised:
// `/re%61dy`, `//ready` and `/x/../ready` are not probe paths. A probe has no reason to be lenient,
// and exact matching means no request input can steer routing in surprising ways. So a configured
// path is plain segments of the characters a URL path carries unencoded, and `/` itself is never
// one: it is the host app's when mounted.
const PATH_SHAPE = /^(?:\/[A-Za-z0-9\-._~!$&'()*+,;=:@]+)+$/;

/** One path of the table being compiled: whose it is, and whether the user set it. */
interface PathEntry {
  readonly endpoint: Endpoint | 'metrics';
  readonly path: string;
  readonly given: boolean;
}

const clashes = (a: string, b: string): boolean => a === b || a.startsWith(`${b}/`) || b.startsWith(`${a}/`);

/**
 * Compiles the `paths` option into the tables the standalone server and `handle()` route with.
 * Throws a `ProbeArgumentError` naming the bad value: not a path of plain segments, `/`, a path
 * given twice, or one path under another (`/health` and `/health/db` would clash with the
 * per-check path of a check named `db`). A clash names the key the user set (a default path is
 * never the mistake; of two set paths, the later one), and says what it clashes with.
 */
export function compilePaths(paths: unknown, argument: string, metrics = false): { standalone: PathTable; mounted: PathTable } {
  const given = toOptions<ProbePaths>(paths, argument, ENDPOINTS);
  // `/metrics` is taken when served; an endpoint path may not shadow it.
  const entries: PathEntry[] = metrics ? [{ endpoint: 'metrics', path: METRICS_PATH, given: false }] : [];
  for (const endpoint of ENDPOINTS) {
    const value = given[endpoint];
    const list = value === undefined ? DEFAULT_PATHS[endpoint] : typeof value === 'string' ? [value] : value;
    if (!Array.isArray(list) || list.length === 0) {
      throw new ProbeArgumentError(`${argument}.${endpoint}`, "a path such as '/livez', or a non-empty array of them", value);
    }
    for (const path of list as unknown[]) {
      if (typeof path !== 'string' || !PATH_SHAPE.test(path)) {
        throw new ProbeArgumentError(`${argument}.${endpoint}`, "paths such as '/livez' or '/k8s/readyz' (leading slash, no trailing slash, not '/', no '?', '#', '%' or spaces)", path);
      }
      entries.push({ endpoint, path, given: value !== undefined });
    }
  }
  // Every pair, so that which key is named does not depend on the order endpoints compile in.
  // Defaults never clash with each other: one of a clashing pair is always the user's.
  for (let later = 1; later < entries.length; later++) {
    for (let earlier = 0; earlier < later; earlier++) {
      if (!clashes(entries[earlier]!.path, entries[later]!.path)) continue;
      const [blamed, other] = entries[later]!.given ? [entries[later]!, entries[earlier]!] : [entries[earlier]!, entries[later]!];
      const what =
        other.endpoint === 'metrics'
          ? `'${other.path}', served with metrics: true`
          : other.given
            ? `'${other.path}' of ${argument}.${other.endpoint}`
            : `'${other.path}', the default of ${argument}.${other.endpoint}`;
      throw new ProbeArgumentError(`${argument}.${blamed.endpoint}`, `paths that neither repeat nor nest in another endpoint path ('${blamed.path}' clashes with ${what})`, blamed.path);
    }
  }
  const byPath = new Map<string, Endpoint>();
  const byCheckBase = new Map<string, Endpoint>();
  for (const { endpoint, path } of entries) {
    if (endpoint === 'metrics') continue;
    byPath.set(path, endpoint);
    byPath.set(`${path}/`, endpoint);
    if (endpoint !== 'started') byCheckBase.set(`${path}/`, endpoint);
  }
  const table = (answersRoot: boolean): PathTable => Object.freeze({ endpointByPath: byPath, endpointByCheckBase: byCheckBase, answersRoot, metrics });
  return { standalone: table(true), mounted: table(false) };
}

/** The default paths, for the standalone server. */
export const DEFAULT_PATH_TABLE: PathTable = compilePaths(undefined, 'paths').standalone;

const NO_EXCLUSIONS: readonly string[] = Object.freeze([]);

// The hot path (no query, no JSON Accept) returns one of these shared objects: no allocation.
// HEAD routes as GET does: whether a body is written is the transport's business (http1-policy.ts).
const PLAIN_ROUTES: Record<Endpoint, ProbeRoute> = {
  health: plainRoute('health'),
  ready: plainRoute('ready'),
  started: plainRoute('started'),
};
function plainRoute(endpoint: Endpoint): ProbeRoute {
  return Object.freeze({ kind: 'probe', endpoint, check: undefined, verbose: false, exclude: NO_EXCLUSIONS, format: 'text' });
}

// Two shared objects: `/metrics` allocates no route either.
const METRICS_ROUTES: Record<MetricsFormat, MetricsRoute> = {
  prometheus: Object.freeze({ kind: 'metrics', format: 'prometheus' }),
  openmetrics: Object.freeze({ kind: 'metrics', format: 'openmetrics' }),
};

const NOT_FOUND_ROUTE: ErrorRoute = Object.freeze({ kind: 'not-found', owned: false });
const NOT_ALLOWED_OWNED_ROUTE: ErrorRoute = Object.freeze({ kind: 'method-not-allowed', owned: true });
const NOT_ALLOWED_OTHER_ROUTE: ErrorRoute = Object.freeze({ kind: 'method-not-allowed', owned: false });

/**
 * Routes one request.
 *
 * @param method  the request method, as node:http gives it (upper case)
 * @param target  the request target: origin-form (`/ready?verbose`) or absolute-form
 *                (`http://host/ready`); anything else is not found
 * @param accept  the `Accept` header, if any
 * @param prefix  a mount prefix such as `/internal/health` (no trailing slash); paths outside it
 *                are not the probe's
 * @param paths   the probe's compiled path table (default: the default paths, standalone)
 */
export function route(method: string | undefined, target: string | undefined, accept?: string, prefix = '', paths: PathTable = DEFAULT_PATH_TABLE): Route {
  const methodAllowed = method === 'GET' || method === 'HEAD';
  let path = target ?? '';
  if (path.charCodeAt(0) !== 47 /* '/' */) path = originFormOf(path);

  let query = '';
  const q = path.indexOf('?');
  if (q !== -1) {
    query = path.slice(q + 1);
    path = path.slice(0, q);
  }
  let endpoint: Endpoint | undefined;
  if (prefix !== '') {
    if (!path.startsWith(prefix)) return notOwned(methodAllowed);
    path = path.slice(prefix.length);
    // The prefix itself is the probe's root.
    if (path === '' || path === '/') endpoint = 'health';
    else if (path.charCodeAt(0) !== 47) return notOwned(methodAllowed);
  } else if (path === '/') {
    if (!paths.answersRoot) return notOwned(methodAllowed);
    endpoint = 'health';
  }

  endpoint ??= paths.endpointByPath.get(path);
  let check: string | undefined;
  if (endpoint === undefined) {
    if (paths.metrics && (path === METRICS_PATH || path === '/metrics/')) {
      return methodAllowed ? METRICS_ROUTES[metricsFormatFromAccept(accept)] : NOT_ALLOWED_OWNED_ROUTE;
    }
    const named = checkPath(path, paths);
    if (named === undefined) return notOwned(methodAllowed);
    endpoint = named.endpoint;
    check = named.check;
  }
  if (!methodAllowed) return NOT_ALLOWED_OWNED_ROUTE;

  const format = formatFromAccept(accept);
  if (query === '' && check === undefined && format === 'text') return PLAIN_ROUTES[endpoint];
  return withQuery({ endpoint, check, format }, query);
}

function notOwned(methodAllowed: boolean): ErrorRoute {
  return methodAllowed ? NOT_FOUND_ROUTE : NOT_ALLOWED_OTHER_ROUTE;
}

// Absolute-form (`GET http://host:11333/ready HTTP/1.1`, RFC 9112 §3.2.2) must be accepted by
// servers; its path is what follows the authority. `*` (asterisk-form) and anything else has none.
function originFormOf(target: string): string {
  const match = /^https?:\/\/[^/?#]*/i.exec(target);
  if (match === null) return '';
  const rest = target.slice(match[0].length);
  return rest === '' || rest.charCodeAt(0) === 63 /* '?' */ ? `/${rest}` : rest;
}

function checkPath(path: string, paths: PathTable): { endpoint: Endpoint; check: string } | undefined {
  // `/<base>/<name>` or `/<base>/<name>/`: the name is the last segment, bases may have several.
  const end = path.endsWith('/') ? path.length - 1 : path.length;
  const slash = path.lastIndexOf('/', end - 1);
  if (slash <= 0) return undefined;
  const endpoint = paths.endpointByCheckBase.get(path.slice(0, slash + 1));
  if (endpoint === undefined) return undefined;
  let name = path.slice(slash + 1, end);
  if (name === '') return undefined;
  try {
    name = decodeURIComponent(name);
  } catch {
    return undefined;
  }
  return { endpoint, check: name };
}

/**
 * JSON only when the client names `application/health+json` or `application/json` with a non-zero
 * quality. `*\/*`, `application/*` and no Accept at all keep the plain-text body, so kubelet, curl
 * and the Rust crate's client read what they always read.
 */
export function formatFromAccept(accept: string | undefined): Format {
  // 'application/json' is the shortest media type that can ask for JSON.
  if (accept === undefined || accept.length < 16) return 'text';
  const lower = accept.toLowerCase();
  if (!lower.includes('json')) return 'text';
  for (const range of lower.split(',')) {
    const [type = '', ...params] = range.split(';');
    const mediaType = type.trim();
    if (mediaType !== 'application/health+json' && mediaType !== 'application/json') continue;
    const quality = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    if (quality === undefined || Number(quality.slice(2)) > 0) return 'json';
  }
  return 'text';
}

/**
 * OpenMetrics 1.0 when the client prefers `application/openmetrics-text` (version 1.0.0, 0.0.1 or
 * none) at a non-zero quality at least that of `text/plain`, as Prometheus asks when it scrapes;
 * otherwise the Prometheus text format 0.0.4, which every scraper reads.
 */
export function metricsFormatFromAccept(accept: string | undefined): MetricsFormat {
  // 'application/openmetrics-text' is 28 characters.
  if (accept === undefined || accept.length < 28) return 'prometheus';
  const lower = accept.toLowerCase();
  if (!lower.includes('openmetrics')) return 'prometheus';
  let openMetrics = 0;
  let plain = 0;
  for (const range of lower.split(',')) {
    const [type = '', ...params] = range.split(';');
    const mediaType = type.trim();
    let quality = 1;
    let version: string | undefined;
    for (const param of params) {
      const equals = param.indexOf('=');
      if (equals === -1) continue;
      const name = param.slice(0, equals).trim();
      const value = param.slice(equals + 1).trim();
      if (name === 'q') quality = Number(value);
      else if (name === 'version') version = value;
    }
    if (!(quality > 0)) continue;
    if (mediaType === 'application/openmetrics-text') {
      if (version === undefined || version === '1.0.0' || version === '0.0.1') openMetrics = Math.max(openMetrics, quality);
    } else if (mediaType === 'text/plain') {
      plain = Math.max(plain, quality);
    }
  }
  return openMetrics > 0 && openMetrics >= plain ? 'openmetrics' : 'prometheus';
}

/**
 * The format of one of the two content types above, else `undefined`. prom-client's registries
 * take exactly these two strings (its `prometheusContentType` and `openMetricsContentType`).
 */
export function metricsFormatOfContentType(contentType: unknown): MetricsFormat | undefined {
  if (contentType === PROMETHEUS_CONTENT_TYPE) return 'prometheus';
  return contentType === OPENMETRICS_CONTENT_TYPE ? 'openmetrics' : undefined;
}

function withQuery(base: { endpoint: Endpoint; check: string | undefined; format: Format }, query: string): ProbeRoute {
  let verbose = false;
  let format = base.format;
  const exclude: string[] = [];
  if (query !== '') {
    const params = new URLSearchParams(query);
    const verboseValue = params.get('verbose');
    verbose = verboseValue !== null && verboseValue !== '0' && verboseValue.toLowerCase() !== 'false';
    for (const name of params.getAll('exclude')) if (name !== '') exclude.push(name);
    const requested = params.get('format');
    if (requested === 'json') format = 'json';
    else if (requested === 'text') format = 'text';
  }
  return { kind: 'probe', ...base, verbose, exclude, format };
}
