// The floor `npm run load` compares the ingestion server with: a bare node:http server that reads each body and appends it to a file, answering 200 once written.

import { createWriteStream } from 'node:fs';
import http from 'node:http';

/** Starts the bare server on `port`, appending every request body to `file`. */
export function startBareServer(port: number, file: string): Promise<http.Server> {
  const out = createWriteStream(file, { flags: 'a' });
  const server = http.createServer((req, res) => {
    if (req.method !== 'POST') {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      out.write(Buffer.concat(chunks), () => res.writeHead(200, { 'content-type': 'application/json' }).end('{"id":"00000000000000000000000000000000"}'));
    });
  });
  return new Promise((resolve) => server.listen(port, '127.0.0.1', () => resolve(server)));
}

if (require.main === module) {
  const [port, file] = process.argv.slice(2);
  void startBareServer(Number(port), file);
}
