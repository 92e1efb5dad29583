// The floors `npm run load` compares the ingestion server with: node:http servers that read each body, append it (or not) to a file and answer 200 once written; the bare one appends every body.

import { createWriteStream } from 'node:fs';
import http from 'node:http';

/** What a floor does with one body: whether to append it, and the event id to answer. */
export type FloorChoice = (body: Buffer, req: http.IncomingMessage) => { append: boolean; eventId: string };

const NO_EVENT_ID = '00000000000000000000000000000000';

/** Starts a floor on `port`: each POST body goes through `choose`, and is appended to `file` when it says so. */
export function startFloorServer(port: number, file: string, choose: FloorChoice): Promise<http.Server> {
  const out = createWriteStream(file, { flags: 'a' });
  const server = http.createServer((req, res) => {
    if (req.method !== 'POST') {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
      const { append, eventId } = choose(body, req);
      const answer = (): void => {
        res.writeHead(200, { 'content-type': 'application/json' }).end(`{"id":"${eventId}"}`);
      };
      if (append) out.write(body, answer);
      else answer();
    });
  });
  return new Promise((resolve) => server.listen(port, '127.0.0.1', () => resolve(server)));
}

/** Starts the bare server on `port`, appending every request body to `file`. */
export function startBareServer(port: number, file: string): Promise<http.Server> {
  return startFloorServer(port, file, () => ({ append: true, eventId: NO_EVENT_ID }));
}

if (require.main === module) {
  const [port, file] = process.argv.slice(2);
  void startBareServer(Number(port), file);
}
