// HTTP requests from a chosen loopback source address: 127.0.0.2 plays a "remote" client when a test trusts 127.0.0.1 only.

import http from 'node:http';

/** The client that servers in these tests trust (`trustedClients: [LOCAL]`). */
export const LOCAL = '127.0.0.1';
/** A loopback address the servers are told not to trust: stands for a client on the network. */
export const REMOTE = '127.0.0.2';
export const TRUST_LOCAL_ONLY = [LOCAL];

export interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
  json(): any;
}

/** One request to `url` (always a 127.0.0.1 address) from the source address `from`. */
export function requestFrom(
  from: string,
  url: string,
  options: { method?: string; token?: string; body?: unknown; headers?: Record<string, string> } = {},
): Promise<Answer> {
  const body = options.body === undefined ? undefined : typeof options.body === 'string' || Buffer.isBuffer(options.body) ? options.body : JSON.stringify(options.body);
  const headers: Record<string, string> = { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...options.headers };
  if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: options.method ?? 'GET', headers, localAddress: from, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json: () => JSON.parse(text) });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}
