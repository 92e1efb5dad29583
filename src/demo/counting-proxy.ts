// A proxy in front of a project-config upstream that counts, per key, the answers carrying a config: how often a fleet
// asks its upstream (`npm run load:fleet`, the fleet test).

import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** Forwards project-config requests to the control plane and counts, per key, the answers that carried a config (or `unchanged`). */
export class CountingProxy {
  readonly answered = new Map<string, number>();
  private server!: Server;
  url = '';

  constructor(private readonly target: string) {}

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks);
        const headers: Record<string, string> = {};
        for (const [name, value] of Object.entries(req.headers)) if (typeof value === 'string' && !['host', 'content-length', 'connection', 'accept-encoding'].includes(name)) headers[name] = value;
        fetch(`${this.target}${req.url}`, { method: req.method, headers, body: req.method === 'GET' ? undefined : body })
          .then(async (answer) => {
            const text = await answer.text();
            try {
              const answer = JSON.parse(text) as { configs?: Record<string, unknown>; unchanged?: string[] };
              for (const key of [...Object.keys(answer.configs ?? {}), ...(answer.unchanged ?? [])]) this.answered.set(key, (this.answered.get(key) ?? 0) + 1);
            } catch {
              // not a config answer
            }
            res.writeHead(answer.status, { 'content-type': answer.headers.get('content-type') ?? 'application/json' });
            res.end(text);
          })
          .catch(() => {
            res.writeHead(502);
            res.end();
          });
      });
    });
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** Answers that carried a config of `key` (or said it is unchanged). */
  fetches(key: string): number {
    return this.answered.get(key) ?? 0;
  }

  reset(): void {
    this.answered.clear();
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
