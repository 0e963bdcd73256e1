// Raw HTTP/1.1 over node:net: what a hostile client writes, what kubelet writes, and a small
// keep-alive client fast enough to load the probe without measuring a heavy client instead.

import { connect } from 'node:net';
import { nowMs } from './stats.mjs';

/** Status codes in a raw response stream, in order. */
export function statusesIn(raw) {
  const out = [];
  for (const match of raw.matchAll(/HTTP\/1\.[01] (\d{3}) /g)) out.push(Number(match[1]));
  return out;
}

/**
 * Writes `bytes` on a fresh connection and collects whatever comes back until the server closes,
 * or `holdMs` passes (then the client closes: the probe must cope with that too). With
 * `endAfterWrite` the client half-closes after writing, as a client that is done talking.
 */
export function rawExchange(port, bytes, { endAfterWrite = false, holdMs = 300 } = {}) {
  return new Promise((resolve) => {
    const chunks = [];
    let settled = false;
    let how = 'server-closed';
    let error;
    const socket = connect({ port, host: '127.0.0.1' });
    const finish = () => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve({ raw: Buffer.concat(chunks).toString('latin1'), how, error });
    };
    const timer = setTimeout(() => {
      how = 'client-gave-up';
      socket.destroy();
      finish();
    }, holdMs);
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('error', (e) => {
      error = e.code ?? e.message;
    });
    socket.on('close', finish);
    socket.on('connect', () => {
      if (endAfterWrite) socket.end(bytes);
      else socket.write(bytes);
    });
  });
}

/**
 * A kubelet-style probe on a fresh connection (`Connection: close`, `User-Agent: kube-probe`).
 * Resolves { status, body, ms } where ms runs from connect() to the last byte; rejects on error
 * or after `timeoutMs`.
 */
export function kubeProbe(port, path = '/ready', timeoutMs = 5000) {
  return new Promise((resolve, reject) => {
    const started = nowMs();
    const chunks = [];
    const socket = connect({ port, host: '127.0.0.1' });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`probe ${path} not answered within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.on('connect', () =>
      socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUser-Agent: kube-probe/1.31\r\nAccept: */*\r\nConnection: close\r\n\r\n`),
    );
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    socket.on('close', () => {
      clearTimeout(timer);
      const ms = nowMs() - started;
      const raw = Buffer.concat(chunks).toString('latin1');
      const end = raw.indexOf('\r\n\r\n');
      if (end === -1) return reject(new Error(`probe ${path}: no response (${JSON.stringify(raw.slice(0, 80))})`));
      resolve({ status: Number(raw.slice(9, 12)), body: raw.slice(end + 4), ms });
    });
  });
}

/**
 * One keep-alive connection, one request at a time. `request(path)` resolves
 * { status, body, sentNs, receivedNs } with times on the shared monotonic clock.
 */
export class KeepAliveClient {
  #socket;
  #buffer = '';
  #waiting;
  #ready;

  constructor(port) {
    this.#socket = connect({ port, host: '127.0.0.1', noDelay: true });
    this.#socket.setEncoding('latin1');
    this.#ready = new Promise((resolve, reject) => {
      this.#socket.once('connect', resolve);
      this.#socket.once('error', reject);
    });
    this.#socket.on('data', (chunk) => {
      this.#buffer += chunk;
      this.#drain();
    });
    const fail = (why) => {
      const waiting = this.#waiting;
      this.#waiting = undefined;
      waiting?.reject(new Error(why));
    };
    this.#socket.on('error', (e) => fail(`connection error ${e.code ?? e.message}`));
    this.#socket.on('close', () => fail('connection closed by the server'));
    this.#socket.on('end', () => this.#socket.end());
  }

  ready() {
    return this.#ready;
  }

  #drain() {
    if (!this.#waiting) return;
    const end = this.#buffer.indexOf('\r\n\r\n');
    if (end === -1) return;
    const head = this.#buffer.slice(0, end);
    const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0);
    if (this.#buffer.length < end + 4 + length) return;
    const receivedNs = Number(process.hrtime.bigint());
    const body = this.#buffer.slice(end + 4, end + 4 + length);
    this.#buffer = this.#buffer.slice(end + 4 + length);
    const waiting = this.#waiting;
    this.#waiting = undefined;
    waiting.resolve({ status: Number(head.slice(9, 12)), body, head, sentNs: waiting.sentNs, receivedNs });
  }

  request(path) {
    return new Promise((resolve, reject) => {
      const sentNs = Number(process.hrtime.bigint());
      this.#waiting = { resolve, reject, sentNs };
      this.#socket.write(`GET ${path} HTTP/1.1\r\nHost: probe\r\n\r\n`);
    });
  }

  /** Resolves once the connection is closed (by either side). */
  closed() {
    if (this.#socket.destroyed) return Promise.resolve();
    return new Promise((resolve) => this.#socket.once('close', resolve));
  }

  close() {
    this.#socket.destroy();
  }
}
