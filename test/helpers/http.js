// Test helpers: raw HTTP exchanges over node:net, so tests see exactly the bytes on the wire.
import { connect } from 'node:net';
import { once } from 'node:events';

/**
 * Sends `request` (a string or Buffer) on a fresh TCP connection and collects everything the server
 * sends until it closes the connection or `idleMs` passes without data.
 */
export async function rawExchange(port, request, { idleMs = 300, host = '127.0.0.1' } = {}) {
  const socket = connect({ host, port });
  await once(socket, 'connect');
  const chunks = [];
  socket.on('data', (chunk) => chunks.push(chunk));
  let closed = false;
  const closedPromise = new Promise((resolve) => socket.once('close', () => { closed = true; resolve(); }));
  socket.on('error', () => {});
  socket.write(request);
  // Wait for close, or for the data to stop flowing.
  let seen = -1;
  while (!closed) {
    await Promise.race([closedPromise, new Promise((r) => setTimeout(r, idleMs))]);
    const total = chunks.reduce((n, c) => n + c.length, 0);
    if (total === seen) break;
    seen = total;
  }
  socket.destroy();
  return { text: Buffer.concat(chunks).toString('latin1'), closed };
}

/** Parses one or more HTTP/1.1 responses from raw text (Content-Length framed). */
export function parseResponses(text, { head = false } = {}) {
  const responses = [];
  let rest = text;
  while (rest.length > 0) {
    const end = rest.indexOf('\r\n\r\n');
    if (end === -1) throw new Error(`incomplete response head: ${JSON.stringify(rest)}`);
    const [statusLine, ...lines] = rest.slice(0, end).split('\r\n');
    const [version, status, ...reason] = statusLine.split(' ');
    const headers = {};
    const rawHeaders = [];
    for (const line of lines) {
      const colon = line.indexOf(':');
      const name = line.slice(0, colon).toLowerCase();
      const value = line.slice(colon + 1).trim();
      rawHeaders.push([name, value]);
      headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
    }
    const length = head ? 0 : Number(headers['content-length'] ?? 0);
    const body = rest.slice(end + 4, end + 4 + length);
    responses.push({ version, status: Number(status), reason: reason.join(' '), headers, rawHeaders, body });
    rest = rest.slice(end + 4 + length);
  }
  return responses;
}

/** One raw request, one parsed response. */
export async function rawRequest(port, request, options = {}) {
  const { text, closed } = await rawExchange(port, request, options);
  const [response] = parseResponses(text, options);
  return { ...response, closed, text };
}
