// The guarded entry of the HTTP servers: a handler that throws or rejects answers 500 (or resets), and the server keeps serving.

import http, { type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

import { afterEach, describe, expect, it } from 'vitest';

import { guardedListener, parseRequestTarget } from '../src/http/guard';
import { request } from './helpers/server';

let server: Server | undefined;
afterEach(async () => {
  server?.closeAllConnections();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server = undefined;
});

async function serve(handle: (req: http.IncomingMessage, res: http.ServerResponse) => unknown, failures: unknown[]): Promise<string> {
  server = http.createServer(guardedListener(handle, (error) => failures.push(error)));
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', () => resolve()));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe('guardedListener', () => {
  it('turns a rejection, and a throw after the head, into 500 / a reset, and keeps serving', async () => {
    const failures: unknown[] = [];
    const url = await serve(async (req, res) => {
      if (req.url === '/async') await Promise.reject(new Error('async'));
      if (req.url === '/late') {
        res.writeHead(200, { 'content-length': '10' });
        res.write('12345');
        throw new Error('late');
      }
      res.end('ok');
    }, failures);
    const rejected = await request(`${url}/async`, { method: 'GET' });
    expect(rejected.status).toBe(500);
    expect(rejected.json()).toEqual({ detail: 'internal error' });
    await expect(request(`${url}/late`, { method: 'GET' })).rejects.toThrow();
    expect((await request(`${url}/fine`, { method: 'GET' })).body).toBe('ok');
    expect(failures.map((e) => (e as Error).message)).toEqual(['async', 'late']);
  });

  it('guards a listener that throws synchronously', async () => {
    const failures: unknown[] = [];
    const url = await serve((req) => {
      if (req.url === '/boom') throw new Error('boom');
      return undefined;
    }, failures);
    expect((await request(`${url}/boom`, { method: 'GET' })).status).toBe(500);
    expect(failures).toHaveLength(1);
  });
});

describe('parseRequestTarget', () => {
  it('reads origin-form and absolute-form targets, and refuses what reads as an authority', () => {
    expect(parseRequestTarget('/api/1/envelope/?sentry_key=%zz')?.pathname).toBe('/api/1/envelope/');
    expect(parseRequestTarget('http://example.invalid/x?y=1')?.searchParams.get('y')).toBe('1');
    for (const target of ['//', '///', '//:99999/', '//[::1', '//evil.example/x', '*', 'http://[::1/x', 'ftp://x/y', '']) {
      expect(parseRequestTarget(target), target).toBeNull();
    }
  });
});
