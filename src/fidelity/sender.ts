// A bounded HTTP sender of envelopes (closed-loop tests, the fidelity tool).

import http from 'node:http';

/** POSTs envelopes over keep-alive connections with at most `concurrency` requests in flight. */
export class EnvelopeSender {
  private readonly agent: http.Agent;

  constructor(private readonly baseUrl: string, private readonly concurrency = 32) {
    this.agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  }

  private post(projectId: number, publicKey: string, body: Buffer): Promise<number> {
    return new Promise((resolve, reject) => {
      const req = http.request(
        `${this.baseUrl}/api/${projectId}/envelope/`,
        {
          method: 'POST',
          agent: this.agent,
          headers: {
            'content-type': 'application/x-sentry-envelope',
            'content-length': body.length,
            'x-sentry-auth': `Sentry sentry_version=7, sentry_key=${publicKey}, sentry_client=e2e/1.0`,
          },
        },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  }

  /** Sends every envelope; resolves with the statuses in order. */
  async sendAll(envelopes: ReadonlyArray<{ projectId: number; publicKey: string; body: Buffer }>): Promise<number[]> {
    const statuses = new Array<number>(envelopes.length);
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < envelopes.length) {
        const i = next++;
        statuses[i] = await this.post(envelopes[i].projectId, envelopes[i].publicKey, envelopes[i].body);
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.concurrency, envelopes.length) }, worker));
    return statuses;
  }

  close(): void {
    this.agent.destroy();
  }
}
